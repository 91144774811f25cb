"""Recorded control steps: the machinery ``diffsim.autograd`` replays for every rollout.

A ``ControlStepRunner`` holds the ``frame_skip`` chained ``StepProgram``s of one control
step for one batch size, recorded once (with their adjoints when gradients are needed)
and replayed; a forward-only runner ping-pongs between two state sets and moves controls
in and states out through ``TrajectoryStaging``. ``simulator_for``, ``buffers_for`` and
``runner_for`` keep one of each per model in ``model.caches``.
"""

from __future__ import annotations

import torch
import warp as wp

from diffsim.kernels import trajectory
from diffsim.model import Model
from diffsim.simulator import Replay, Simulator, StepBuffers, StepProgram


def simulator_for(model: Model, grad_params: frozenset = frozenset()) -> Simulator:
    """The model's simulator whose adjoints accumulate the gradients of ``grad_params``
    (the parameters that require grad) and of no other parameter."""
    cache = model.caches.simulators
    if grad_params not in cache:
        cache[grad_params] = Simulator(model, grad_params)
    return cache[grad_params]


def buffers_for(model: Model, batch: int) -> StepBuffers:
    """Reusable buffers for forward-only work, one set per batch size."""
    cache = model.caches.buffers
    if batch not in cache:
        cache[batch] = StepBuffers(model, batch)
    return cache[batch]


class StateArrays:
    """(qpos, qvel) as torch tensors with Warp views; with ``requires_grad`` the Warp
    gradients live in torch tensors too, so they can be read and reset from torch."""

    def __init__(self, model: Model, batch: int, requires_grad: bool):
        def pair(width):
            value = torch.zeros(batch, width, dtype=model.dtype, device=model.device)
            grad = torch.zeros_like(value) if requires_grad else None
            return value, grad, wp.from_torch(value, requires_grad=requires_grad, grad=grad)

        self.qpos, self.qpos_grad, self.qpos_wp = pair(model.nq)
        self.qvel, self.qvel_grad, self.qvel_wp = pair(model.nva)


class ControlStepRunner:
    """Cached machinery for one (batch size, frame_skip): the ``frame_skip`` chained
    ``StepProgram``s of one control step, recorded once and replayed for every step.
    Their adjoints accumulate the gradients of the parameters in ``grad_params`` only."""

    def __init__(
        self, model: Model, batch: int, frame_skip: int, requires_grad: bool, grad_params: frozenset = frozenset()
    ):
        sim = simulator_for(model, grad_params)
        self.grad_params = grad_params
        # forward-only work ping-pongs between two state sets; gradients need every substep's
        states = [StateArrays(model, batch, requires_grad) for _ in range(frame_skip + 1 if requires_grad else 2)]
        self.ctrl = torch.zeros(batch, model.nu, dtype=model.dtype, device=model.device)
        self.ctrl_grad = torch.zeros_like(self.ctrl) if requires_grad else None
        ctrl_wp = wp.from_torch(self.ctrl, requires_grad=requires_grad, grad=self.ctrl_grad)
        self.states = states
        self.programs = []
        for i in range(frame_skip if requires_grad else 2):
            a, b = states[i], states[(i + 1) % len(states)]
            self.programs.append(
                StepProgram(
                    sim, batch, a.qpos_wp, a.qvel_wp, ctrl_wp, b.qpos_wp, b.qvel_wp, requires_grad=requires_grad
                )
            )
        self.frame_skip = frame_skip
        if requires_grad:
            self.grads = [g for p in self.programs for g in p.gradient_arrays()]
            self.grads += [g for st in states for g in (st.qpos_grad, st.qvel_grad)] + [self.ctrl_grad]
        self.staging = None if requires_grad else TrajectoryStaging(model, batch, states, ctrl_wp)

    def load(self, qpos, qvel, ctrl):
        self.states[0].qpos.copy_(qpos)
        self.states[0].qvel.copy_(qvel)
        self.ctrl.copy_(ctrl)

    def forward(self):
        """Gradient runners: run the control step from state 0; returns the final (qpos,
        qvel) views (copy them to keep them). Forward-only runners use ``advance``."""
        for program in self.programs:
            program.forward()
        return self.states[-1].qpos, self.states[-1].qvel

    def advance(self, current: int) -> int:
        """Forward-only runners: ``frame_skip`` physics steps from ``states[current]``,
        ping-ponging between the two state sets; returns the index of the set holding
        the result, where the next control step can start without a copy."""
        for i in range(self.frame_skip):
            self.programs[(current + i) % 2].forward()
        return (current + self.frame_skip) % 2

    def backward(self, grad_qpos, grad_qvel):
        """After ``forward``: pull the output gradients back to (qpos, qvel, ctrl) of the
        input. Returns views of this runner's buffers, valid until its next backward."""
        torch._foreach_zero_(self.grads)
        self.states[-1].qpos_grad.copy_(grad_qpos)
        self.states[-1].qvel_grad.copy_(grad_qvel)
        for program in reversed(self.programs):
            program.backward()
        return self.states[0].qpos_grad, self.states[0].qvel_grad, self.ctrl_grad


