"""The training CLI: configs, checkpoints, exact resume, error messages."""

import json
import re

import pytest
import torch

from diffsim import train

SMALL = [
    "num_envs=4",
    "learning_starts=200",
    "updates_per_step=1",
    "sac.batch_size=32",
    "sac.hidden=[32, 32]",
    "eval_every=400",
    "eval_envs=2",
    "checkpoint_every=400",
    "buffer_size=2000",
]


def run(args, logdir):
    return train.main(["--config", "cartpole", "--no-progress", "--logdir", str(logdir), *args])


def flags(*items):
    return [part for item in items for part in ("--set", item)]


def test_interrupted_and_resumed_run_ends_like_an_uninterrupted_one(tmp_path):
    straight = run(flags(*SMALL, "total_steps=800"), tmp_path / "straight")
    run(flags(*SMALL, "total_steps=400"), tmp_path / "interrupted")
    resumed = train.main(
        [
            "--config",
            "cartpole",
            "--no-progress",
            "--resume",
            str(tmp_path / "interrupted" / "checkpoint.pt"),
            "--set",
            "total_steps=800",
        ]
    )
    a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=True)
    b = torch.load(tmp_path / "interrupted" / "checkpoint.pt", weights_only=True)
    assert a["global_step"] == b["global_step"] == 800
    for key, value in a["agent"]["actor"].items():
        assert torch.equal(value, b["agent"]["actor"][key]), key
    assert torch.equal(a["env"]["qpos"], b["env"]["qpos"])
    assert straight["evaluations"][-1][2] == resumed["evaluations"][-1][2]
    summary = json.loads((tmp_path / "straight" / "summary.json").read_text())
    assert summary["env_steps"] == 800 and len(summary["evaluations"]) == 2
    assert list((tmp_path / "straight").glob("events.out.tfevents.*")), "TensorBoard events are written"
    # best.pt holds the agent of the best evaluation: evaluated again the same way, it scores the same
    best = torch.load(tmp_path / "straight" / "best.pt", weights_only=True)
    index, (step, _, value) = max(enumerate(summary["evaluations"]), key=lambda e: e[1][2])
    assert (best["env_step"], best["eval_return"]) == (step, value) == (step, summary["best_eval_return"])
    config = best["config"]
    eval_env = train.make_env(config, config["eval_envs"], config["seed"] + 1, "cpu")
    agent = train.make_agent(config, eval_env, "cpu")
    agent.load_state_dict(best["agent"])
    assert train.evaluate(agent, eval_env, config["seed"] + 1000 + index) == pytest.approx(value, abs=1e-4)
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


def test_env_options_reach_the_environment_and_bad_ones_are_named():
    config = train.load_config("gripper", ["env_options.effort_weight=0.5"])
    env = train.make_env(config, 3, 0, "cpu")
    default = train.make_env(train.load_config("gripper"), 3, 0, "cpu")
    action = torch.full((3, env.action_size), 0.6)
    qpos, qvel = env.initial_state(3)
    reward, terms = env.reward(qpos, qvel, action, qpos, qvel)
    reward_default, terms_default = default.reward(qpos, qvel, action, qpos, qvel)
    assert torch.allclose(terms["reward/effort"], torch.full((3,), -0.5 * 2 * 0.36))
    assert torch.allclose(reward - reward_default, terms["reward/effort"] - terms_default["reward/effort"])
    with pytest.raises(ValueError, match=r"gripper has no option\(s\) \['effort'\]; known: .*effort_weight"):
        train.make_env(train.load_config("gripper", ["env_options.effort=0.5"]), 1, 0, "cpu")
    with pytest.raises(ValueError, match="'env_options' must be a mapping"):
        train.make_env(train.load_config("gripper", ["env_options=3"]), 1, 0, "cpu")
    with pytest.raises(ValueError, match="effort_weight .* must be >= 0, got -1"):
        train.make_env(train.load_config("gripper", ["env_options.effort_weight=-1"]), 1, 0, "cpu")


def test_crashed_shac_run_resumes_exactly(tmp_path, monkeypatch):
    """SHAC's learning rate decays over total_steps, so the interrupted run must be the same
    run: it crashes after its checkpoint at step 256 and is resumed from that checkpoint."""
    shac = [
        "agent=shac",
        "num_envs=4",
        "shac.horizon=8",
        "shac.actor_hidden=[16]",
        "shac.critic_hidden=[16]",
        "shac.critic_iterations=2",
        "eval_every=256",
        "eval_envs=2",
        "checkpoint_every=256",
        "total_steps=512",
    ]
    run(flags(*shac), tmp_path / "straight")
    step = train.Run.step

    def crash_after_the_checkpoint(self):
        if self.global_step >= 384:
            raise RuntimeError("simulated crash")
        return step(self)

    monkeypatch.setattr(train.Run, "step", crash_after_the_checkpoint)
    with pytest.raises(RuntimeError, match="simulated crash"):
        run(flags(*shac), tmp_path / "interrupted")
    monkeypatch.setattr(train.Run, "step", step)
    assert torch.load(tmp_path / "interrupted" / "checkpoint.pt", weights_only=True)["global_step"] == 256
    train.main(["--config", "cartpole", "--no-progress", "--resume", str(tmp_path / "interrupted" / "checkpoint.pt")])
    a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=True)
    b = torch.load(tmp_path / "interrupted" / "checkpoint.pt", weights_only=True)
    assert a["global_step"] == b["global_step"] == 512 and a["buffer"] is None
    for key, value in a["agent"]["actor"].items():
        assert torch.equal(value, b["agent"]["actor"][key]), key
    assert a["evaluations"][-1][2] == b["evaluations"][-1][2]


