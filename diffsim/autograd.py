"""The torch face of the simulator: ``mass_matrix``, ``bias_forces``, and the
differentiable ``step`` and ``rollout``.

Inputs and outputs are torch tensors with a leading batch dimension, in the model's
dtype and on its device; Warp reads and writes them in place (``wp.from_torch``) on
torch's current stream.

How gradients work (``_Rollout``; the recorded control steps are ``diffsim.runners``, the
stored-intermediates pool ``diffsim.stored_steps``):

* every physics step is a ``StepProgram``: its kernel launches and their adjoints are
  recorded once and replayed, so Python does not re-resolve arguments per launch;
* when gradients are needed, forward keeps the intermediates of as many of the rollout's
  last control steps as fit in ``model.options.max_stored_bytes`` (by default 256 MiB on a CPU, a
  quarter of the GPU's memory on CUDA), one set of buffers per control step leased from
  a cached pool until the backward pass has used them, and backward only replays the
  adjoints for those;
* of the earlier control steps forward keeps only the state after each (the outputs),
  and backward re-runs each from its saved input state before pulling the gradient
  through it. Memory is then the saved states plus the budget plus one control step's
  buffers, whatever the horizon; the backward pass costs about one more forward pass for
  the steps it recomputes. A second backward through the same graph (``retain_graph``)
  recomputes every step;
* parameters of the model that have ``requires_grad`` (``model.body_mass``, ...) are
  inputs of the op; their gradients are accumulated by Warp in buffers of its own
  (``model.param_grads``) and handed to torch as copies. The adjoints of a step are
  recorded for the set of such parameters, and accumulate nothing for the others;
* backward re-runs steps with the model's parameters as they are then, so a parameter
  edited in place between forward and backward (``model.contact_slip = ...``) makes the
  backward raise, as torch does for its own saved tensors; the gradient is first-order
  only: differentiating it again (``create_graph=True``, then a second backward) raises.
"""

from __future__ import annotations

import contextlib
import warnings
import weakref

import numpy as np
import torch
import warp as wp

from diffsim.model import Model
from diffsim.runners import buffers_for, runner_for, simulator_for
from diffsim.stored_steps import free_buffers, stored_bytes_budget, stored_steps_for  # noqa: F401 (public here too)
from diffsim.validation import all_finite, check_finite, check_frame_skip, check_state


class SimulationError(RuntimeError):
    """The simulation produced NaN or inf. ``envs`` lists the environments, ``step`` the
    first control step (0-based) at which one of them went bad."""

    def __init__(self, message, envs, step):
        super().__init__(message)
        self.envs = envs
        self.step = step


@contextlib.contextmanager
def _torch_stream(model: Model):
    """Run Warp launches on torch's current CUDA stream (no-op on the CPU)."""
    if model.device.type == "cuda":
        with wp.ScopedStream(wp.stream_from_torch(model.device)):
            yield
    else:
        yield


class _WithoutGradient(torch.autograd.Function):
    """A value computed without autograd, attached to the inputs that require grad so that
    asking for its gradient raises ``message`` instead of silently giving none."""

    @staticmethod
    def forward(ctx, message, compute, *inputs):
        ctx.message = message
        return compute()

    @staticmethod
    def backward(ctx, *grads):
        raise RuntimeError(ctx.message)


def _value(model: Model, what: str, compute, *inputs):
    """``compute()``, refusing a later gradient request if any input or model parameter requires grad."""
    needs = [t for t in (*inputs, *model.params.values()) if t.requires_grad]
    if torch.is_grad_enabled() and needs:
        message = (
            f"{what} is not differentiable in diffsim: its value is exact, but no gradient flows through "
            f"it. Gradients of the dynamics come from diffsim.step and diffsim.rollout; compute {what} "
            f"under torch.no_grad() or from detached inputs."
        )
        return _WithoutGradient.apply(message, compute, *needs)
    return compute()


SECOND_DERIVATIVES = (
    "diffsim's gradients are first-order: differentiating the gradient of diffsim.step or "
    "diffsim.rollout again (a Hessian or Hessian-vector product) is not supported. Use finite "
    "differences of the gradient instead."
)


