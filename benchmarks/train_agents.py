"""``python -m benchmarks.train_agents``: agents side by side on one task, several seeds.

Runs ``diffsim.train`` for every (agent, seed) with the env's shipped config, then
reports per agent the environment steps, training episodes and wall-clock seconds until
the evaluation return first reached the config's ``target_return``: the median over
seeds and the spread (min..max), and how many seeds got there at all. Writes JSON (every
evaluation of every run, machine and settings) and a learning-curve figure.

    python -m benchmarks.train_agents --env cartpole --agents sac,hybrid,shac --seeds 3

``--nproc-per-run N`` trains each run across N processes (``torchrun``, each process with
the config's ``num_envs``): the same grid, data-parallel.

``--reuse`` keeps the finished runs already in the log directory (same resolved config,
all of ``total_steps`` done) instead of training them again, so a long benchmark that
was interrupted, or extended by a seed or an agent, only trains what is missing.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import numpy as np


def _at_target(summary: dict) -> dict:
    """Steps, episodes and seconds at which a run first reached its target (None if never)."""
    return {
        "env_steps": summary["solved_at_env_step"],
        "episodes": summary.get("solved_at_episode"),
        "wall_seconds": summary.get("solved_at_wall_seconds"),
    }


def _spread(values) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    median = statistics.median(values)
    whole = all(float(v).is_integer() for v in values) or abs(median) >= 10
    fmt = (lambda v: f"{v:.0f}") if whole else (lambda v: f"{v:.1f}")
    return f"{fmt(median)} [{fmt(min(values))}..{fmt(max(values))}]" if len(values) > 1 else fmt(median)


def finished_run(logdir: Path, config: dict) -> dict | None:
    """The summary of a run of exactly ``config`` that finished in ``logdir``, else None."""
    path = logdir / "summary.json"
    if not path.exists():
        return None
    summary = json.loads(path.read_text())
    if summary.get("resolved_config") != config or summary.get("env_steps", 0) < config["total_steps"]:
        return None
    return summary


def summarise(runs: dict, target: float) -> dict:
    """Per agent: solved count, medians and spreads of steps/episodes/seconds to target."""
    table = {}
    for agent, summaries in runs.items():
        reached = [_at_target(s) for s in summaries if s["solved_at_env_step"] is not None]
        entry = {
            "seeds": len(summaries),
            "reached_target": len(reached),
            "target_return": target,
            "final_eval_return": [s["final_eval_return"] for s in summaries],
            "best_eval_return": [s["best_eval_return"] for s in summaries],
            "wall_seconds": [s["wall_seconds"] for s in summaries],
            "env_steps_run": [s["env_steps"] for s in summaries],
        }
        for key in ("env_steps", "episodes", "wall_seconds"):
            values = [r[key] for r in reached]
            entry[f"{key}_to_target"] = values
            entry[f"median_{key}_to_target"] = statistics.median(values) if len(reached) == len(summaries) else None
        table[agent] = entry
    return table


def plot(runs: dict, target: float, title: str, path: Path):
    """Evaluation return against environment steps and against wall-clock time, one line
    per seed (``diffsim.viz.plot_learning_curves``)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    from diffsim.viz import plot_learning_curves

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    evaluations = {
        agent: [np.array(s["evaluations"], dtype=float).reshape(-1, 3) for s in summaries]
        for agent, summaries in runs.items()
    }
    for ax, column, xlabel in ((axes[0], 0, "environment steps"), (axes[1], 1, "wall-clock seconds")):
        curves = {
            agent: ([e[:, column] for e in evals], [e[:, 2] for e in evals]) for agent, evals in evaluations.items()
        }
        plot_learning_curves(curves, target=target, ax=ax, xlabel=xlabel, ylabel="evaluation return")
    axes[1].get_legend().remove()
    axes[0].xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v / 1000:g}k" if v else "0"))
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def train_across_processes(args, overrides: list, logdir: Path, nproc: int) -> dict:
    """One run of ``python -m diffsim.train`` under ``torchrun --nproc_per_node=nproc``
    (``num_envs`` environments per process); returns its summary."""
    import os
    import subprocess
    import sys

    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"]
    command += ["-m", "diffsim.train", "--config", args.env, "--logdir", str(logdir), "--overwrite"]
    command += ["--device", args.device, "--threads", str(args.threads)]
    command += [part for item in overrides for part in ("--set", item)]
    if args.no_progress:
        command.append("--no-progress")
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    subprocess.run(command, env=env, check=True)
    return json.loads((logdir / "summary.json").read_text())


