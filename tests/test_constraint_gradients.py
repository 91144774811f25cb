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

MODELS = pathlib.Path(__file__).parent / "models"
EQUALITY = int(mujoco.mjtConstraint.mjCNSTR_EQUALITY)
FRICTION_DOF = int(mujoco.mjtConstraint.mjCNSTR_FRICTION_DOF)
FRICTION_TENDON = int(mujoco.mjtConstraint.mjCNSTR_FRICTION_TENDON)
LIMIT_JOINT = int(mujoco.mjtConstraint.mjCNSTR_LIMIT_JOINT)
LIMIT_TENDON = int(mujoco.mjtConstraint.mjCNSTR_LIMIT_TENDON)


def load(name: str):
    m = mujoco.MjModel.from_xml_path(str(MODELS / name))
    m.opt.tolerance = 1e-14
    return m, diffsim.load_mjcf(m, dtype=torch.float64, contact_model="mujoco")


def state_where(m, wanted, steps: int = 2000, seed: int = 0):
    """The first state of a MuJoCo trajectory under random controls (each held 20 steps)
    at which ``wanted(d)`` holds after ``mj_forward``: (qpos, qvel, ctrl) as (1, n) tensors."""
    d = mujoco.MjData(m)
    rng = np.random.default_rng(seed)
    for t in range(steps):
        if t % 20 == 0:
            d.ctrl[:] = rng.uniform(-1, 1, m.nu)
        mujoco.mj_step(m, d)
        mujoco.mj_forward(m, d)
        if t > 10 and wanted(d):
            return tuple(torch.tensor(x[None].copy(), dtype=torch.float64) for x in (d.qpos, d.qvel, d.ctrl))
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
    def forward(ctx, model, name, value, qpos, qvel, ctrl):
        ctx.model, ctx.name = model, name
        ctx.save_for_backward(value, qpos, qvel, ctrl)
        with torch.no_grad():
            model.params[name].copy_(value)
            return diffsim.step(model, qpos, qvel, ctrl)

    @staticmethod
    def backward(ctx, grad_qpos, grad_qvel):
        value, qpos, qvel, ctrl = ctx.saved_tensors
        param = ctx.model.params[ctx.name]
        inputs = [t.detach().requires_grad_() for t in (qpos, qvel, ctrl)]
        with torch.enable_grad():
            with torch.no_grad():
                param.copy_(value)
            param.requires_grad_(True)
            try:
                out = diffsim.step(ctx.model, *inputs)
                grads = torch.autograd.grad(out, [param, *inputs], (grad_qpos, grad_qvel))
            finally:
                param.requires_grad_(False)
        return (None, None, *grads)


def check_state_gradients(model, qpos, qvel, ctrl):
    inputs = tuple(t.clone().requires_grad_() for t in (qpos, qvel, ctrl))
    assert torch.autograd.gradcheck(
        lambda q, v, u: diffsim.step(model, q, v, u), inputs, eps=1e-6, atol=1e-6, rtol=1e-5
    )


def check_parameter_gradients(model, qpos, qvel, ctrl, names):
    for name in names:
        value = model.params[name].detach().clone().requires_grad_()

        def step(v, name=name):
            return _StepWithParameter.apply(model, name, v, qpos, qvel, ctrl)

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


def test_gradients_at_joint_and_tendon_limits_with_sliding_friction():
    """The arm against a joint limit and its tendon's, every friction-loss row saturated."""
    m, model = load("limited_arm.xml")
    state = state_where(
        m,
        lambda d: (
            len(rows(d, LIMIT_JOINT)) > 0
            and len(rows(d, LIMIT_TENDON)) > 0
            and len(friction_sliding(d, FRICTION_DOF)) == m.nv
        ),
    )
    check_state_gradients(model, *state)
    check_parameter_gradients(model, *state, ARM_PARAMETERS)


def test_gradients_with_sticking_friction_loss():
    """The arm with friction-loss rows inside their bound (holding the joint) and a limit."""
    m, model = load("limited_arm.xml")
    state = state_where(
        m, lambda d: len(friction_sticking(d, FRICTION_DOF)) >= 2 and len(rows(d, LIMIT_JOINT)) > 0, seed=1
    )
    check_state_gradients(model, *state)
    check_parameter_gradients(model, *state, ARM_PARAMETERS)


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
    state = state_where(m, lambda d: len(rows(d, EQUALITY)) > 0)
    check_state_gradients(model, *state)
    check_parameter_gradients(model, *state, parameters)
