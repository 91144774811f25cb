"""The scripts behind the documentation's results pages, run from the repository root as
``python -m benchmarks.<script> ...``. They write their figures into ``docs/results/``
(``RESULTS``), beside the pages and the data files that cite them. Not part of the
installed package."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
RESULTS = DOCS / "results"
