"""What every benchmark report holds: the machine it ran on, a text table, and its JSON
written atomically. Shared by ``python -m diffsim.bench`` and the train benchmark."""

from __future__ import annotations

import json
import os
import platform

import torch


def machine_info() -> dict:
    """Where a measurement was taken: CPU, cores, GPU and library versions."""
    import warp as wp

    info = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "warp": wp.__version__,
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    try:
        import mujoco

        info["mujoco"] = mujoco.__version__
    except ImportError:
        info["mujoco"] = None
    return info


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def table(headers, rows) -> str:
    """Rows under headers, each column right-aligned to its widest cell."""
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    line = lambda cells: "  ".join(str(c).rjust(w) for c, w in zip(cells, widths))  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])


def write_json(path, payload):
    """Write JSON atomically: a reader never sees half a file."""
    text = json.dumps(payload, indent=2)
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)
    print(f"\nwrote {path}")