def mass_matrix(model: Model, qpos: torch.Tensor) -> torch.Tensor:
    """Joint-space inertia matrix, armature included (MuJoCo's ``mj_fullM``).

    Not differentiable: asking for a gradient through it raises (``diffsim.step`` and
    ``diffsim.rollout`` are).

    Args:
        qpos: (B, nq) generalised positions.
    Returns:
        (B, nv, nv) symmetric positive definite matrices, kg m^2 / kg.
    """
    qpos = check_state(model, "qpos", qpos, model.nq)
    if qpos.shape[0] == 0 or model.nv == 0:
        return qpos.new_zeros(qpos.shape[0], model.nv, model.nv)
    buf = buffers_for(model, qpos.shape[0])
    sim = simulator_for(model)

    def compute():
        with torch.no_grad(), _torch_stream(model):
            sim.kinematics(buf, wp.from_torch(qpos.detach()))
            sim.mass_matrix(buf)
            return wp.to_torch(buf.M).clone()

    return _value(model, "diffsim.mass_matrix", compute, qpos)


def bias_forces(model: Model, qpos: torch.Tensor, qvel: torch.Tensor) -> torch.Tensor:
    """Coriolis, centrifugal and gravity forces (MuJoCo's ``qfrc_bias``).

    Not differentiable: asking for a gradient through it raises (``diffsim.step`` and
    ``diffsim.rollout`` are).

    Args:
        qpos: (B, nq) generalised positions.
        qvel: (B, nv) generalised velocities.
    Returns:
        (B, nv) generalised forces, N m or N.
    """
    qpos = check_state(model, "qpos", qpos, model.nq)
    qvel = check_state(model, "qvel", qvel, model.nv, batch=qpos.shape[0])
    if qpos.shape[0] == 0 or model.nv == 0:
        return qvel.new_zeros(qpos.shape[0], model.nv)
    buf = buffers_for(model, qpos.shape[0])
    sim = simulator_for(model)

    def compute():
        with torch.no_grad(), _torch_stream(model):
            sim.kinematics(buf, wp.from_torch(qpos.detach()))
            sim.bias_forces(buf, wp.from_torch(qvel.detach()))
            return wp.to_torch(buf.qfrc_bias).clone()

    return _value(model, "diffsim.bias_forces", compute, qpos, qvel)


def _forward_control_steps(model: Model, qpos, qvel, ctrls, frame_skip: int, qpos_traj, qvel_traj, warmstart_traj=None):
    """Control steps with nothing recorded for backward: from (qpos, qvel), apply each of
    ``ctrls`` (B, T, nu) for ``frame_skip`` physics steps and write the states after each
    into ``qpos_traj``, ``qvel_traj`` (B, T, ...), and the constraint solver's warm start
    after each into ``warmstart_traj`` (B, T, nv) if given. The state stays in the runner's buffers
    between control steps, and controls and states move through its staging buffers a
    chunk of control steps at a time, so a control step costs its physics steps and one
    small replay (``TrajectoryStaging``)."""
    runner = runner_for(model, qpos.shape[0], frame_skip, requires_grad=False)
    staging = runner.staging
    runner.states[0].qpos.copy_(qpos)
    runner.states[0].qvel.copy_(qvel)
    current = 0
    for start in range(0, ctrls.shape[1], staging.chunk):
        end = min(start + staging.chunk, ctrls.shape[1])
        runner.ctrl.copy_(ctrls[:, start])  # the chunk's first control; the replays load the others
        if end - start > 1:
            staging.ctrls[:, 1 : end - start].copy_(ctrls[:, start + 1 : end])
        staging.step.zero_()
        for _ in range(start, end):
            current = runner.advance(current)
            staging.store_and_load[current]()
        qpos_traj[:, start:end] = staging.qpos[:, : end - start]
        qvel_traj[:, start:end] = staging.qvel[:, : end - start]
        if warmstart_traj is not None:
            warmstart_traj[:, start:end] = staging.warmstart[:, : end - start]


