"""The physics core against MuJoCo: mass matrix, bias forces, and Euler trajectories.

Every model is compiled by MuJoCo, and diffsim loads that compiled model (with the
integrator and flags the test sets on it), so these tests check the importer and the
kernels together.
Relative error of a quantity = max |diffsim - mujoco| / max |mujoco| over its entries.
"""

import numpy as np
import pytest
import torch

import diffsim

mujoco = pytest.importorskip("mujoco")

MODELS = ["pendulum.xml", "cartpole.xml", "free_body.xml", "ant.xml", "ball_chain.xml"]


def mujoco_model(name, constraints=True):
    m = mujoco.MjModel.from_xml_path(diffsim.asset(name))
    m.opt.integrator = mujoco.mjtIntegrator.mjINT_EULER
    if not constraints:
        # contacts, limits and frictionloss off: the contact-free dynamics diffsim matches exactly
        m.opt.disableflags |= mujoco.mjtDisableBit.mjDSBL_CONSTRAINT
    return m


def random_states(m, batch, seed, spread=1.0):
    """Random (qpos, qvel) as numpy arrays: unit quaternions, angles around qpos0."""
    rng = np.random.default_rng(seed)
    qpos = np.tile(m.qpos0, (batch, 1)) + spread * rng.uniform(-1, 1, size=(batch, m.nq))
    for j in range(m.njnt):
        if m.jnt_type[j] in (mujoco.mjtJoint.mjJNT_FREE, mujoco.mjtJoint.mjJNT_BALL):
            a = m.jnt_qposadr[j] + (3 if m.jnt_type[j] == mujoco.mjtJoint.mjJNT_FREE else 0)
            quat = rng.normal(size=(batch, 4))
            qpos[:, a : a + 4] = quat / np.linalg.norm(quat, axis=1, keepdims=True)
    qvel = 2.0 * rng.normal(size=(batch, m.nv))
    return qpos, qvel


def relative_error(ours, theirs):
    return float(np.abs(ours - theirs).max() / max(np.abs(theirs).max(), 1e-300))


@pytest.mark.parametrize("dtype,tolerance", [(torch.float64, 1e-9), (torch.float32, 1e-4)])
@pytest.mark.parametrize("name", MODELS)
def test_mass_matrix_and_bias_forces_match_mujoco(name, dtype, tolerance):
    m = mujoco_model(name)
    d = mujoco.MjData(m)
    model = diffsim.load_mjcf(diffsim.asset(name), dtype=dtype)
    qpos, qvel = random_states(m, batch=64, seed=1)
    M = diffsim.mass_matrix(model, torch.tensor(qpos, dtype=dtype)).double().numpy()
    bias = diffsim.bias_forces(model, torch.tensor(qpos, dtype=dtype), torch.tensor(qvel, dtype=dtype)).double().numpy()
    assert M.shape == (64, m.nv, m.nv) and bias.shape == (64, m.nv)
    worst_M = worst_bias = 0.0
    for i in range(64):
        d.qpos[:], d.qvel[:] = qpos[i], qvel[i]
        mujoco.mj_forward(m, d)
        M_ref = np.zeros((m.nv, m.nv))
        mujoco.mj_fullM(m, d, M_ref)
        worst_M = max(worst_M, relative_error(M[i], M_ref))
        worst_bias = max(worst_bias, relative_error(bias[i], d.qfrc_bias))
    assert worst_M < tolerance, f"mass matrix rel. error {worst_M:.2e}"
    assert worst_bias < tolerance, f"bias force rel. error {worst_bias:.2e}"


