"""MuJoCo's physics in diffsim, step for step: actuators, passive forces, integrators and flags.

The models in tests/models were written for these tests; their contacts and limits are
switched off by MuJoCo's own flags (the next stage of the project adds MuJoCo's
constraints). Every trajectory is compared with ``mujoco.mj_step`` in float64.
"""

from __future__ import annotations

import pathlib
import warnings

import mujoco
import numpy as np
import pytest
import torch

import diffsim

MODELS = pathlib.Path(__file__).parent / "models"
INTEGRATORS = {
    "Euler": mujoco.mjtIntegrator.mjINT_EULER,
    "implicitfast": mujoco.mjtIntegrator.mjINT_IMPLICITFAST,
    "RK4": mujoco.mjtIntegrator.mjINT_RK4,
}


def compile_model(name: str, integrator: str = "Euler", disable=(), enable_override=None) -> mujoco.MjModel:
    m = mujoco.MjModel.from_xml_path(str(MODELS / name))
    m.opt.integrator = INTEGRATORS[integrator]
    for flag in disable:
        m.opt.disableflags |= flag
    return m


def mujoco_trajectory(m, steps: int, seed: int = 0, scale: float = 1.5):
    """States after each of ``steps`` mj_step calls under random controls, from a random velocity."""
    rng = np.random.default_rng(seed)
    d = mujoco.MjData(m)
    d.qvel[:] = rng.normal(0, 0.5, m.nv)
    start = (d.qpos.copy(), d.qvel.copy(), d.act.copy())
    ctrls, states = [], []
    for _ in range(steps):
        ctrl = rng.uniform(-scale, scale, m.nu)
        ctrls.append(ctrl)
        d.ctrl[:] = ctrl
        mujoco.mj_step(m, d)
        states.append((d.qpos.copy(), d.qvel.copy(), d.act.copy()))
    return start, np.array(ctrls).reshape(steps, m.nu), states


def diffsim_errors(m, steps: int, seed: int = 0) -> float:
    """Largest |diffsim - MuJoCo| over the qpos, qvel and act of a ``steps``-step rollout."""
    model = diffsim.load_mjcf(m, dtype=torch.float64)
    (qpos, qvel, act), ctrls, states = mujoco_trajectory(m, steps, seed)
    as_batch = lambda x: torch.tensor(x)[None]  # noqa: E731
    q, v, a = diffsim.rollout(model, as_batch(qpos), as_batch(qvel), as_batch(ctrls), act=as_batch(act))
    worst = 0.0
    for t, (mq, mv, ma) in enumerate(states):
        worst = max(
            worst,
            np.abs(q[0, t].numpy() - mq).max(),
            np.abs(v[0, t].numpy() - mv).max(),
            np.abs(a[0, t].numpy() - ma).max(initial=0.0),
        )
    return worst


@pytest.mark.parametrize("integrator", list(INTEGRATORS))
@pytest.mark.parametrize("name", ["actuators.xml", "passive.xml"])
def test_200_steps_under_random_controls_equal_mujocos(name, integrator):
    m = compile_model(name, integrator)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # everything in these models is simulated
        error = diffsim_errors(m, 200)
    assert error < 1e-8, f"{name} {integrator}: {error:.2e}"


@pytest.mark.parametrize(
    "name, feature, switch_off",
    [
        ("passive.xml", "fluid forces", lambda m: setattr(m.opt, "density", 0.0) or setattr(m.opt, "viscosity", 0.0)),
        ("passive.xml", "gravity compensation", lambda m: m.body_gravcomp.__setitem__(slice(None), 0.0)),
        ("passive.xml", "tendon spring and damper", lambda m: m.tendon_stiffness.fill(0) or m.tendon_damping.fill(0)),
        ("actuators.xml", "activation dynamics", lambda m: m.actuator_dynprm.__setitem__((slice(None), 0), 1.0)),
    ],
)
def test_each_feature_moves_the_trajectory_more_than_the_parity_tolerance(name, feature, switch_off):
    """So the parity test above would fail if diffsim ignored the feature."""
    m, off = compile_model(name), compile_model(name)
    switch_off(off)
    _, _, with_feature = mujoco_trajectory(m, 200)
    _, _, without = mujoco_trajectory(off, 200)
    moved = max(np.abs(a[1] - b[1]).max() for a, b in zip(with_feature, without))
    assert moved > 1e-4, f"{feature} changes the trajectory by only {moved:.1e}"


D = mujoco.mjtDisableBit


