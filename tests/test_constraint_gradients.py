"""Gradients through MuJoCo's constraints (``contact_model="mujoco"``): the Newton solve's
implicit adjoint (``solver.newton_adjoint``) with the rows' own adjoints, checked by
``torch.autograd.gradcheck`` (float64, central differences) at states where each kind of
row is in each of its zones, with respect to the state, the controls and the model
parameters the rows read.

The models are the constraint tests' own (tests/models); each is driven by MuJoCo under
random controls until the state has the rows asked for, and the check starts there. The
solver's tolerance is tightened so that the solution is converged to rounding, which is
what implicit differentiation assumes (at MuJoCo's default, 1e-8, the finite differences
of the solve would carry its stopping error).
"""

from __future__ import annotations

import pathlib

import mujoco
import numpy as np
import pytest
import torch

import diffsim
from test_mujoco_contacts import spinning

MODELS = pathlib.Path(__file__).parent / "models"
EQUALITY = int(mujoco.mjtConstraint.mjCNSTR_EQUALITY)
FRICTION_DOF = int(mujoco.mjtConstraint.mjCNSTR_FRICTION_DOF)
FRICTION_TENDON = int(mujoco.mjtConstraint.mjCNSTR_FRICTION_TENDON)
LIMIT_JOINT = int(mujoco.mjtConstraint.mjCNSTR_LIMIT_JOINT)
LIMIT_TENDON = int(mujoco.mjtConstraint.mjCNSTR_LIMIT_TENDON)


INTEGRATORS = {
    "Euler": mujoco.mjtIntegrator.mjINT_EULER,
    "implicitfast": mujoco.mjtIntegrator.mjINT_IMPLICITFAST,
    "RK4": mujoco.mjtIntegrator.mjINT_RK4,
}


def load(name: str, integrator: str | None = None):
    m = mujoco.MjModel.from_xml_path(str(MODELS / name))
    m.opt.tolerance = 1e-14
    model_m = m
    if integrator is not None:  # the states come from the model's own integrator; diffsim steps with this one
        model_m = mujoco.MjModel.from_xml_path(str(MODELS / name))
        model_m.opt.tolerance = 1e-14
        model_m.opt.integrator = INTEGRATORS[integrator]
    return m, diffsim.load_mjcf(model_m, dtype=torch.float64, contact_model="mujoco")


def state_where(m, wanted, steps: int = 2000, seed: int = 0):
    """The first state of a MuJoCo trajectory under random controls (each held 20 steps)
    at which ``wanted(d)`` holds after ``mj_forward``: (qpos, qvel, ctrl, act) as (1, n)
    tensors."""
    d = mujoco.MjData(m)
    rng = np.random.default_rng(seed)
    for t in range(steps):
        if t % 20 == 0:
            d.ctrl[:] = rng.uniform(-1, 1, m.nu)
        mujoco.mj_step(m, d)
        mujoco.mj_forward(m, d)
        if t > 10 and wanted(d):
            return tuple(torch.tensor(x[None].copy(), dtype=torch.float64) for x in (d.qpos, d.qvel, d.ctrl, d.act))
    raise AssertionError("no state of the trajectory has the rows the check needs")


def rows(d, kind):
    return np.flatnonzero(d.efc_type == kind)


def friction_sticking(d, kind):
    """Friction-loss rows strictly inside their friction bound (in their quadratic zone)."""
    return [i for i in rows(d, kind) if abs(d.efc_force[i]) < 0.9 * d.efc_frictionloss[i]]


def friction_sliding(d, kind):
    return [i for i in rows(d, kind) if abs(d.efc_force[i]) == d.efc_frictionloss[i]]


