"""Gradients of contact-free rollouts through ``wp.Tape`` against central finite differences.

Each recorded step writes into buffers of its own, so the tape's backward pass sees
every forward value it needs. Finite differences run all +/- perturbations as one batch
of environments (one rollout).
"""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
import warp as wp

import diffsim
from diffsim.simulator import Simulator, StepBuffers


@wp.kernel
def weighted_sum(
    values: wp.array2d(dtype=wp.float64), weights: wp.array2d(dtype=wp.float64), out: wp.array(dtype=wp.float64)
):
    e, k = wp.tid()
    wp.atomic_add(out, 0, values[e, k] * weights[e, k])


def taped_loss_and_gradients(model, qpos0, qvel0, ctrls, w_qpos, w_qvel):
    """loss = w_qpos . qpos_T + w_qvel . qvel_T for one env; returns (loss, dqpos0, dqvel0, dctrls)."""
    sim = Simulator(model)
    horizon = ctrls.shape[0]

    def array(values):
        return wp.array(np.asarray(values)[None], dtype=wp.float64, requires_grad=True)

    qpos = [array(qpos0)] + [wp.zeros((1, model.nq), dtype=wp.float64, requires_grad=True) for _ in range(horizon)]
    qvel = [array(qvel0)] + [wp.zeros((1, model.nv), dtype=wp.float64, requires_grad=True) for _ in range(horizon)]
    ctrl = [array(ctrls[t]) for t in range(horizon)]
    loss = wp.zeros(1, dtype=wp.float64, requires_grad=True)
    tape = wp.Tape()
    with tape:
        for t in range(horizon):
            sim.step(StepBuffers(model, 1, requires_grad=True), qpos[t], qvel[t], ctrl[t], qpos[t + 1], qvel[t + 1])
        wp.launch(weighted_sum, dim=(1, model.nq), inputs=[qpos[-1], array(w_qpos), loss])
        wp.launch(weighted_sum, dim=(1, model.nv), inputs=[qvel[-1], array(w_qvel), loss])
    tape.backward(loss=loss)
    return (
        loss.numpy()[0],
        qpos[0].grad.numpy()[0],
        qvel[0].grad.numpy()[0],
        np.stack([c.grad.numpy()[0] for c in ctrl]),
        tape,
    )


def finite_difference_gradients(model, qpos0, qvel0, ctrls, w_qpos, w_qvel, eps=1e-6):
    """Central differences of the same loss w.r.t. every entry of (qpos0, qvel0, ctrls), in one batch."""
    x0 = np.concatenate([qpos0, qvel0, ctrls.ravel()])
    n = x0.size
    X = np.tile(x0, (2 * n, 1))
    X[np.arange(n), np.arange(n)] += eps
    X[n + np.arange(n), np.arange(n)] -= eps
    nq, nv = model.nq, model.nv
    qpos = torch.tensor(X[:, :nq])
    qvel = torch.tensor(X[:, nq : nq + nv])
    c = torch.tensor(X[:, nq + nv :].reshape(2 * n, *ctrls.shape))
    qpos_traj, qvel_traj = diffsim.rollout(model, qpos, qvel, c)
    loss = qpos_traj[:, -1].numpy() @ w_qpos + qvel_traj[:, -1].numpy() @ w_qvel
    grad = (loss[:n] - loss[n:]) / (2 * eps)
    return grad[:nq], grad[nq : nq + nv], grad[nq + nv :].reshape(ctrls.shape)


def relative_error(analytic, numeric):
    return float(np.abs(analytic - numeric).max() / np.abs(numeric).max())


