"""MuJoCo's constraints in diffsim (``model.contact_model = "mujoco"``), against MuJoCo itself.

So far: joint and fixed-tendon limits and friction loss as MuJoCo's soft constraints,
solved by its Newton solver. The model (tests/models/limited_arm.xml, written for these
tests) has hinges and a slide with ranges on both sides, a margin, default, custom and
direct solref/solimp, friction loss, and a fixed tendon with a range, a margin and
friction loss; its contacts are off by MuJoCo's flag.
"""

from __future__ import annotations

import pathlib

import mujoco
import numpy as np
import pytest
import torch
import warp as wp

import diffsim
from diffsim.kernels.constraints import ROW_LIMIT_JOINT, ROW_LIMIT_TENDON
from diffsim.simulator import Simulator, StepBuffers

ARM = pathlib.Path(__file__).parent / "models" / "limited_arm.xml"
COUPLINGS = pathlib.Path(__file__).parent / "models" / "couplings.xml"
FOUR_BAR = pathlib.Path(__file__).parent / "models" / "four_bar.xml"
WELDS = pathlib.Path(__file__).parent / "models" / "welds.xml"
INTEGRATORS = {
    "Euler": mujoco.mjtIntegrator.mjINT_EULER,
    "implicitfast": mujoco.mjtIntegrator.mjINT_IMPLICITFAST,
    "RK4": mujoco.mjtIntegrator.mjINT_RK4,
}


def arm(integrator="Euler", path=ARM):
    m = mujoco.MjModel.from_xml_path(str(path))
    m.opt.integrator = INTEGRATORS[integrator]
    model = diffsim.load_mjcf(m, dtype=torch.float64)
    model.contact_model = "mujoco"
    return m, model


def one_step_errors(m, model, steps=500, ctrls=None, d=None):
    """Max |diff| / max(1, |state|) of diffsim's step from each of MuJoCo's states along a
    trajectory under random controls (or ``ctrls``, (steps, nu)), each step starting from
    MuJoCo's whole state: qpos, qvel and the solver's warm start (``d.qacc_warmstart``, the
    last step's solution); and per step the number of rows of each type and of contacts
    MuJoCo had."""
    d = mujoco.MjData(m) if d is None else d
    rng = np.random.default_rng(0)
    ctrls = rng.uniform(-1, 1, (steps, m.nu)) if ctrls is None else ctrls
    sim = Simulator(model, grad_params=())
    buf = StepBuffers(model, 1)
    state = [wp.zeros((1, n), dtype=wp.float64) for n in (m.nq, m.nv, m.nu, m.nq, m.nv)]
    worst, rows, contacts = 0.0, [], []
    for ctrl in ctrls:
        d.ctrl[:] = ctrl
        for array, value in zip(state, (d.qpos, d.qvel, ctrl)):
            array.assign(value[None])
        if model.constraint_rows:
            buf.qacc_warmstart.assign(d.qacc_warmstart[None])
        mujoco.mj_step(m, d)
        rows.append(np.bincount(d.efc_type, minlength=8))
        contacts.append(d.ncon)
        sim.step(buf, *state)
        q, v = state[3].numpy()[0], state[4].numpy()[0]
        worst = max(
            worst,
            np.abs(q - d.qpos).max() / max(1.0, np.abs(d.qpos).max()),
            np.abs(v - d.qvel).max() / max(1.0, np.abs(d.qvel).max()),
        )
    return worst, np.array(rows), np.array(contacts)


@pytest.mark.parametrize("integrator", list(INTEGRATORS))
@pytest.mark.parametrize(
    "path, equality_rows, limited_steps",
    [
        # joint and tendon couplings (polynomials, solref in both forms), one left inactive,
        # and a ball joint's limited cone
        (COUPLINGS, 3, 100),
        # body-to-body and site-to-site connects: a four-bar loop, a free box hung from a hook
        (FOUR_BAR, 6, 0),
        # welds to the world (relpose, torquescale), between bodies, between sites
        (WELDS, 18, 0),
    ],
    ids=["couplings", "four_bar", "welds"],
)
def test_equality_constraints_equal_mujocos(path, equality_rows, limited_steps, integrator):
    """MuJoCo's <equality> rows (Jdot qvel included): one step from MuJoCo's states to 1e-6."""
    m, model = arm(integrator, path)
    worst, rows, _ = one_step_errors(m, model)
    assert rows[:, int(mujoco.mjtConstraint.mjCNSTR_EQUALITY)].min() == equality_rows
    assert (rows[:, int(mujoco.mjtConstraint.mjCNSTR_LIMIT_JOINT)] > 0).sum() >= limited_steps
    assert not model.unsupported
    assert worst < 1e-6, f"{path.name} {integrator}: {worst:.2e}"


@pytest.mark.parametrize("integrator", list(INTEGRATORS))
def test_one_step_from_mujocos_states_equals_mujocos_step(integrator):
    """Every step of a 1 s MuJoCo trajectory under random controls, restarted from MuJoCo's
    own state: max |diff| / max(1, |state|) below 1e-6, with limits and friction loss active."""
    m, model = arm(integrator)
    worst, rows, _ = one_step_errors(m, model)
    assert (rows[:, int(mujoco.mjtConstraint.mjCNSTR_LIMIT_JOINT)] > 0).sum() > 100, "the joint limits are hit often"
    assert (rows[:, int(mujoco.mjtConstraint.mjCNSTR_LIMIT_TENDON)] > 0).sum() > 100, "and so is the tendon's"
    assert worst < 1e-6, f"{integrator}: {worst:.2e}"