def _taped_control_step(
    model: Model,
    qpos,
    qvel,
    ctrl,
    frame_skip: int,
    grad_qpos,
    grad_qvel,
    grad_params: frozenset = frozenset(),
    warmstart=None,
):
    """Re-run one control step (from the constraint solver's ``warmstart``, (B, nv), as in
    forward) and pull ``(grad_qpos, grad_qvel)`` of its output back to its inputs.
    Returns (d qpos, d qvel, d ctrl), views valid until the next call; parameter
    gradients accumulate into ``model.param_grads``."""
    runner = runner_for(model, qpos.shape[0], frame_skip, requires_grad=True, grad_params=grad_params)
    runner.load(qpos, qvel, ctrl)
    if warmstart is not None:
        wp.to_torch(model.caches.warmstarts[qpos.shape[0]]).copy_(warmstart)
    runner.forward()
    return runner.backward(grad_qpos, grad_qvel)


def _first_bad(tensor: torch.Tensor):
    """(environments, first index along dim 1) where a (B, T, ...) tensor is not finite, or None."""
    if all_finite(tensor):
        return None
    bad = ~torch.isfinite(tensor.reshape(tensor.shape[0], tensor.shape[1], -1)).all(dim=2)
    if not bool(bad.any()):
        return None
    envs = torch.nonzero(bad.any(dim=1)).flatten().tolist()
    step = int(torch.nonzero(bad.any(dim=0)).min())
    return envs, step


def _warn_nonfinite(grads: torch.Tensor, t: int, horizon: int) -> bool:
    """Warn (and return True) if the (B, 1, n) gradients of control step ``t`` hold NaN or inf."""
    bad = _first_bad(grads)
    if bad is None:
        return False
    warnings.warn(
        f"non-finite gradient appeared at control step {t} (going backward from step {horizon - 1}) "
        f"in environment(s) {bad[0][:10]}",
        RuntimeWarning,
        stacklevel=3,
    )
    return True


def _warn_nonfinite_state_grad(grad_qpos, grad_qvel, t: int, horizon: int) -> bool:
    """``_warn_nonfinite`` for the (B, nq), (B, nv) gradients of control step ``t``'s input
    state: how a model without controls reports where a non-finite gradient appeared."""
    return _warn_nonfinite(torch.cat([grad_qpos, grad_qvel], dim=1)[:, None], t, horizon)