class _StepWithParameter(torch.autograd.Function):
    """``diffsim.step`` as a function of one model parameter tensor too, so that gradcheck
    perturbs the parameter: forward writes ``value`` into the model's parameter, backward
    runs the step again with it requiring grad and returns diffsim's gradients."""

    @staticmethod
    def forward(ctx, model, name, value, qpos, qvel, ctrl, *act):
        ctx.model, ctx.name = model, name
        ctx.save_for_backward(value, qpos, qvel, ctrl, *act)
        with torch.no_grad():
            model.params[name].copy_(value)
            return diffsim.step(model, qpos, qvel, ctrl, act=act[0] if act else None)

    @staticmethod
    def backward(ctx, *grad_outputs):
        value, *state = ctx.saved_tensors
        param = ctx.model.params[ctx.name]
        inputs = [t.detach().requires_grad_() for t in state]
        with torch.enable_grad():
            with torch.no_grad():
                param.copy_(value)
            param.requires_grad_(True)
            try:
                out = diffsim.step(ctx.model, *inputs[:3], act=inputs[3] if len(inputs) > 3 else None)
                grads = torch.autograd.grad(out, [param, *inputs], grad_outputs)
            finally:
                param.requires_grad_(False)
        return (None, None, *grads)


def check_state_gradients(model, qpos, qvel, ctrl):
    inputs = tuple(t.clone().requires_grad_() for t in (qpos, qvel, ctrl))
    assert torch.autograd.gradcheck(
        lambda q, v, u: diffsim.step(model, q, v, u), inputs, eps=1e-6, atol=1e-6, rtol=1e-5
    )


def check_parameter_gradients(model, qpos, qvel, ctrl, names, act=None):
    state = (qpos, qvel, ctrl) if act is None else (qpos, qvel, ctrl, act)
    for name in names:
        value = model.params[name].detach().clone().requires_grad_()

        def step(v, name=name):
            return _StepWithParameter.apply(model, name, v, *state)

        try:
            assert torch.autograd.gradcheck(step, (value,), eps=1e-6, atol=1e-6, rtol=1e-5), name
        finally:
            with torch.no_grad():
                model.params[name].copy_(value)


ARM_PARAMETERS = (
    "body_mass",
    "dof_damping",
    "dof_armature",
    "jnt_solref",
    "jnt_solimp",
    "jnt_margin",
    "jnt_range",
    "dof_frictionloss",
    "dof_solref",
    "dof_solimp",
    "dof_invweight0",
    "tendon_frictionloss",
    "tendon_solref_lim",
    "tendon_margin",
    "actuator_gear",
)


@pytest.mark.parametrize("integrator", list(INTEGRATORS))
def test_gradients_at_joint_and_tendon_limits_with_sliding_friction(integrator):
    """The arm against a joint limit and its tendon's, every friction-loss row saturated;
    with each integrator (RK4: four solves per step, implicitfast: the solve's force
    through the implicit damping)."""
    m, model = load("limited_arm.xml", integrator)
    state = state_where(
        m,
        lambda d: (
            len(rows(d, LIMIT_JOINT)) > 0
            and len(rows(d, LIMIT_TENDON)) > 0
            and len(friction_sliding(d, FRICTION_DOF)) == m.nv
        ),
    )
    check_state_gradients(model, *state[:3])
    check_parameter_gradients(model, *state[:3], ARM_PARAMETERS if integrator == "Euler" else ("jnt_solref",))


def test_gradients_with_sticking_friction_loss():
    """The arm with friction-loss rows inside their bound (holding the joint) and a limit."""
    m, model = load("limited_arm.xml")
    state = state_where(
        m, lambda d: len(friction_sticking(d, FRICTION_DOF)) >= 2 and len(rows(d, LIMIT_JOINT)) > 0, seed=1
    )
    check_state_gradients(model, *state[:3])
    check_parameter_gradients(model, *state[:3], ARM_PARAMETERS)


@pytest.mark.parametrize(
    "name, parameters",
    [
        ("four_bar.xml", ("eq_solref", "eq_solimp", "eq_data", "body_mass", "body_pos")),
        ("welds.xml", ("eq_solref", "eq_solimp", "eq_data", "body_inertia", "site_pos")),
        ("couplings.xml", ("eq_solref", "eq_solimp", "eq_data", "jnt_solref")),
    ],
    ids=["connect", "weld", "joint_and_tendon_couplings"],
)
def test_gradients_with_equality_constraints(name, parameters):
    m, model = load(name)
    state = state_where(m, lambda d: len(rows(d, EQUALITY)) > 0)[:3]
    check_state_gradients(model, *state)
    check_parameter_gradients(model, *state, parameters)


CONTACT_PARAMETERS = (
    "geom_friction",
    "geom_solref",
    "geom_solimp",
    "geom_margin",
    "geom_size",
    "geom_pos",
    "body_mass",
    "body_inertia",
)


