"""MuJoCo's contacts in diffsim (``model.contact_model = "mujoco"``), against MuJoCo itself.

The models (tests/models/, diffsim/assets/) were written for this project: contact_pairs
(every geom pair type diffsim collides, with priority, solmix, condim 1/3/4/6, both solref
forms, margins and gaps, a <pair> and an <exclude>), a stack of boxes, a humanoid-like body
of capsules, cylinders and ellipsoids, the Ant and the gripper; elliptic_cones (MuJoCo's
elliptic friction cones with condim 3/4/6, impratio and solreffriction), and the others
switched to elliptic cones.
"""

from __future__ import annotations

import pathlib

import mujoco
import numpy as np
import pytest
import torch
import warp as wp

import diffsim
from diffsim.simulator import Simulator, StepBuffers
from test_constraints import one_step_errors

MODELS = pathlib.Path(__file__).parent / "models"
PAIRS = MODELS / "contact_pairs.xml"
BOX_STACK = MODELS / "box_stack.xml"
HUMANOID = MODELS / "capsule_humanoid.xml"
ELLIPTIC = MODELS / "elliptic_cones.xml"
CONE_ISLANDS = MODELS / "cone_islands.xml"
CONTACT_ELLIPTIC = int(mujoco.mjtConstraint.mjCNSTR_CONTACT_ELLIPTIC)
STATE_QUADRATIC = int(mujoco.mjtConstraintState.mjCNSTRSTATE_QUADRATIC)
STATE_CONE = int(mujoco.mjtConstraintState.mjCNSTRSTATE_CONE)


def load(path, dtype=torch.float64):
    m = mujoco.MjModel.from_xml_path(str(path))
    model = diffsim.load_mjcf(m, dtype=dtype)
    model.contact_model = "mujoco"
    return m, model


def random_poses(m, count, seed=0, spread=0.25, height=(0.0, 0.3)):
    """qpos with every free body at a random pose in a small region above the floor."""
    rng = np.random.default_rng(seed)
    poses = np.tile(m.qpos0, (count, 1))
    for j in np.flatnonzero(m.jnt_type == mujoco.mjtJoint.mjJNT_FREE):
        a = m.jnt_qposadr[j]
        poses[:, a : a + 2] = rng.uniform(-spread, spread, (count, 2))
        poses[:, a + 2] = rng.uniform(*height, count)
        quat = rng.normal(size=(count, 4))
        poses[:, a + 3 : a + 7] = quat / np.linalg.norm(quat, axis=1, keepdims=True)
    return poses


def diffsim_contacts(model, qpos):
    """diffsim's contacts at each row of ``qpos`` (one environment per row)."""
    sim = Simulator(model, grad_params=())
    buf = StepBuffers(model, len(qpos))
    sim.kinematics(buf, wp.from_torch(torch.tensor(qpos, dtype=model.dtype)))
    sim.collision(buf)
    geom1 = model.topology["collision_geom1"].numpy()
    geom2 = model.topology["collision_geom2"].numpy()
    arrays = {
        name: getattr(buf, "con_" + name).numpy()
        for name in ("pair", "dim", "dist", "pos", "frame", "includemargin", "friction", "solref", "solimp")
    }
    out = []
    for e in range(len(qpos)):
        contacts = []
        for c in range(int(buf.ncon.numpy()[e])):
            row = {name: values[e, c] for name, values in arrays.items()}
            row["geom"] = (int(geom1[row["pair"]]), int(geom2[row["pair"]]))
            contacts.append(row)
        out.append(contacts)
    return out, buf.contact_overflow.numpy()


def mujoco_contacts(m, d):
    return [
        {
            "geom": (int(c.geom[0]), int(c.geom[1])),
            "dim": int(c.dim),
            "dist": c.dist,
            "pos": np.array(c.pos),
            "frame": np.array(c.frame).reshape(3, 3),
            "includemargin": c.includemargin,
            "friction": np.array(c.friction),
            "solref": np.array(c.solref),
            "solimp": np.array(c.solimp),
        }
        for c in d.contact[: d.ncon]
    ]


def by_pair_and_position(contacts):
    return sorted(contacts, key=lambda c: (c["geom"], tuple(np.round(c["pos"], 6))))


