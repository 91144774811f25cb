"""Defaults for every pytest run, whatever it collects (unit tests, notebooks or both).

* ``DIFFSIM_QUICK=1`` unless the caller set it: the notebooks (run by nbval, in kernels that
  inherit this environment) shrink their problems to run in minutes on two CPU cores. Run
  ``DIFFSIM_QUICK=0 pytest`` for the full-size notebooks (Ant training included: hours).
* ``WARP_CACHE_PATH``: Warp reads it once, in ``wp.init()`` (run by ``import diffsim``), so it is
  set before any test module is imported; compiled kernels are reused across runs and checkouts.
* ``MPLBACKEND=Agg``: figures are drawn without a display.
"""

import os

os.environ.setdefault("DIFFSIM_QUICK", "1")
os.environ.setdefault("WARP_CACHE_PATH", os.path.join(os.path.expanduser("~"), ".cache", "diffsim", "warp"))
os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_report_header(config):
    mode = "quick" if os.environ["DIFFSIM_QUICK"] == "1" else "full"
    return (
        f"diffsim: notebooks in {mode} mode (DIFFSIM_QUICK={os.environ['DIFFSIM_QUICK']}), "
        f"WARP_CACHE_PATH={os.environ['WARP_CACHE_PATH']}"
    )
