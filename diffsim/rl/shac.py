"""SHAC (short-horizon actor-critic, Xu et al. 2022): analytic policy gradients only.

Each iteration runs every environment ``horizon`` control steps *through* the
differentiable simulator and takes one actor step on

    L = -1/(N H) sum_envs [ sum_{t<H} gamma^t r_t + gamma^H V(s_H) ]

so dL/dtheta flows through the physics, the reward and the critic's value at the end of
the window (or at a truncated episode's end; a terminated episode adds no value). The
critic V(s) is then fitted to TD(lambda) targets computed from the same, detached, window
with a slowly moving target critic. The environments carry on from where the window
ended; the graph is cut there (``env.detach()``), which is what keeps the gradient from
exploding over long contact-rich horizons.

There is no replay buffer and no Q function: every environment step is used once, for
its exact gradient. Observations are normalised with running statistics. Log keys are
namespaced like SAC's; a non-finite loss or gradient is skipped, never applied.
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from diffsim.rl.networks import RunningNorm, mlp
from diffsim.rl.optim import apply_step, decay_learning_rate


@dataclass
class SHACConfig:
    horizon: int = 32  # control steps of each differentiable window
    gamma: float = 0.99
    lam: float = 0.95  # TD(lambda) for the critic's targets
    actor_lr: float = 2e-3  # decays linearly to 0 over the run (total_steps)
    critic_lr: float = 2e-3
    actor_hidden: tuple = (128, 64, 32)
    critic_hidden: tuple = (64, 64)
    init_log_std: float = -1.0  # exploration noise of the policy (learned, state-independent)
    grad_clip: float = 1.0  # max gradient norm of the actor step
    critic_iterations: int = 16  # passes of critic regression per window
    critic_minibatches: int = 4
    target_tau: float = 0.2  # target critic smoothing per window
    betas: tuple = (0.7, 0.95)  # Adam betas (SHAC's)


class GaussianPolicy(nn.Module):
    """a = tanh(mu(s) + sigma * eps): a reparameterised sample, differentiable in theta."""

    def __init__(self, obs_size: int, action_size: int, hidden, init_log_std: float):
        super().__init__()
        self.mean = mlp([obs_size, *hidden, action_size])
        self.log_std = nn.Parameter(torch.full((action_size,), init_log_std))

    def forward(self, obs: torch.Tensor, deterministic: bool = False) -> torch.Tensor:
        mean = self.mean(obs)
        if deterministic:
            return torch.tanh(mean)
        return torch.tanh(mean + self.log_std.exp() * torch.randn_like(mean))


class SHAC:
    """The agent. ``act`` chooses actions; ``iterate(env)`` runs one differentiable window
    of ``env`` (a ``BatchedEnv``), takes the actor and critic steps, and returns
    (logs, rewards (H, N), done (H, N)) for the caller's bookkeeping."""

    on_policy = True

    def __init__(
        self,
        obs_size: int,
        action_size: int,
        config: SHACConfig = SHACConfig(),
        device="cpu",
        seed: int = 0,
        total_steps: int | None = None,
    ):
        torch.manual_seed(seed)
        self.config = config
        self.device = torch.device(device)
        self.obs_norm = RunningNorm(obs_size).to(self.device)
        self.actor = GaussianPolicy(obs_size, action_size, config.actor_hidden, config.init_log_std).to(self.device)
        self.critic = mlp([obs_size, *config.critic_hidden, 1]).to(self.device)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.actor_optimizer = torch.optim.Adam(self.actor.parameters(), lr=config.actor_lr, betas=config.betas)
        self.critic_optimizer = torch.optim.Adam(self.critic.parameters(), lr=config.critic_lr, betas=config.betas)
        self.total_steps = total_steps  # for the learning-rate decay; None keeps it constant
        self.env_steps = 0
        self.skipped = 0

    @torch.no_grad()
    def act(self, obs: torch.Tensor, deterministic: bool = False) -> torch.Tensor:
        """(B, action_size) actions in [-1, 1] for observations (B, obs_size)."""
        return self.actor(self.obs_norm(obs.to(self.device, torch.float32)), deterministic)

    def value(self, obs: torch.Tensor, target: bool = False) -> torch.Tensor:
        return (self.critic_target if target else self.critic)(self.obs_norm(obs)).squeeze(-1)

    def _decay_learning_rates(self):
        for optimizer, lr in (
            (self.actor_optimizer, self.config.actor_lr),
            (self.critic_optimizer, self.config.critic_lr),
        ):
            decay_learning_rate(optimizer, lr, self.env_steps, self.total_steps)

    def iterate(self, env, obs: torch.Tensor):
        """One window of ``horizon`` steps of ``env`` from observation ``obs`` (B, obs_size),
        then the updates. Returns (logs, next obs, rewards (H, N), terminated (H, N), truncated (H, N))."""
        config, H, N = self.config, self.config.horizon, env.num_envs
        self._decay_learning_rates()
        self.critic_target.requires_grad_(False)
        observations, rewards, terminated, truncated, next_values = [], [], [], [], []
        discount = torch.ones(N, device=self.device)
        returns = torch.zeros(N, device=self.device)  # discounted reward since the window (or episode) began
        loss = torch.zeros((), device=self.device)
        terms = {}
        for t in range(H):
            observations.append(obs.detach().float())
            action = self.actor(self.obs_norm(obs.float()))
            obs, reward, term, trunc, info = env.step(action)
            reward = reward.float()
            blew_up = info["blew_up"]
            for key, value in info.items():  # the env's reward terms, for the logs
                if key.startswith("reward/"):
                    terms[key] = terms.get(key, 0.0) + float(value.detach().float().mean()) / H
            returns = returns + discount * torch.where(blew_up, torch.zeros_like(reward), reward)
            # the value of where each env ended up: 0 if terminated, V(last obs) if truncated or still running
            final_value = self.value(info["final_obs"].float(), target=True)
            final_value = torch.where(term, torch.zeros_like(final_value), final_value)
            done = term | trunc
            ends = done | (t == H - 1)
            loss = (
                loss
                - (torch.where(ends, returns + config.gamma * discount * final_value, torch.zeros_like(returns))).sum()
            )
            # fresh episodes restart their discounting; their gradient path was cut by the reset
            returns = torch.where(done, torch.zeros_like(returns), returns)
            discount = torch.where(done, torch.ones_like(discount), discount * config.gamma)
            rewards.append(reward.detach())
            terminated.append(term)
            truncated.append(trunc)
            next_values.append(final_value.detach())
        loss = loss / (H * N)
        stepped = apply_step(self.actor_optimizer, loss, self.actor.parameters(), config.grad_clip)
        env.detach()
        obs = obs.detach()
        with torch.no_grad():
            self.actor.log_std.clamp_(-5.0, 1.0)

        observations = torch.stack(observations)
        self.obs_norm.update(observations)  # once per window, after the actor step that used the old statistics
        critic_loss = self._fit_critic(
            observations,
            torch.stack(rewards),
            torch.stack(terminated),
            torch.stack(truncated),
            torch.stack(next_values),
        )
        with torch.no_grad():
            for target, source in zip(self.critic_target.parameters(), self.critic.parameters()):
                target.lerp_(source, config.target_tau)
        self.env_steps += H * N
        self.skipped += int(not stepped)
        rewards = torch.stack(rewards)
        logs = {
            "losses/actor": float(loss.detach()),
            "losses/critic": critic_loss,
            "losses/skipped": self.skipped,
            "charts/policy_std": float(self.actor.log_std.detach().exp().mean()),
            "charts/window_reward": float(rewards.mean()),
            "charts/actor_lr": self.actor_optimizer.param_groups[0]["lr"],
            **terms,
        }
        return logs, obs, rewards, torch.stack(terminated), torch.stack(truncated)

    @torch.no_grad()
    def _td_lambda_targets(self, rewards, terminated, truncated, next_values):
        """TD(lambda) returns for each step of the window (H, N), bootstrapping with the
        target critic at the window's end and at truncations, with 0 after termination."""
        config = self.config
        H = rewards.shape[0]
        targets = torch.zeros_like(rewards)
        for t in reversed(range(H)):
            bootstrap = next_values[t]  # target V of the state reached (0 if terminated)
            if t < H - 1:  # mix in the lambda-return of the next step, within an episode
                done = terminated[t] | truncated[t]
                mixed = (1 - config.lam) * bootstrap + config.lam * targets[t + 1]
                bootstrap = torch.where(done, bootstrap, mixed)
            targets[t] = rewards[t] + config.gamma * bootstrap
        return targets

    def _fit_critic(self, observations, rewards, terminated, truncated, next_values) -> float:
        config = self.config
        targets = self._td_lambda_targets(rewards, terminated, truncated, next_values).flatten()
        observations = observations.flatten(0, 1)
        count = observations.shape[0]
        size = math.ceil(count / config.critic_minibatches)
        total = 0.0
        for _ in range(config.critic_iterations):
            order = torch.randperm(count, device=self.device)
            for start in range(0, count, size):
                index = order[start : start + size]
                loss = ((self.value(observations[index]) - targets[index]) ** 2).mean()
                apply_step(self.critic_optimizer, loss, self.critic.parameters(), config.grad_clip * 100)
                total += float(loss.detach())
        return total / (config.critic_iterations * math.ceil(count / size))

    def state_dict(self) -> dict:
        """An independent snapshot (deep copy), as SAC's."""
        return copy.deepcopy(
            {
                "config": asdict(self.config),
                "actor": self.actor.state_dict(),
                "critic": self.critic.state_dict(),
                "critic_target": self.critic_target.state_dict(),
                "obs_norm": self.obs_norm.state_dict(),
                "actor_optimizer": self.actor_optimizer.state_dict(),
                "critic_optimizer": self.critic_optimizer.state_dict(),
                "env_steps": self.env_steps,
                "skipped": self.skipped,
            }
        )

    def load_state_dict(self, state: dict):
        self.actor.load_state_dict(state["actor"])
        self.critic.load_state_dict(state["critic"])
        self.critic_target.load_state_dict(state["critic_target"])
        self.obs_norm.load_state_dict(state["obs_norm"])
        self.actor_optimizer.load_state_dict(state["actor_optimizer"])
        self.critic_optimizer.load_state_dict(state["critic_optimizer"])
        self.env_steps, self.skipped = state["env_steps"], state["skipped"]