def settled_boxes(integrator=None):
    """The box on the floor and the box on it at rest (0.8 s after release)."""
    m, model = load("box_on_box.xml", integrator)
    d = mujoco.MjData(m)
    for _ in range(400):
        mujoco.mj_step(m, d)
    return m, model, d.qpos.copy(), d.qvel.copy()


def contact_forces_at(m, qpos, qvel):
    d = mujoco.MjData(m)
    d.qpos[:], d.qvel[:] = qpos, qvel
    mujoco.mj_forward(m, d)
    pyramid = d.efc_type == int(mujoco.mjtConstraint.mjCNSTR_CONTACT_PYRAMIDAL)
    return d.ncon, d.efc_force[pyramid]


@pytest.mark.parametrize(
    "motion, integrator",
    [
        ("sticking", "Euler"),
        ("sliding", "Euler"),
        ("separating", "Euler"),
        ("sliding", "RK4"),
        ("sticking", "implicitfast"),
    ],
)
def test_gradients_through_contacts(motion, integrator):
    """Box on the floor and box on box: at rest (every pyramid edge pushing: sticking), both
    boxes sliding along x (some edges slack), and the upper box lifting off at 0.5 m/s
    (its contacts instantiated, pushing nothing)."""
    m, model, qpos, qvel = settled_boxes(integrator)
    if motion == "sliding":
        qvel[0] = qvel[6] = 0.6
    elif motion == "separating":
        qvel[8] = 0.5
    ncon, force = contact_forces_at(m, qpos, qvel)
    assert ncon == 8
    if motion == "sticking":
        assert (force > 1e-6).all()
    elif motion == "sliding":
        assert (force == 0).sum() >= 8 and (force > 1e-6).sum() >= 8
    else:
        assert (force[16:] == 0).all() and (force[:16] > 1e-6).all()  # rows: 4 floor contacts, then 4 box-box
    state = tuple(torch.tensor(x[None]) for x in (qpos, qvel)) + (torch.zeros(1, 0, dtype=torch.float64),)
    inputs = tuple(t.clone().requires_grad_() for t in state[:2])
    assert torch.autograd.gradcheck(
        lambda q, v: diffsim.step(model, q, v, state[2]), inputs, eps=1e-6, atol=1e-6, rtol=1e-5
    )
    check_parameter_gradients(model, *state, CONTACT_PARAMETERS if integrator == "Euler" else ("geom_solref",))


def elliptic_boxes():
    """``settled_boxes`` with MuJoCo's elliptic friction cones."""
    m = mujoco.MjModel.from_xml_path(str(MODELS / "box_on_box.xml"))
    m.opt.tolerance = 1e-14
    m.opt.cone = mujoco.mjtCone.mjCONE_ELLIPTIC
    d = mujoco.MjData(m)
    for _ in range(400):
        mujoco.mj_step(m, d)
    return m, diffsim.load_mjcf(m, dtype=torch.float64), d.qpos.copy(), d.qvel.copy()


def cone_states(m, qpos, qvel):
    """How many of MuJoCo's elliptic contacts are in each zone: top (satisfied), bottom
    (quadratic), middle (on the cone)."""
    d = mujoco.MjData(m)
    d.qpos[:], d.qvel[:] = qpos, qvel
    mujoco.mj_forward(m, d)
    heads = [int(c.efc_address) for c in d.contact[: d.ncon]]
    states = np.bincount(d.efc_state[heads], minlength=5)
    S = mujoco.mjtConstraintState
    return {
        zone: int(states[int(state)])
        for zone, state in (
            ("top", S.mjCNSTRSTATE_SATISFIED),
            ("bottom", S.mjCNSTRSTATE_QUADRATIC),
            ("middle", S.mjCNSTRSTATE_CONE),
        )
    }


