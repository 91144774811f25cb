"""Checks on tensors handed to the public API: clear errors naming what was expected."""

from __future__ import annotations

import math

import torch


def check_state(model, name: str, tensor, width: int, batch: int | None = None, time: int | None = None):
    """Check one state-like tensor and return it contiguous.

    Expected shape ``(B, width)``, or ``(B, T, width)`` when ``time`` is given (``-1``:
    any T); dtype and device those of the model. ``batch`` fixes B when known.
    """
    if not isinstance(tensor, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(tensor).__name__}")
    what = "(B, T, {w})" if time is not None else "(B, {w})"
    expected = what.format(w=width)
    if tensor.dim() != (3 if time is not None else 2) or tensor.shape[-1] != width:
        hint = f"; add a batch dimension with {name}[None]" if tensor.dim() == (2 if time is not None else 1) else ""
        raise ValueError(
            f"{name} must have shape {expected} with {width} = model's "
            f"{'nq' if name.startswith('qpos') else 'nv' if name.startswith('qvel') else 'na' if name == 'act' else 'nu'}"
            f", got {tuple(tensor.shape)}{hint}"
        )
    if batch is not None and tensor.shape[0] != batch:
        raise ValueError(f"{name} has batch size {tensor.shape[0]}, but qpos has {batch}")
    if time is not None and time >= 0 and tensor.shape[1] != time:
        raise ValueError(f"{name} must have {time} time steps, got {tensor.shape[1]}")
    if tensor.dtype != model.dtype:
        raise ValueError(
            f"{name} must have dtype {model.dtype} (the model's), got {tensor.dtype}; "
            f"convert with {name}.to({model.dtype}) or load the model with dtype={tensor.dtype}"
        )
    if tensor.device != model.device:
        raise ValueError(f"{name} is on {tensor.device} but the model is on {model.device}")
    return tensor.contiguous()


def all_finite(tensor: torch.Tensor) -> bool:
    """True when no element is NaN or inf. One reduction: a NaN or inf anywhere makes the
    sum NaN or inf; only a sum that overflows needs the element-wise test."""
    tensor = tensor.detach()
    if tensor.numel() == 0 or math.isfinite(tensor.sum().item()):
        return True
    return bool(torch.isfinite(tensor).all())


def check_finite(name: str, tensor: torch.Tensor):
    """Raise if a tensor holds NaN or inf, naming the first environment that does."""
    if all_finite(tensor):
        return
    bad = ~torch.isfinite(tensor)
    if bool(bad.any()):
        rows = torch.nonzero(bad.reshape(tensor.shape[0], -1).any(dim=1)).flatten().tolist()
        raise ValueError(f"{name} contains NaN or inf in environment(s) {rows[:10]}{' ...' if len(rows) > 10 else ''}")


def check_frame_skip(frame_skip):
    if not isinstance(frame_skip, int) or isinstance(frame_skip, bool) or frame_skip < 1:
        raise ValueError(f"frame_skip must be a positive int, got {frame_skip!r}")
