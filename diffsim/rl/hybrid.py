"""Hybrid agent: SAC plus an actor update through the simulator's gradients.

Every ``physics_every`` SAC updates, the actor also takes a step on

    L = -mean over start states of [ sum_{h<H} gamma^h (r_h - alpha log pi(a_h|s_h))
                                     + gamma^H (min Q(s_H, a_H) - alpha log pi(a_H|s_H)) ]

where the H-step rollout runs through ``diffsim.step`` from states drawn from the replay
buffer (the simulator state is stored with each transition), so dL/dtheta flows through
the physics, the reward and the critic's value at the horizon. Short horizons keep the
gradient informative (long contact-rich horizons make it explode); the critic supplies
the value beyond. ``physics_weight`` scales the loss, ``physics_grad_clip`` bounds the
step; a non-finite loss or gradient is skipped like any other.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

import diffsim
from diffsim.rl.sac import SAC, SACConfig, _apply


@dataclass
class HybridConfig(SACConfig):
    horizon: int = 8                 # control steps of each differentiable rollout
    physics_weight: float = 1.0      # weight of the physics-gradient actor loss
    physics_batch: int = 64          # start states per physics update (from the replay sample)
    physics_every: int = 1           # SAC updates per physics update
    physics_grad_clip: float = 1.0   # max gradient norm of the physics update


class Hybrid(SAC):
    """SAC whose actor also learns from short differentiable rollouts of ``env``'s task."""

    def __init__(self, env, config: HybridConfig = HybridConfig(), device="cpu", seed: int = 0):
        super().__init__(env.observation_size, env.action_size, config, device, seed)
        self.env = env
        self.sac_updates = 0

    def physics_loss(self, qpos: torch.Tensor, qvel: torch.Tensor) -> torch.Tensor:
        """Minus the soft return of an H-step differentiable rollout, closed with the critic."""
        env, config = self.env, self.config
        alpha = self.alpha
        obs = env.observe(qpos, qvel)
        value = torch.zeros(qpos.shape[0], dtype=torch.float32, device=qpos.device)
        alive = torch.ones_like(value)
        discount = 1.0
        for _ in range(config.horizon):
            action, log_prob, _ = self.actor(obs.float())
            action_sim = action.to(env.dtype)
            qpos_next, qvel_next = diffsim.step(env.model, qpos, qvel, env.action_to_ctrl(action_sim), env.frame_skip,
                                                check_finite=False)
            reward, _ = env.reward(qpos, qvel, action_sim, qpos_next, qvel_next)
            value = value + discount * alive * (reward.float() - alpha * log_prob)
            alive = alive * (~env.is_terminated(qpos_next, qvel_next)).float()
            discount *= config.gamma
            qpos, qvel = qpos_next, qvel_next
            obs = env.observe(qpos, qvel)
        action, log_prob, _ = self.actor(obs.float())
        q1, q2 = self.critic(obs.float(), action)
        value = value + discount * alive * (torch.min(q1, q2) - alpha * log_prob)
        return -value.mean()

    def update(self, batch: dict) -> dict:
        logs = super().update(batch)
        self.sac_updates += 1
        config = self.config
        if self.sac_updates % config.physics_every == 0:
            n = min(config.physics_batch, batch["qpos"].shape[0])
            qpos = batch["qpos"][:n].to(self.env.device, self.env.dtype)
            qvel = batch["qvel"][:n].to(self.env.device, self.env.dtype)
            self.critic.requires_grad_(False)
            loss = config.physics_weight * self.physics_loss(qpos, qvel)
            stepped = _apply(self.actor_optimizer, loss, self.actor.parameters(), config.physics_grad_clip)
            self.critic.requires_grad_(True)
            self.skipped += int(not stepped)
            logs["losses/physics"] = float(loss.detach())
            logs["losses/skipped"] = self.skipped
        return logs

    def state_dict(self) -> dict:
        state = super().state_dict()
        state["sac_updates"] = self.sac_updates
        return state

    def load_state_dict(self, state: dict):
        super().load_state_dict(state)
        self.sac_updates = state["sac_updates"]