def assert_same_contacts(ours, theirs, tol=1e-9):
    ours, theirs = by_pair_and_position(ours), by_pair_and_position(theirs)
    assert [c["geom"] for c in ours] == [c["geom"] for c in theirs]
    for a, b in zip(ours, theirs):
        assert a["dim"] == b["dim"], a["geom"]
        for name in ("dist", "pos", "frame", "includemargin", "friction", "solref", "solimp"):
            np.testing.assert_allclose(a[name], b[name], rtol=0, atol=tol, err_msg=f"{name} of {a['geom']}")


def lifted(m, d, height=1e-3):
    """Free bodies raised by ``height``: the Ant's keyframe has its feet exactly on the
    floor, where a contact exists or not by the last bit of the geoms' poses (MuJoCo's
    geom poses and diffsim's differ by rounding, ~1e-16 m)."""
    for j in np.flatnonzero(m.jnt_type == mujoco.mjtJoint.mjJNT_FREE):
        d.qpos[m.jnt_qposadr[j] + 2] += height


def trajectory_states(m, seconds=1.0, seed=0):
    """MuJoCo's states along ``seconds`` under random controls."""
    d = mujoco.MjData(m)
    lifted(m, d)
    rng = np.random.default_rng(seed)
    states = []
    for _ in range(int(round(seconds / m.opt.timestep))):
        d.ctrl[:] = rng.uniform(-1, 1, m.nu)
        states.append(d.qpos.copy())
        mujoco.mj_step(m, d)
    return np.array(states)


def test_candidate_pairs_hold_every_pair_mujoco_collides():
    """Over random poses, every geom pair MuJoCo makes contacts for is a candidate; the
    excluded bodies and the pairs their bitmasks keep apart are not."""
    m, model = load(PAIRS)
    geom = lambda name: mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, name)  # noqa: E731
    candidates = set(zip(model.topology["collision_geom1"].tolist(), model.topology["collision_geom2"].tolist()))
    assert (geom("capsule"), geom("box")) not in candidates and (geom("box"), geom("capsule")) not in candidates
    assert not any(geom("cylinder") in pair and geom("box") in pair for pair in candidates)
    assert (geom("ball2"), geom("box2")) in candidates  # the <pair>
    d = mujoco.MjData(m)
    seen = set()
    for qpos in random_poses(m, 400):
        d.qpos[:] = qpos
        mujoco.mj_forward(m, d)
        seen |= {(int(c.geom[0]), int(c.geom[1])) for c in d.contact[: d.ncon]}
    assert seen <= candidates
    assert len(seen) >= 20  # most pair types met


@pytest.mark.parametrize(
    "path, states",
    [
        (PAIRS, "random"),
        (BOX_STACK, "trajectory"),
        (HUMANOID, "trajectory"),
        (diffsim.asset("ant.xml"), "trajectory"),
        (diffsim.asset("gripper.xml"), "trajectory"),
    ],
    ids=["contact_pairs", "box_stack", "humanoid", "ant", "gripper"],
)
def test_contacts_equal_mujocos(path, states):
    """diffsim's contacts (geoms, position, frame, distance, condim, mixed friction, solref,
    solimp, includemargin) equal MuJoCo's d.contact to 1e-9 in float64."""
    m, model = load(path)
    poses = random_poses(m, 300) if states == "random" else trajectory_states(m)[::5]
    ours, overflow = diffsim_contacts(model, poses)
    assert not overflow.any()
    d = mujoco.MjData(m)
    total = 0
    for qpos, contacts in zip(poses, ours):
        d.qpos[:] = qpos
        mujoco.mj_forward(m, d)
        assert_same_contacts(contacts, mujoco_contacts(m, d))
        total += d.ncon
    assert total >= len(poses) // 2  # the states do make contacts


def gripper_controls(m, steps, rng):
    """Down with the fingers open, squeeze the box, lift it: with a little noise."""
    t = np.arange(steps) * m.opt.timestep
    lift = np.where(t < 0.3, -0.8, np.where(t < 0.55, 0.2, 1.0))
    fingers = np.where(t < 0.3, -0.5, 1.0)
    ctrl = np.stack([lift, fingers, fingers], axis=1)
    return np.clip(ctrl + rng.normal(0, 0.05, ctrl.shape), -1, 1)


