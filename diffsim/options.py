"""Simulation options of one model (``model.options``): how its steps are run, never what
they compute. Every option gives the same states and gradients; they trade speed and memory.

An option applies to steps recorded after it is set: set it before the model's first
rollout, or call ``diffsim.autograd.free_buffers(model)`` after changing it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Options:
    """How a model's steps run.

    Attributes:
        capture_graphs: replay each recorded step as one captured graph (a CUDA graph on
            a GPU, Warp's operation stream on the CPU); False replays its launches one by
            one, to compare or debug.
        tree_parallel: how the tree recursions (body frames, dof velocities) launch:
            True, a thread per (environment, body), one launch per tree level, which fills
            a GPU; False, a thread per environment walking the whole tree, the least work,
            fastest on a CPU; None, by device (True on a GPU).
        max_stored_bytes: bytes of per-step intermediates a rollout keeps for its backward
            pass (its last control steps; the others are recomputed); None, by device:
            256 MiB on a CPU, a quarter of the GPU's memory on CUDA.
        trajectory_chunk: control steps whose controls and states a rollout without
            gradients moves in and out per captured copy (at most 16 MiB of staging).
        unroll_trees: on the CPU, replay the steps' tree algebra (the factorisations of
            ``M`` and of the constraint solver's Hessian, products with ``M``) as code
            unrolled for the model's kinematic trees, compiled once per tree structure
            (seconds); False keeps the generic loops (``diffsim.kernels.unrolled``).
    """

    capture_graphs: bool = True
    tree_parallel: bool | None = None
    max_stored_bytes: int | None = None
    trajectory_chunk: int = 64
    unroll_trees: bool = True

    def __setattr__(self, name, value):
        if name not in self.__dataclass_fields__:
            raise AttributeError(f"no simulation option {name!r}; options: {', '.join(self.__dataclass_fields__)}")
        if name in ("capture_graphs", "unroll_trees") and not isinstance(value, bool):
            raise ValueError(f"{name} must be True or False, got {value!r}")
        if name == "tree_parallel" and value is not None and not isinstance(value, bool):
            raise ValueError(f"tree_parallel must be True, False or None, got {value!r}")
        if (
            name == "max_stored_bytes"
            and value is not None
            and (isinstance(value, bool) or not isinstance(value, int) or value < 0)
        ):
            raise ValueError(f"max_stored_bytes must be a number of bytes >= 0 or None, got {value!r}")
        if name == "trajectory_chunk" and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"trajectory_chunk must be an int >= 1, got {value!r}")
        super().__setattr__(name, value)
