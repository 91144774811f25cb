"""Data-parallel training across processes (``torchrun``, gloo on the CPU).

The gradient averaging and the shared normaliser statistics are checked in two spawned
processes against one process that sees both processes' batches; whole runs go through
``python -m torch.distributed.run`` as a user's would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from diffsim import train
from diffsim.rl import RunningNorm, distributed
from diffsim.rl.optim import apply_step
from test_train import SMALL, flags


def network_and_batch():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
    x = torch.randn(64, 5)
    y = torch.randn(64, 1)
    return net, x, y


def one_update(net, x, y, norm):
    """One guarded optimiser step on the mean squared error, after a normaliser update."""
    norm.update(x)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    loss = ((net(norm(x)) - y) ** 2).mean()
    apply_step(optimizer, loss, net.parameters(), clip=1e9)
    return net


def _rank_update(rank, world, store, out):
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    try:
        net, x, y = network_and_batch()
        half = x.shape[0] // world
        part = slice(rank * half, (rank + 1) * half)
        norm = RunningNorm(5)
        one_update(net, x[part], y[part], norm)
        torch.save({"params": [p.detach() for p in net.parameters()], "mean": norm.mean, "var": norm.var}, out[rank])
    finally:
        dist.destroy_process_group()


def test_averaged_gradient_equals_the_gradient_of_both_batches_together(tmp_path):
    """Two ranks each update on half a batch: their networks and normaliser statistics end
    equal to each other and to one process's update on the whole batch (the mean of the
    halves' mean losses is the whole batch's mean loss)."""
    out = [str(tmp_path / f"rank{r}.pt") for r in range(2)]
    mp.spawn(_rank_update, args=(2, str(tmp_path / "store"), out), nprocs=2, join=True)
    ranks = [torch.load(path, weights_only=True) for path in out]
    net, x, y = network_and_batch()
    norm = RunningNorm(5)
    one_update(net, x, y, norm)
    for a, b, whole in zip(ranks[0]["params"], ranks[1]["params"], net.parameters()):
        assert torch.equal(a, b)
        torch.testing.assert_close(a, whole.detach(), rtol=1e-5, atol=1e-6)
    for key in ("mean", "var"):
        assert torch.equal(ranks[0][key], ranks[1][key])
        torch.testing.assert_close(ranks[0][key], getattr(norm, key), rtol=1e-5, atol=1e-6)
    assert not distributed.launched() and distributed.world_size() == 1  # this process is not in a group


def torchrun_command(nproc, args, logdir) -> tuple[list, dict]:
    """``python -m torch.distributed.run --standalone --nproc_per_node=nproc -m diffsim.train
    --config cartpole ...`` and its environment (outside any process group of this one)."""
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"]
    command += ["-m", "diffsim.train", "--config", "cartpole", "--no-progress", "--logdir", str(logdir), *args]
    return command, env


def torchrun(nproc, args, logdir, timeout=600):
    command, env = torchrun_command(nproc, args, logdir)
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("agent", ["sac", "hybrid", "shac"])
def test_two_processes_train_one_network_from_different_rollouts(tmp_path, agent):
    """After a run of two processes (800 environment steps, all ranks counted) both ranks'
    networks and normaliser statistics are identical, their environments went different
    ways, and the checkpoint says how many processes wrote it."""
    extra = ["shac.horizon=16", "hybrid.horizon=8", "hybrid.physics_batch=8", "sac.normalize_obs=true"]
    done = torchrun(2, flags(*SMALL, *extra, f"agent={agent}", "total_steps=800"), tmp_path / "run")
    assert done.returncode == 0, done.stderr[-3000:]
    main = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    step = main["global_step"]  # 800, or the first multiple of SHAC's windows past it
    part = torch.load(tmp_path / "run" / f"checkpoint.rank1.step{step}.pt", weights_only=True)
    assert part["global_step"] == step >= 800 and main["world_size"] == 2
    for name in ("actor", "critic", "obs_norm"):
        for key, value in main["agent"][name].items():
            assert torch.equal(value, part["agent"][name][key]), (name, key)
    assert float(main["agent"]["obs_norm"]["count"]) > 1, "the normaliser saw observations"
    assert not torch.equal(main["env"]["qpos"], part["env"]["qpos"]), "the ranks' environments should differ"
    assert sorted(p.name for p in (tmp_path / "run").glob("checkpoint*.pt")) == [
        "checkpoint.pt",
        f"checkpoint.rank1.step{step}.pt",
    ], "a rank keeps only its latest part"
    assert "x 2 processes (torchrun)" in done.stdout


def test_one_process_under_torchrun_is_a_plain_run(tmp_path):
    plain = train.main(
        [
            "--config",
            "cartpole",
            "--no-progress",
            "--logdir",
            str(tmp_path / "plain"),
            *flags(*SMALL, "total_steps=400"),
        ]
    )
    done = torchrun(1, flags(*SMALL, "total_steps=400"), tmp_path / "torchrun")
    assert done.returncode == 0, done.stderr[-3000:]
    a = torch.load(tmp_path / "plain" / "checkpoint.pt", weights_only=True)
    b = torch.load(tmp_path / "torchrun" / "checkpoint.pt", weights_only=True)
    for name in ("actor", "critic"):
        for key, value in a["agent"][name].items():
            assert torch.equal(value, b["agent"][name][key]), (name, key)
    assert torch.equal(a["env"]["qpos"], b["env"]["qpos"])
    summary = json.loads((tmp_path / "torchrun" / "summary.json").read_text())
    assert summary["evaluations"] and [e[2] for e in summary["evaluations"]] == [e[2] for e in plain["evaluations"]]
    assert summary["processes"] == 1


def test_a_run_of_two_processes_resumes_exactly(tmp_path):
    """400 steps, then --resume to 800 under torchrun, ends where 800 straight steps do."""
    straight = torchrun(2, flags(*SMALL, "total_steps=800"), tmp_path / "straight")
    assert straight.returncode == 0, straight.stderr[-3000:]
    first = torchrun(2, flags(*SMALL, "total_steps=400"), tmp_path / "resumed")
    assert first.returncode == 0, first.stderr[-3000:]
    resumed = torchrun(
        2, ["--resume", str(tmp_path / "resumed" / "checkpoint.pt"), *flags("total_steps=800")], tmp_path / "resumed"
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    for name in ("checkpoint.pt", "checkpoint.rank1.step800.pt"):
        a = torch.load(tmp_path / "straight" / name, weights_only=True)
        b = torch.load(tmp_path / "resumed" / name, weights_only=True)
        for key, value in a["agent"]["actor"].items():
            assert torch.equal(value, b["agent"]["actor"][key]), (name, key)
        assert torch.equal(a["env"]["qpos"], b["env"]["qpos"]), name
    # a run of two processes is resumed by two; its agent loads anywhere
    with pytest.raises(SystemExit, match=r"written by a run of 2 process\(es\); resume it with as many"):
        train.main(
            ["--no-progress", "--resume", str(tmp_path / "resumed" / "checkpoint.pt"), *flags("total_steps=1200")]
        )
    best = train.load_checkpoint(tmp_path / "resumed" / "best.pt", "agent")
    agent = train.make_agent(best["config"], train.make_env(best["config"], 2, 0, "cpu"), "cpu")
    agent.load_state_dict(best["agent"])


def test_killing_one_rank_ends_the_run_and_its_checkpoint_resumes(tmp_path):
    """SIGKILL of rank 1 mid-run: torchrun ends the run with a failure, rank 0 says why and
    how to continue, the last checkpoint is intact, and --resume continues it."""
    import signal
    import time

    psutil = pytest.importorskip("psutil")
    logdir = tmp_path / "run"
    command, env = torchrun_command(2, flags(*SMALL, "total_steps=1000000"), logdir)
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        start = time.monotonic()
        while not (logdir / "checkpoint.pt").exists() and time.monotonic() - start < 300:
            time.sleep(0.2)
        assert (logdir / "checkpoint.pt").exists(), "the run should have written a checkpoint"
        victims = [c for c in psutil.Process(process.pid).children(recursive=True) if c.environ().get("RANK") == "1"]
        assert len(victims) == 1
        victims[0].send_signal(signal.SIGKILL)
        _, err = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode != 0
    assert "local_rank: 1" in err and "SIGKILL" in err, err[-3000:]  # torchrun names the rank that died
    assert "another process of this run stopped" in err and "--resume" in err
    saved = train.load_checkpoint(logdir / "checkpoint.pt", "run")  # intact: its digest checks
    step = saved["global_step"]
    assert (logdir / f"checkpoint.rank1.step{step}.pt").exists()
    resumed = torchrun(2, ["--resume", str(logdir / "checkpoint.pt"), *flags(f"total_steps={step + 400}")], logdir)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert torch.load(logdir / "checkpoint.pt", weights_only=True)["global_step"] == step + 400


def test_bench_train_runs_each_run_across_processes(tmp_path):
    from benchmarks import train_agents as bench  # the research harness beside the package

    out = tmp_path / "bench.json"
    bench.main(
        ["--env", "cartpole", "--agents", "shac", "--seeds", "1", "--total-steps", "1024", "--nproc-per-run", "2"]
        + flags("shac.horizon=16", "num_envs=4", "eval_every=512", "eval_envs=2", "target_return=-1000")
        + ["--no-progress", "--logdir", str(tmp_path / "runs"), "--out", str(out)]
    )
    result = json.loads(out.read_text())
    assert result["settings"]["processes_per_run"] == 2
    (summary,) = result["runs"]["shac"]
    assert summary["processes"] == 2 and summary["env_steps"] >= 1024
    assert (tmp_path / "runs" / "shac-seed1" / f"checkpoint.rank1.step{summary['env_steps']}.pt").exists()
