"""Training runs that cannot be turned against the user or each other: checkpoints are data,
runs never destroy each other, configs are checked before anything is built."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from diffsim import train
from diffsim.checkpoints import CheckpointError, load_checkpoint
from diffsim.run_config import ConfigError

TINY = [
    "num_envs=4",
    "learning_starts=100",
    "updates_per_step=1",
    "sac.batch_size=16",
    "sac.hidden=[16]",
    "eval_every=200",
    "eval_envs=2",
    "checkpoint_every=200",
    "buffer_size=1000",
    "total_steps=400",
]


def flags(*items):
    return [part for item in items for part in ("--set", item)]


def cli(*args):
    return train.main(["--no-progress", *args])


def error_of(*args) -> str:
    """The one-line message that ``python -m diffsim.train`` exits with."""
    with pytest.raises(SystemExit) as exit_info:
        cli(*args)
    message = str(exit_info.value.code)
    assert message.startswith("python -m diffsim.train: error: ") and "\n" not in message, message
    return message


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A small finished SAC run: its folder holds checkpoint.pt, best.pt and summary.json."""
    logdir = tmp_path_factory.mktemp("finished")
    cli("--config", "cartpole", "--logdir", str(logdir), "--overwrite", *flags(*TINY))
    return logdir


# --- checkpoints are data ---------------------------------------------------------------------