class _Rollout(torch.autograd.Function):
    """(qpos, qvel, ctrls, *params) -> (qpos_traj, qvel_traj); see the module docstring."""

    @staticmethod
    def forward(ctx, model, frame_skip, param_names, qpos, qvel, ctrls, *params):
        horizon = ctrls.shape[1]
        qpos_traj, qvel_traj = _empty_trajectories(model, qpos.shape[0], horizon)
        lease = stored_steps_for(model, qpos.shape[0], frame_skip).lease(horizon, frozenset(param_names))
        # the last control steps keep their intermediates (as many as the lease holds)
        first_stored = horizon - len(lease.runners) if lease is not None else horizon
        # the constraint solver's warm start after each control step: a step recomputed in
        # backward starts from the one forward started from, and gets forward's states
        warmstarts = (
            torch.empty(qpos.shape[0], horizon, model.nv, dtype=model.dtype, device=model.device)
            if model.constraint_rows
            else None
        )
        with _torch_stream(model):
            if first_stored > 0:
                _forward_control_steps(
                    model,
                    qpos,
                    qvel,
                    ctrls[:, :first_stored],
                    frame_skip,
                    qpos_traj[:, :first_stored],
                    qvel_traj[:, :first_stored],
                    None if warmstarts is None else warmstarts[:, :first_stored],
                )
            if lease is not None:
                start = (
                    (qpos, qvel)
                    if first_stored == 0
                    else (qpos_traj[:, first_stored - 1], qvel_traj[:, first_stored - 1])
                )
                _forward_stored_steps(
                    lease.runners,
                    *start,
                    ctrls[:, first_stored:],
                    qpos_traj[:, first_stored:],
                    qvel_traj[:, first_stored:],
                    None if warmstarts is None else warmstarts[:, first_stored:],
                    model.caches.warmstarts.get(qpos.shape[0]),
                )
        ctx.model, ctx.frame_skip, ctx.param_names = model, frame_skip, param_names
        ctx.warmstarts = warmstarts
        ctx.lease, ctx.first_stored = lease, first_stored
        ctx.param_versions = _param_versions(model)
        if lease is not None:
            # a graph dropped without backward gives its runners back too
            weakref.finalize(ctx, lease.release)
        ctx.save_for_backward(qpos, qvel, ctrls, qpos_traj, qvel_traj)
        return qpos_traj, qvel_traj

    @staticmethod
    def backward(ctx, grad_qpos_traj, grad_qvel_traj):
        with torch.no_grad():
            grads = _Rollout._gradients(ctx, grad_qpos_traj, grad_qvel_traj)
        if not torch.is_grad_enabled():
            return grads
        # create_graph=True: the gradients would be differentiated again, which the adjoints do not support
        needs = [
            t
            for t in (
                *ctx.saved_tensors,
                grad_qpos_traj,
                grad_qvel_traj,
                *(ctx.model.params[name] for name in ctx.param_names),
            )
            if t is not None and t.requires_grad
        ]
        if not needs:
            return grads
        return tuple(
            g if g is None else _WithoutGradient.apply(SECOND_DERIVATIVES, lambda g=g: g, *needs) for g in grads
        )

    @staticmethod
    def _gradients(ctx, grad_qpos_traj, grad_qvel_traj):
        model, frame_skip = ctx.model, ctx.frame_skip
        changed = [name for name, version in _param_versions(model).items() if version != ctx.param_versions[name]]
        if changed:
            raise RuntimeError(
                f"model parameter(s) {changed} were modified in place after diffsim's forward pass: "
                f"its backward pass would use the new values and give a wrong gradient. Run the "
                f"rollout again after changing them (or change them on a copy of the model)."
            )
        qpos0, qvel0, ctrls, qpos_traj, qvel_traj = ctx.saved_tensors
        horizon = ctrls.shape[1]
        if grad_qpos_traj is None:
            grad_qpos_traj = torch.zeros_like(qpos_traj)
        if grad_qvel_traj is None:
            grad_qvel_traj = torch.zeros_like(qvel_traj)
        for grad in model.param_grads.values():
            grad.zero_()
        grad_ctrls = torch.zeros_like(ctrls)
        carry_qpos = torch.zeros_like(qpos0)
        carry_qvel = torch.zeros_like(qvel0)
        reported = False
        grad_params = frozenset(ctx.param_names)
        # the forward's intermediates, unless an earlier backward of this graph released them
        lease = ctx.lease if ctx.lease is not None and ctx.lease.runners is not None else None
        with _torch_stream(model):
            first_recomputed = horizon
            if lease is not None:
                carry_qpos, carry_qvel, reported = _backward_stored_steps(
                    lease.runners,
                    grad_qpos_traj[:, ctx.first_stored :],
                    grad_qvel_traj[:, ctx.first_stored :],
                    grad_ctrls[:, ctx.first_stored :],
                    ctx.first_stored,
                    horizon,
                )
                first_recomputed = ctx.first_stored
            for t in reversed(range(first_recomputed)):
                grad_q = grad_qpos_traj[:, t] + carry_qpos
                grad_v = grad_qvel_traj[:, t] + carry_qvel
                q_in = qpos0 if t == 0 else qpos_traj[:, t - 1]
                v_in = qvel0 if t == 0 else qvel_traj[:, t - 1]
                warmstart = None
                if ctx.warmstarts is not None:
                    warmstart = torch.zeros_like(qvel0[:, : model.nv]) if t == 0 else ctx.warmstarts[:, t - 1]
                d_qpos, d_qvel, d_ctrl = _taped_control_step(
                    model, q_in, v_in, ctrls[:, t], frame_skip, grad_q, grad_v, grad_params, warmstart
                )
                # views of the runner's buffers: consumed (added into a new tensor) before its next backward
                carry_qpos, carry_qvel = d_qpos, d_qvel
                grad_ctrls[:, t] = d_ctrl
                if model.nu == 0 and not reported:
                    reported = _warn_nonfinite_state_grad(carry_qpos, carry_qvel, t, horizon)
        if lease is not None:
            lease.release()
        if model.nu > 0 and not all_finite(grad_ctrls):
            # a non-finite gradient reaches the controls of the step where it appears and of
            # every earlier one: the latest such step is where it first appeared, going backward
            bad = _first_bad(torch.flip(grad_ctrls, dims=[1]))
            if bad is not None:
                envs, flipped = bad
                t = horizon - 1 - flipped
                _warn_nonfinite(grad_ctrls[:, t : t + 1], t, horizon)
        param_grads = [model.param_grads[name].clone() for name in ctx.param_names]
        return (None, None, None, carry_qpos.clone(), carry_qvel.clone(), grad_ctrls, *param_grads)


