"""Intermediates kept for backward within a memory budget, and what is recomputed.

Forward keeps the per-step intermediates of as many of a rollout's last control steps as
fit in ``stored_bytes_budget(model)`` (``model.options.max_stored_bytes``), in gradient
runners leased from a per-model pool (``StoredSteps``); backward replays their adjoints
and recomputes the earlier steps from the saved states. Memory is then the saved states
plus the budget plus one control step's buffers, whatever the horizon.
"""

from __future__ import annotations

import torch
import warp as wp

from diffsim.model import Model
from diffsim.runners import ControlStepRunner


def stored_bytes_budget(model: Model) -> int:
    """The bytes of intermediates that the model's rollouts may keep for their backward
    passes: ``model.options.max_stored_bytes``, or its device default (256 MiB on a CPU, a
    quarter of the GPU's memory on CUDA). Forward keeps the intermediates of as many of a
    rollout's last control steps as fit; backward recomputes the earlier ones. The pool
    keeps what it allocated for reuse until ``free_buffers(model)``."""
    if model.options.max_stored_bytes is not None:
        return int(model.options.max_stored_bytes)
    device = model.device
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).total_memory // 4
    return 256 * 2**20


class StoredSteps:
    """A pool of gradient runners (one control step's buffers each) for rollouts that keep
    their intermediates. Each forward pass leases the runners it can (as many as the
    budget leaves) and holds them until its backward pass has used them, or its graph is
    dropped; the steps it got no runner for are recomputed in backward. So any number
    of interleaved calls (the hybrid agent's one-step calls, two rollouts then one
    backward) each keep their own intermediates."""

    def __init__(self, model: Model, batch: int, frame_skip: int):
        self.model, self.batch, self.frame_skip = model, batch, frame_skip
        self.free = []
        self.allocated = 0
        self.bytes_per_step = None
        self.grad_params = frozenset()

    def _new_runner(self) -> ControlStepRunner:
        self.allocated += 1
        return ControlStepRunner(
            self.model, self.batch, self.frame_skip, requires_grad=True, grad_params=self.grad_params
        )

    def give_back(self, runners: list):
        """Runners a forward pass is done with: kept for reuse if they accumulate the
        gradients of the parameters the pool records for now, else dropped."""
        for runner in runners:
            if runner.grad_params == self.grad_params:
                self.free.append(runner)
            else:
                self.allocated -= 1

    def lease(self, horizon: int, grad_params: frozenset = frozenset()):
        """Up to ``horizon`` runners whose adjoints accumulate the gradients of the
        parameters ``grad_params``, as many as ``stored_bytes_budget`` leaves beside the
        runners other forward passes hold; None if not one fits."""
        if grad_params != self.grad_params:
            # runners record which parameters get gradients: the free ones of another set go
            self.grad_params = grad_params
            self.allocated -= len(self.free)
            self.free.clear()
        if self.bytes_per_step is None:
            self.free.append(self._new_runner())  # to measure one control step's buffers
            arrays = [a for p in self.free[0].programs for a in vars(p.buffers).values() if isinstance(a, wp.array)]
            self.bytes_per_step = 2 * sum(a.capacity for a in arrays)  # values and gradients
        budget = stored_bytes_budget(self.model) // self.bytes_per_step  # control steps
        while self.free and self.allocated > budget:  # the budget was lowered since
            self.free.pop()
            self.allocated -= 1
        count = min(horizon, budget - (self.allocated - len(self.free)))
        if count <= 0:
            return None
        reused = min(count, len(self.free))
        runners = [self.free.pop() for _ in range(reused)] + [self._new_runner() for _ in range(count - reused)]
        return Lease(self, runners)


class Lease:
    """Runners held by one forward pass; ``release`` (idempotent) returns them to the pool."""

    def __init__(self, pool: StoredSteps, runners: list):
        self.pool, self.runners = pool, runners

    def release(self):
        if self.runners is not None:
            self.pool.give_back(self.runners)
            self.runners = None


def stored_steps_for(model: Model, batch: int, frame_skip: int) -> StoredSteps:
    cache = model.caches.stored_steps
    key = (batch, frame_skip, model.enable_contact)
    if key not in cache:
        cache[key] = StoredSteps(model, batch, frame_skip)
    return cache[key]


def free_buffers(model: Model):
    """Release the buffers diffsim caches for a model (recorded steps, stored rollouts);
    the next rollout records its steps again, with the model's current ``options``."""
    model.caches.clear()
