"""Speed of two revisions side by side: ``python -m diffsim.bench`` on each, alternating.

    python -m benchmarks.compare_revisions --base 0e570c0 --rounds 3 -- forward --skip-mujoco
    python -m benchmarks.compare_revisions --base c0f12f8 --figure diffsim_mujoco_steps_per_s \
        -- forward --skip-mujoco --batch 1 64 1024

checks the base revision out into a temporary git worktree, then runs the same benchmark
command on the base and on the working tree in turns (base, here, here, base, ...), so
that the machine's drift hits both alike, and reports each revision's best figure per
batch size and their ratio. The table and the JSON (``--out``) name both revisions and
the machine. Used for "no regression" checks; this machine is shared and noisy, so only
ratios measured in one run are quoted.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks import ROOT
from diffsim.bench_report import machine_info, table, write_json

# the figure each benchmark reports per batch size, and whether more is better
FIGURES = {
    "forward": ("diffsim_steps_per_s", True),
    "grad": ("diffsim_total_s", False),
}


def _git(*args, cwd=ROOT) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def _run(tree: Path, bench_args: list, out: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree))
    command = [sys.executable, "-m", "diffsim.bench", *bench_args, "--out", str(out)]
    subprocess.run(command, cwd=tree, env=env, check=True, stdout=subprocess.DEVNULL)
    return json.loads(out.read_text())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="the revision to compare against (a commit, tag or branch)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each revision, alternating")
    parser.add_argument("--out", default="bench_compare.json")
    parser.add_argument(
        "--figure",
        help="the JSON field to compare (default: diffsim_steps_per_s for forward, diffsim_total_s for grad); "
        "e.g. diffsim_mujoco_steps_per_s for MuJoCo's constraints",
    )
    parser.add_argument("bench", nargs=argparse.REMAINDER, help="-- then the arguments of python -m diffsim.bench")
    args = parser.parse_args(argv)
    bench_args = [a for a in args.bench if a != "--"]
    if not bench_args or bench_args[0] not in FIGURES:
        parser.error(f"give the benchmark after --: one of {sorted(FIGURES)}")
    figure, more_is_better = FIGURES[bench_args[0]]
    if args.figure:
        figure, more_is_better = args.figure, args.figure.endswith("per_s") or not args.figure.endswith("_s")
    base = _git("rev-parse", args.base)
    head = _git("rev-parse", "HEAD")
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no"))
    best = {"base": {}, "here": {}}
    with tempfile.TemporaryDirectory() as scratch:
        tree = Path(scratch) / "base"
        _git("worktree", "add", "--detach", str(tree), base)
        try:
            for r in range(args.rounds):
                order = [("base", tree), ("here", ROOT)] if r % 2 == 0 else [("here", ROOT), ("base", tree)]
                for name, where in order:
                    report = _run(where, bench_args, Path(scratch) / f"{name}.json")
                    for entry in report["results"]:
                        value = entry[figure]
                        old = best[name].get(entry["batch"])
                        if old is None or (value > old if more_is_better else value < old):
                            best[name][entry["batch"]] = value
                    print(f"round {r + 1}/{args.rounds}: {name} done", file=sys.stderr)
        finally:
            _git("worktree", "remove", "--force", str(tree))
    rows, results = [], []
    for batch in sorted(best["here"]):
        b, h = best["base"][batch], best["here"][batch]
        ratio = h / b if more_is_better else b / h  # > 1: here is faster
        results.append({"batch": batch, f"base_{figure}": b, f"here_{figure}": h, "here_speed_over_base": ratio})
        rows.append([batch, f"{b:.4g}", f"{h:.4g}", f"{ratio:.3f}"])
    print(
        f"\n{figure}, best of {args.rounds} alternating runs; base {base[:10]}, here {head[:10]}{' + changes' * dirty}"
    )
    print(table(["envs", "base", "here", "here speed / base speed"], rows))
    write_json(
        args.out,
        {
            "benchmark": f"compare_revisions {' '.join(bench_args)}",
            "base": base,
            "here": head + ("+dirty" if dirty else ""),
            "rounds": args.rounds,
            "machine": machine_info(),
            "results": results,
        },
    )


if __name__ == "__main__":
    main()