@pytest.mark.parametrize(
    "name, integrator, flags",
    [
        ("passive.xml", "Euler", [D.mjDSBL_GRAVITY]),
        ("passive.xml", "Euler", [D.mjDSBL_SPRING]),
        ("passive.xml", "implicitfast", [D.mjDSBL_DAMPER]),
        ("passive.xml", "Euler", [D.mjDSBL_SPRING, D.mjDSBL_DAMPER]),
        ("passive.xml", "Euler", [D.mjDSBL_EULERDAMP]),
        ("actuators.xml", "Euler", [D.mjDSBL_ACTUATION]),
        ("actuators.xml", "RK4", [D.mjDSBL_CLAMPCTRL]),
    ],
)
def test_mujocos_flags_are_honoured(name, integrator, flags):
    m = compile_model(name, integrator, disable=flags)
    assert diffsim_errors(m, 100, seed=1) < 1e-8


def test_disabled_actuator_groups_hold_their_force_and_activation():
    m = compile_model("actuators.xml")
    m.actuator_group[[0, 6]] = 2  # the motor and the filterexact actuator
    m.opt.disableactuator = 1 << 2
    assert diffsim_errors(m, 100, seed=2) < 1e-8


@pytest.mark.parametrize("name", ["actuators.xml", "passive.xml"])
def test_mass_matrix_and_bias_forces_equal_mujocos(name):
    m = compile_model(name)
    d = mujoco.MjData(m)
    model = diffsim.load_mjcf(m, dtype=torch.float64)
    rng = np.random.default_rng(3)
    for _ in range(5):
        d.qpos[:] = m.qpos0
        mujoco.mj_integratePos(m, d.qpos, rng.normal(0, 0.7, m.nv), 1.0)
        d.qvel[:] = rng.normal(0, 1.0, m.nv)
        mujoco.mj_forward(m, d)
        full = np.zeros((m.nv, m.nv))
        mujoco.mj_fullM(m, d, full)
        qpos, qvel = torch.tensor(d.qpos)[None], torch.tensor(d.qvel)[None]
        np.testing.assert_allclose(diffsim.mass_matrix(model, qpos)[0].numpy(), full, atol=1e-9, rtol=0)
        np.testing.assert_allclose(diffsim.bias_forces(model, qpos, qvel)[0].numpy(), d.qfrc_bias, atol=1e-9, rtol=0)


# --------------------------------------------------------------------------------- gradients

PARAMETERS = {
    "actuators.xml": ("actuator_gainprm", "actuator_biasprm", "actuator_gear", "actuator_dynprm", "tendon_stiffness"),
    "passive.xml": ("body_gravcomp", "density", "viscosity", "wind", "tendon_damping", "jnt_stiffness"),
}


@pytest.mark.parametrize("integrator", list(INTEGRATORS))
@pytest.mark.parametrize("name", ["actuators.xml", "passive.xml"])
def test_gradcheck_through_every_actuator_dynamics_and_integrator(name, integrator):
    """d(next state) / d(state, ctrl, act, parameters) against central differences, float64."""
    m = compile_model(name, integrator)
    model = diffsim.load_mjcf(m, dtype=torch.float64)
    torch.manual_seed(0)
    qpos = model.qpos0[None].clone()
    qpos[0, 0] += 0.1
    qvel = 0.3 * torch.randn(1, model.nv, dtype=torch.float64)
    act = 0.2 * torch.randn(1, model.na, dtype=torch.float64)
    ctrl = 0.5 * torch.randn(1, model.nu, dtype=torch.float64)
    params = [model.params[name].requires_grad_(True) for name in PARAMETERS[name]]

    def two_steps(qpos, qvel, ctrl, act, *params):
        return diffsim.step(model, qpos, qvel, ctrl, act=act, frame_skip=2)

    inputs = [t.requires_grad_() for t in (qpos, qvel, ctrl, act)] + params
    assert torch.autograd.gradcheck(two_steps, inputs, eps=1e-6, atol=1e-6, rtol=1e-5)


# --------------------------------------------------------------------------------- the act API