class _Payload:
    """Unpickling this would create a file: what a crafted checkpoint could do."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (open, (str(self.target), "w"))


def test_a_checkpoint_that_is_a_code_payload_is_refused_and_runs_nothing(tmp_path):
    target = tmp_path / "created_by_the_payload"
    crafted = tmp_path / "checkpoint.pt"
    torch.save({"config": {}, "buffer": None, "global_step": 0, "agent": _Payload(target)}, crafted)
    message = error_of("--resume", str(crafted))
    assert str(crafted) in message and "refused" in message and "nothing was run" in message
    assert not target.exists(), "unpickling ran the payload's code"
    with pytest.raises(CheckpointError, match="refused"):
        load_checkpoint(crafted, "agent")
    assert not target.exists()


def test_broken_and_wrong_kind_checkpoints_name_the_file_and_the_problem(tmp_path, finished):
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    assert "the file is empty (0 bytes)" in error_of("--resume", str(empty))

    whole = (finished / "checkpoint.pt").read_bytes()
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(whole[: len(whole) // 2])
    assert f"{truncated}: truncated or not a torch checkpoint" in error_of("--resume", str(truncated))

    tampered = tmp_path / "tampered.pt"
    middle = len(whole) // 2
    tampered.write_bytes(whole[:middle] + bytes(b ^ 0xFF for b in whole[middle : middle + 64]) + whole[middle + 64 :])
    message = error_of("--resume", str(tampered))
    assert str(tampered) in message and (
        "do not match the digest" in message or "truncated or not a torch checkpoint" in message
    ), message

    junk, pickled = tmp_path / "junk.pt", tmp_path / "pickled.pt"
    junk.write_bytes(b"abc")
    pickled.write_bytes(__import__("pickle").dumps({"x": 1}))
    for path in (junk, pickled):  # foreign files: not torch checkpoints, and no false alarm about code
        message = error_of("--resume", str(path))
        assert f"{path}: truncated or not a torch checkpoint" in message, message

    message = error_of("--resume", str(finished / "best.pt"))
    assert "best.pt: holds an agent and its evaluation (best.pt); expected a training run" in message
    assert "no such checkpoint file" in error_of("--resume", str(tmp_path / "missing.pt"))
    # both kinds load as data
    assert load_checkpoint(finished / "best.pt", "agent")["kind"] == "agent"
    assert load_checkpoint(finished / "checkpoint.pt", ("agent", "run"))["kind"] == "run"


# --- no run destroys another ------------------------------------------------------------------


def test_new_runs_get_folders_of_their_own(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cli("--config", "cartpole", *flags(*TINY, "total_steps=200"))
    cli("--config", "cartpole", *flags(*TINY, "total_steps=200"))
    cli(
        "--config",
        "cartpole",
        *flags(*TINY, "total_steps=200", "agent=hybrid", "hybrid.horizon=4", "hybrid.physics_batch=8"),
    )
    folders = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert len(folders) == 3, folders
    assert sum(name.startswith("cartpole-sac-seed1-") for name in folders) == 2
    assert sum(name.startswith("cartpole-hybrid-seed1-") for name in folders) == 1
    for folder in folders:
        assert load_checkpoint(tmp_path / "runs" / folder / "checkpoint.pt", "run")["global_step"] == 200


def test_a_folder_holding_a_run_is_only_written_by_its_resume_or_with_overwrite(tmp_path, finished):
    before = (finished / "checkpoint.pt").read_bytes()
    message = error_of("--config", "cartpole", "--logdir", str(finished), *flags(*TINY))
    assert (
        f"{finished} holds another run (checkpoint.pt, best.pt, summary.json)" in message and "--overwrite" in message
    )
    assert (finished / "checkpoint.pt").read_bytes() == before, "the refused run wrote into the folder"
    # resuming the run's own checkpoint in place is allowed (it has already finished: nothing to do)
    summary = cli("--resume", str(finished / "checkpoint.pt"))
    assert summary["env_steps"] == 400 and not summary["interrupted"]


def test_overwrite_replaces_the_whole_run(tmp_path):
    logdir = tmp_path / "run"
    cli("--config", "cartpole", "--logdir", str(logdir), *flags(*TINY))
    cli(
        "--config", "cartpole", "--logdir", str(logdir), "--overwrite", *flags(*TINY, "eval_every=0", "total_steps=200")
    )
    assert not (logdir / "best.pt").exists(), "the old run's best.pt outlived it"
    assert len(list(logdir.glob("events.out.tfevents.*"))) == 1
    assert load_checkpoint(logdir / "checkpoint.pt", "run")["global_step"] == 200


def test_resume_refuses_settings_that_change_shapes(finished):
    message = error_of("--resume", str(finished / "checkpoint.pt"), *flags("num_envs=8", "sac.hidden=[32, 32]"))
    assert "num_envs: 4 -> 8" in message and "sac.hidden: [16] -> [32, 32]" in message
    assert "fix the shapes" in message
    # settings as the run uses them: stating a default, or the same widths as a list, is no change
    summary = cli("--resume", str(finished / "checkpoint.pt"), *flags("sac.normalize_obs=false", "sac.hidden=[16]"))
    assert summary["env_steps"] == 400


def test_a_run_whose_settings_fail_at_setup_leaves_no_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    message = error_of("--config", "gripper", *flags("env_options.effort_weight=-1"))
    assert "effort_weight" in message and "must be >= 0" in message
    assert not list((tmp_path / "runs").iterdir())


def _train_in_a_subprocess(logdir, *settings, total_steps):
    command = [
        sys.executable,
        "-m",
        "diffsim.train",
        "--config",
        "cartpole",
        "--no-progress",
        "--logdir",
        str(logdir),
        *flags(*TINY, f"total_steps={total_steps}", *settings),
    ]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}
    )


def test_two_runs_started_at_once_on_one_folder_leave_one_run_and_one_refusal(tmp_path):
    logdir = tmp_path / "shared"
    first, second = (_train_in_a_subprocess(logdir, total_steps=1200) for _ in range(2))
    results = [(p.wait(timeout=600), p.stdout.read(), p.stderr.read()) for p in (first, second)]
    codes = sorted(code for code, _, _ in results)
    assert codes[0] == 0 and codes[1] != 0, results
    refusal = next(err for code, _, err in results if code != 0)
    # the second process either finds the folder locked, or (if the first already finished) holding a run
    assert "is in use by another training run" in refusal or "holds another run" in refusal, refusal
    assert "Traceback" not in refusal
    run = load_checkpoint(logdir / "checkpoint.pt", "run")
    assert run["global_step"] == 1200 and not list(logdir.glob("*.tmp")) and not list(logdir.glob(".*.tmp"))


def _stop_after_the_first_checkpoint(logdir, process, stop):
    """Wait until the subprocess run has written its first checkpoint, then ``stop(process)``."""
    deadline = time.monotonic() + 300
    while not (logdir / "checkpoint.pt").exists():
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.02)
    stop(process)
    return process.communicate(timeout=300)


def _assert_resumed_like_uninterrupted(straight, resumed, total):
    a = load_checkpoint(straight / "checkpoint.pt", "run")
    b = load_checkpoint(resumed / "checkpoint.pt", "run")
    assert a["global_step"] == b["global_step"] == total
    for key, value in a["agent"]["actor"].items():
        assert torch.equal(value, b["agent"]["actor"][key]), key
    assert [(e[0], e[2]) for e in a["evaluations"]] == [(e[0], e[2]) for e in b["evaluations"]]  # step, return


def test_sigint_writes_a_checkpoint_and_the_resumed_run_ends_like_an_uninterrupted_one(tmp_path):
    total = 2000
    cli("--config", "cartpole", "--logdir", str(tmp_path / "straight"), *flags(*TINY, f"total_steps={total}"))
    process = _train_in_a_subprocess(tmp_path / "interrupted", total_steps=total)
    out, err = _stop_after_the_first_checkpoint(
        tmp_path / "interrupted", process, lambda p: p.send_signal(signal.SIGINT)
    )
    assert process.returncode == 128 + signal.SIGINT, (out, err)
    assert "SIGINT: stopped at step" in out and "KeyboardInterrupt" not in err
    stopped = load_checkpoint(tmp_path / "interrupted" / "checkpoint.pt", "run")
    assert 0 < stopped["global_step"] < total
    cli("--resume", str(tmp_path / "interrupted" / "checkpoint.pt"))
    _assert_resumed_like_uninterrupted(tmp_path / "straight", tmp_path / "interrupted", total)


# --- configs are checked when loaded ----------------------------------------------------------


def test_numbers_in_exponent_form_are_numbers():
    config = train.load_config("cartpole", ["sac.actor_lr=1e-3", "total_steps=1e5", "target_return=1.5e2"])
    assert config["sac"]["actor_lr"] == 1e-3 and isinstance(config["sac"]["actor_lr"], float)
    assert config["total_steps"] == 100000 and isinstance(config["total_steps"], int)
    assert train.agent_config(config).actor_lr == 1e-3


@pytest.mark.parametrize(
    "override, expected",
    [
        ("sca.batch_size=8", r"unknown config section 'sca'.*sections: model, env_options, sac, hybrid, shac"),
        ("total_steps=-5", r"total_steps \(.*\) must be >= 1, got -5"),
        ("sac.batch_size=0", r"sac.batch_size must be >= 1, got 0"),
        ("buffer_size=0", r"buffer_size \(.*\) must be >= 1, got 0"),
        ("buffer_size=100", r"buffer_size \(100\) must hold at least one batch \(batch_size = 256\)"),
        ("shac.horizon=0", r"shac.horizon must be >= 1, got 0"),
        ("sac.hidden=[0]", r"sac.hidden must be a non-empty list of layer widths >= 1"),
        ("num_envs=2.5", r"num_envs \(.*\) must be a int, got 2.5"),
        ("sac.actor_lr=fast", r"sac.actor_lr must be a float, got 'fast'"),
        ("total_steps=.nan", r"total_steps .* must be a int, got nan"),
        ("agent=ppo", r"unknown agent 'ppo'; known: sac, hybrid, shac"),
        ("model.bogus=1", r"section 'model' has no setting\(s\) \['bogus'\]; known: .*contact_width"),
        ("model.contact_width=0", r"model.contact_width must be a finite number > 0, got 0"),
        ("env_options.bogus=1", r"section 'env_options': cartpole has no option\(s\) \['bogus'\]"),
    ],
)
def test_bad_settings_are_named_when_the_config_is_loaded(override, expected):
    with pytest.raises(ConfigError, match=expected):
        train.load_config("cartpole", [override])


def test_config_names_mean_shipped_configs_and_bad_files_are_named(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("cartpole").write_text("not: [a, config")  # a stray file named like a config
    assert train.load_config("cartpole")["env"] == "cartpole"
    cases = {
        "empty.yaml": ("", "expected a mapping of settings.*got an empty file"),
        "list.yaml": ("- 1\n- 2\n", "expected a mapping of settings.*got list"),
        "broken.yaml": ("env: [cartpole\n", "not valid YAML"),
        "no_seed.yaml": (
            (train.CONFIGS / "cartpole.yaml").read_text().replace("seed: 1\n", ""),
            r"missing setting\(s\) \['seed'\]",
        ),
    }
    for name, (text, expected) in cases.items():
        Path(name).write_text(text)
        with pytest.raises(ConfigError, match=f"{name}: {expected}"):
            train.load_config(name)
    with pytest.raises(ConfigError, match="no config file missing.yaml"):
        train.load_config("missing.yaml")
    assert "no_seed.yaml: missing setting(s) ['seed']" in error_of("--config", "no_seed.yaml")


AGENTS = {
    "sac": [],
    "hybrid": ["agent=hybrid", "hybrid.horizon=4", "hybrid.physics_batch=8"],
    "shac": [
        "agent=shac",
        "shac.horizon=8",
        "shac.actor_hidden=[16]",
        "shac.critic_hidden=[16]",
        "shac.critic_iterations=2",
        "checkpoint_every=64",
    ],
}


@pytest.mark.parametrize("agent", sorted(AGENTS))
def test_a_killed_run_resumes_from_its_checkpoint_exactly(tmp_path, agent):
    """kill -9 leaves the last checkpoint (written atomically) and no lock behind: --resume
    ends where an uninterrupted run ends, bit for bit, for every agent."""
    total = 1024 if agent == "shac" else 1200
    settings = [*AGENTS[agent], f"total_steps={total}"]
    cli("--config", "cartpole", "--logdir", str(tmp_path / "straight"), *flags(*TINY, *settings))
    process = _train_in_a_subprocess(tmp_path / "killed", *settings, total_steps=total)
    _stop_after_the_first_checkpoint(tmp_path / "killed", process, lambda p: p.kill())
    assert load_checkpoint(tmp_path / "killed" / "checkpoint.pt", "run")["global_step"] < total
    cli("--resume", str(tmp_path / "killed" / "checkpoint.pt"))
    _assert_resumed_like_uninterrupted(tmp_path / "straight", tmp_path / "killed", total)
    assert not list((tmp_path / "killed").glob(".*.tmp")), "a killed writer's temporary file is cleaned up"