def test_bench_train_reports_steps_episodes_and_time_to_target(tmp_path, capsys):
    from benchmarks import train_agents as bench  # the research harness beside the package

    out = tmp_path / "bench.json"
    args = [
        "--env",
        "cartpole",
        "--agents",
        "sac,shac",
        "--seeds",
        "2",
        "--total-steps",
        "1024",
        "--set",
        "eval_every=512",
        "--set",
        "eval_envs=2",
        "--set",
        "learning_starts=256",
        "--set",
        "sac.hidden=[16]",
        "--set",
        "shac.horizon=16",
        "--set",
        "target_return=-1000",
        "--no-progress",
        "--logdir",
        str(tmp_path / "runs"),
        "--out",
        str(out),
    ]
    bench.main(args)
    result = json.loads(out.read_text())
    assert result["machine"]["cpu"] and result["settings"]["agents"] == ["sac", "shac"]
    for agent in ("sac", "shac"):
        entry = result["summary"][agent]
        assert entry["seeds"] == 2 and entry["reached_target"] == 2  # every run beats a target of -1000
        assert all(steps == 512 for steps in entry["env_steps_to_target"])
        assert len(result["runs"][agent]) == 2
    assert (tmp_path / "bench.png").stat().st_size > 10_000

    # --reuse keeps finished runs of the same config and trains only what is new
    (tmp_path / "runs" / "shac-seed2" / "summary.json").unlink()  # as if seed 2 was interrupted
    capsys.readouterr()
    bench.main([*args, "--reuse"])
    printed = capsys.readouterr().out
    assert printed.count("reusing the finished run") == 3 and "shac / seed 2: 1024 env steps" in printed
    again = json.loads(out.read_text())
    assert again["runs"]["sac"] == result["runs"]["sac"]
    bench.main([*args, "--reuse", "--set", "sac.hidden=[8]"])  # another config: nothing reused
    assert "reusing" not in capsys.readouterr().out


def test_episode_returns_counts_each_episode_to_its_end_and_no_further():
    """Environments whose episodes end at different steps: ``on_step`` marks each one
    running for exactly its episode's steps, and its return sums the rewards of those
    steps only, not of the episode the environment was reset into."""
    from diffsim.envs import CartpoleSwingUp

    env = CartpoleSwingUp(num_envs=3, seed=0, max_episode_steps=6)
    rewards, running_per_step = [], []
    original_step, original_terminated = env.step, env.is_terminated

    def recording_step(action):
        out = original_step(action)
        rewards.append(out[1].clone())
        return out

    # environment 0's episode ends (terminated) at its third step, the others' at the sixth (truncated)
    env.is_terminated = lambda qpos, qvel: (
        original_terminated(qpos, qvel) | torch.tensor([len(rewards) == 2, False, False])
    )
    env.step = recording_step
    returns = train.episode_returns(
        env, 7, lambda obs: torch.ones(3, env.action_size), lambda running, *_: running_per_step.append(running.clone())
    )
    running = torch.stack(running_per_step)
    assert running.sum(0).tolist() == [3, 6, 6]
    assert torch.allclose(returns, (torch.stack(rewards) * running).sum(0))
    assert not torch.allclose(returns[0], torch.stack(rewards)[:, 0].sum())  # the reset episode's rewards differ


@pytest.mark.parametrize("agent", ["sac", "hybrid"])
def test_off_policy_runs_log_the_reward_terms_and_say_where_they_write(tmp_path, capsys, agent):
    """SAC and the hybrid agent log the env's reward terms as SHAC does; the trainer prints
    where it writes and a rounded summary."""
    event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    extra = ["hybrid.horizon=4", "hybrid.physics_batch=8"] if agent == "hybrid" else []
    summary = run(flags(*SMALL, *extra, f"agent={agent}", "total_steps=1200"), tmp_path / agent)
    events = event_accumulator.EventAccumulator(str(tmp_path / agent))
    events.Reload()
    tags = events.Tags()["scalars"]
    for term in ("reward/upright", "reward/centre", "reward/effort"):  # CartpoleSwingUp's terms
        assert term in tags, f"{term} not logged; logged: {sorted(tags)}"
    upright = [e.value for e in events.Scalars("reward/upright")]
    assert all(0.0 <= value <= 1.0 for value in upright)  # (1 + cos) / 2, averaged over the envs
    assert any(tag.startswith("losses/") for tag in tags)
    out = capsys.readouterr().out
    assert f"writing to {tmp_path / agent}/" in out and "tensorboard --logdir" in out
    line = re.search(r"final eval return (-?\d+\.\d|none), best (-?\d+\.\d) \(target 150, (reached|not)", out)
    assert line and float(line.group(2)) == round(summary["best_eval_return"], 1), out
    assert f"wrote {tmp_path / agent}/: summary.json" in out


def test_help_is_plain_text_with_help_for_every_option(capsys):
    with pytest.raises(SystemExit):
        train.main(["--help"])
    text = capsys.readouterr().out
    assert "``" not in text and "--config cartpole --set agent=shac" in text
    options = re.findall(r"^  (--[a-z-]+)(.*)$", text, flags=re.M)
    assert {name for name, _ in options} >= {"--config", "--set", "--device", "--logdir", "--resume", "--threads"}
    for name, rest in options:  # each option's help starts on its line, or on the next one
        following = text.split(f"  {name}{rest}\n", 1)[1].split("\n", 1)[0]
        assert rest.split(name.upper().strip("-").replace("-", "_"), 1)[-1].strip() or following.startswith(" " * 10), (
            name
        )
