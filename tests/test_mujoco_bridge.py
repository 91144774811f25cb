"""MjStep: MuJoCo's step as a torch autograd op (diffsim.mujoco_bridge).

What is checked: the forward is plain MuJoCo stepping, bit for bit; the Jacobians built
by torch autograd from MjStep equal central finite differences of MuJoCo's step taken on
the raw qpos/qvel/ctrl entries (quaternion components included, which tests the
tangent <-> qpos maps); batching, chaining, dtypes and error messages.
"""

import builtins
import sys

import numpy as np
import pytest
import torch

mujoco = pytest.importorskip("mujoco")

import diffsim  # noqa: E402
from diffsim.mujoco_bridge import (  # noqa: E402
    MjStep,
    mj_step,
    qpos_to_tangent_jacobian,
    tangent_to_qpos_jacobian,
)


def load(name, constraints=True):
    m = mujoco.MjModel.from_xml_path(diffsim.asset(name))
    if not constraints:
        m.opt.disableflags |= mujoco.mjtDisableBit.mjDSBL_CONSTRAINT
    return m


def random_state(m, seed, scale=0.3):
    """A generic state: qpos0 moved along random tangent directions, random qvel and ctrl."""
    rng = np.random.default_rng(seed)
    qpos = m.qpos0.copy()
    mujoco.mj_integratePos(m, qpos, scale * rng.standard_normal(m.nv), 1.0)
    qvel = scale * rng.standard_normal(m.nv)
    lo, hi = m.actuator_ctrlrange[:, 0], m.actuator_ctrlrange[:, 1]
    limited = m.actuator_ctrllimited.astype(bool)
    ctrl = np.where(limited, lo + (hi - lo) * rng.uniform(0.2, 0.8, m.nu), rng.standard_normal(m.nu))
    return qpos, qvel, ctrl


def plain_mujoco(m, qpos, qvel, ctrl, n_steps):
    """Reference: a fresh MjData, the state set, mj_step n_steps times."""
    d = mujoco.MjData(m)
    d.qpos[:], d.qvel[:], d.ctrl[:] = qpos, qvel, ctrl
    for _ in range(n_steps):
        mujoco.mj_step(m, d)
    return d.qpos.copy(), d.qvel.copy()


def fd_jacobian(m, qpos, qvel, ctrl, n_steps, h=1e-5):
    """Central differences of the full step on raw (qpos, qvel, ctrl) entries: (nq+nv, nq+nv+nu).

    The step h differs from MjStep's eps (1e-6) so that the two are independent estimates.
    """
    x = np.concatenate([qpos, qvel, ctrl])
    nq, nv = m.nq, m.nv

    def f(x):
        return np.concatenate(plain_mujoco(m, x[:nq], x[nq : nq + nv], x[nq + nv :], n_steps))

    J = np.zeros((nq + nv, x.size))
    for j in range(x.size):
        xp, xm = x.copy(), x.copy()
        xp[j] += h
        xm[j] -= h
        J[:, j] = (f(xp) - f(xm)) / (2 * h)
    return J


def autograd_jacobian(step, qpos, qvel, ctrl):
    """(nq+nv, nq+nv+nu) Jacobian of MjStep for one state, from torch autograd."""
    args = tuple(torch.tensor(a)[None] for a in (qpos, qvel, ctrl))
    jac = torch.autograd.functional.jacobian(lambda *a: step(*a), args)
    rows = []
    for out in jac:  # (qpos_next, qvel_next), each a tuple over (qpos, qvel, ctrl)
        rows.append(torch.cat([j[0, :, 0, :] for j in out], dim=1))
    return torch.cat(rows, dim=0).numpy()


def rel_err(a, b):
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-12))


