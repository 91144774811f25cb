"""Soft Actor-Critic: twin Q critics with target networks and automatic entropy tuning.

Reads top to bottom: hyperparameters (``SACConfig``), the networks, then one
``update`` = critic step, actor step, temperature step, target update. With
``normalize_obs``, actor and critic see observations standardised by running statistics
of the replay samples (``RunningNorm``, updated at the start of every update). Log keys are
namespaced (``losses/...``, ``charts/...``). A loss or gradient that is not finite is
never applied: the step is skipped and counted in ``losses/skipped``.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

import torch
from torch import nn

from diffsim.rl.optim import apply_step
from diffsim.rl.networks import Actor, RunningNorm, TwinQ


@dataclass
class SACConfig:
    gamma: float = 0.99  # discount per control step
    tau: float = 0.005  # target network smoothing
    actor_lr: float = 3e-4
    critic_lr: float = 3e-4
    alpha_lr: float = 3e-4
    init_alpha: float = 0.2  # initial entropy temperature
    target_entropy: float | None = None  # default: -action_size
    batch_size: int = 256
    hidden: tuple = (256, 256)
    grad_clip: float = 10.0  # max gradient norm of every update
    normalize_obs: bool = False  # standardise observations with running statistics (as SHAC does)


class SAC:
    """The agent. ``act`` chooses actions; ``update(batch)`` learns from a replay sample
    (a dict with obs, action, reward, next_obs, terminated)."""

    def __init__(self, obs_size: int, action_size: int, config: SACConfig = SACConfig(), device="cpu", seed: int = 0):
        torch.manual_seed(seed)
        self.config = config
        self.device = torch.device(device)
        self.actor = Actor(obs_size, action_size, config.hidden).to(self.device)
        self.critic = TwinQ(obs_size, action_size, config.hidden).to(self.device)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.log_alpha = torch.tensor(
            float(torch.tensor(config.init_alpha).log()), device=self.device, requires_grad=True
        )
        self.target_entropy = -float(action_size) if config.target_entropy is None else config.target_entropy
        self.actor_optimizer = torch.optim.Adam(self.actor.parameters(), lr=config.actor_lr)
        self.critic_optimizer = torch.optim.Adam(self.critic.parameters(), lr=config.critic_lr)
        self.alpha_optimizer = torch.optim.Adam([self.log_alpha], lr=config.alpha_lr)
        self.obs_norm = (RunningNorm(obs_size) if config.normalize_obs else nn.Identity()).to(self.device)
        self.skipped = 0
        self.env_steps = 0  # environment steps so far, kept up to date by the training loop

    @property
    def alpha(self) -> torch.Tensor:
        return self.log_alpha.exp().detach()

    @torch.no_grad()
    def act(self, obs: torch.Tensor, deterministic: bool = False) -> torch.Tensor:
        """(B, action_size) actions in [-1, 1] for float32 observations (B, obs_size)."""
        action, _, mean = self.actor(self.obs_norm(obs.to(self.device, torch.float32)))
        return mean if deterministic else action

    def critic_loss(self, batch: dict) -> torch.Tensor:
        with torch.no_grad():
            next_action, next_log_prob, _ = self.actor(batch["next_obs"])
            q1_next, q2_next = self.critic_target(batch["next_obs"], next_action)
            soft_value = torch.min(q1_next, q2_next) - self.alpha * next_log_prob
            target = batch["reward"] + self.config.gamma * (~batch["terminated"]).float() * soft_value
        q1, q2 = self.critic(batch["obs"], batch["action"])
        return ((q1 - target) ** 2).mean() + ((q2 - target) ** 2).mean()

    def actor_loss(self, obs: torch.Tensor):
        action, log_prob, _ = self.actor(obs)
        q1, q2 = self.critic(obs, action)
        return (self.alpha * log_prob - torch.min(q1, q2)).mean(), log_prob

    def update(self, batch: dict) -> dict:
        """One SAC update; returns the logged values."""
        batch = {k: v.to(self.device) for k, v in batch.items()}
        for key in ("obs", "action", "reward", "next_obs"):
            batch[key] = batch[key].float()
        if self.config.normalize_obs:
            self.obs_norm.update(batch["obs"])
        batch["obs"], batch["next_obs"] = self.obs_norm(batch["obs"]), self.obs_norm(batch["next_obs"])
        clip = self.config.grad_clip

        critic_loss = self.critic_loss(batch)
        stepped = apply_step(self.critic_optimizer, critic_loss, self.critic.parameters(), clip)

        self.critic.requires_grad_(False)  # the actor step must not move the critic
        actor_loss, log_prob = self.actor_loss(batch["obs"])
        stepped &= apply_step(self.actor_optimizer, actor_loss, self.actor.parameters(), clip)
        self.critic.requires_grad_(True)

        alpha_loss = -(self.log_alpha * (log_prob.detach() + self.target_entropy)).mean()
        stepped &= apply_step(self.alpha_optimizer, alpha_loss, [self.log_alpha], clip)

        with torch.no_grad():
            for target, source in zip(self.critic_target.parameters(), self.critic.parameters()):
                target.lerp_(source, self.config.tau)
        self.skipped += int(not stepped)
        return {
            "losses/critic": float(critic_loss.detach()),
            "losses/actor": float(actor_loss.detach()),
            "losses/alpha": float(alpha_loss.detach()),
            "charts/alpha": float(self.alpha),
            "charts/entropy": float(-log_prob.detach().mean()),
            "losses/skipped": self.skipped,
        }

    def state_dict(self) -> dict:
        """An independent snapshot (deep copy): loading it never shares tensors with this agent
        (torch's optimiser ``load_state_dict`` would otherwise reuse the moment tensors)."""
        return copy.deepcopy(
            {
                "config": asdict(self.config),
                "actor": self.actor.state_dict(),
                "critic": self.critic.state_dict(),
                "critic_target": self.critic_target.state_dict(),
                "log_alpha": self.log_alpha.detach().clone(),
                "obs_norm": self.obs_norm.state_dict(),
                "actor_optimizer": self.actor_optimizer.state_dict(),
                "critic_optimizer": self.critic_optimizer.state_dict(),
                "alpha_optimizer": self.alpha_optimizer.state_dict(),
                "skipped": self.skipped,
            }
        )

    def load_state_dict(self, state: dict):
        self.actor.load_state_dict(state["actor"])
        self.critic.load_state_dict(state["critic"])
        self.critic_target.load_state_dict(state["critic_target"])
        self.obs_norm.load_state_dict(state.get("obs_norm", {}))  # absent from checkpoints older than the option
        with torch.no_grad():
            self.log_alpha.copy_(state["log_alpha"])
        self.actor_optimizer.load_state_dict(state["actor_optimizer"])
        self.critic_optimizer.load_state_dict(state["critic_optimizer"])
        self.alpha_optimizer.load_state_dict(state["alpha_optimizer"])
        self.skipped = state["skipped"]