@pytest.mark.parametrize(
    "path, scripted",
    [
        (diffsim.asset("ant.xml"), None),
        (diffsim.asset("gripper.xml"), gripper_controls),
        (BOX_STACK, None),
        (HUMANOID, None),
    ],
    ids=["ant", "gripper", "box_stack", "humanoid"],
)
def test_one_step_with_contacts_equals_mujocos_step(path, scripted):
    """From each of MuJoCo's states along 1 s (random or scripted controls; the solver's
    warm start included), diffsim's next state equals MuJoCo's to 1e-6 relative in float64:
    contacts, limits and the solver."""
    m, model = load(path)
    d = mujoco.MjData(m)
    lifted(m, d)
    steps = int(round(1.0 / m.opt.timestep))
    rng = np.random.default_rng(0)
    ctrls = scripted(m, steps, rng) if scripted else rng.uniform(-1, 1, (steps, m.nu))
    worst, _, contacts = one_step_errors(m, model, ctrls=ctrls, d=d)
    assert (contacts > 0).mean() > 0.5  # in contact most of the time
    assert worst < 1e-6


def test_contacts_beyond_the_capacity_are_counted_not_lost_silently():
    """With room for 4 contacts, the box stack's others are counted in contact_overflow, and
    a step that drops some says so."""
    m, model = load(BOX_STACK)
    poses = trajectory_states(m)[100:101]
    _, overflow = diffsim_contacts(model, poses)
    assert overflow[0] == 0 and model.contact_capacity == min(model.nprecon, 128)
    d = mujoco.MjData(m)
    d.qpos[:] = poses[0]
    mujoco.mj_forward(m, d)
    model.contact_capacity = 4
    ours, overflow = diffsim_contacts(model, poses)
    assert len(ours[0]) == 4 and overflow[0] == d.ncon - 4 > 0
    with pytest.warns(UserWarning, match=rf"{d.ncon - 4} contacts beyond model.contact_capacity = 4 were dropped"):
        with torch.no_grad():
            diffsim.step(
                model,
                torch.tensor(poses),
                torch.zeros(1, m.nv, dtype=torch.float64),
                torch.zeros(1, 0, dtype=torch.float64),
            )
    with pytest.raises(ValueError, match="contact_capacity must be an int >= 0"):
        model.contact_capacity = -1


def test_a_thousand_ants_stay_finite_for_ten_seconds_in_float32():
    """1024 Ant environments, 10 s of random controls at the model's own time step, float32:
    every state finite; the default capacity holds every contact the Ant can make."""
    model = diffsim.load_mjcf(diffsim.asset("ant.xml"), dtype=torch.float32, contact_model="mujoco")
    assert model.contact_capacity == model.nprecon  # every collision slot: no overflow possible
    qpos, qvel = random_control_rollout(model, envs=1024, seconds=10.0, seed=0)
    assert torch.isfinite(qpos).all() and torch.isfinite(qvel).all()
    assert qpos[:, :, 2].min() > 0.1  # the torso never sinks into the floor


def random_control_rollout(model, envs, seconds, seed):
    """``envs`` rollouts from the model's initial pose under uniform random controls in
    [-1, 1] at its own time step: (qpos, qvel) trajectories."""
    g = torch.Generator().manual_seed(seed)
    ctrls = torch.rand(envs, int(round(seconds / model.dt)), model.nu, generator=g) * 2 - 1
    with torch.no_grad():
        return diffsim.rollout(model, model.qpos0[None].repeat(envs, 1), torch.zeros(envs, model.nv), ctrls)


def spinning(m, d, seed=1):
    """Every free body sliding and spinning: the cones' contacts slide, twist and roll."""
    rng = np.random.default_rng(seed)
    for j in np.flatnonzero(m.jnt_type == mujoco.mjtJoint.mjJNT_FREE):
        a = m.jnt_dofadr[j]
        d.qvel[a : a + 2] = rng.uniform(-1, 1, 2)
        d.qvel[a + 3 : a + 6] = rng.uniform(-8, 8, 3)


