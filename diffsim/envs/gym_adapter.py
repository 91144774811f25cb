"""A Gymnasium ``VectorEnv`` over a diffsim environment, so other libraries' agents can
drive it. Optional dependency: ``gymnasium`` (in the ``dev`` extra).

Observations, rewards and flags come back as numpy arrays (float32 observations);
actions are accepted as numpy arrays of shape (num_envs, action_size) in [-1, 1].
``info`` follows Gymnasium's vector convention: each key has a boolean mask ``_key``
saying which environments the value is for.

Auto-reset follows ``metadata["autoreset_mode"]``, chosen at construction:

* ``SAME_STEP`` (the default): the observation returned by a step that ended an episode
  is the new episode's first one, and ``info["final_obs"]`` (mask ``info["_final_obs"]``)
  holds the last observation of the old one;
* ``NEXT_STEP`` (Gymnasium's default, which wrappers such as ``NormalizeObservation``
  require): that step returns the episode's last observation; the next step resets the
  environment, ignores its action and returns its first observation, with a reward of 0.

``reset(seed=..., options=...)`` takes Python or numpy integers; ``options`` may hold a
``reset_mask`` (reset only those environments). Gradients do not cross this adapter: use
the torch environment directly for them.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch

try:
    import gymnasium as gym
    from gymnasium.vector import AutoresetMode, VectorEnv
except ImportError as err:  # pragma: no cover - exercised only without gymnasium
    raise ImportError("diffsim.envs.gym_adapter needs gymnasium: pip install 'gymnasium>=1.0'") from err

MODES = (AutoresetMode.SAME_STEP, AutoresetMode.NEXT_STEP)


class GymVectorEnv(VectorEnv):
    """Wrap a ``diffsim.envs.BatchedEnv`` (e.g. ``GymVectorEnv(Ant(num_envs=16))``)."""

    def __init__(self, env, autoreset_mode: AutoresetMode = AutoresetMode.SAME_STEP):
        if autoreset_mode not in MODES:
            raise ValueError(f"autoreset_mode must be one of {[m.name for m in MODES]}, got {autoreset_mode!r}")
        self.env = env
        self.num_envs = env.num_envs
        self.metadata = {"autoreset_mode": autoreset_mode}
        self.single_observation_space = gym.spaces.Box(-np.inf, np.inf, (env.observation_size,), np.float32)
        self.single_action_space = gym.spaces.Box(-1.0, 1.0, (env.action_size,), np.float32)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, self.num_envs)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, self.num_envs)
        self._reset_next = np.zeros(self.num_envs, dtype=bool)  # NEXT_STEP: ended at the last step

    @staticmethod
    def _numpy(tensor, dtype=np.float32):
        return tensor.detach().cpu().numpy().astype(dtype)

    def _with_masks(self, info: dict, valid: np.ndarray | None = None) -> dict:
        """``info`` with Gymnasium's mask ``_key`` beside each ``key``: the environments whose
        value it is (all, or ``valid``)."""
        valid = np.ones(self.num_envs, dtype=bool) if valid is None else valid
        out = dict(info)
        for key in info:
            if not key.startswith("_"):
                out.setdefault(f"_{key}", valid.copy())
        return out

    def reset(self, *, seed=None, options: dict | None = None):
        if seed is not None and not (isinstance(seed, numbers.Integral) and not isinstance(seed, bool)):
            raise ValueError(
                f"seed must be an int (one seed for the batch: the environments share one "
                f"random generator), got {seed!r}"
            )
        options = dict(options or {})
        mask = options.pop("reset_mask", None)
        if options:
            raise ValueError(f"unknown reset option(s) {sorted(options)}; known: reset_mask")
        env = self.env
        if mask is None or not env.started:
            obs, info = env.reset(seed=None if seed is None else int(seed))
            self._reset_next[:] = False
            return self._numpy(obs), self._with_masks(info)
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (self.num_envs,):
            raise ValueError(f"reset_mask must have shape ({self.num_envs},), got {mask.shape}")
        if seed is not None:
            env.generator.manual_seed(int(seed))
        fresh_qpos, fresh_qvel = env.initial_state(self.num_envs)
        self._restart(torch.as_tensor(mask, device=env.device), fresh_qpos, fresh_qvel)
        self._reset_next[mask] = False
        return self._numpy(env.observe(env.qpos, env.qvel)), {}

    def step(self, actions):
        actions = np.asarray(actions)
        if actions.shape != self.action_space.shape:
            raise ValueError(f"actions must have shape {self.action_space.shape}, got {actions.shape}")
        env = self.env
        restart = self._reset_next.copy()
        if restart.any():  # NEXT_STEP: these were reset when their episode ended; this step only reports it
            start_qpos, start_qvel = env.qpos.clone(), env.qvel.clone()
        with torch.no_grad():
            obs, reward, terminated, truncated, info = env.step(
                torch.as_tensor(actions, dtype=env.dtype, device=env.device)
            )
        done = self._numpy(terminated | truncated, bool)
        out_info = {
            key: self._numpy(value, bool if value.dtype == torch.bool else np.float32)
            for key, value in info.items()
            if key != "final_obs"
        }
        obs, reward = self._numpy(obs), self._numpy(reward, np.float64)
        terminated, truncated = self._numpy(terminated, bool), self._numpy(truncated, bool)
        if self.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP:
            if done.any():
                final = self._numpy(info["final_obs"])
                out_info["final_obs"] = np.array(
                    [final[i] if done[i] else None for i in range(self.num_envs)], dtype=object
                )
                out_info["_final_obs"] = done
            return obs, reward, terminated, truncated, self._with_masks(out_info)
        # NEXT_STEP: an episode that ended shows its last observation now, its first one next step
        obs = np.where(done[:, None], self._numpy(info["final_obs"]), obs)
        if restart.any():
            self._restart(torch.as_tensor(restart, device=env.device), start_qpos, start_qvel)
            obs[restart] = self._numpy(env.observe(start_qpos, start_qvel))[restart]
            reward[restart], terminated[restart], truncated[restart], done[restart] = 0.0, False, False, False
            for key, value in out_info.items():
                out_info[key] = np.where(restart, np.zeros_like(value), value)
        self._reset_next = done
        # a restarted environment took no step: none of this step's info is its
        return obs, reward, terminated, truncated, self._with_masks(out_info, ~restart)

    def _restart(self, chosen: torch.Tensor, qpos: torch.Tensor, qvel: torch.Tensor):
        """Put the ``chosen`` (B,) environments at the start of an episode in state (qpos, qvel)."""
        env = self.env
        env.qpos = torch.where(chosen[:, None], qpos, env.qpos)
        env.qvel = torch.where(chosen[:, None], qvel, env.qvel)
        env.act = torch.where(chosen[:, None], torch.zeros_like(env.act), env.act)
        env.steps = torch.where(chosen, torch.zeros_like(env.steps), env.steps)

    def close_extras(self, **kwargs):
        pass
