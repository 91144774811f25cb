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
from diffsim.importer import MJCFError, compile_model, parse_mjcf  # noqa: E402
from diffsim.model import Model  # noqa: E402

__version__ = "0.1.0"

ASSETS = Path(__file__).parent / "assets"


def asset(name: str) -> str:
    """Path of a model shipped with diffsim, e.g. ``asset("ant.xml")`` or ``asset("arm.urdf")``."""
    path = ASSETS / name
    if not path.exists():
        available = ", ".join(sorted(p.name for p in ASSETS.iterdir() if p.suffix in (".xml", ".urdf")))
        raise FileNotFoundError(f"no asset {name!r}; available: {available}")
    return str(path)


def load_mjcf(
    source, dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu", contact_model: str = "mujoco"
) -> Model:
    """Load any model MuJoCo compiles onto ``device`` in ``dtype``.

    ``source``: a path to an MJCF or URDF file, the XML text of one (str or bytes), a
    ``mujoco.MjSpec`` or a compiled ``mujoco.MjModel``. MuJoCo's compiler reads it; what
    it compiled that diffsim does not simulate yet is listed in one warning and in
    ``model.unsupported``. ``contact_model``: ``"mujoco"`` (MuJoCo's contacts, limits,
    friction loss and equalities as its soft constraints, solved as MuJoCo solves them) or
    ``"smooth"`` (diffsim's smoothed penalty contact and limits, differentiable); see
    ``Model.contact_model``.

    Raises:
        MJCFError: MuJoCo cannot compile the model (its message names the element and
            line), or the model holds values that cannot be simulated (NaN, inf).
        ValueError: a dtype other than float32/float64, or an unavailable device.
    """
    return Model(parse_mjcf(source), dtype=dtype, device=device, contact_model=contact_model)


__all__ = [
    "ASSETS",
    "MJCFError",
    "Model",
    "SimulationError",
    "asset",
    "bias_forces",
    "compile_model",
    "load_mjcf",
    "mass_matrix",
    "parse_mjcf",
    "rollout",
    "step",
]
