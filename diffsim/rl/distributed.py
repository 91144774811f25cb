"""Data-parallel training across processes with ``torch.distributed`` (launched by
``torchrun``): each process (rank) simulates its own environments on its own device, and
only the networks' gradients and the observation normaliser's statistics cross
processes. Outside a process group (no ``torchrun``, or one process) every function
here is a no-op, and training is exactly what one process does.

``python -m diffsim.train`` calls ``initialize()``; the agents call ``average_gradients``
in their optimiser step (``diffsim.rl.optim.apply_step``) and ``all_sum`` through the
normaliser (``diffsim.rl.networks.RunningNorm``).
"""

from __future__ import annotations

import os
from datetime import timedelta

import torch
import torch.distributed as dist


def launched() -> bool:
    """Whether this process was started by ``torchrun`` (or another launcher that sets
    ``RANK`` and ``WORLD_SIZE``)."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def initialize(device: str, timeout_s: float = 1800.0) -> str:
    """Join the process group ``torchrun`` set up: ``nccl`` for CUDA, ``gloo`` on the CPU.
    Returns the device this rank uses: ``cuda:LOCAL_RANK`` when ``device`` asks for CUDA,
    else ``device``. A no-op (returning ``device``) outside ``torchrun``."""
    if not launched() or dist.is_initialized():
        return device
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if str(device).startswith("cuda"):
        if not torch.cuda.is_available():
            raise RuntimeError(f"--device {device} under torchrun, but torch sees no CUDA device")
        device = f"cuda:{local_rank}"
        torch.cuda.set_device(device)
        backend = "nccl"
    else:
        backend = "gloo"
    dist.init_process_group(backend=backend, timeout=timedelta(seconds=timeout_s))
    return device


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def is_main() -> bool:
    """The process that writes logs, evaluations and checkpoints (rank 0)."""
    return rank() == 0


def barrier() -> None:
    if world_size() > 1:
        dist.barrier()


def all_sum(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` summed over the ranks, in place (unchanged in one process)."""
    if world_size() > 1:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def average_gradients(parameters: list, finite: bool) -> bool:
    """Average the gradients of ``parameters`` over the ranks with one flat all-reduce;
    ``finite``: whether this rank's loss was finite (its gradients are then valid).
    Returns False, on every rank alike, when some rank's loss was not finite (the step is
    then skipped everywhere, so that the networks stay identical)."""
    if world_size() == 1:
        return finite
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in parameters]
    flat = torch.cat([g.reshape(-1) for g in grads] + [grads[0].new_tensor([0.0 if finite else 1.0])])
    if not finite:
        flat.zero_()
        flat[-1] = 1.0
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    if float(flat[-1]) > 0:
        return False
    flat /= world_size()
    offset = 0
    for p, g in zip(parameters, grads):
        n = g.numel()
        if p.grad is None:
            p.grad = flat[offset : offset + n].view_as(p).clone()
        else:
            p.grad.copy_(flat[offset : offset + n].view_as(p))
        offset += n
    return True


def broadcast_module_state(agent) -> None:
    """Give every rank rank 0's agent (networks, optimisers, normaliser): ranks build their
    networks from different random streams, and data parallelism needs them equal."""
    if world_size() == 1:
        return
    state = [agent.state_dict() if is_main() else None]
    dist.broadcast_object_list(state, src=0)
    if not is_main():
        agent.load_state_dict(state[0])


def broadcast_object(value):
    """Rank 0's ``value`` on every rank (any picklable object)."""
    if world_size() == 1:
        return value
    box = [value if is_main() else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def any_rank(flag: bool) -> bool:
    """Whether ``flag`` holds on some rank (every rank gets the same answer)."""
    if world_size() == 1:
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=_collective_device())
    dist.all_reduce(value, op=dist.ReduceOp.SUM)
    return float(value) > 0


def _collective_device() -> torch.device:
    """Where a tensor for a collective must live: this rank's GPU under nccl, else the CPU."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def peer_failure(error: BaseException) -> bool:
    """Whether ``error`` is a collective failing because another rank went away."""
    if isinstance(error, getattr(dist, "DistError", ())):
        return True
    text = str(error)
    return any(word in text for word in ("Connection reset by peer", "Connection closed by peer", "gloo", "NCCL"))