def test_models_with_activations_ask_for_act_and_return_it():
    model = diffsim.load_mjcf(MODELS / "actuators.xml", dtype=torch.float64)
    qpos, qvel = model.qpos0[None], torch.zeros(1, model.nv, dtype=torch.float64)
    ctrl = torch.zeros(1, model.nu, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"4 actuator activation state\(s\).*pass act=, a \(1, 4\) tensor"):
        diffsim.step(model, qpos, qvel, ctrl)
    with pytest.raises(ValueError, match=r"act must have shape \(B, 4\) with 4 = model's na"):
        diffsim.step(model, qpos, qvel, ctrl, act=torch.zeros(1, 3, dtype=torch.float64))
    out = diffsim.step(model, qpos, qvel, ctrl + 1, act=torch.zeros(1, 4, dtype=torch.float64))
    assert len(out) == 3 and out[2].shape == (1, 4) and out[2].abs().max() > 0
    qs, vs, acts = diffsim.rollout(model, qpos, qvel, torch.ones(1, 5, model.nu, dtype=torch.float64), act=out[2])
    assert acts.shape == (1, 5, 4)


def test_models_without_activations_keep_todays_calls():
    model = diffsim.load_mjcf(diffsim.asset("cartpole.xml"), dtype=torch.float64)
    qpos, qvel = model.qpos0[None], torch.zeros(1, model.nv, dtype=torch.float64)
    ctrl = torch.ones(1, model.nu, dtype=torch.float64)
    out = diffsim.step(model, qpos, qvel, ctrl)
    assert len(out) == 2
    with_act = diffsim.step(model, qpos, qvel, ctrl, act=torch.zeros(1, 0, dtype=torch.float64))
    assert len(with_act) == 3 and with_act[2].shape == (1, 0)
    torch.testing.assert_close(with_act[0], out[0], rtol=0, atol=0)


@pytest.mark.parametrize("integrator", ["Euler", "RK4"])
def test_mjstep_carries_activations_and_its_jacobians_match_diffsims(integrator):
    """MjStep (MuJoCo's step, finite-difference Jacobians) and diffsim.step (analytic) agree
    on the next state and on its gradient with respect to qpos, qvel, ctrl and act."""
    from diffsim.mujoco_bridge import MjStep

    m = compile_model("actuators.xml", integrator)
    model = diffsim.load_mjcf(m, dtype=torch.float64)
    stepper = MjStep(m, n_steps=2)
    torch.manual_seed(1)
    inputs = [
        model.qpos0[None].clone(),
        0.3 * torch.randn(1, model.nv, dtype=torch.float64),
        0.4 * torch.randn(1, model.nu, dtype=torch.float64),
        0.2 * torch.randn(1, model.na, dtype=torch.float64),
    ]
    weights = [torch.randn(1, n, dtype=torch.float64) for n in (model.nq, model.nv, model.na)]
    results = []
    for run in (
        lambda q, v, c, a: stepper(q, v, c, act=a),
        lambda q, v, c, a: diffsim.step(model, q, v, c, act=a, frame_skip=2),
    ):
        leaves = [x.clone().requires_grad_() for x in inputs]
        out = run(*leaves)
        sum(((o * w).sum() for o, w in zip(out, weights))).backward()
        results.append(([o.detach() for o in out], [x.grad for x in leaves]))
    (mj_out, mj_grads), (ds_out, ds_grads) = results
    for a, b in zip(mj_out, ds_out):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    for name, a, b in zip(("qpos", "qvel", "ctrl", "act"), mj_grads, ds_grads):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=lambda text: f"d/d{name}: {text}")


def test_environments_carry_activations_as_state():
    """A batched env on a model with activations steps them like MuJoCo and resets them to zero."""
    from diffsim.envs.base import BatchedEnv

    class Actuated(BatchedEnv):
        observation_size = 1

        def initial_state(self, count):
            return self.model.qpos0.expand(count, -1).clone(), torch.zeros(count, self.model.nv, dtype=self.dtype)

        def observe(self, qpos, qvel):
            return qpos[:, :1]

        def reward(self, qpos, qvel, action, qpos_next, qvel_next):
            return qpos_next[:, 0], {}

    m = compile_model("actuators.xml")
    env = Actuated(diffsim.load_mjcf(m, dtype=torch.float64), num_envs=2, frame_skip=1, max_episode_steps=3)
    env.reset()
    assert env.act.shape == (2, 4) and not env.act.any()
    action = torch.full((2, m.nu), 0.5, dtype=torch.float64)
    env.step(action)
    d = mujoco.MjData(m)
    d.ctrl[:] = env.action_to_ctrl(action)[0].numpy()
    mujoco.mj_step(m, d)
    np.testing.assert_allclose(env.act[0].numpy(), d.act, atol=1e-12)
    env.step(action)
    env.step(action)  # the time limit: both reset
    assert not env.act.any()
