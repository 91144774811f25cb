"""Train an agent: ``python -m diffsim.train --config cartpole [--set key=value ...]``.

``python -m diffsim.train --config cartpole --set agent=shac`` is a first run: SHAC swings
the cartpole up (docs/results/cartpole.md).

Configs are YAML files shipped in ``diffsim/configs/`` (or a ``.yaml`` file of your own),
checked before anything is built. A run writes to a folder of its own (default
``runs/<config>-<agent>-seed<seed>-<date>-<time>``, or ``--logdir``, which must not hold
another run unless ``--overwrite``): TensorBoard events, a checkpoint written atomically
every ``checkpoint_every`` environment steps (and at the end, and on Ctrl-C or SIGTERM),
``best.pt`` (the agent at its best evaluation so far, with that return and step) and
``summary.json``. ``--resume <checkpoint>`` continues a run exactly where it stopped:
agent, replay buffer, environments and random generators are all restored, so on the
CPU an interrupted and resumed run ends where an uninterrupted one does. Checkpoints are
read as data only (no code in them runs).

Agents (``--set agent=...``; each has its section in the config):

* ``sac``: Soft Actor-Critic, model-free;
* ``hybrid``: SAC plus actor updates through short differentiable rollouts from replayed
  states (the ``hybrid`` section adds to the ``sac`` one);
* ``shac``: analytic policy gradients through the simulator only (SHAC), no replay.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import time
import warnings
from pathlib import Path

import torch

from diffsim.checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from diffsim.rl import SAC, SHAC, Hybrid, HybridConfig, ReplayBuffer, SACConfig, SHACConfig, distributed
from diffsim.run_config import AGENTS, ENVS, ConfigError, apply_overrides, check_config, load_config
from diffsim.run_config import CONFIGS  # noqa: F401 (public here too: diffsim.train.CONFIGS)
from diffsim.run_dir import RunDirError, RunLock, new_run_dir, run_files


# --- configuration -----------------------------------------------------------------------------


def agent_config(config: dict):
    """SACConfig from the ``sac`` section; for the hybrid agent, plus the ``hybrid`` section;
    for SHAC, SHACConfig from the ``shac`` section."""
    if config["agent"] == "shac":
        values, kind = dict(config.get("shac", {})), SHACConfig
    else:
        values = dict(config.get("sac", {}))
        if config["agent"] == "hybrid":
            values.update(config.get("hybrid", {}))
        kind = HybridConfig if config["agent"] == "hybrid" else SACConfig
    for key, value in values.items():
        if isinstance(value, list):
            values[key] = tuple(value)
    known = set(kind.__dataclass_fields__)
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown {config['agent']} setting(s) {unknown}; known: {', '.join(sorted(known))}")
    return kind(**values)


def make_agent(config: dict, env, device):
    if config["agent"] not in AGENTS:
        raise ValueError(f"unknown agent {config['agent']!r}; known: {', '.join(AGENTS)}")
    if config["agent"] == "shac":
        return SHAC(
            env.observation_size,
            env.action_size,
            agent_config(config),
            device,
            config["seed"],
            total_steps=config["total_steps"],
        )
    if config["agent"] == "hybrid":
        # the physics-gradient rollouts run on a model of their own, so they never touch the training envs' state
        physics_env = make_env(config, 1, config["seed"], device)
        return Hybrid(physics_env, agent_config(config), device, config["seed"], total_steps=config["total_steps"])
    return SAC(env.observation_size, env.action_size, agent_config(config), device, config["seed"])


# --- the pieces of a run --------------------------------------------------------------------------


def make_env(config: dict, num_envs: int, seed: int, device):
    """The config's environment with ``num_envs`` environments: its ``env_options`` passed to
    the constructor (``{effort_weight: 0.1}``), its ``model`` settings applied (``{contact_width: 0.01}``)."""
    import copy

    config = check_config(copy.deepcopy(config))
    env = ENVS[config["env"]](num_envs=num_envs, device=device, seed=seed, **config["env_options"])
    for key, value in config["model"].items():
        setattr(env.model, key, value)
    return env


def episode_returns(env, seed: int, policy, on_step=None) -> torch.Tensor:
    """(num_envs,) return of one episode in each of the env's environments, reset with
    ``seed``, taking ``policy(obs)`` (num_envs, action_size) at every control step.

    ``on_step(running, terminated, truncated, info)``, if given, is called after every
    step, with ``running`` marking the environments whose episode that step belonged to
    (an environment whose episode ends is reset at once: ``info["final_obs"]`` holds its
    last observation, ``env.qpos`` already the next episode's start)."""
    obs, _ = env.reset(seed=seed)
    returns = torch.zeros(env.num_envs, device=env.device)
    running = torch.ones(env.num_envs, dtype=torch.bool, device=env.device)
    with torch.no_grad():
        while bool(running.any()):
            obs, reward, terminated, truncated, info = env.step(policy(obs))
            returns += reward * running
            if on_step is not None:
                on_step(running, terminated, truncated, info)
            running = running & ~(terminated | truncated)
    return returns


def policy_return(env, seed: int, policy) -> float:
    """Mean of ``episode_returns``: one episode in each of the env's environments."""
    return float(episode_returns(env, seed, policy).mean())


def evaluate(agent, env, seed: int) -> float:
    """Mean return of one deterministic episode in each of the env's environments."""
    return policy_return(env, seed, lambda obs: agent.act(obs, deterministic=True))


def random_policy_return(env, seed: int) -> float:
    """Mean return of one episode of uniformly random actions in each of the env's
    environments: the baseline a learning agent must clearly beat."""
    generator = torch.Generator().manual_seed(seed)

    def uniform(obs):
        return (torch.rand(env.num_envs, env.action_size, generator=generator) * 2 - 1).to(env.device)

    return policy_return(env, seed, uniform)


def zero_action_return(env, seed: int) -> float:
    """Mean return of one episode with every action zero: for the Ant, what standing
    still earns (its healthy reward), the level a gait must rise above."""
    return policy_return(env, seed, lambda obs: obs.new_zeros(env.num_envs, env.action_size))


class Run:
    """Everything a training run is made of, and how to checkpoint it."""

    def __init__(self, config: dict, device="cpu"):
        self.config, self.device = config, torch.device(device)
        # under torchrun each rank simulates environments of its own (seeds apart by rank);
        # rank 0's are those of a one-process run, and every rank starts from its networks
        self.rank, self.world = distributed.rank(), distributed.world_size()
        base = config["seed"]
        seed = base + RANK_SEED_STRIDE * self.rank
        torch.manual_seed(seed)
        self.env = make_env(config, config["num_envs"], seed, device)
        self.eval_env = make_env(config, config["eval_envs"], base + 1, device)
        self.agent = make_agent(config, self.env, device)
        distributed.broadcast_module_state(self.agent)
        self.on_policy = getattr(self.agent, "on_policy", False)
        self.buffer = (
            None
            if self.on_policy
            else ReplayBuffer(
                config["buffer_size"],
                self.env.observation_size,
                self.env.action_size,
                self.env.model.nq,
                self.env.model.nv,
                device,
                self.env.dtype,
                seed,
            )
        )
        self.explore = torch.Generator().manual_seed(seed + 2)  # warm-up random actions
        self.obs, _ = self.env.reset(seed=seed)
        self.running_return = torch.zeros(config["num_envs"], device=self.device)
        self.global_step = 0
        self.episodes = 0
        self.evaluations = []  # (global_step, wall_seconds, eval_return)
        self.episode_returns = []  # (global_step, return) of training episodes
        self.solved_step = None  # first evaluation at or above target_return: env steps,
        self.solved_episode = None  # training episodes finished by then,
        self.solved_wall_seconds = None  # and wall-clock seconds
        self.wall_seconds = 0.0
        self.saved_step = None  # the step of the last checkpoint this run wrote

    def state_dict(self) -> dict:
        env = self.env
        return {
            "config": self.config,
            "agent": self.agent.state_dict(),
            "buffer": None if self.buffer is None else self.buffer.state_dict(),
            "env": {
                "qpos": env.qpos,
                "qvel": env.qvel,
                "act": env.act,
                "steps": env.steps,
                "generator": env.generator.get_state(),
            },
            "explore": self.explore.get_state(),
            "torch_rng": torch.get_rng_state(),
            "running_return": self.running_return,
            "global_step": self.global_step,
            "episodes": self.episodes,
            "evaluations": self.evaluations,
            "episode_returns": self.episode_returns,
            "solved_step": self.solved_step,
            "solved_episode": self.solved_episode,
            "solved_wall_seconds": self.solved_wall_seconds,
            "wall_seconds": self.wall_seconds,
            "world_size": self.world,
        }

    def load_state_dict(self, state: dict):
        self.agent.load_state_dict(state["agent"])
        if self.buffer is not None:
            self.buffer.load_state_dict(state["buffer"])
        env = self.env
        env.qpos, env.qvel, env.steps = (state["env"][k].to(self.device) for k in ("qpos", "qvel", "steps"))
        if "act" in state["env"]:  # checkpoints from before activations were a state have none
            env.act = state["env"]["act"].to(self.device)
        # RNG states are CPU byte tensors, whatever device the checkpoint was loaded onto
        env.generator.set_state(state["env"]["generator"].cpu())
        self.obs = env.observe(env.qpos, env.qvel)
        self.explore.set_state(state["explore"].cpu())
        torch.set_rng_state(state["torch_rng"].cpu())
        self.running_return = state["running_return"].to(self.device)
        for key in (
            "global_step",
            "episodes",
            "evaluations",
            "episode_returns",
            "solved_step",
            "solved_episode",
            "solved_wall_seconds",
            "wall_seconds",
        ):
            setattr(self, key, state[key])
        self.saved_step = self.global_step

    def _count_episodes(self, reward, done):
        """Track training-episode returns from one step's rewards (N,) and done flags (N,)."""
        self.running_return += reward
        for i in torch.nonzero(done).flatten().tolist():
            self.episode_returns.append((self.global_step, float(self.running_return[i])))
            self.episodes += 1
        self.running_return = torch.where(done, torch.zeros_like(self.running_return), self.running_return)

    def step(self) -> dict:
        """One step of every environment and the agent's updates (SHAC: one window of
        ``horizon`` steps and its updates); returns logs."""
        logs = self._step()
        # observations and transitions left out because they held NaN or inf (counted since the start)
        if self.env.nonfinite_observations:
            logs["charts/nonfinite_obs_reset"] = self.env.nonfinite_observations
        skipped = getattr(getattr(self.agent, "obs_norm", None), "skipped", 0)
        if skipped:
            logs["charts/nonfinite_obs_skipped"] = skipped
        if self.buffer is not None and self.buffer.skipped:
            logs["charts/nonfinite_transitions_skipped"] = self.buffer.skipped
        return logs

    def _step(self) -> dict:
        config, env = self.config, self.env
        if self.on_policy:
            logs, self.obs, rewards, terminated, truncated = self.agent.iterate(env, self.obs)
            for reward, done in zip(rewards, terminated | truncated):
                self.global_step += env.num_envs * self.world  # every rank's environments
                self._count_episodes(reward, done)
            return logs
        if self.global_step < config["learning_starts"]:
            action = torch.rand(env.num_envs, env.action_size, generator=self.explore).to(self.device) * 2 - 1
        else:
            action = self.agent.act(self.obs)
        qpos, qvel = env.qpos, env.qvel
        with torch.no_grad():
            obs, reward, terminated, truncated, info = env.step(action)
        self.buffer.add(
            obs=self.obs,
            action=action,
            reward=reward,
            next_obs=info["final_obs"],
            terminated=terminated,
            qpos=qpos,
            qvel=qvel,
        )
        self.obs = obs
        self.global_step += env.num_envs * self.world  # every rank's environments
        self._count_episodes(reward, terminated | truncated)
        # the env's reward terms (mean over the envs), as SHAC logs them over its windows
        logs = {key: float(value.float().mean()) for key, value in info.items() if key.startswith("reward/")}
        self.agent.env_steps = self.global_step
        if self.global_step >= config["learning_starts"]:
            for _ in range(config["updates_per_step"]):
                logs.update(self.agent.update(self.buffer.sample(self.agent.config.batch_size)))
        return logs


# seeds of rank r's environments, replay sampling and exploration: the config's seed + r * this
RANK_SEED_STRIDE = 100_003


def _crossed(before: int, after: int, every: int) -> bool:
    return every > 0 and before // every != after // every


class _StopRequests:
    """SIGINT and SIGTERM, while installed, ask the training loop to stop after the current
    step (which then writes its checkpoint) instead of killing it mid-step."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.signal = None
        self.previous = {}

    def _handle(self, signum, frame):
        if self.signal is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: stop at once (the last checkpoint stays)
        self.signal = signum
        print(
            f"\n{signal.Signals(signum).name}: stopping after this step and writing a checkpoint"
            + (" (Ctrl-C again to stop at once)" if signum == signal.SIGINT else ""),
            file=sys.stderr,
        )

    def __enter__(self):
        import threading

        if threading.current_thread() is threading.main_thread():  # handlers can only be set there
            for signum in self.SIGNALS:
                self.previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc):
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
        return False


def train(
    config: dict, logdir: Path, device="cpu", resume: Path | None = None, progress: bool = True, overwrite: bool = False
) -> dict:
    """Run training; returns the summary (also written to ``logdir/summary.json``).

    ``logdir`` is locked for the run (a second writer is refused). If it already holds a
    run's files, only the resumption of its own checkpoint, or ``overwrite=True``, may
    write there. SIGINT (Ctrl-C) and SIGTERM stop the run after the current step with a
    checkpoint written; the summary then has ``"interrupted": "SIGINT"`` (or "SIGTERM").
    """
    logdir = Path(logdir)
    if not distributed.is_main():  # under torchrun: rank 0 owns the directory; wait for its verdict
        error = distributed.broadcast_object(None)
        if error is not None:
            raise RunDirError(error)
        with _StopRequests() as stop:
            return _train(config, logdir, device, resume, progress, stop)
    told = False  # whether the other ranks have rank 0's verdict on the directory
    try:
        with RunLock(logdir):
            for stale in logdir.glob(".*.tmp"):  # left by a writer that was killed mid-write: we hold the lock
                stale.unlink()
            existing = run_files(logdir)
            own = resume is not None and Path(resume).resolve().parent == logdir.resolve()
            if existing and not own and not overwrite:
                raise RunDirError(
                    f"{logdir} holds another run ({', '.join(existing)}): continue it with --resume "
                    f"{logdir / 'checkpoint.pt'}, choose another --logdir, or pass --overwrite to replace it"
                )
            if existing and not own:  # --overwrite: the old run's files go, so none of them outlives it
                for old in [*(logdir / name for name in existing), *logdir.glob("events.out.tfevents.*")]:
                    old.unlink()
                for old in logdir.glob("checkpoint.rank*.pt"):
                    old.unlink()
            distributed.broadcast_object(None)
            told = True
            with _StopRequests() as stop:
                return _train(config, logdir, device, resume, progress, stop)
    except RunDirError as error:
        if not told:
            distributed.broadcast_object(str(error))
        raise


def _train(config, logdir, device, resume, progress, stop) -> dict:
    main, world = distributed.is_main(), distributed.world_size()
    if main:
        processes = f" x {world} processes (torchrun)" if world > 1 else ""
        print(
            f"{config['name']} / {config['agent']} on {device}{processes}: {config['total_steps']:,} env steps, "
            f"target return {config['target_return']:g}\nwriting to {logdir}/ (watch: tensorboard --logdir "
            f"{logdir.parent})"
        )
    try:
        run = Run(config, device)
    except ValueError as e:  # a value the environment or the agent refuses, e.g. env_options.effort_weight=-1
        raise ConfigError(f"the config's settings: {e}") from e
    if resume is not None:
        run.load_state_dict(_resume_state(Path(resume), world, device))
        if main:
            print(f"resumed from {resume} at step {run.global_step}")
    writer = None
    if main:  # only rank 0 writes logs, evaluations and checkpoints' main file
        try:
            from torch.utils.tensorboard import SummaryWriter

            writer = SummaryWriter(str(logdir))
        except ImportError:
            warnings.warn("tensorboard is not installed: no TensorBoard logs (pip install tensorboard)", stacklevel=2)
    try:
        from tqdm import tqdm

        bar = tqdm(
            total=config["total_steps"],
            initial=run.global_step,
            unit="step",
            disable=not progress or not main,
            dynamic_ncols=True,
            desc=f"{config['name']} {config['agent']}",
        )
    except ImportError:
        bar = None
    checkpoint = logdir / "checkpoint.pt"
    started = time.perf_counter() - run.wall_seconds
    try:
        while run.global_step < config["total_steps"]:
            before = run.global_step
            logs = run.step()
            run.wall_seconds = time.perf_counter() - started
            if bar is not None:
                bar.update(run.global_step - before)
            if writer is not None and logs and _crossed(before, run.global_step, 1000):
                for key, value in logs.items():
                    writer.add_scalar(key, value, run.global_step)
                if run.episode_returns:
                    writer.add_scalar("charts/episode_return", run.episode_returns[-1][1], run.global_step)
                writer.add_scalar(
                    "charts/steps_per_second", run.global_step / max(run.wall_seconds, 1e-9), run.global_step
                )
            if main and _crossed(before, run.global_step, config["eval_every"]):
                value = evaluate(run.agent, run.eval_env, config["seed"] + 1000 + len(run.evaluations))
                if not run.evaluations or value > max(e[2] for e in run.evaluations):
                    save_checkpoint(
                        {
                            "config": config,
                            "agent": run.agent.state_dict(),
                            "env_step": run.global_step,
                            "eval_return": value,
                        },
                        logdir / "best.pt",
                        "agent",
                    )
                run.evaluations.append((run.global_step, run.wall_seconds, value))
                if run.solved_step is None and value >= config["target_return"]:
                    run.solved_step, run.solved_episode, run.solved_wall_seconds = (
                        run.global_step,
                        run.episodes,
                        round(run.wall_seconds, 2),
                    )
                if writer is not None:
                    writer.add_scalar("charts/eval_return", value, run.global_step)
                if bar is not None:
                    bar.set_postfix(eval_return=f"{value:.1f}")
            finished = run.global_step >= config["total_steps"]
            stopping = distributed.any_rank(stop.signal is not None)  # every rank stops at the same step
            if _crossed(before, run.global_step, config["checkpoint_every"]) or finished or stopping:
                _save_run(run, checkpoint)
            if stopping and not finished:
                break
    except RuntimeError as error:
        if world == 1 or not distributed.peer_failure(error):
            raise
        raise SystemExit(
            f"python -m diffsim.train: rank {distributed.rank()}: another process of this run stopped "
            f"({str(error).splitlines()[0][:200]}); the run ends here. Its last checkpoint is {checkpoint} (step "
            f"{run.saved_step}); continue it with: torchrun --nproc_per_node={world} -m diffsim.train --resume "
            f"{checkpoint}"
        ) from None
    if bar is not None:
        bar.close()
    if writer is not None:
        writer.close()
    summary = {
        "config": config["name"],
        "agent": config["agent"],
        "env_steps": run.global_step,
        "episodes": run.episodes,
        "wall_seconds": round(run.wall_seconds, 2),
        "final_eval_return": run.evaluations[-1][2] if run.evaluations else None,
        "best_eval_return": max((e[2] for e in run.evaluations), default=None),
        "target_return": config["target_return"],
        "solved_at_env_step": run.solved_step,
        "solved_at_episode": run.solved_episode,
        "solved_at_wall_seconds": run.solved_wall_seconds,
        "evaluations": run.evaluations,
        "resolved_config": config,
        "interrupted": _interruption(stop.signal, run.global_step < config["total_steps"]),
        "processes": world,
    }
    if not main:
        return summary
    _write_json_atomically(summary, logdir / "summary.json")
    if summary["interrupted"]:
        print(
            f"\n{summary['interrupted']}: stopped at step {run.global_step:,} of {config['total_steps']:,} with "
            f"a checkpoint; continue with --resume {checkpoint}"
        )
    print(_summary_line(summary, run.wall_seconds))
    print(f"wrote {logdir}/: summary.json, checkpoint.pt (resume with --resume), best.pt (the best evaluation's agent)")
    return summary


def _interruption(signum, unfinished: bool):
    """The signal's name when a run stopped early (``"SIGTERM"``; ``"another rank"`` when a
    rank other than this one was told to stop), else None."""
    if not unfinished:
        return None
    return signal.Signals(signum).name if signum is not None else "another rank"


def _resume_state(checkpoint: Path, world: int, device) -> dict:
    """The run state this rank resumes from, each file read once: rank 0 the run's
    checkpoint, rank r > 0 its own part, written at the same step (rank 0 tells the others
    which). Refuses a checkpoint of another number of processes, on every rank alike."""
    state = load_checkpoint(checkpoint, "run", map_location=device) if distributed.is_main() else None
    written_by, step = distributed.broadcast_object(
        (state.get("world_size", 1), state["global_step"]) if state is not None else None
    )
    if written_by != world:
        raise CheckpointError(
            f"{checkpoint} was written by a run of {written_by} process(es); resume it with as many "
            f"(torchrun --nproc_per_node={written_by}), or load only its agent (best.pt or the checkpoint's "
            f'"agent") into a run of another size'
        )
    if state is not None:
        return state
    part = _rank_part(checkpoint, distributed.rank(), step)
    if not part.is_file():
        raise CheckpointError(f"{checkpoint}: rank {distributed.rank()}'s part {part.name} (step {step}) is missing")
    return load_checkpoint(part, "run", map_location=device)


def _rank_part(checkpoint: Path, rank: int, step: int) -> Path:
    return checkpoint.with_name(f"{checkpoint.stem}.rank{rank}.step{step}.pt")


def _save_run(run, checkpoint: Path) -> None:
    """The run's checkpoint: rank 0's state in ``checkpoint`` (loadable by a one-process
    run), and under torchrun every other rank's (its environments, replay buffer and
    random generators) in a part named with the step, written first; a rank's older parts
    go once the checkpoint names the new step."""
    if not distributed.is_main():
        save_checkpoint(run.state_dict(), _rank_part(checkpoint, run.rank, run.global_step), "run")
    run.saved_step = run.global_step
    distributed.barrier()
    if distributed.is_main():
        save_checkpoint(run.state_dict(), checkpoint, "run")
    distributed.barrier()
    if not distributed.is_main():
        for old in checkpoint.parent.glob(f"{checkpoint.stem}.rank{run.rank}.step*.pt"):
            if old != _rank_part(checkpoint, run.rank, run.global_step):
                old.unlink()


def _write_json_atomically(data, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


def _summary_line(summary: dict, wall_seconds: float) -> str:
    """The run's outcome in one line, with returns rounded to what an evaluation resolves."""

    def value(x):
        return "none" if x is None else f"{x:.1f}"

    solved = summary["solved_at_env_step"]
    return (
        f"\n{summary['config']} / {summary['agent']}: {summary['env_steps']:,} env steps, {summary['episodes']:,} "
        f"episodes, {wall_seconds:.0f} s; final eval return {value(summary['final_eval_return'])}, best "
        f"{value(summary['best_eval_return'])} (target {summary['target_return']:g}, "
        + (f"reached at step {solved:,})" if solved is not None else "not reached)")
    )