def test_rows_and_their_soft_constraint_parameters_equal_mujocos():
    """At states with limits violated, within the margin and free: the instantiated rows and
    their Jacobian sign, aref and R equal MuJoCo's efc_J, efc_aref and efc_R to 1e-12."""
    m, model = arm()
    d = mujoco.MjData(m)
    sim = Simulator(model, grad_params=())
    states = [
        ([0.75, -1.1, 0.12], [0.3, -0.5, 0.2]),  # shoulder above, elbow below, slide above their ranges
        ([-0.5, 0.17, -0.04], [-0.1, 0.4, -0.3]),  # elbow within its margin of the upper end
        ([0.1, -0.3, 0.0], [1.0, 1.0, 1.0]),  # inside every range: friction rows only
    ]
    for qpos, qvel in states:
        d.qpos[:], d.qvel[:] = qpos, qvel
        mujoco.mj_forward(m, d)
        buf = StepBuffers(model, 1)
        wq = wp.from_torch(torch.tensor([qpos], dtype=torch.float64))
        wv = wp.from_torch(torch.tensor([qvel], dtype=torch.float64))
        wc = wp.from_torch(torch.zeros(1, m.nu, dtype=torch.float64))
        out = [wp.from_torch(torch.zeros(1, n, dtype=torch.float64)) for n in (m.nq, m.nv)]
        sim.step(buf, wq, wv, wc, *out)
        J, active, aref, R = (a.numpy()[0] for a in (buf.efc_J, buf.efc_active, buf.efc_aref, buf.efc_R))
        kind = model.topology["row_kind"].numpy()
        limit = lambda k: int(k in (ROW_LIMIT_JOINT, ROW_LIMIT_TENDON))  # noqa: E731
        ours = sorted((limit(kind[r]), tuple(J[r]), aref[r], R[r]) for r in range(model.nrow) if active[r])
        their_J = np.asarray(d.efc_J).reshape(d.nefc, m.nv)  # dense for a model this small
        limits = (int(mujoco.mjtConstraint.mjCNSTR_LIMIT_JOINT), int(mujoco.mjtConstraint.mjCNSTR_LIMIT_TENDON))
        theirs = sorted(
            (int(int(d.efc_type[i]) in limits), tuple(their_J[i]), d.efc_aref[i], d.efc_R[i]) for i in range(d.nefc)
        )
        assert [row[:2] for row in ours] == [row[:2] for row in theirs]
        np.testing.assert_allclose([row[2:] for row in ours], [row[2:] for row in theirs], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(buf.qfrc_constraint.numpy()[0], d.qfrc_constraint, rtol=1e-9, atol=1e-9)


def test_contact_model_choice_is_checked():
    m, model = arm()
    with pytest.raises(ValueError, match="'smooth' or 'mujoco'"):
        model.contact_model = "penalty"
    assert not model.unsupported
    model.contact_model = "smooth"
    assert model.unsupported["joint friction loss"] == ["joint 'shoulder'", "joint 'elbow'", "joint 'extend'"]
    assert model.unsupported["tendon limits"] == model.unsupported["tendon friction loss"] == ["tendon 'coupling'"]
    model.contact_model = "mujoco"
    assert not model.unsupported
    ant = diffsim.load_mjcf(diffsim.asset("ant.xml"), dtype=torch.float64)
    ant.contact_model = "mujoco"  # with its contacts
    assert ant.mujoco_contacts and ant.nrow == ant.nrow_static + ant.contact_capacity * ant.rows_per_contact


def test_mujocos_constraints_are_the_default_and_smooth_is_a_choice():
    """A loaded model simulates MuJoCo's constraints; contact_model="smooth" at load (or
    later) gives diffsim's penalty limits and smoothed contact."""
    m = mujoco.MjModel.from_xml_path(str(ARM))
    model = diffsim.load_mjcf(m, dtype=torch.float64)
    assert model.contact_model == "mujoco" and model.constraint_rows
    smooth = diffsim.load_mjcf(m, dtype=torch.float64, contact_model="smooth")
    assert smooth.contact_model == "smooth" and not smooth.constraint_rows
    with pytest.raises(ValueError, match="'smooth' or 'mujoco'"):
        diffsim.load_mjcf(m, contact_model="soft")


@pytest.mark.parametrize("path", [ARM, COUPLINGS, FOUR_BAR, WELDS], ids=lambda p: p.stem)
def test_float32_follows_float64(path):
    """The solver in float32: half a second of 4 environments under random controls stays
    finite and within 1e-4 of float64."""
    m = mujoco.MjModel.from_xml_path(str(path))
    ends = []
    for dtype in (torch.float32, torch.float64):
        model = diffsim.load_mjcf(m, dtype=dtype)
        model.contact_model = "mujoco"
        qpos = model.qpos0[None].repeat(4, 1)
        qvel = torch.zeros(4, model.nv, dtype=dtype)
        ctrls = torch.tensor(np.random.default_rng(0).uniform(-1, 1, (4, 250, m.nu)), dtype=dtype)
        with torch.no_grad():
            qpos_traj, _ = diffsim.rollout(model, qpos, qvel, ctrls)
        ends.append(qpos_traj[:, -1].double())
    assert torch.isfinite(ends[0]).all()
    torch.testing.assert_close(ends[0], ends[1], rtol=0, atol=1e-4)
