"""Hybrid agent: SAC plus an actor update through the simulator's gradients.

Every ``physics_every`` SAC updates, the actor also takes a step on

    L = -mean over start states of [ sum_{h<H} gamma^h r_h  +  gamma^H min Q(stop_grad(s_H), a_H) ]

where the H-step rollout runs through ``diffsim.step`` from states drawn from the replay
buffer (the simulator state is stored with each transition), so dL/dtheta flows through
the physics and the reward of every step; the critic's value closes the rollout
(``stop_grad`` unless ``critic_state_gradient``).

The choices that make it learn (the runs behind each: docs/results/hybrid_design.md):

* The critic closes the rollout through the action it scores: ``s_H`` is detached, so the
  critic's value steers ``a_H`` as in SAC's own actor loss, but its slope with respect to
  the state is not chained back through the simulator (a critic fitted by one-step TD
  learns values, not slopes). ``critic_state_gradient`` chains it, for tasks whose
  reward cannot see a failure coming (the Ant's 0/1 healthy bonus).
* The physics step has an Adam of its own (``physics_lr``, SHAC's betas): SAC's actor
  loss and the rollout return differ in scale by orders of magnitude. ``physics_lr``
  against ``actor_lr`` is the mixing weight of the two updates; it decays linearly to 0
  over the run, so the physics step does the early learning and SAC's update the late.
* The entropy temperature is small and fixed (``init_alpha`` 0.01, ``alpha_lr`` 0): the
  task rewards near bang-bang actions, whose tanh-squashed entropy is far below SAC's
  usual target, and a tuned temperature grows until the policy collapses.
* ``normalize_obs``: the policy sits inside the rollout, so its Jacobian with respect to
  the observation multiplies the simulator's at every step; standardised observations
  (and a smaller ``physics_lr``) keep the product tame on the Ant and the gripper.

Short horizons keep the gradient informative (long contact-rich horizons make it
explode); ``physics_grad_clip`` bounds the step, and a non-finite loss or gradient is
skipped like any other.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch

import diffsim
from diffsim.rl.optim import apply_step, decay_learning_rate
from diffsim.rl.sac import SAC, SACConfig


@dataclass
class HybridConfig(SACConfig):
    init_alpha: float = 0.01  # a small, fixed entropy temperature (see the module's docstring)
    alpha_lr: float = 0.0
    horizon: int = 16  # control steps of each differentiable rollout
    physics_lr: float = 2e-3  # learning rate of the physics-gradient actor step (its own Adam),
    # decaying linearly to 0 over the run when the agent knows its length
    physics_batch: int = 64  # start states per physics update (from the replay sample)
    physics_every: int = 1  # SAC updates per physics update
    physics_grad_clip: float = 1.0  # max gradient norm of the physics update
    critic_state_gradient: bool = False  # chain the critic's slope in the last state back through the rollout


class Hybrid(SAC):
    """SAC whose actor also learns from short differentiable rollouts of ``env``'s task."""

    def __init__(
        self, env, config: HybridConfig = HybridConfig(), device="cpu", seed: int = 0, total_steps: int | None = None
    ):
        super().__init__(env.observation_size, env.action_size, config, device, seed)
        self.env = env
        self.physics_optimizer = torch.optim.Adam(self.actor.parameters(), lr=config.physics_lr, betas=(0.7, 0.95))
        self.total_steps = total_steps  # for the physics step's learning-rate decay; None keeps it constant
        self.sac_updates = 0

    def physics_loss(self, qpos: torch.Tensor, qvel: torch.Tensor) -> torch.Tensor:
        """Minus the return of an H-step differentiable rollout from (qpos, qvel) (B, nq), (B, nv),
        closed with the critic's value of the action taken at the (detached) last state."""
        env, config = self.env, self.config
        obs = env.observe(qpos, qvel)
        value = torch.zeros(qpos.shape[0], dtype=torch.float32, device=qpos.device)
        alive = torch.ones_like(value)
        discount = 1.0
        for _ in range(config.horizon):
            action, _, _ = self.actor(self.obs_norm(obs.float()))
            action_sim = action.to(env.dtype)
            qpos_next, qvel_next = diffsim.step(
                env.model, qpos, qvel, env.action_to_ctrl(action_sim), env.frame_skip, check_finite=False
            )
            reward, _ = env.reward(qpos, qvel, action_sim, qpos_next, qvel_next)
            value = value + discount * alive * reward.float()
            alive = alive * (~env.is_terminated(qpos_next, qvel_next)).float()
            discount *= config.gamma
            qpos, qvel = qpos_next, qvel_next
            obs = env.observe(qpos, qvel)
        # by default the critic's value, not its slope in the state (see the module's docstring)
        last_obs = self.obs_norm((obs if config.critic_state_gradient else obs.detach()).float())
        action, _, _ = self.actor(last_obs)
        q1, q2 = self.critic(last_obs, action)
        value = value + discount * alive * torch.min(q1, q2)
        return -value.mean()

    def update(self, batch: dict) -> dict:
        logs = super().update(batch)
        self.sac_updates += 1
        config = self.config
        if self.sac_updates % config.physics_every == 0:
            n = min(config.physics_batch, batch["qpos"].shape[0])
            qpos = batch["qpos"][:n].to(self.env.device, self.env.dtype)
            qvel = batch["qvel"][:n].to(self.env.device, self.env.dtype)
            # env_steps is kept by the training loop
            physics_lr = decay_learning_rate(
                self.physics_optimizer, config.physics_lr, self.env_steps, self.total_steps
            )
            self.critic.requires_grad_(False)
            loss = self.physics_loss(qpos, qvel)
            stepped = apply_step(self.physics_optimizer, loss, self.actor.parameters(), config.physics_grad_clip)
            self.critic.requires_grad_(True)
            self.skipped += int(not stepped)
            logs["losses/physics"] = float(loss.detach())
            logs["charts/physics_lr"] = physics_lr
            logs["losses/skipped"] = self.skipped
        return logs

    def state_dict(self) -> dict:
        state = super().state_dict()
        state["sac_updates"] = self.sac_updates
        state["physics_optimizer"] = copy.deepcopy(self.physics_optimizer.state_dict())
        return state

    def load_state_dict(self, state: dict):
        super().load_state_dict(state)
        self.sac_updates = state["sac_updates"]
        self.physics_optimizer.load_state_dict(state["physics_optimizer"])
