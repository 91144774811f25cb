"""Batched, differentiable environments on a diffsim model.

``BatchedEnv`` holds one state per environment on the model's device and steps them all
at once with ``diffsim.step``, so rewards and observations are differentiable with
respect to the actions and earlier states. A subclass says what its task is:
``initial_state``, ``observe``, ``reward`` and ``is_terminated``.

Conventions (Gymnasium's, batched):

* ``reset(seed=None) -> (obs, info)``; ``step(action) -> (obs, reward, terminated,
  truncated, info)``, all torch tensors with a leading batch dimension;
* actions live in [-1, 1]: they are clipped to it, then mapped affinely onto each
  actuator's ``ctrlrange``; the reward sees the clipped action too;
* ``step`` before the first ``reset`` raises;
* finished environments reset themselves: the returned ``obs`` is then the first
  observation of the new episode and ``info["final_obs"]`` holds the last one of the old;
* an environment whose simulation blew up (NaN/inf), or whose observation is not finite,
  is reported with a warning naming it and the step, counted as terminated with a reward
  of 0, and reset (``info["blew_up"]`` marks it; its ``info["final_obs"]`` is the
  observation of the state before the step, so nothing non-finite leaves the env;
  ``nonfinite_observations`` counts the observations replaced);
* ``detach()`` cuts the autograd graph, e.g. between short differentiable rollouts;
* a model with actuator activations keeps them in ``self.act`` (B, na), part of the
  differentiable state like ``qpos`` and ``qvel``; episodes start with zeros, as MuJoCo's.
"""

from __future__ import annotations

import warnings

import torch

import diffsim
from diffsim.validation import check_state


