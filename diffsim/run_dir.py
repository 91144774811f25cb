"""Run directories: one run per directory, one writer at a time.

* A new run gets a directory of its own (``runs/<config>-<agent>-seed<seed>-<time>``,
  claimed with an exclusive ``mkdir``), so two runs never share one by default.
* A directory that already holds a run's files is only written again by ``--resume`` of
  its checkpoint, or with ``--overwrite``.
* A writer holds an exclusive lock on ``<dir>/.lock`` (``flock``: the operating system
  releases it when the process ends, however it ends), so a second writer is refused
  instead of racing the first.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; the unique default directories still apply
    fcntl = None

RUN_FILES = ("checkpoint.pt", "best.pt", "summary.json")


class RunDirError(RuntimeError):
    """A run directory that this run may not write: in use, or holding another run."""


def new_run_dir(config: dict, root: Path = Path("runs")) -> Path:
    """A directory of its own for a new run, created here: ``<root>/<config>-<agent>-seed<seed>-<time>``,
    with ``-2``, ``-3``, ... when a run started in the same second took the name."""
    base = f"{config['name']}-{config['agent']}-seed{config['seed']}-{time.strftime('%Y%m%d-%H%M%S')}"
    root.mkdir(parents=True, exist_ok=True)
    for count in range(1, 10_000):
        path = root / (base if count == 1 else f"{base}-{count}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise RunDirError(f"could not find a free run directory under {root} named {base}-N")


def run_files(logdir: Path) -> list[str]:
    """The run files (checkpoint, best agent, summary) that ``logdir`` holds."""
    return [name for name in RUN_FILES if (Path(logdir) / name).exists()]


class RunLock:
    """An exclusive lock on a run directory for as long as the ``with`` block runs."""

    def __init__(self, logdir: Path):
        self.path = Path(logdir) / ".lock"
        self.file = None

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(self.path, "a+")
        if fcntl is not None:
            try:
                fcntl.flock(self.file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                self.file.seek(0)
                holder = self.file.read().strip() or "another process"
                self.file.close()
                raise RunDirError(
                    f"{self.path.parent} is in use by another training run ({holder}); "
                    f"wait for it to finish or choose another --logdir"
                ) from None
        self.file.seek(0)
        self.file.truncate()
        self.file.write(f"pid {os.getpid()}")
        self.file.flush()
        return self

    def __exit__(self, *exc):
        if self.file is not None:
            self.file.close()  # closing releases the lock
        return False