@pytest.mark.parametrize("name", MODELS)
def test_trajectory_matches_mujoco_euler(name):
    """200 steps under random controls, contacts and limits off, step for step."""
    m = mujoco_model(name, constraints=False)
    d = mujoco.MjData(m)
    model = diffsim.load_mjcf(m, dtype=torch.float64)  # Euler, constraints off: MuJoCo's flags say so
    assert model.integrator == "Euler" and not model.enable_contact and not model.flags.limit
    batch, horizon = 3, 200
    qpos, qvel = random_states(m, batch, seed=2, spread=0.3)
    ctrls = np.random.default_rng(3).uniform(-1, 1, size=(batch, horizon, m.nu))
    qpos_traj, qvel_traj = diffsim.rollout(model, torch.tensor(qpos), torch.tensor(qvel), torch.tensor(ctrls))
    qpos_traj, qvel_traj = qpos_traj.numpy(), qvel_traj.numpy()
    worst = 0.0
    for i in range(batch):
        d.qpos[:], d.qvel[:] = qpos[i], qvel[i]
        for t in range(horizon):
            d.ctrl[:] = ctrls[i, t]
            mujoco.mj_step(m, d)
            scale_q = max(1.0, np.abs(d.qpos).max())
            scale_v = max(1.0, np.abs(d.qvel).max())
            err = max(
                np.abs(qpos_traj[i, t] - d.qpos).max() / scale_q, np.abs(qvel_traj[i, t] - d.qvel).max() / scale_v
            )
            assert err < 1e-8, f"env {i} step {t}: error {err:.2e}"
            worst = max(worst, err)
    # the trajectory must actually move, or the comparison proves nothing
    assert np.abs(qpos_traj[:, -1] - qpos).max() > 0.05


def test_batch_does_not_change_an_environment():
    """Env i of a batch of 64 equals the same env simulated alone, with either contact model."""
    for contact_model in ("smooth", "mujoco"):
        _batch_equals_alone(
            diffsim.load_mjcf(diffsim.asset("ant.xml"), dtype=torch.float64, contact_model=contact_model)
        )


def _batch_equals_alone(model):
    m = mujoco_model("ant.xml")
    qpos, qvel = random_states(m, batch=64, seed=4, spread=0.3)
    ctrls = torch.tensor(np.random.default_rng(5).uniform(-1, 1, size=(64, 20, model.nu)))
    qpos, qvel = torch.tensor(qpos), torch.tensor(qvel)
    batch_qpos, batch_qvel = diffsim.rollout(model, qpos, qvel, ctrls, frame_skip=2)
    for i in (0, 17, 63):
        alone_qpos, alone_qvel = diffsim.rollout(
            model, qpos[i : i + 1], qvel[i : i + 1], ctrls[i : i + 1], frame_skip=2
        )
        assert torch.equal(alone_qpos[0], batch_qpos[i])
        assert torch.equal(alone_qvel[0], batch_qvel[i])


def test_frame_skip_and_rollout_agree_with_single_steps():
    model = diffsim.load_mjcf(diffsim.asset("cartpole.xml"), dtype=torch.float64)
    qpos = model.qpos0[None].repeat(2, 1) + 0.1
    qvel = torch.zeros(2, model.nv, dtype=torch.float64)
    ctrls = torch.linspace(-1, 1, 2 * 4 * model.nu, dtype=torch.float64).reshape(2, 4, model.nu)
    traj_qpos, traj_qvel = diffsim.rollout(model, qpos, qvel, ctrls, frame_skip=3)
    q, v = qpos, qvel
    for t in range(4):
        for _ in range(3):
            q, v = diffsim.step(model, q, v, ctrls[:, t])
        assert torch.equal(q, traj_qpos[:, t]) and torch.equal(v, traj_qvel[:, t])


def test_joint_limits_push_back_smoothly():
    """A hinge driven past its range is pushed back; with the limit off it passes through."""
    xml = """
    <mujoco><option timestep="0.002" gravity="0 0 0"/>
      <worldbody><body><joint name="h" axis="0 0 1" range="-30 30" damping="0.1"/>
        <geom type="capsule" fromto="0 0 0 0.5 0 0" size="0.05"/></body></worldbody>
      <actuator><motor joint="h" gear="1"/></actuator></mujoco>"""
    model = diffsim.load_mjcf(xml, dtype=torch.float64, contact_model="smooth")
    qpos = torch.zeros(1, 1, dtype=torch.float64)
    qvel = torch.zeros(1, 1, dtype=torch.float64)
    ctrls = torch.full((1, 1500, 1), 0.2, dtype=torch.float64)
    limited = diffsim.rollout(model, qpos, qvel, ctrls)[0][0, :, 0]
    model.limit_stiffness = 0.0
    free = diffsim.rollout(model, qpos, qvel, ctrls)[0][0, :, 0]
    upper = np.deg2rad(30)
    assert free[-1] > upper + 0.5
    # reaches the end of its range, goes at most a few smoothing widths past it, comes back
    assert upper - 0.05 < limited.max() < upper + 0.05
    assert limited[-1] < limited.max()