def _param_versions(model: Model) -> dict:
    """torch's in-place version counter of each model parameter tensor (and of the scalars
    that live beside them, such as ``dt``)."""
    return {name: t._version for name, t in model.params.items()}


def _forward_stored_steps(runners: list, qpos, qvel, ctrls, qpos_traj, qvel_traj, warmstart_traj=None, warmstart=None):
    """Control steps that keep their intermediates for backward, one leased runner each:
    from (qpos, qvel), apply ``ctrls`` (B, T, nu), T = len(runners), and write the states
    after each into ``qpos_traj``, ``qvel_traj`` (B, T, ...), and the constraint solver's
    ``warmstart`` (a Warp array) after each into ``warmstart_traj`` (B, T, nv) if given.
    Each runner starts from the state the one before it reached; controls go in and
    states come out all at once."""
    torch._foreach_copy_([r.ctrl for r in runners], ctrls.unbind(1))
    warmstart = None if warmstart_traj is None else wp.to_torch(warmstart)
    for t, runner in enumerate(runners):
        runner.states[0].qpos.copy_(qpos)
        runner.states[0].qvel.copy_(qvel)
        qpos, qvel = runner.forward()
        if warmstart is not None:
            warmstart_traj[:, t].copy_(warmstart)
    qpos_traj.copy_(torch.stack([r.states[-1].qpos for r in runners], dim=1))
    qvel_traj.copy_(torch.stack([r.states[-1].qvel for r in runners], dim=1))


def _backward_stored_steps(runners: list, grad_qpos_traj, grad_qvel_traj, grad_ctrls, first: int, horizon: int):
    """Backward through the control steps ``first .. horizon - 1`` that ``_forward_stored_steps``
    ran with ``runners``: ``grad_*_traj`` (B, T, ...) are the gradients of their output states;
    writes the controls' gradients into ``grad_ctrls`` (B, T, nu). Returns the gradients of
    the first step's input state (views of the first runner's buffers) and whether a
    non-finite one was reported (checked per step when there are no controls to report it)."""
    torch._foreach_zero_([g for r in runners for g in r.grads])
    torch._foreach_copy_([r.states[-1].qpos_grad for r in runners], grad_qpos_traj.unbind(1))
    torch._foreach_copy_([r.states[-1].qvel_grad for r in runners], grad_qvel_traj.unbind(1))
    reported = False
    for i in reversed(range(len(runners))):
        runner = runners[i]
        if i + 1 < len(runners):  # the gradient that flows back from the next control step
            runner.states[-1].qpos_grad.add_(runners[i + 1].states[0].qpos_grad)
            runner.states[-1].qvel_grad.add_(runners[i + 1].states[0].qvel_grad)
        for program in reversed(runner.programs):
            program.backward()
        if runner.ctrl.shape[1] == 0 and not reported:
            reported = _warn_nonfinite_state_grad(
                runner.states[0].qpos_grad, runner.states[0].qvel_grad, first + i, horizon
            )
    grad_ctrls.copy_(torch.stack([r.ctrl_grad for r in runners], dim=1))
    return runners[0].states[0].qpos_grad, runners[0].states[0].qvel_grad, reported