# Forward-only rollouts stage up to this many control steps' controls and states at a
# time, fewer where that would take more than 16 MiB (large batches, where the per-step
# copies that staging saves cost little beside the step).
_STAGING_BYTES = 16 * 2**20


class TrajectoryStaging:
    """Staging buffers for a forward-only runner: ``ctrls`` (B, chunk, nu) in, ``qpos``
    (B, chunk, nq) and ``qvel`` (B, chunk, nv) out, and for each of the runner's two state
    sets a small replay (a captured graph from its second call) that stores that state at
    ``step``, advances ``step`` and loads ``ctrls[:, step]`` into the runner's control.
    One replay per control step replaces three torch copies (see kernels/trajectory.py)."""

    def __init__(self, model: Model, batch: int, states: list, ctrl_wp):
        device = model.wp_device
        nw = model.nv if model.constraint_rows else 0
        bytes_per_step = batch * (model.nq + model.nva + model.nu + nw) * torch.finfo(model.dtype).bits // 8
        self.chunk = chunk = max(1, min(model.options.trajectory_chunk, _STAGING_BYTES // bytes_per_step))
        self.ctrls = torch.zeros(batch, chunk, model.nu, dtype=model.dtype, device=model.device)
        self.qpos = torch.zeros(batch, chunk, model.nq, dtype=model.dtype, device=model.device)
        self.qvel = torch.zeros(batch, chunk, model.nva, dtype=model.dtype, device=model.device)
        # MuJoCo's constraint solver starts from the last step's solution: a control step
        # recomputed for backward must start from the same warm start as in forward
        self.warmstart = torch.zeros(batch, chunk, nw, dtype=model.dtype, device=model.device)
        self.step = torch.zeros(1, dtype=torch.int32, device=model.device)
        step, ctrls = wp.from_torch(self.step), wp.from_torch(self.ctrls)
        qpos_traj, qvel_traj = wp.from_torch(self.qpos), wp.from_torch(self.qvel)
        self.store_and_load = []
        for state in states:
            launches = [
                wp.launch(
                    trajectory.store_state,
                    dim=batch,
                    device=device,
                    record_cmd=True,
                    inputs=[state.qpos_wp, state.qvel_wp, step, qpos_traj, qvel_traj],
                )
            ]
            if nw:
                launches.append(
                    wp.launch(
                        trajectory.store_vector,
                        dim=batch,
                        device=device,
                        record_cmd=True,
                        inputs=[model.caches.warmstarts[batch], step, wp.from_torch(self.warmstart)],
                    )
                )
            launches.append(wp.launch(trajectory.next_step, dim=1, inputs=[step], device=device, record_cmd=True))
            if model.nu > 0:
                launches.append(
                    wp.launch(
                        trajectory.load_control,
                        dim=batch,
                        device=device,
                        record_cmd=True,
                        inputs=[ctrls, step, ctrl_wp],
                    )
                )
            self.store_and_load.append(
                Replay(device, [launch.launch for launch in launches], model.options.capture_graphs)
            )


def runner_for(
    model: Model, batch: int, frame_skip: int, requires_grad: bool, grad_params: frozenset = frozenset()
) -> ControlStepRunner:
    cache = model.caches.runners
    # a forward-only runner serves every frame_skip; contact on/off is baked into the recording
    key = (batch, frame_skip if requires_grad else 0, requires_grad, model.enable_contact)
    if grad_params:
        key += (grad_params,)  # recorded with those parameters' gradient buffers
    if key not in cache:
        cache[key] = ControlStepRunner(model, batch, frame_skip if requires_grad else 1, requires_grad, grad_params)
    runner = cache[key]
    runner.frame_skip = frame_skip
    return runner
