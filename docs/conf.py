"""Sphinx configuration: MyST Markdown pages, the notebooks rendered from their stored
outputs (MyST-NB, never executed), an API reference from the docstrings, the furo theme.

Build: ``pip install -e ".[docs]"`` then ``sphinx-build -W -b html docs docs/_build/html``.
"""

import os
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("WARP_CACHE_PATH", os.path.join(os.path.expanduser("~"), ".cache", "diffsim", "warp"))

import diffsim  # noqa: E402

project = "diffsim"
author = "diffsim developers"
copyright = "diffsim developers, MIT licence"
release = version = diffsim.__version__

extensions = ["myst_nb", "sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.viewcode"]
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "**.ipynb_checkpoints", "*.py"]
html_theme = "furo"
html_title = f"diffsim {release}"

myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 4
nb_execution_mode = "off"  # the notebooks' stored outputs, as the repository holds them
nb_output_stderr = "remove"  # Warp's CUDA-driver notice on machines without a GPU

autodoc_member_order = "bysource"
autodoc_typehints = "description"
napoleon_google_docstring = True
napoleon_numpy_docstring = False

# Widget outputs (ipywidgets) need a kernel: a static page shows their text form.
suppress_warnings = ["mystnb.unknown_mime_type"]

# The notebooks live in notebooks/ beside the package; Sphinx reads pages below docs/ only,
# so each build takes a fresh copy of them (ignored by git).
RENDERED = HERE / "notebooks"
shutil.rmtree(RENDERED, ignore_errors=True)
RENDERED.mkdir()
for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
    shutil.copy(notebook, RENDERED / notebook.name)
