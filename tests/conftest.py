"""Shared pytest setup: Warp's kernel cache, a headless matplotlib, the optional MuJoCo."""
from __future__ import annotations

import os

# Warp reads WARP_CACHE_PATH once, in wp.init() (run by `import diffsim`), so set it before
# any test module is imported. Compiled kernels are reused across runs and checkouts.
os.environ.setdefault("WARP_CACHE_PATH", os.path.join(os.path.expanduser("~"), ".cache", "diffsim", "warp"))

import matplotlib  # noqa: E402
import pytest  # noqa: E402

matplotlib.use("Agg")  # no display in CI; figures are still drawn and can be saved

import torch  # noqa: E402

# The agents' networks are small: several torch threads only spin against each other
# (and against Warp's kernels) on a shared two-core CI machine; one thread is fastest.
torch.set_num_threads(1)


def pytest_report_header(config):
    quick = os.environ.get("DIFFSIM_QUICK", "")
    return f"diffsim: WARP_CACHE_PATH={os.environ['WARP_CACHE_PATH']}  DIFFSIM_QUICK={quick or '(unset)'}"


@pytest.fixture(scope="session")
def mujoco():
    """The ``mujoco`` module; tests that take this fixture are skipped where it is not installed."""
    return pytest.importorskip("mujoco")
