"""diffsim: a differentiable rigid-body simulator for robotics, in NVIDIA Warp, for PyTorch.

Quick start::

    import torch, diffsim
    model = diffsim.load_mjcf(diffsim.asset("ant.xml"), dtype=torch.float64)
    qpos = model.qpos0[None]                      # (B=1, nq)
    qvel = torch.zeros(1, model.nv, dtype=model.dtype)
    ctrl = torch.zeros(1, model.nu, dtype=model.dtype)
    qpos, qvel = diffsim.step(model, qpos, qvel, ctrl)

States use MuJoCo's ``qpos``/``qvel`` layout, so they can be exchanged with MuJoCo.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import warp as wp

# keep Warp's per-module compile/load messages out of notebooks and test logs
if hasattr(wp, "LOG_WARNING"):
    wp.config.log_level = wp.LOG_WARNING
else:  # Warp < 1.17
    wp.config.quiet = True
wp.init()

from diffsim.autograd import SimulationError, bias_forces, mass_matrix, rollout, step  # noqa: E402
from diffsim.mjcf import MJCFError, parse_mjcf  # noqa: E402
from diffsim.model import Model  # noqa: E402

__version__ = "0.1.0"

ASSETS = Path(__file__).parent / "assets"


def asset(name: str) -> str:
    """Path of a model shipped with diffsim, e.g. ``asset("ant.xml")``."""
    path = ASSETS / name
    if not path.exists():
        available = ", ".join(sorted(p.name for p in ASSETS.glob("*.xml")))
        raise FileNotFoundError(f"no asset {name!r}; available: {available}")
    return str(path)


def load_mjcf(
    source: str | os.PathLike, dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu"
) -> Model:
    """Load an MJCF model (a file path or an XML string) onto ``device`` in ``dtype``.

    Raises:
        MJCFError: malformed XML or unsupported content, naming the line.
        ValueError: a dtype other than float32/float64, or an unavailable device.
    """
    return Model(parse_mjcf(source), dtype=dtype, device=device)


__all__ = [
    "ASSETS",
    "MJCFError",
    "Model",
    "SimulationError",
    "asset",
    "bias_forces",
    "load_mjcf",
    "mass_matrix",
    "parse_mjcf",
    "rollout",
    "step",
]
