"""Shared pytest setup: Warp's kernel cache, a headless matplotlib, the optional MuJoCo."""

from __future__ import annotations

# WARP_CACHE_PATH, DIFFSIM_QUICK and MPLBACKEND are set in the repository's top-level conftest.py
import matplotlib
import pytest
import torch

matplotlib.use("Agg")  # no display in CI; figures are still drawn and can be saved

# The agents' networks are small: several torch threads only spin against each other
# (and against Warp's kernels) on a shared two-core CI machine; one thread is fastest.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def mujoco():
    """The ``mujoco`` module; tests that take this fixture are skipped where it is not installed."""
    return pytest.importorskip("mujoco")
