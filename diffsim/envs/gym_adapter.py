"""A Gymnasium ``VectorEnv`` over a diffsim environment, so other libraries' agents can
drive it. Optional dependency: ``gymnasium`` (in the ``dev`` extra).

Observations, rewards and flags come back as numpy arrays (float32 observations);
actions are accepted as numpy arrays of shape (num_envs, action_size) in [-1, 1].
Auto-reset is Gymnasium's ``SAME_STEP`` mode: the observation returned by a step that
ended an episode is the new episode's first one, and ``info["final_obs"]`` (with the
mask ``info["_final_obs"]``) holds the last observation of the old one. Gradients do
not cross this adapter: use the torch environment directly for them.
"""
from __future__ import annotations

import numpy as np
import torch

try:
    import gymnasium as gym
    from gymnasium.vector import AutoresetMode, VectorEnv
except ImportError as err:  # pragma: no cover - exercised only without gymnasium
    raise ImportError("diffsim.envs.gym_adapter needs gymnasium: pip install 'gymnasium>=1.0'") from err


class GymVectorEnv(VectorEnv):
    """Wrap a ``diffsim.envs.BatchedEnv`` (e.g. ``GymVectorEnv(Ant(num_envs=16))``)."""

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(self, env):
        self.env = env
        self.num_envs = env.num_envs
        self.single_observation_space = gym.spaces.Box(-np.inf, np.inf, (env.observation_size,), np.float32)
        self.single_action_space = gym.spaces.Box(-1.0, 1.0, (env.action_size,), np.float32)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, self.num_envs)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, self.num_envs)

    @staticmethod
    def _numpy(tensor, dtype=np.float32):
        return tensor.detach().cpu().numpy().astype(dtype)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        obs, info = self.env.reset(seed=seed)
        return self._numpy(obs), info

    def step(self, actions):
        actions = np.asarray(actions)
        if actions.shape != self.action_space.shape:
            raise ValueError(f"actions must have shape {self.action_space.shape}, got {actions.shape}")
        with torch.no_grad():
            obs, reward, terminated, truncated, info = self.env.step(
                torch.as_tensor(actions, dtype=self.env.dtype, device=self.env.device))
        done = self._numpy(terminated | truncated, bool)
        out_info = {key: self._numpy(value, bool if value.dtype == torch.bool else np.float32)
                    for key, value in info.items() if key != "final_obs"}
        if done.any():
            final = self._numpy(info["final_obs"])
            out_info["final_obs"] = np.array([final[i] if done[i] else None for i in range(self.num_envs)], dtype=object)
            out_info["_final_obs"] = done
        return (self._numpy(obs), self._numpy(reward, np.float64), self._numpy(terminated, bool),
                self._numpy(truncated, bool), out_info)

    def close_extras(self, **kwargs):
        pass