@pytest.mark.parametrize("name,horizon", [("ant.xml", 20), ("cartpole.xml", 40), ("ball_chain.xml", 20)])
def test_taped_rollout_gradients_match_finite_differences(name, horizon):
    model = diffsim.load_mjcf(diffsim.asset(name), dtype=torch.float64, contact_model="smooth")
    rng = np.random.default_rng(0)
    qpos0 = model.qpos0.numpy() + 0.2 * rng.uniform(-1, 1, model.nq)
    qvel0 = rng.normal(size=model.nv)
    ctrls = rng.uniform(-0.8, 0.8, size=(horizon, model.nu))
    w_qpos = rng.normal(size=model.nq)
    w_qvel = rng.normal(size=model.nv)

    _, g_qpos, g_qvel, g_ctrl, _ = taped_loss_and_gradients(model, qpos0, qvel0, ctrls, w_qpos, w_qvel)
    f_qpos, f_qvel, f_ctrl = finite_difference_gradients(model, qpos0, qvel0, ctrls, w_qpos, w_qvel)
    for label, analytic, numeric in (("qpos0", g_qpos, f_qpos), ("qvel0", g_qvel, f_qvel), ("ctrls", g_ctrl, f_ctrl)):
        assert np.abs(numeric).max() > 1e-6, f"{label}: the loss must depend on it"
        err = relative_error(analytic, numeric)
        assert err < 1e-6, f"{name} d loss / d {label}: relative error {err:.2e}"


def test_taped_gradients_reach_model_parameters():
    """d loss / d (body mass, joint damping) from the tape agree with finite differences."""
    model = diffsim.load_mjcf(diffsim.asset("pendulum.xml"), dtype=torch.float64, contact_model="smooth")
    qpos0 = model.qpos0.numpy() + 0.5
    qvel0 = np.zeros(model.nv)
    ctrls = np.full((30, model.nu), 0.3)
    w_qpos, w_qvel = np.ones(model.nq), 0.1 * np.ones(model.nv)
    for grad in model.param_grads.values():
        grad.zero_()
    taped_loss_and_gradients(model, qpos0, qvel0, ctrls, w_qpos, w_qvel)
    body = 1
    analytic = {
        "body_mass": model.param_grads["body_mass"][body].item(),
        "dof_damping": model.param_grads["dof_damping"][0].item(),
    }

    def loss():
        qpos, qvel = diffsim.rollout(
            model, torch.tensor(qpos0)[None], torch.tensor(qvel0)[None], torch.tensor(ctrls)[None]
        )
        return qpos[0, -1].numpy() @ w_qpos + qvel[0, -1].numpy() @ w_qvel

    for name, index in (("body_mass", body), ("dof_damping", 0)):
        param = getattr(model, name)
        original = param[index].item()
        eps = 1e-6 * max(1.0, abs(original))
        with torch.no_grad():
            param[index] = original + eps
            up = loss()
            param[index] = original - eps
            down = loss()
            param[index] = original
        numeric = (up - down) / (2 * eps)
        assert abs(numeric) > 1e-6
        assert abs(analytic[name] - numeric) < 1e-6 * abs(numeric), f"{name}: {analytic[name]} vs {numeric}"


def test_gradient_through_quaternion_integration_at_rest():
    """A free body starting with zero angular velocity: the quaternion update's gradient
    at w = 0 must be finite and correct (its series branch)."""
    model = diffsim.load_mjcf(diffsim.asset("free_body.xml"), dtype=torch.float64, contact_model="smooth")
    rng = np.random.default_rng(1)
    qpos0 = model.qpos0.numpy()
    qvel0 = np.zeros(model.nv)
    w_qpos, w_qvel = rng.normal(size=model.nq), rng.normal(size=model.nv)
    ctrls = np.zeros((5, model.nu))
    _, g_qpos, g_qvel, _, _ = taped_loss_and_gradients(model, qpos0, qvel0, ctrls, w_qpos, w_qvel)
    f_qpos, f_qvel, _ = finite_difference_gradients(model, qpos0, qvel0, ctrls, w_qpos, w_qvel)
    assert np.all(np.isfinite(g_qpos)) and np.all(np.isfinite(g_qvel))
    assert relative_error(g_qvel, f_qvel) < 1e-6
    assert relative_error(g_qpos, f_qpos) < 1e-6