def run(args):
    from diffsim.bench_report import machine_info, table as _table, write_json as _write
    import torch

    from diffsim.train import AGENTS, load_config, train

    torch.set_num_threads(args.threads)
    agents = [a.strip() for a in args.agents.split(",") if a.strip()]
    unknown = [a for a in agents if a not in AGENTS]
    if unknown:
        raise SystemExit(f"unknown agent(s) {unknown}; known: {', '.join(AGENTS)}")
    overrides = list(args.set)
    if args.total_steps:
        overrides.append(f"total_steps={args.total_steps}")
    logroot = Path(args.logdir or f"runs/bench-train-{args.env}")
    runs = {}
    for agent in agents:
        runs[agent] = []
        for seed in range(1, args.seeds + 1):
            config = load_config(args.env, [*overrides, f"agent={agent}", f"seed={seed}"])
            logdir = logroot / f"{agent}-seed{seed}"
            summary = finished_run(logdir, config) if args.reuse else None
            if summary is not None:
                print(f"== {args.env} / {agent} / seed {seed}: reusing the finished run in {logdir}")
            else:
                processes = f", {args.nproc_per_run} processes" if args.nproc_per_run > 1 else ""
                print(f"== {args.env} / {agent} / seed {seed}: {config['total_steps']} env steps{processes}")
                # a run that is not reused is trained again from the start, in its own folder
                if args.nproc_per_run > 1:
                    summary = train_across_processes(
                        args, [*overrides, f"agent={agent}", f"seed={seed}"], logdir, args.nproc_per_run
                    )
                else:
                    summary = train(config, logdir, args.device, progress=not args.no_progress, overwrite=True)
            runs[agent].append(summary)
    target = config["target_return"]
    table = summarise(runs, target)

    rows = []
    for agent, entry in table.items():
        rows.append(
            [
                agent,
                f"{entry['reached_target']}/{entry['seeds']}",
                _spread(entry["env_steps_to_target"]),
                _spread(entry["episodes_to_target"]),
                _spread(entry["wall_seconds_to_target"]),
                _spread(entry["final_eval_return"]),
            ]
        )
    print(f"\n{args.env}: to reach evaluation return {target}; median [min..max] over the seeds that reached it")
    print(_table(["agent", "reached", "env steps", "episodes", "wall s", "final eval return"], rows))
    if "sac" in table and table["sac"]["median_env_steps_to_target"]:
        for agent, entry in table.items():
            if agent != "sac" and entry["median_env_steps_to_target"]:
                print(
                    f"{agent}: {table['sac']['median_env_steps_to_target'] / entry['median_env_steps_to_target']:.1f}x "
                    f"fewer env steps than sac, {table['sac']['median_wall_seconds_to_target'] / entry['median_wall_seconds_to_target']:.1f}x less wall time"
                )
    out = Path(args.out or f"bench_train_{args.env}.json")
    figure = out.with_suffix(".png")
    plot(runs, target, f"{args.env}: evaluation return, {args.seeds} seed(s) per agent", figure)
    print(f"wrote {figure}")
    _write(
        out,
        {
            "benchmark": "train",
            "machine": machine_info(),
            "settings": {
                "env": args.env,
                "agents": agents,
                "seeds": args.seeds,
                "overrides": overrides,
                "device": args.device,
                "processes_per_run": args.nproc_per_run,
            },
            "summary": table,
            "runs": runs,
        },
    )


def main(argv=None):
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.train_agents",
        description="Agents side by side: steps, episodes and time to the target return.",
    )
    parser.add_argument("--env", default="cartpole", help="config name (cartpole, ant, gripper)")
    parser.add_argument("--agents", default="sac,hybrid,shac", help="comma-separated: sac, hybrid, shac")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 1..N for every agent")
    parser.add_argument("--total-steps", type=int, help="override the config's total_steps")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override for every run")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--logdir", help="default runs/bench-train-<env>")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument(
        "--reuse", action="store_true", help="keep finished runs of the same config found in the log directory"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (see python -m diffsim.train --help)")
    parser.add_argument(
        "--nproc-per-run",
        type=int,
        default=1,
        help="train each run data-parallel across this many processes (torchrun, num_envs per process)",
    )
    parser.add_argument("--out", help="JSON path (default bench_train_<env>.json; the figure goes beside it as .png)")
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
