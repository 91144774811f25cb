"""Screenshot a notebook as a new user first sees it: opened in JupyterLab, never run, never trusted.

    python -m benchmarks.notebook_screenshot notebooks/04_hybrid_training.ipynb docs/results/notebook04_untrusted_jupyterlab.png

Starts JupyterLab on a free local port in a temporary folder that holds a copy of the
notebook (so JupyterLab has never seen it, and does not trust it), opens it in headless
Chromium, scrolls to the first stored animation and saves a screenshot. It prints what
the page shows: how many output scripts survived (0 in an untrusted notebook), and the
size of the animated GIF that plays in their place.

Needs: ``pip install playwright`` and a Chromium (Debian: ``apt-get install chromium``);
``--chromium`` names its executable.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

GIF = ".jp-OutputArea-output img[src^='data:image/gif']"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"JupyterLab did not answer at {url} within {seconds:.0f} s") from None
            time.sleep(0.5)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("output", type=Path, help="PNG to write")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    parser.add_argument("--animation", type=int, default=0, help="which stored animation to scroll to (0: the first)")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as root:
        shutil.copy(args.notebook, root)
        port = free_port()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyter",
                "lab",
                "--no-browser",
                f"--port={port}",
                "--ServerApp.token=",
                "--ServerApp.password=",
                "--allow-root",
                f"--ServerApp.root_dir={root}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_for(url + "/api")
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
                page = browser.new_page(viewport={"width": 1200, "height": 900})
                page.goto(f"{url}/lab/tree/{args.notebook.name}?reset")
                page.wait_for_selector(".jp-Notebook", timeout=120_000)
                time.sleep(5)
                for name in ("No Kernel", "No"):  # the kernel dialog and the news prompt
                    try:
                        page.get_by_role("button", name=name, exact=True).click(timeout=3000)
                    except Exception:
                        pass
                gif = page.locator(GIF).nth(args.animation)
                for _ in range(2):  # images above it load and move it
                    gif.evaluate("e => e.scrollIntoView({block: 'center'})")
                    time.sleep(3)
                width, height, length = gif.evaluate("e => [e.naturalWidth, e.naturalHeight, e.src.length]")
                scripts = page.evaluate("() => document.querySelectorAll('.jp-OutputArea-output script').length")
                print(
                    f"{args.notebook.name}: {scripts} scripts left in the outputs; animation {args.animation} "
                    f"shows as a {width}x{height} GIF ({length:,} characters inline)"
                )
                page.screenshot(path=str(args.output))
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