@pytest.mark.parametrize("motion", ["sticking", "sliding", "separating"])
def test_gradients_through_elliptic_cones(motion):
    """The boxes with elliptic cones: at rest (every cone in its bottom zone), sliding (the
    floor's cones on their surface) and the upper box lifting off (its cones on top, no
    force), with respect to the state and the contacts' parameters, frictions included."""
    m, model, qpos, qvel = elliptic_boxes()
    if motion == "sliding":
        qvel[0] = qvel[6] = 0.6
    elif motion == "separating":
        qvel[8] = 0.5
    zones = cone_states(m, qpos, qvel)
    assert sum(zones.values()) == 8
    wanted = {"sticking": "bottom", "sliding": "middle", "separating": "top"}[motion]
    assert zones[wanted] >= 4, zones
    state = tuple(torch.tensor(x[None]) for x in (qpos, qvel)) + (torch.zeros(1, 0, dtype=torch.float64),)
    check_state_gradients_without_controls(model, *state)
    check_parameter_gradients(model, *state, ("geom_friction", "geom_solref", "geom_solimp", "body_mass"))


def test_gradients_through_twisting_and_rolling_elliptic_cones():
    """The elliptic test model's bodies sliding, spinning and rolling (condim 4 and 6 cones,
    in their middle and bottom zones), with respect to the state and the <pair>s' parameters,
    solreffriction included."""
    m = mujoco.MjModel.from_xml_path(str(MODELS / "elliptic_cones.xml"))
    m.opt.tolerance = 1e-14
    model = diffsim.load_mjcf(m, dtype=torch.float64)
    d = mujoco.MjData(m)
    spinning(m, d)
    for _ in range(64):
        mujoco.mj_step(m, d)
    zones = cone_states(m, d.qpos, d.qvel)
    assert zones["middle"] >= 3 and zones["bottom"] >= 2, zones
    mujoco.mj_forward(m, d)
    assert {int(c.dim) for c in d.contact[: d.ncon]} == {4, 6}
    state = tuple(torch.tensor(x[None].copy()) for x in (d.qpos, d.qvel)) + (torch.zeros(1, 0, dtype=torch.float64),)
    check_state_gradients_without_controls(model, *state)
    check_parameter_gradients(
        model, *state, ("geom_friction", "pair_friction", "pair_solreffriction", "pair_solref", "geom_solimp")
    )


def test_gradients_through_cones_across_trees_and_branches():
    """tests/models/cone_islands.xml with every pair's cones on their surface: a cone whose
    rows move two trees, one whose normal rows move nothing and one whose rows lie on two
    branches of one tree (its Hessian is not tree-sparse), with respect to the state, the
    controls, frictions, masses and damping."""
    m = mujoco.MjModel.from_xml_path(str(MODELS / "cone_islands.xml"))
    m.opt.tolerance = 1e-14
    model = diffsim.load_mjcf(m, dtype=torch.float64)
    cone = int(mujoco.mjtConstraintState.mjCNSTRSTATE_CONE)

    def zones(d):
        found = {}
        for c in d.contact[: d.ncon]:
            found.setdefault(mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_GEOM, c.geom[1]), set()).add(
                int(d.efc_state[c.efc_address])
            )
        return found

    d = mujoco.MjData(m)
    d.qvel[:] = [1.0, 0.0, 0.3, 0.8, 0.0]
    rng = np.random.default_rng(0)
    for t in range(200):
        if t % 20 == 0:
            d.ctrl[:] = rng.uniform(-1, 1, m.nu)
        mujoco.mj_step(m, d)
        mujoco.mj_forward(m, d)
        if t > 5 and all(cone in zones(d).get(name, ()) for name in ("platform", "box", "upper")):
            break
    else:
        raise AssertionError("no state with every pair's cones on their surface")
    state = tuple(torch.tensor(x[None].copy()) for x in (d.qpos, d.qvel, d.ctrl))
    check_state_gradients(model, *state)
    check_parameter_gradients(model, *state, ("geom_friction", "body_mass", "dof_damping"))


def check_state_gradients_without_controls(model, qpos, qvel, ctrl):
    inputs = tuple(t.clone().requires_grad_() for t in (qpos, qvel))
    assert torch.autograd.gradcheck(
        lambda q, v: diffsim.step(model, q, v, ctrl), inputs, eps=1e-6, atol=1e-6, rtol=1e-5
    )