def _empty_trajectories(model: Model, batch: int, horizon: int):
    return (
        torch.empty(batch, horizon, model.nq, dtype=model.dtype, device=model.device),
        torch.empty(batch, horizon, model.nva, dtype=model.dtype, device=model.device),
    )


def _rollout_without_grad(model: Model, qpos, qvel, ctrls, frame_skip: int):
    """The rollout when no gradient is wanted: no autograd node, nothing kept."""
    qpos_traj, qvel_traj = _empty_trajectories(model, qpos.shape[0], ctrls.shape[1])
    with _torch_stream(model):
        _forward_control_steps(model, qpos, qvel, ctrls, frame_skip, qpos_traj, qvel_traj)
    return qpos_traj, qvel_traj


def _check_step_inputs(model, qpos, qvel, ctrl, act, ctrl_time=None):
    """The checked inputs, with ``qvel`` and ``act`` joined into the state's second half (B, nv + na)."""
    qpos = check_state(model, "qpos", qpos, model.nq)
    B = qpos.shape[0]
    qvel = check_state(model, "qvel", qvel, model.nv, batch=B)
    name = "ctrl" if ctrl_time is None else "ctrls"
    ctrl = check_state(model, name, ctrl, model.nu, batch=B, time=ctrl_time)
    checked = [("qpos", qpos), ("qvel", qvel), (name, ctrl)]
    if act is None and model.na:
        raise ValueError(
            f"this model has {model.na} actuator activation state(s) (na = {model.na}): pass act=, a "
            f"({B}, {model.na}) tensor (zeros is MuJoCo's initial state), and receive it back"
        )
    if act is not None:
        act = check_state(model, "act", act, model.na, batch=B)
        checked.append(("act", act))
        if model.na:
            qvel = torch.cat([qvel, act], dim=1)
    for n, t in checked:
        check_finite(n, t)
    return qpos, qvel, ctrl


def _split(model: Model, qpos, qvel, act_given: bool) -> tuple:
    """``(qpos, qvel)`` or ``(qpos, qvel, act)`` from the joined state's second half (last axis)."""
    if not act_given:
        return qpos, qvel
    return qpos, qvel[..., : model.nv], qvel[..., model.nv :]


def _run(model: Model, qpos, qvel, ctrls, frame_skip: int, check_finite: bool):
    """The differentiable rollout on checked inputs."""
    if qpos.shape[0] == 0 or model.nv == 0:
        # nothing to simulate: no environments, or a model whose bodies are all fixed (its state is empty)
        horizon = ctrls.shape[1]
        return (
            qpos[:, None, :].expand(qpos.shape[0], horizon, model.nq).clone(),
            qvel[:, None, :].expand(qvel.shape[0], horizon, qvel.shape[1]).clone(),
        )
    names = tuple(name for name, t in model.params.items() if t.requires_grad)
    params = [model.params[name] for name in names]
    needs_grad = torch.is_grad_enabled() and (
        qpos.requires_grad or qvel.requires_grad or ctrls.requires_grad or len(params) > 0
    )
    warmstart = model.caches.warmstarts.get(qpos.shape[0])
    if warmstart is not None:  # every call starts the solver cold, as after mj_resetData: same inputs, same result
        warmstart.zero_()
    # contacts beyond the capacity are possible only below the collision functions' slots
    may_overflow = model.mujoco_contacts and model.contact_capacity < model.nprecon
    if may_overflow and qpos.shape[0] in model.caches.overflows:
        model.caches.overflows[qpos.shape[0]].zero_()
    if needs_grad:
        qpos_traj, qvel_traj = _Rollout.apply(model, frame_skip, names, qpos, qvel, ctrls, *params)
    else:
        qpos_traj, qvel_traj = _rollout_without_grad(model, qpos, qvel, ctrls, frame_skip)
    if may_overflow:
        dropped = model.caches.overflows[qpos.shape[0]].numpy()
        if dropped.any():
            warnings.warn(
                f"{int(dropped.sum())} contacts beyond model.contact_capacity = {model.contact_capacity} were dropped "
                f"in {int((dropped > 0).sum())} of {len(dropped)} environments (environments "
                f"{np.flatnonzero(dropped)[:8].tolist()}); the model can make up to {model.nprecon} contacts per "
                "environment: raise model.contact_capacity",
                stacklevel=3,
            )
    if check_finite:
        bad = (
            None
            if all_finite(qpos_traj) and all_finite(qvel_traj)
            else _first_bad(torch.cat([qpos_traj.detach(), qvel_traj.detach()], dim=2))
        )
        if bad is not None:
            envs, step = bad
            raise SimulationError(
                f"the simulation blew up (NaN/inf) in environment(s) {envs[:10]}{' ...' if len(envs) > 10 else ''} "
                f"at control step {step} (t = {(step + 1) * frame_skip * model.dt:.4g} s); try a smaller model.dt, "
                f"softer contact (model.contact_stiffness) or smaller controls",
                envs,
                step,
            )
    return qpos_traj, qvel_traj