class BatchedEnv:
    """Common machinery: batched state, action scaling, auto-reset, seeding, time limit.

    Args:
        model: the diffsim model to simulate.
        num_envs: batch size B.
        frame_skip: physics steps per control step; the control period is
            ``frame_skip * model.dt`` seconds.
        max_episode_steps: control steps before an episode is truncated.
        seed: seed of the environment's random generator (initial states).
    """

    observation_size: int = 0

    def __init__(self, model, num_envs: int, frame_skip: int, max_episode_steps: int, seed: int | None = None):
        if not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive int, got {num_envs!r}")
        self.model = model
        self.num_envs = num_envs
        self.frame_skip = frame_skip
        self.max_episode_steps = max_episode_steps
        self.device, self.dtype = model.device, model.dtype
        self.action_size = model.nu
        ctrlrange = model.actuator_ctrlrange.detach()
        self._ctrl_mid = (ctrlrange[:, 0] + ctrlrange[:, 1]) / 2
        self._ctrl_half = (ctrlrange[:, 1] - ctrlrange[:, 0]) / 2
        self.generator = torch.Generator(device="cpu")
        self.generator.manual_seed(0 if seed is None else seed)
        self.qpos = torch.zeros(num_envs, model.nq, dtype=self.dtype, device=self.device)
        self.qvel = torch.zeros(num_envs, model.nv, dtype=self.dtype, device=self.device)
        self.act = torch.zeros(num_envs, model.na, dtype=self.dtype, device=self.device)
        self.steps = torch.zeros(num_envs, dtype=torch.long, device=self.device)
        self.total_steps = 0
        self.started = False  # set by reset(): the state above is a placeholder until then
        self.nonfinite_observations = 0

    @property
    def control_dt(self) -> float:
        """Seconds between two actions."""
        return self.frame_skip * self.model.dt

    # --- what a task defines -----------------------------------------------------------
    def initial_state(self, count: int):
        """(qpos (count, nq), qvel (count, nv)) drawn with ``self.generator``."""
        raise NotImplementedError

    def observe(self, qpos, qvel):
        """(B, observation_size) observations."""
        raise NotImplementedError

    def reward(self, qpos, qvel, action, qpos_next, qvel_next):
        """(reward (B,), dict of named reward terms (B,)) for one transition."""
        raise NotImplementedError

    def is_terminated(self, qpos, qvel):
        """(B,) bool: the episode ended by itself (fell over, dropped the object, ...)."""
        return torch.zeros(qpos.shape[0], dtype=torch.bool, device=qpos.device)

    # --- the Gymnasium-style interface ----------------------------------------------------
    def _random(self, *shape, low=-1.0, high=1.0):
        """Uniform samples on the CPU generator (reproducible on any device)."""
        sample = torch.rand(*shape, generator=self.generator, dtype=torch.float64)
        return (low + (high - low) * sample).to(dtype=self.dtype, device=self.device)

    def reset(self, seed: int | None = None):
        """Start a new episode in every environment. Returns (obs (B, obs), info)."""
        if seed is not None:
            self.generator.manual_seed(seed)
        self.qpos, self.qvel = self.initial_state(self.num_envs)
        self.act = torch.zeros_like(self.act)
        self.steps.zero_()
        self.started = True
        return self.observe(self.qpos, self.qvel), {}

    def set_state(self, qpos, qvel, act=None):
        """Start new episodes from given states instead of drawn ones: (B, nq), (B, nv), and
        the activations (B, na) for models that have them (zeros if not given).
        Returns the observations (B, obs)."""
        qpos = check_state(self.model, "qpos", qpos, self.model.nq, batch=self.num_envs)
        qvel = check_state(self.model, "qvel", qvel, self.model.nv, batch=self.num_envs)
        act = (
            torch.zeros_like(self.act)
            if act is None
            else check_state(self.model, "act", act, self.model.na, batch=self.num_envs)
        )
        self.qpos, self.qvel, self.act = qpos.clone(), qvel.clone(), act.clone()
        self.steps.zero_()
        self.started = True
        return self.observe(self.qpos, self.qvel)

    def action_to_ctrl(self, action):
        """Map actions in [-1, 1] onto the actuators' control ranges."""
        return self._ctrl_mid + self._ctrl_half * action

    def step(self, action):
        """Advance every environment by one control step.

        Args:
            action: (B, action_size) in [-1, 1]; values outside are clipped to it, for the
                physics and the reward alike.
        Returns:
            obs (B, obs), reward (B,), terminated (B,) bool, truncated (B,) bool, info dict.
        """
        if not isinstance(action, torch.Tensor) or action.shape != (self.num_envs, self.action_size):
            shape = tuple(action.shape) if isinstance(action, torch.Tensor) else type(action).__name__
            raise ValueError(
                f"action must be a tensor of shape (num_envs, action_size) = "
                f"({self.num_envs}, {self.action_size}), got {shape}"
            )
        if not self.started:
            raise RuntimeError(f"{type(self).__name__}.step() before reset(): call reset() first")
        action = action.to(dtype=self.dtype, device=self.device)
        if not bool(torch.isfinite(action).all()):
            bad = torch.nonzero(~torch.isfinite(action).all(dim=1)).flatten().tolist()
            raise ValueError(f"action contains NaN or inf in environment(s) {bad[:10]}")
        action = action.clamp(-1.0, 1.0)
        ctrl = self.action_to_ctrl(action)
        if self.model.na:
            qpos, qvel, act = diffsim.step(
                self.model, self.qpos, self.qvel, ctrl, self.frame_skip, check_finite=False, act=self.act
            )
        else:
            qpos, qvel = diffsim.step(self.model, self.qpos, self.qvel, ctrl, self.frame_skip, check_finite=False)
            act = self.act
        obs = self.observe(qpos, qvel)
        blew_up = ~(torch.isfinite(qpos).all(dim=1) & torch.isfinite(qvel).all(dim=1) & torch.isfinite(act).all(dim=1))
        bad_obs = ~torch.isfinite(obs).all(dim=1) & ~blew_up
        failed = blew_up | bad_obs
        if bool(failed.any()):  # one check per step for both kinds of failure
            self._report(blew_up, "the simulation blew up (NaN/inf)")
            self._report(bad_obs, "NaN/inf observation")
            self.nonfinite_observations += int(bad_obs.sum())
            keep = ~failed[:, None]  # the state before the step, and its observation
            qpos = torch.where(keep, qpos, self.qpos.detach())
            qvel = torch.where(keep, qvel, self.qvel.detach())
            act = torch.where(keep, act, self.act.detach())
            obs = torch.where(keep, obs, self.observe(qpos, qvel))
        reward, terms = self.reward(self.qpos, self.qvel, action, qpos, qvel)
        reward = torch.where(failed, torch.zeros_like(reward), reward)
        self.steps += 1
        self.total_steps += self.num_envs
        terminated = self.is_terminated(qpos, qvel) | failed
        truncated = (self.steps >= self.max_episode_steps) & ~terminated
        info = dict(terms, blew_up=failed, final_obs=obs)
        done = terminated | truncated
        if bool(done.any()):
            fresh_qpos, fresh_qvel = self.initial_state(self.num_envs)
            keep = ~done[:, None]
            qpos = torch.where(keep, qpos, fresh_qpos)
            qvel = torch.where(keep, qvel, fresh_qvel)
            act = torch.where(keep, act, torch.zeros_like(act))
            obs = torch.where(keep, obs, self.observe(fresh_qpos, fresh_qvel))
            self.steps = torch.where(done, torch.zeros_like(self.steps), self.steps)
        self.qpos, self.qvel, self.act = qpos, qvel, act
        return obs, reward, terminated, truncated, info

    def _report(self, envs_mask, what: str):
        """Warn once for the environments in ``envs_mask`` (B,) bool, if any, naming them and their step."""
        if bool(envs_mask.any()):
            envs = torch.nonzero(envs_mask).flatten().tolist()
            warnings.warn(
                f"{type(self).__name__}: {what} in environment(s) {envs[:10]} at episode "
                f"step(s) {self.steps[envs_mask][:10].tolist()}; they are reset",
                RuntimeWarning,
                stacklevel=3,
            )

    def detach(self):
        """Cut the autograd graph behind the current state (keeps its values)."""
        self.qpos, self.qvel, self.act = self.qpos.detach(), self.qvel.detach(), self.act.detach()

    def __repr__(self):
        return (
            f"{type(self).__name__}(num_envs={self.num_envs}, obs={self.observation_size}, "
            f"actions={self.action_size}, control_dt={self.control_dt:g} s, "
            f"max_episode_steps={self.max_episode_steps}, device='{self.device}')"
        )