# --- forward ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["pendulum", "cartpole", "free_body", "ant", "ball_chain"])
@pytest.mark.parametrize("grad", [False, True])
def test_forward_equals_plain_mujoco(name, grad):
    m = load(f"{name}.xml")  # contacts and limits on: the forward must match regardless
    qpos, qvel, ctrl = random_state(m, seed=1)
    step = MjStep(m, n_steps=3)
    args = [torch.tensor(a)[None].requires_grad_(grad) for a in (qpos, qvel, ctrl)]
    q, v = step(*args)
    q_ref, v_ref = plain_mujoco(m, qpos, qvel, ctrl, 3)
    # exact: computing the Jacobians during the forward must not disturb the trajectory
    assert np.array_equal(q.detach().numpy()[0], q_ref)
    assert np.array_equal(v.detach().numpy()[0], v_ref)


# --- the tangent <-> qpos maps ------------------------------------------------------------


@pytest.mark.parametrize("name", ["free_body", "ball_chain"])
def test_tangent_maps_match_mujoco(name):
    m = load(f"{name}.xml")
    qpos, _, _ = random_state(m, seed=2)
    h = 1e-6
    T = tangent_to_qpos_jacobian(m, qpos)  # (nq, nv)
    P = qpos_to_tangent_jacobian(m, qpos)  # (nv, nq)
    # T: finite differences of mj_integratePos along each tangent direction
    T_fd = np.zeros((m.nq, m.nv))
    for i in range(m.nv):
        e = np.zeros(m.nv)
        e[i] = h
        qp, qm = qpos.copy(), qpos.copy()
        mujoco.mj_integratePos(m, qp, e, 1.0)
        mujoco.mj_integratePos(m, qm, -e, 1.0)
        T_fd[:, i] = (qp - qm) / (2 * h)
    assert np.allclose(T, T_fd, atol=1e-8)
    # P: finite differences of mj_differentiatePos(qpos, qpos') on raw qpos' entries
    P_fd = np.zeros((m.nv, m.nq))
    for i in range(m.nq):
        vp, vm = np.zeros(m.nv), np.zeros(m.nv)
        qp, qm = qpos.copy(), qpos.copy()
        qp[i] += h
        qm[i] -= h
        mujoco.mj_differentiatePos(m, vp, 1.0, qpos, qp)
        mujoco.mj_differentiatePos(m, vm, 1.0, qpos, qm)
        P_fd[:, i] = (vp - vm) / (2 * h)
    assert np.allclose(P, P_fd, atol=1e-8)
    # the two are inverse on the tangent space, and P has no radial (|q|) component
    assert np.allclose(P @ T, np.eye(m.nv), atol=1e-12)
    for j in range(m.njnt):
        if m.jnt_type[j] in (0, 1):
            a = m.jnt_qposadr[j] + (3 if m.jnt_type[j] == 0 else 0)
            radial = np.zeros(m.nq)
            radial[a : a + 4] = qpos[a : a + 4]
            assert np.allclose(P @ radial, 0, atol=1e-12)


# --- Jacobians against finite differences of MuJoCo -----------------------------------------

# (model, integrator override, n_steps). ball_chain asks for RK4, which MuJoCo 4.0's
# mjd_transitionFD refuses, so MjStep uses its own tangent-space differences there; with
# the override to Euler the same quaternion model goes through mjd_transitionFD.
JACOBIAN_CASES = [
    ("cartpole", None, 1),
    ("cartpole", None, 3),
    ("free_body", None, 1),
    ("free_body", None, 3),
    ("free_body", "mjINT_IMPLICITFAST", 3),
    ("ball_chain", None, 1),
    ("ball_chain", None, 3),
    ("ball_chain", "mjINT_EULER", 1),
    ("ball_chain", "mjINT_EULER", 3),
]