def test_analytic_solve_adjoint_equals_warps_generated_adjoint():
    """diffsim's backward replaces the adjoint Warp generates for ``factor_and_solve`` with
    an analytic one; both must give the same gradients for every input, ``dt`` included.
    The matrix has a branching tree's sparsity (dof 0 carries two branches), which the
    factorisation exploits; the solve must still be exact. Warp's adjoint reads only M's
    upper triangle, so ``adj_M[i, j] + adj_M[j, i]`` of the analytic one (which treats
    both as inputs) is compared with its upper entry."""
    from diffsim.kernels import solve
    from diffsim.model import _derived_topology

    parent = [-1, 0, 1, 1, 0, 4, 5]
    n = len(parent)
    tree = SimpleNamespace(nv=n, nbody=1, njnt=0, dof_parent=parent, body_mass=[0.0], nu=0, integrator="Euler")
    topology = _derived_topology(tree)
    ancestor, subtree_end = topology["dof_ancestor"], topology["dof_subtree_end"]
    assert subtree_end.tolist() == [7, 4, 3, 4, 7, 7, 7]
    rng = np.random.default_rng(3)
    E = 3
    # M = U U^T with U on the tree's pattern: symmetric positive definite, zero between branches
    pattern = ancestor.T + np.eye(n)
    U = rng.normal(size=(E, n, n)) * pattern + 2 * np.eye(n)
    M_np = U @ U.transpose(0, 2, 1)
    assert np.all(M_np[:, 2, 3] == 0) and np.all(M_np[:, 1, 4] == 0)

    def arrays():
        M = wp.array(M_np, dtype=wp.float64, requires_grad=True)
        structure = [wp.array(topology["dof_ancestors"], dtype=wp.int32), wp.array(subtree_end, dtype=wp.int32)]
        diag_add = wp.array(diag_np, dtype=wp.float64, requires_grad=True)
        dt = wp.array([0.01], dtype=wp.float64, requires_grad=True)
        rhs = wp.array(rhs_np, dtype=wp.float64, requires_grad=True)
        U, y, x = (wp.zeros(shape, dtype=wp.float64, requires_grad=True) for shape in ((E, n, n), (E, n), (E, n)))
        return M, *structure, diag_add, dt, rhs, U, y, x

    diag_np, rhs_np, adj_x = rng.uniform(0.5, 2.0, n), rng.normal(size=(E, n)), rng.normal(size=(E, n))
    # Warp's generated adjoint, through a tape
    generated = arrays()
    tape = wp.Tape()
    with tape:
        wp.launch(solve.factor_and_solve, dim=E, inputs=list(generated))
    tape.backward(grads={generated[8]: wp.array(adj_x, dtype=wp.float64)})
    # the analytic adjoint, from the forward's outputs
    M, ancestor_wp, subtree_end_wp, diag_add, dt, rhs, U, y, x = analytic = arrays()
    wp.launch(solve.factor_and_solve, dim=E, inputs=list(analytic))
    x.grad.assign(adj_x)
    scratch = [wp.zeros((E, n), dtype=wp.float64) for _ in range(2)]
    wp.launch(
        solve.factor_and_solve_adjoint,
        dim=E,
        inputs=[
            U,
            ancestor_wp,
            subtree_end_wp,
            x,
            diag_add,
            dt,
            x.grad,
            *scratch,
            M.grad,
            diag_add.grad,
            dt.grad,
            rhs.grad,
        ],
    )

    A = M_np + 0.01 * np.diag(diag_np)
    np.testing.assert_allclose(x.numpy(), np.linalg.solve(A, rhs_np[..., None])[..., 0], rtol=1e-12)
    np.testing.assert_allclose(x.numpy(), generated[8].numpy(), rtol=1e-14)
    adj_M = M.grad.numpy()
    folded = np.triu(adj_M + adj_M.transpose(0, 2, 1), 1) + adj_M * np.eye(n)
    np.testing.assert_allclose(folded, generated[0].grad.numpy(), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(adj_M * (1 - pattern - pattern.T + np.eye(n)), 0)  # nothing off the pattern
    for i in (3, 4, 5):  # diag_add, dt, rhs
        np.testing.assert_allclose(analytic[i].grad.numpy(), generated[i].grad.numpy(), rtol=1e-10, atol=1e-14)
    assert abs(dt.grad.numpy()[0]) > 1e-6


@pytest.mark.parametrize("dtype", [wp.float32, wp.float64])
def test_solve_forward_twin_is_bit_identical(dtype):
    """A ``StepProgram`` replays ``solve.FORWARD_TWIN[factor_and_solve]`` forward (``while``
    loops, which Warp cannot differentiate) and the analytic adjoint backward, so its
    outputs must be those of ``factor_and_solve`` bit for bit, on a branching tree."""
    from diffsim.kernels import solve
    from diffsim.model import _derived_topology

    parent = [-1, 0, 1, 1, 0, 4, 5, -1, 7]  # two trees, the first branching at dofs 0 and 1
    n = len(parent)
    tree = SimpleNamespace(nv=n, nbody=1, njnt=0, dof_parent=parent, body_mass=[0.0], nu=0, integrator="Euler")
    topology = _derived_topology(tree)
    rng = np.random.default_rng(5)
    E = 4
    pattern = topology["dof_ancestor"].T + np.eye(n)
    U = rng.normal(size=(E, n, n)) * pattern + 2 * np.eye(n)
    M = U @ U.transpose(0, 2, 1)
    diag_add, rhs = rng.uniform(0.5, 2.0, n), rng.normal(size=(E, n))
    outputs = []
    for kernel in (solve.factor_and_solve, solve.FORWARD_TWIN[solve.factor_and_solve]):
        args = [
            wp.array(M, dtype=dtype),
            wp.array(topology["dof_ancestors"], dtype=wp.int32),
            wp.array(topology["dof_subtree_end"], dtype=wp.int32),
            wp.array(diag_add, dtype=dtype),
            wp.array([0.01], dtype=dtype),
            wp.array(rhs, dtype=dtype),
            *(wp.zeros(shape, dtype=dtype) for shape in ((E, n, n), (E, n), (E, n))),
        ]
        wp.launch(kernel, dim=E, inputs=args)
        outputs.append([a.numpy() for a in args[-3:]])
    for ours, twin in zip(*outputs):
        assert np.any(ours != 0)
        np.testing.assert_array_equal(ours, twin)


def test_contact_adjoint_twin_equals_warps_generated_adjoint():
    """diffsim's backward runs, for each contact kernel, the adjoint of a twin that skips
    the slots the forward marked as far apart (``contact.ADJOINT_SOURCE``). Through contact,
    with near and far slots in the same step, it must give the gradients that a
    ``wp.Tape`` gets from the kernel's own adjoint."""
    model = diffsim.load_mjcf(diffsim.asset("ant.xml"), dtype=torch.float64, contact_model="smooth")
    rng = np.random.default_rng(5)
    qpos0 = model.qpos0.numpy().copy()
    qpos0[2] = 0.55  # the feet press into the floor
    qvel0 = 0.3 * rng.normal(size=model.nv)
    ctrls = rng.uniform(-1, 1, size=(4, model.nu))
    w_qpos, w_qvel = rng.normal(size=model.nq), rng.normal(size=model.nv)
    _, g_qpos, g_qvel, g_ctrls, tape = taped_loss_and_gradients(model, qpos0, qvel0, ctrls, w_qpos, w_qvel)

    qpos = torch.tensor(qpos0[None], requires_grad=True)
    qvel = torch.tensor(qvel0[None], requires_grad=True)
    c = torch.tensor(ctrls[None], requires_grad=True)
    qpos_traj, qvel_traj = diffsim.rollout(model, qpos, qvel, c)
    (qpos_traj[0, -1] @ torch.tensor(w_qpos) + qvel_traj[0, -1] @ torch.tensor(w_qvel)).backward()

    runner = next(iter(model.caches.stored_steps.values())).free[0]
    near = runner.programs[0].buffers.contact_near.numpy()
    assert near.min() == 0 and near.max() == 1  # both kinds of slot in one step
    np.testing.assert_allclose(qpos.grad.numpy()[0], g_qpos, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(qvel.grad.numpy()[0], g_qvel, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(c.grad.numpy()[0], g_ctrls, rtol=1e-11, atol=1e-13)
    assert np.abs(g_ctrls).max() > 1e-3