def elliptic(path):
    m = mujoco.MjModel.from_xml_path(str(path))
    m.opt.cone = mujoco.mjtCone.mjCONE_ELLIPTIC
    return m, diffsim.load_mjcf(m, dtype=torch.float64)


@pytest.mark.parametrize(
    "path, scripted",
    [
        (ELLIPTIC, None),
        (PAIRS, None),
        (diffsim.asset("ant.xml"), None),
        (diffsim.asset("gripper.xml"), gripper_controls),
        (BOX_STACK, None),
        (HUMANOID, None),
    ],
    ids=["elliptic_cones", "contact_pairs", "ant", "gripper", "box_stack", "humanoid"],
)
def test_one_step_with_elliptic_cones_equals_mujocos_step(path, scripted):
    """With ``<option cone="elliptic">``: from each of MuJoCo's states along 1 s, diffsim's
    next state equals MuJoCo's to 1e-6 relative in float64, with the cones in their middle
    (sliding) and bottom (sticking) zones along the way; contact_pairs mixes frictionless
    contacts (condim 1) in, with impratio 3."""
    m, model = elliptic(path)
    if path == PAIRS:
        m.opt.impratio = 3
        model = diffsim.load_mjcf(m, dtype=torch.float64)
    assert model.rows_per_contact == max(m.geom_condim.max(), m.pair_dim.max(initial=1))
    assert not any("cone" in feature for feature in model.unsupported)
    d = mujoco.MjData(m)
    lifted(m, d)
    if path in (ELLIPTIC, PAIRS):
        spinning(m, d)
    steps = int(round(1.0 / m.opt.timestep))
    rng = np.random.default_rng(0)
    ctrls = scripted(m, steps, rng) if scripted else rng.uniform(-1, 1, (steps, m.nu))
    states = mujoco.MjData(m)  # the zones MuJoCo's solution has along the same trajectory
    states.qpos[:], states.qvel[:] = d.qpos, d.qvel
    zones = np.zeros(5, int)
    for ctrl in ctrls[:: 10 if path not in (ELLIPTIC, PAIRS) else 1]:
        states.ctrl[:] = ctrl
        mujoco.mj_step(m, states)
        zones += np.bincount(states.efc_state[states.efc_type == CONTACT_ELLIPTIC], minlength=5)[:5]
    worst, rows, contacts = one_step_errors(m, model, ctrls=ctrls, d=d)
    assert rows[:, CONTACT_ELLIPTIC].sum() > 0 and (contacts > 0).mean() > 0.5
    if path in (ELLIPTIC, PAIRS):
        assert zones[STATE_CONE] > 100 and zones[STATE_QUADRATIC] > 100
    if path == PAIRS:
        assert rows[:, int(mujoco.mjtConstraint.mjCNSTR_CONTACT_FRICTIONLESS)].sum() > 0
    assert worst < 1e-6