@pytest.mark.parametrize("name,integrator,n_steps", JACOBIAN_CASES)
def test_jacobian_matches_finite_differences(name, integrator, n_steps):
    m = load(f"{name}.xml", constraints=False)
    if integrator is not None:
        m.opt.integrator = getattr(mujoco.mjtIntegrator, integrator)
    qpos, qvel, ctrl = random_state(m, seed=3)
    J_ad = autograd_jacobian(MjStep(m, n_steps=n_steps), qpos, qvel, ctrl)
    J_fd = fd_jacobian(m, qpos, qvel, ctrl, n_steps)
    err = rel_err(J_ad, J_fd)
    print(
        f"{name} integrator={mujoco.mjtIntegrator(m.opt.integrator).name} n_steps={n_steps}: relative Jacobian error {err:.2e}, "
        f"max abs {np.abs(J_ad - J_fd).max():.2e}"
    )
    assert err < 1e-5
    assert np.allclose(J_ad, J_fd, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("centered", [True, False])
def test_own_transition_fd_matches_mujoco(centered):
    """The fallback used for RK4 computes what mjd_transitionFD computes (Euler here)."""
    from diffsim.mujoco_bridge import _transition_fd

    m = load("ball_chain.xml", constraints=False)
    m.opt.integrator = mujoco.mjtIntegrator.mjINT_EULER
    qpos, qvel, ctrl = random_state(m, seed=8)
    ctrl[2] = 1.0  # the wrist motor at the top of its ctrlrange: one-sided difference
    d = mujoco.MjData(m)
    d.qpos[:], d.qvel[:], d.ctrl[:] = qpos, qvel, ctrl
    nx = 2 * m.nv
    A_ref, B_ref = np.zeros((nx, nx)), np.zeros((nx, m.nu))
    mujoco.mjd_transitionFD(m, d, 1e-6, centered, A_ref, B_ref, None, None)
    A, B = np.zeros((nx, nx)), np.zeros((nx, m.nu))
    _transition_fd(mujoco, m, d, 1e-6, centered, A, B)
    tol = 1e-7 if centered else 1e-4
    assert rel_err(A, A_ref) < tol and rel_err(B, B_ref) < tol


def test_quaternion_radial_gradient_is_zero():
    """Scaling a quaternion does not change MuJoCo's step, so its gradient along q is 0."""
    m = load("ball_chain.xml", constraints=False)
    qpos, qvel, ctrl = random_state(m, seed=4)
    J = autograd_jacobian(MjStep(m), qpos, qvel, ctrl)
    for a in (m.jnt_qposadr[0], m.jnt_qposadr[5] + 3):  # ball joint, free joint's quaternion
        radial = np.zeros(J.shape[1])
        radial[a : a + 4] = qpos[a : a + 4]
        assert np.abs(J @ radial).max() < 1e-9


def test_gradcheck_free_body():
    """torch's own gradcheck (raw-entry finite differences) on a quaternion model."""
    m = load("free_body.xml", constraints=False)
    qpos, qvel, _ = random_state(m, seed=5)
    step = MjStep(m, n_steps=2)
    args = (torch.tensor(qpos)[None].requires_grad_(), torch.tensor(qvel)[None].requires_grad_())
    assert torch.autograd.gradcheck(lambda q, v: step(q, v, None), args, eps=1e-6, atol=1e-6, rtol=1e-4)


def test_ctrl_outside_range_has_zero_gradient():
    m = load("cartpole.xml", constraints=False)
    qpos, qvel, _ = random_state(m, seed=6)
    ctrl = torch.tensor([[3.0]], dtype=torch.float64, requires_grad=True)  # ctrlrange is [-1, 1]
    q, v = MjStep(m)(torch.tensor(qpos)[None], torch.tensor(qvel)[None], ctrl)
    (q.sum() + v.sum()).backward()
    assert ctrl.grad.abs().max() == 0


def test_jacobian_with_contacts():
    """Ant touching the ground, contacts on: MuJoCo's soft contacts are smooth at this state,
    so the Jacobian still matches finite differences (across a contact switching on or off
    within eps it would not)."""
    m = load("ant.xml")
    qpos, qvel, ctrl = random_state(m, seed=7, scale=0.1)
    d = mujoco.MjData(m)
    d.qpos[:] = qpos
    mujoco.mj_forward(m, d)
    assert d.ncon > 0
    J_ad = autograd_jacobian(MjStep(m, n_steps=2), qpos, qvel, ctrl)
    J_fd = fd_jacobian(m, qpos, qvel, ctrl, 2)
    err = rel_err(J_ad, J_fd)
    print(f"ant with {d.ncon} contacts, n_steps=2: relative Jacobian error {err:.2e}")
    assert err < 1e-5


# --- batching, chaining, dtypes -------------------------------------------------------------


def test_batch_equals_single():
    m = load("ball_chain.xml", constraints=False)
    states = [random_state(m, seed=10 + i) for i in range(4)]
    step = MjStep(m, n_steps=2)
    batch = [torch.tensor(np.stack([s[k] for s in states])).requires_grad_() for k in range(3)]
    q, v = step(*batch)
    w_q, w_v = torch.randn(q.shape, dtype=q.dtype), torch.randn(v.shape, dtype=v.dtype)
    ((q * w_q).sum() + (v * w_v).sum()).backward()
    for i, s in enumerate(states):
        single = [torch.tensor(a)[None].requires_grad_() for a in s]
        qi, vi = step(*single)
        ((qi * w_q[i]).sum() + (vi * w_v[i]).sum()).backward()
        assert torch.equal(qi[0], q[i]) and torch.equal(vi[0], v[i])
        for a_batch, a_single in zip(batch, single):
            assert torch.allclose(a_batch.grad[i], a_single.grad[0], rtol=1e-12, atol=1e-12)


def test_chain_of_two_calls_and_loss_backward():
    m = load("cartpole.xml", constraints=False)
    qpos, qvel, ctrl = random_state(m, seed=20)
    step1, step3 = MjStep(m, n_steps=1), MjStep(m, n_steps=3)
    args = [torch.tensor(a)[None].requires_grad_() for a in (qpos, qvel, ctrl)]

    def two_calls(q, v, u):
        q, v = step1(q, v, u)
        q, v = step1(q, v, u)
        return q, v

    q, v = two_calls(*args)
    loss = (q**2).sum() + (v**2).sum()
    loss.backward()
    # two 1-step calls through torch == one 2-step call (whose Jacobian MuJoCo chains inside)
    args2 = [torch.tensor(a)[None].requires_grad_() for a in (qpos, qvel, ctrl)]
    q2, v2 = MjStep(m, n_steps=2)(*args2)
    ((q2**2).sum() + (v2**2).sum()).backward()
    for a, b in zip(args, args2):
        assert torch.allclose(a.grad, b.grad, rtol=1e-9, atol=1e-12)
    assert step3.n_steps == 3


def test_float32_in_float32_out():
    m = load("free_body.xml", constraints=False)
    qpos, qvel, _ = random_state(m, seed=21)
    q0 = torch.tensor(qpos, dtype=torch.float32)[None].requires_grad_()
    v0 = torch.tensor(qvel, dtype=torch.float32)[None].requires_grad_()
    q, v = mj_step(m, q0, v0, torch.zeros(1, 0), frame_skip=2)
    assert q.dtype == v.dtype == torch.float32
    (q.sum() + v.sum()).backward()
    assert q0.grad.dtype == v0.grad.dtype == torch.float32
    q64, _ = mj_step(m, q0.detach().double(), v0.detach().double(), None, n_steps=2)
    assert torch.allclose(q.double(), q64, atol=1e-6)


# --- errors -------------------------------------------------------------------------------


def test_errors_name_what_was_expected():
    m = load("ant.xml")
    step = MjStep(m)
    qpos = torch.tensor(m.qpos0)[None].repeat(3, 1)
    qvel = torch.zeros(3, m.nv, dtype=torch.float64)
    ctrl = torch.zeros(3, m.nu, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"qpos must have shape \(B, nq\)=\(B, 15\), got \(15,\).*qpos\[None\]"):
        step(qpos[0], qvel, ctrl)
    with pytest.raises(ValueError, match=r"qvel must have shape \(B, nv\)=\(B, 14\), got \(3, 13\)"):
        step(qpos, qvel[:, :13], ctrl)
    with pytest.raises(ValueError, match=r"ctrl has batch size 2, but qpos has 3"):
        step(qpos, qvel, ctrl[:2])
    with pytest.raises(ValueError, match=r"ctrl must be float32 or float64, got torch.int64"):
        step(qpos, qvel, ctrl.long())
    with pytest.raises(ValueError, match=r"qvel has dtype torch.float32, but qpos has torch.float64"):
        step(qpos, qvel.float(), ctrl)
    bad = ctrl.clone()
    bad[1, 3] = float("nan")
    bad[2, 0] = float("inf")
    with pytest.raises(ValueError, match=r"ctrl contains NaN or inf in environment\(s\) \[1, 2\]"):
        step(qpos, qvel, bad)
    device = "cuda" if torch.cuda.is_available() else "meta"
    with pytest.raises(ValueError, match=rf"qvel is on device {device}.*MuJoCo runs on the CPU"):
        step(qpos, qvel.to(device), ctrl)
    with pytest.raises(ValueError, match=r"n_steps must be a positive int"):
        MjStep(m, n_steps=0)
    with pytest.raises(ValueError, match=r"ctrl must have shape \(B, nu\)=\(B, 8\), got None"):
        step(qpos, qvel)


def test_missing_mujoco_gives_install_advice(monkeypatch):
    m = load("pendulum.xml")
    monkeypatch.setitem(sys.modules, "mujoco", None)  # makes `import mujoco` raise ImportError
    with pytest.raises(ImportError, match=r"pip install"):
        MjStep(m)
    real_import = builtins.__import__

    def no_mujoco(name, *args, **kwargs):
        if name == "mujoco" or name.startswith("mujoco."):
            raise ImportError("No module named 'mujoco'")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "mujoco")
    monkeypatch.setattr(builtins, "__import__", no_mujoco)
    with pytest.raises(ImportError, match=r"with MuJoCo: pip install mujoco"):
        mj_step(m, None, None, None)