def rollout(
    model: Model,
    qpos: torch.Tensor,
    qvel: torch.Tensor,
    ctrls: torch.Tensor,
    frame_skip: int = 1,
    check_finite: bool = True,
    act: torch.Tensor | None = None,
):
    """Apply a sequence of controls, each held for ``frame_skip`` physics steps of ``model.dt``.

    Differentiable with respect to ``qpos``, ``qvel``, ``ctrls`` and every model
    parameter tensor that has ``requires_grad`` (``model.body_mass.requires_grad_()``).
    Memory grows with T (the saved states), not with the number of physics steps.

    Args:
        qpos: (B, nq) initial positions, MuJoCo's layout (free joint: xyz + quaternion wxyz).
        qvel: (B, nv) initial velocities (free joint: world linear, body-frame angular).
        ctrls: (B, T, nu) controls (clamped to ``ctrlrange`` where limited).
        frame_skip: physics steps per control.
        check_finite: raise ``SimulationError`` naming the environments and the first
            control step where the state became NaN or inf.
        act: (B, na) initial actuator activations; required when ``model.na > 0``
            (MuJoCo's ``d.act``; zeros is MuJoCo's initial state), differentiable.
    Returns:
        (qpos_traj (B, T, nq), qvel_traj (B, T, nv)): the state after each control step;
        with ``act`` given, also act_traj (B, T, na).
    """
    check_frame_skip(frame_skip)
    qpos_in, qvel_in, ctrls = _check_step_inputs(model, qpos, qvel, ctrls, act, ctrl_time=-1)
    return _split(model, *_run(model, qpos_in, qvel_in, ctrls, frame_skip, check_finite), act is not None)


def step(
    model: Model,
    qpos: torch.Tensor,
    qvel: torch.Tensor,
    ctrl: torch.Tensor,
    frame_skip: int = 1,
    check_finite: bool = True,
    act: torch.Tensor | None = None,
):
    """Advance ``frame_skip`` physics steps of ``model.dt`` with ``ctrl`` held; differentiable.

    Args:
        qpos: (B, nq) positions, MuJoCo's layout (free joint: xyz + quaternion wxyz).
        qvel: (B, nv) velocities (free joint: world linear, body-frame angular).
        ctrl: (B, nu) actuator controls (clamped to ``ctrlrange`` where limited).
        frame_skip: physics steps per call.
        act: (B, na) actuator activations; required when ``model.na > 0`` (MuJoCo's
            ``d.act``; zeros is MuJoCo's initial state), differentiable.
    Returns:
        (qpos, qvel) after the steps, new tensors of shapes (B, nq), (B, nv); with ``act``
        given, (qpos, qvel, act), act of shape (B, na).
    Raises:
        SimulationError: the state became NaN or inf (when ``check_finite``).
    """
    check_frame_skip(frame_skip)
    qpos_in, qvel_in, ctrl = _check_step_inputs(model, qpos, qvel, ctrl, act)
    qpos_traj, qvel_traj = _run(model, qpos_in, qvel_in, ctrl[:, None], frame_skip, check_finite)
    return _split(model, qpos_traj[:, 0], qvel_traj[:, 0], act is not None)
