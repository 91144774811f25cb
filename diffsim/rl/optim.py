"""Optimiser steps shared by the agents: a guarded update and a linear learning-rate decay."""

from __future__ import annotations

import torch
from torch import nn

from diffsim.rl import distributed


def apply_step(optimizer, loss, parameters, clip) -> bool:
    """One optimiser step if the loss and its gradients are finite; returns whether it
    stepped. Under ``torchrun`` the gradients are first averaged over the ranks, and a
    step is skipped on every rank if it is skipped on one (``diffsim.rl.distributed``)."""
    parameters = list(parameters)
    optimizer.zero_grad(set_to_none=True)
    finite = bool(torch.isfinite(loss))
    if finite:
        loss.backward()
    if not distributed.average_gradients(parameters, finite):
        optimizer.zero_grad(set_to_none=True)
        return False
    norm = nn.utils.clip_grad_norm_(parameters, clip)
    if not torch.isfinite(norm):
        optimizer.zero_grad(set_to_none=True)
        return False
    optimizer.step()
    return True


def decay_learning_rate(optimizer, lr: float, env_steps: int, total_steps: int | None) -> float:
    """Set ``optimizer``'s rate to ``lr`` decayed linearly to 0 over ``total_steps``
    environment steps (constant when the run's length is unknown); returns the rate set."""
    rate = lr * max(0.0, 1.0 - env_steps / total_steps) if total_steps else lr
    for group in optimizer.param_groups:
        group["lr"] = rate
    return rate