def _step_jacobian(step_fn, qpos, qvel, ctrl):
    """Jacobian of (qpos', qvel') with respect to (qpos, qvel, ctrl) for one environment,
    as one (nq + nv) x (nq + nv + nu) matrix."""

    def flat(q, v, c):
        q_next, v_next = step_fn(q, v, c)
        return torch.cat([q_next, v_next], dim=1)[0]

    blocks = torch.autograd.functional.jacobian(flat, (qpos, qvel, ctrl))
    return torch.cat([b.reshape(b.shape[0], -1) for b in blocks], dim=1)


@pytest.mark.parametrize("name", ["free_body.xml", "ant.xml"])
@pytest.mark.parametrize("n_steps", [1, 4])
def test_diffsim_jacobians_equal_mujoco_finite_differences(name, n_steps):
    """Contact-free, the analytic Jacobians of diffsim's step equal MuJoCo's
    finite-difference ones (through MjStep), quaternions of free joints included."""
    from diffsim.mujoco_bridge import MjStep

    m = mujoco.MjModel.from_xml_path(diffsim.asset(name))
    m.opt.disableflags |= mujoco.mjtDisableBit.mjDSBL_CONSTRAINT
    m.opt.integrator = mujoco.mjtIntegrator.mjINT_EULER
    model = diffsim.load_mjcf(diffsim.asset(name), dtype=torch.float64, contact_model="smooth")
    model.enable_contact = False
    model.limit_stiffness = 0.0

    rng = np.random.default_rng(7)
    qpos = torch.tensor(m.qpos0 + 0.2 * rng.uniform(-1, 1, m.nq))[None]
    qpos[0, 3:7] /= qpos[0, 3:7].norm()
    qvel = torch.tensor(rng.normal(size=m.nv))[None]
    ctrl = torch.tensor(rng.uniform(-0.5, 0.5, size=m.nu))[None]

    ours = _step_jacobian(lambda q, v, c: diffsim.step(model, q, v, c, frame_skip=n_steps), qpos, qvel, ctrl)
    theirs = _step_jacobian(MjStep(m, n_steps=n_steps), qpos, qvel, ctrl)
    error = float((ours - theirs).abs().max() / theirs.abs().max())
    print(f"{name}, {n_steps} step(s): max |J| {float(theirs.abs().max()):.3g}, relative error {error:.2e}")
    assert error < 1e-5