def test_elliptic_rows_are_mujocos_scaled_by_their_friction():
    """At a state of sliding, twisting and rolling contacts: each elliptic cone's rows, with
    its friction rows divided by their coefficient (diffsim scales them, MuJoCo's solver
    does), equal MuJoCo's efc_J, efc_aref and efc_R to 1e-12, and their forces, so scaled
    back, equal MuJoCo's efc_force to 1e-9 of the largest."""
    m = mujoco.MjModel.from_xml_path(str(ELLIPTIC))
    model = diffsim.load_mjcf(m, dtype=torch.float64)
    d = mujoco.MjData(m)
    spinning(m, d)
    for _ in range(60):
        mujoco.mj_step(m, d)
    mujoco.mj_forward(m, d)
    assert {int(c.dim) for c in d.contact[: d.ncon]} >= {4, 6}
    sim = Simulator(model, grad_params=())
    buf = StepBuffers(model, 1)
    buf.qacc_warmstart.assign(d.qacc_warmstart[None])
    state = [wp.from_torch(torch.tensor(x[None].copy())) for x in (d.qpos, d.qvel, np.zeros(0))]
    out = [wp.zeros((1, n), dtype=wp.float64) for n in (m.nq, m.nv)]
    sim.step(buf, *state, *out)
    J, aref, R, force, cone = (a.numpy()[0] for a in (buf.efc_J, buf.efc_aref, buf.efc_R, buf.efc_force, buf.efc_cone))
    pair, pos, friction = (a.numpy()[0] for a in (buf.con_pair, buf.con_pos, buf.con_friction))
    geom1, geom2 = model.topology["collision_geom1"].numpy(), model.topology["collision_geom2"].numpy()
    ours = []
    for c in range(int(buf.ncon.numpy()[0])):
        r = model.nrow_static + c * model.rows_per_contact
        dim = cone[r]
        assert dim > 1 and (cone[r + 1 : r + dim] == -1).all()
        scale = np.concatenate([[1.0], friction[c, : dim - 1]])
        rows = slice(r, r + dim)
        geoms = (int(geom1[pair[c]]), int(geom2[pair[c]]))
        ours.append(
            (geoms, pos[c], J[rows] / scale[:, None], aref[rows] / scale, R[rows] / scale**2, force[rows] * scale)
        )
    their_J = np.asarray(d.efc_J).reshape(d.nefc, m.nv)
    theirs = []
    for c, contact in enumerate(d.contact[: d.ncon]):
        i, dim = int(contact.efc_address), int(contact.dim)
        assert (d.efc_type[i : i + dim] == CONTACT_ELLIPTIC).all()
        rows = slice(i, i + dim)
        geoms = (int(contact.geom[0]), int(contact.geom[1]))
        theirs.append((geoms, contact.pos, their_J[rows], d.efc_aref[rows], d.efc_R[rows], d.efc_force[rows]))
    key = lambda row: (row[0], tuple(np.round(row[1], 6)))  # noqa: E731
    ours, theirs = sorted(ours, key=key), sorted(theirs, key=key)
    assert [row[0] for row in ours] == [row[0] for row in theirs]
    largest = max(np.abs(row[5]).max() for row in theirs)
    for a, b in zip(ours, theirs):
        for name, x, y in zip(("J", "aref", "R"), a[2:5], b[2:5]):
            np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-12, err_msg=f"{name} of {a[0]}")
        np.testing.assert_allclose(a[5], b[5], rtol=0, atol=1e-9 * largest, err_msg=f"force of {a[0]}")


def test_ants_with_elliptic_cones_stay_finite_in_float32():
    """64 Ants with elliptic cones, 10 s of random controls at the model's own time step, in
    float32: every state finite, the torso above the floor."""
    m, _ = elliptic(diffsim.asset("ant.xml"))
    model = diffsim.load_mjcf(m, dtype=torch.float32)
    qpos, qvel = random_control_rollout(model, envs=64, seconds=10.0, seed=1)
    assert torch.isfinite(qpos).all() and torch.isfinite(qvel).all()
    assert qpos[:, :, 2].min() > 0.1


def test_elliptic_cones_across_trees_and_branches_equal_mujocos_step():
    """Cones whose rows move different trees (a box on a z-slide on a platform on an
    x-slide), nothing at all (the platform's normal rows on the floor) or different branches
    of one tree (sibling slides): one step from each of MuJoCo's states along 1 s equals
    MuJoCo's to 1e-6, the cones on their surface along the way. A cone's rows are one
    island, as in MuJoCo, and its Hessian couples the branches."""
    m = mujoco.MjModel.from_xml_path(str(CONE_ISLANDS))
    model = diffsim.load_mjcf(m, dtype=torch.float64)
    d = mujoco.MjData(m)
    d.qvel[:] = [1.0, 0.0, 0.3, 0.8, 0.0]
    probe = mujoco.MjData(m)
    probe.qvel[:] = d.qvel
    mujoco.mj_forward(m, probe)
    J = np.asarray(probe.efc_J).reshape(probe.nefc, m.nv)
    pairs = {(int(c.geom[0]), int(c.geom[1])) for c in probe.contact[: probe.ncon]}
    assert len(pairs) == 3 and (~J.any(axis=1)).sum() >= 4  # all three pairs; rows that move nothing
    rng = np.random.default_rng(0)
    ctrls = rng.uniform(-1, 1, (500, m.nu))
    worst, rows, contacts = one_step_errors(m, model, ctrls=ctrls, d=d)
    assert (contacts >= 8).mean() > 0.9
    assert worst < 1e-6