def test_gradients_of_the_ant_standing():
    """The Ant on the floor (its feet's contacts and its joint limits), with respect to the
    state, the controls and the actuators' and joints' parameters."""
    m = mujoco.MjModel.from_xml_path(str(diffsim.asset("ant.xml")))
    m.opt.tolerance = 1e-14
    model = diffsim.load_mjcf(m, dtype=torch.float64, contact_model="mujoco")
    d = mujoco.MjData(m)
    d.qpos[2] += 0.01
    for _ in range(100):
        mujoco.mj_step(m, d)
    mujoco.mj_forward(m, d)
    assert d.ncon >= 4
    rng = np.random.default_rng(0)
    state = tuple(torch.tensor(x[None].copy()) for x in (d.qpos, d.qvel, rng.uniform(-0.3, 0.3, m.nu)))
    check_state_gradients(model, *state)
    check_parameter_gradients(
        model, *state, ("actuator_gear", "actuator_gainprm", "dof_damping", "dof_armature", "geom_solref", "body_mass")
    )


def test_gradients_of_the_gripper_squeezing_the_box():
    m = mujoco.MjModel.from_xml_path(str(diffsim.asset("gripper.xml")))
    m.opt.tolerance = 1e-14
    model = diffsim.load_mjcf(m, dtype=torch.float64, contact_model="mujoco")
    d = mujoco.MjData(m)
    # the box turned a little about its vertical and a horizontal axis: square to the fingers,
    # a capsule lies exactly along a face, where MuJoCo's capsule-box contacts jump with the
    # sign of a zero (their derivative does not exist)
    box = m.jnt_qposadr[np.flatnonzero(m.jnt_type == mujoco.mjtJoint.mjJNT_FREE)[0]]
    mujoco.mju_euler2Quat(d.qpos[box + 3 : box + 7], [0.02, 0.0, 0.05], "xyz")
    squeeze = np.array([-0.8, 0.9, 0.9])  # inside ctrlrange: its clamp has no derivative at the ends
    for t in range(250):
        d.ctrl[:] = [-0.8, -0.5, -0.5] if t < 150 else squeeze
        mujoco.mj_step(m, d)
    mujoco.mj_forward(m, d)
    object_geom = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, "object")
    fingers = {mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, n) for n in ("left", "right")}
    touching = {int(g) for c in d.contact[: d.ncon] for g in c.geom if object_geom in c.geom}
    assert fingers <= touching, "both fingers squeeze the box"
    state = tuple(torch.tensor(x[None].copy()) for x in (d.qpos, d.qvel, squeeze))
    check_state_gradients(model, *state)
    check_parameter_gradients(model, *state, ("actuator_gear", "body_mass", "geom_solimp", "geom_size"))


def test_gradients_with_actuator_activations_at_a_limit():
    """Actuators with dynamics (filter, exact filter, integrator, integrated velocity) on a
    model whose hinge sits against a limit: gradients of the state, the controls, the
    activations and the gains, biases and dynamics parameters."""
    spec = mujoco.MjSpec.from_file(str(MODELS / "actuators.xml"))
    spec.option.disableflags = 0
    spec.joint("h1").range = [-0.2, 0.2]
    spec.joint("h1").limited = mujoco.mjtLimited.mjLIMITED_TRUE
    m = spec.compile()
    m.opt.tolerance = 1e-14
    model = diffsim.load_mjcf(m, dtype=torch.float64, contact_model="mujoco")
    state = state_where(m, lambda d: len(rows(d, LIMIT_JOINT)) > 0 and np.abs(d.act).min() > 0)
    inputs = tuple(t.clone().requires_grad_() for t in state)
    assert torch.autograd.gradcheck(
        lambda q, v, u, a: diffsim.step(model, q, v, u, act=a), inputs, eps=1e-6, atol=1e-6, rtol=1e-5
    )
    check_parameter_gradients(
        model, *state[:3], ("actuator_gainprm", "actuator_biasprm", "actuator_dynprm", "jnt_solref"), act=state[3]
    )


