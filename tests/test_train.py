"""The training CLI: configs, checkpoints, exact resume, error messages."""
import json

import pytest
import torch

from diffsim import train

SMALL = ["num_envs=4", "learning_starts=200", "updates_per_step=1", "sac.batch_size=32", "sac.hidden=[32, 32]",
         "eval_every=400", "eval_envs=2", "checkpoint_every=400", "buffer_size=2000"]


def run(args, logdir):
    return train.main(["--config", "cartpole", "--no-progress", "--logdir", str(logdir), *args])


def flags(*items):
    return [part for item in items for part in ("--set", item)]


def test_interrupted_and_resumed_run_ends_like_an_uninterrupted_one(tmp_path):
    straight = run(flags(*SMALL, "total_steps=800"), tmp_path / "straight")
    run(flags(*SMALL, "total_steps=400"), tmp_path / "interrupted")
    resumed = train.main(["--config", "cartpole", "--no-progress", "--resume", str(tmp_path / "interrupted" / "checkpoint.pt"),
                          "--set", "total_steps=800"])
    a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=False)
    b = torch.load(tmp_path / "interrupted" / "checkpoint.pt", weights_only=False)
    assert a["global_step"] == b["global_step"] == 800
    for key, value in a["agent"]["actor"].items():
        assert torch.equal(value, b["agent"]["actor"][key]), key
    assert torch.equal(a["env"]["qpos"], b["env"]["qpos"])
    assert straight["evaluations"][-1][2] == resumed["evaluations"][-1][2]
    summary = json.loads((tmp_path / "straight" / "summary.json").read_text())
    assert summary["env_steps"] == 800 and len(summary["evaluations"]) == 2
    assert list((tmp_path / "straight").glob("events.out.tfevents.*")), "TensorBoard events are written"
    assert not list(tmp_path.rglob("*.tmp")), "no half-written files are left behind"


def test_config_errors_name_what_is_known():
    with pytest.raises(ValueError, match="no config 'spider'.*ant, cartpole"):
        train.load_config("spider")
    with pytest.raises(ValueError, match="unknown config key 'totl_steps'"):
        train.load_config("cartpole", ["totl_steps=5"])
    with pytest.raises(ValueError, match="--set expects key=value"):
        train.load_config("cartpole", ["total_steps"])
    config = train.load_config("cartpole", ["sac.batch_size=64", "num_envs=2"])
    assert config["sac"]["batch_size"] == 64 and config["num_envs"] == 2