def _plain(text: str) -> str:
    """A docstring as --help prints it: reStructuredText's ``literal`` marks removed."""
    return text.replace("``", "")


# settings that fix the shapes of what a run checkpoint holds: a resumed run must keep them
SHAPE_SETTINGS = ("env", "agent", "num_envs", "buffer_size", "env_options")
SHAPE_AGENT_SETTINGS = ("hidden", "normalize_obs", "actor_hidden", "critic_hidden")


def _shape_settings(config: dict) -> dict:
    """The settings that fix shapes, as the run uses them (agent defaults filled in, lists as tuples)."""
    import dataclasses

    agent = dataclasses.asdict(agent_config(config))
    values = {key: config.get(key) for key in SHAPE_SETTINGS}
    values.update(
        {
            f"{config['agent']}.{key}": tuple(v) if isinstance(v, list) else v
            for key, v in agent.items()
            if key in SHAPE_AGENT_SETTINGS
        }
    )
    return values


def _show(value):
    return repr(list(value)) if isinstance(value, tuple) else repr(value)


def resumed_config(checkpoint: dict, overrides, path) -> dict:
    """The checkpoint's config with ``overrides``; refuses overrides of settings that fix shapes."""
    import copy

    before = checkpoint["config"]
    after = apply_overrides(copy.deepcopy(before), overrides, source=f"{path}'s config")
    old, new = _shape_settings(check_config(copy.deepcopy(before), str(path))), _shape_settings(after)
    changed = [f"{key}: {_show(old[key])} -> {_show(new[key])}" for key in old if old[key] != new[key]]
    if changed:
        raise ConfigError(
            f"cannot resume {path} with changed {'; '.join(changed)}: these fix the shapes of what "
            f"the checkpoint holds (start a new run instead)"
        )
    return after


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m diffsim.train",
        description=_plain(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--config",
        help="a shipped config (cartpole, ant, gripper: diffsim/configs/) or a .yaml file's path; "
        "not needed with --resume",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set agent=shac --set sac.actor_lr=1e-3 (repeatable)",
    )
    parser.add_argument(
        "--device",
        default="cuda" if torch.cuda.is_available() else "cpu",
        help="cpu, cuda or cuda:N (default: cuda when torch sees a GPU, else cpu)",
    )
    parser.add_argument(
        "--logdir",
        help="where to write (default: a new runs/<config>-<agent>-seed<seed>-<date>-<time>; "
        "with --resume, the checkpoint's folder)",
    )
    parser.add_argument(
        "--resume",
        help="a run's checkpoint.pt to continue from; its config is used, --set "
        "still applies to settings that do not change shapes",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="let a new run replace the run files in an existing --logdir"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (default 1: the networks are small, and several threads "
        "spin against each other, and against the simulator, on a busy CPU)",
    )
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if not args.config and not args.resume:
        parser.error("give --config (a shipped config or a .yaml file) or --resume (a run's checkpoint.pt)")
    torch.set_num_threads(args.threads)
    device = distributed.initialize(args.device)  # under torchrun: join the process group (cuda:LOCAL_RANK)
    try:
        return _main(args, device)
    finally:
        distributed.shutdown()


def _main(args, device):
    try:
        if args.resume:
            resume = Path(args.resume)
            config = resumed_config(load_checkpoint(resume, "run", map_location="cpu"), args.set, resume)
        else:
            resume = None
            config = load_config(args.config, args.set)
        created = not args.logdir and not resume
        logdir = None
        if distributed.is_main():  # rank 0 names a new run's folder, for every rank
            logdir = Path(args.logdir) if args.logdir else (resume.parent if resume else new_run_dir(config))
        logdir = Path(distributed.broadcast_object(str(logdir) if logdir else None))
        try:
            summary = train(config, logdir, device, resume, progress=not args.no_progress, overwrite=args.overwrite)
        except BaseException:
            if created and distributed.is_main() and {p.name for p in logdir.iterdir()} <= {".lock"}:
                shutil.rmtree(logdir, ignore_errors=True)  # nothing was written: leave no trace
            raise
    except (ConfigError, CheckpointError, RunDirError) as e:
        raise SystemExit(f"python -m diffsim.train: error: {e}") from None
    if summary["interrupted"]:
        name = summary["interrupted"]
        raise SystemExit(128 + int(signal.Signals[name] if name in signal.Signals.__members__ else signal.SIGTERM))
    return summary


if __name__ == "__main__":
    main()