def tangent_maps(m, qpos, qpos_next, eps=1e-6):
    """(d qpos / d dq at qpos, d dq / d qpos_next at qpos_next): MuJoCo's tangent space of
    positions (mj_integratePos, mj_differentiatePos), by central differences of those two
    exact maps."""
    into = np.zeros((m.nq, m.nv))
    for i in range(m.nv):
        ends = []
        for sign in (1, -1):
            q, dq = qpos.copy(), np.zeros(m.nv)
            dq[i] = sign * eps
            mujoco.mj_integratePos(m, q, dq, 1.0)
            ends.append(q)
        into[:, i] = (ends[0] - ends[1]) / (2 * eps)
    out = np.zeros((m.nv, m.nq))
    for i in range(m.nq):
        ends = []
        for sign in (1, -1):
            q, dq = qpos_next.copy(), np.zeros(m.nv)
            q[i] += sign * eps
            mujoco.mj_differentiatePos(m, dq, 1.0, qpos_next, q)
            ends.append(dq)
        out[:, i] = (ends[0] - ends[1]) / (2 * eps)
    return into, out


def settled_ant():
    m = mujoco.MjModel.from_xml_path(str(diffsim.asset("ant.xml")))
    d = mujoco.MjData(m)
    d.qpos[2] += 0.01
    for _ in range(100):
        mujoco.mj_step(m, d)
    return m, d, np.random.default_rng(0).uniform(-0.3, 0.3, m.nu)


def squeezing_gripper():
    m = mujoco.MjModel.from_xml_path(str(diffsim.asset("gripper.xml")))
    d = mujoco.MjData(m)
    box = m.jnt_qposadr[np.flatnonzero(m.jnt_type == mujoco.mjtJoint.mjJNT_FREE)[0]]
    mujoco.mju_euler2Quat(d.qpos[box + 3 : box + 7], [0.02, 0.0, 0.05], "xyz")
    for t in range(250):
        d.ctrl[:] = [-0.8, -0.5, -0.5] if t < 150 else [-0.8, 0.9, 0.9]
        mujoco.mj_step(m, d)
    return m, d, d.ctrl.copy()


def resting_boxes():
    m = mujoco.MjModel.from_xml_path(str(MODELS / "box_on_box.xml"))
    d = mujoco.MjData(m)
    for _ in range(400):
        mujoco.mj_step(m, d)
    return m, d, np.zeros(0)


@pytest.mark.parametrize("scene", [settled_ant, squeezing_gripper, resting_boxes], ids=["ant", "gripper", "boxes"])
def test_one_step_jacobians_equal_mujocos_finite_differences(scene):
    """d next state / d state and d next state / d ctrl equal MuJoCo's mjd_transitionFD
    (centred, eps 1e-6) in its tangent space, at states in contact: to 1e-5 relative to the
    largest entry (the finite differences' own accuracy)."""
    m, d, ctrl = scene()
    m.opt.tolerance = 1e-14  # both solves converged to rounding: the differences measure the dynamics
    d.ctrl[:] = ctrl
    mujoco.mj_forward(m, d)
    assert d.ncon >= 4
    nx = 2 * m.nv
    A = np.zeros((nx, nx))
    B = np.zeros((nx, m.nu))
    mujoco.mjd_transitionFD(m, d, 1e-6, True, A, B, None, None)

    model = diffsim.load_mjcf(m, dtype=torch.float64, contact_model="mujoco")
    qpos, qvel, u = (torch.tensor(x[None].copy()) for x in (d.qpos, d.qvel, ctrl))
    with torch.no_grad():
        qpos_next = diffsim.step(model, qpos, qvel, u)[0][0].numpy()
    jac = torch.autograd.functional.jacobian(
        lambda q, v, c: torch.cat(diffsim.step(model, q, v, c), 1)[0], (qpos, qvel, u)
    )
    d_q, d_v, d_u = (j[:, 0].numpy() for j in jac)
    into, out = tangent_maps(m, d.qpos.copy(), qpos_next)
    ours_A = np.block([[out @ d_q[: m.nq] @ into, out @ d_v[: m.nq]], [d_q[m.nq :] @ into, d_v[m.nq :]]])
    ours_B = np.vstack([out @ d_u[: m.nq], d_u[m.nq :]])
    error_A = np.abs(ours_A - A).max() / np.abs(A).max()
    error_B = np.abs(ours_B - B).max() / np.abs(B).max() if m.nu else 0.0
    print(f"{scene.__name__}: relative error of A {error_A:.1e}, of B {error_B:.1e} (max |A| {np.abs(A).max():.3g})")
    assert error_A < 1e-5 and error_B < 1e-5, (error_A, error_B)
