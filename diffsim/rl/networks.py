"""Networks for the agents: an MLP, an observation normaliser, a tanh-squashed Gaussian actor
and twin Q critics."""

from __future__ import annotations

import math

import torch
from torch import nn

from diffsim.rl import distributed


def mlp(sizes, activation=nn.ELU, out_activation=None) -> nn.Sequential:
    """Fully connected layers ``sizes[0] -> ... -> sizes[-1]``."""
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(activation())
        elif out_activation is not None:
            layers.append(out_activation())
    return nn.Sequential(*layers)


class RunningNorm(nn.Module):
    """Observation normaliser with running mean and variance (Chan's parallel update).

    Rows with a NaN or inf never enter the statistics (one would poison them for good):
    they are skipped and counted in ``skipped``.
    """

    def __init__(self, size: int, clip: float = 10.0):
        super().__init__()
        self.register_buffer("mean", torch.zeros(size))
        self.register_buffer("var", torch.ones(size))
        self.register_buffer("count", torch.tensor(1e-4))
        self.clip = clip
        self.skipped = 0  # observations left out of the statistics because they were not finite

    @torch.no_grad()
    def update(self, x: torch.Tensor):
        x = x.reshape(-1, x.shape[-1]).float()
        finite = torch.isfinite(x).all(dim=1)
        if not bool(finite.all()):
            self.skipped += int((~finite).sum())
            x = x[finite]
        count = x.shape[0]
        if distributed.world_size() > 1:
            # every rank's batch together, so that the statistics stay identical on all ranks
            x64 = x.double()
            sums = distributed.all_sum(torch.cat([x64.new_tensor([count]), x64.sum(0), (x64 * x64).sum(0)]))
            count = int(sums[0])
            if count == 0:
                return
            mean = (sums[1 : 1 + x.shape[1]] / count).float()
            var = (sums[1 + x.shape[1] :] / count - (sums[1 : 1 + x.shape[1]] / count) ** 2).clamp_min(0).float()
        elif count == 0:
            return
        else:
            mean, var = x.mean(0), x.var(0, unbiased=False)
        delta, total = mean - self.mean, self.count + count
        self.mean += delta * count / total
        self.var.copy_((self.var * self.count + var * count + delta**2 * self.count * count / total) / total)
        self.count.fill_(total)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ((x - self.mean) / (self.var + 1e-5).sqrt()).clamp(-self.clip, self.clip)


class Actor(nn.Module):
    """pi(a | s): a Gaussian squashed by tanh into [-1, 1]^action_size (SAC's policy).

    ``forward(obs)`` returns (action (B, A), log_prob (B,), mean_action (B, A)); the
    action is a reparameterised sample, so it is differentiable with respect to the
    network's parameters, which is what both SAC and the physics-gradient update need.
    """

    LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0

    def __init__(self, obs_size: int, action_size: int, hidden=(256, 256)):
        super().__init__()
        self.trunk = mlp([obs_size, *hidden], out_activation=nn.ELU)
        self.mean = nn.Linear(hidden[-1], action_size)
        self.log_std = nn.Linear(hidden[-1], action_size)

    def forward(self, obs: torch.Tensor):
        h = self.trunk(obs)
        mean = self.mean(h)
        log_std = self.LOG_STD_MIN + 0.5 * (self.LOG_STD_MAX - self.LOG_STD_MIN) * (torch.tanh(self.log_std(h)) + 1)
        std = log_std.exp()
        noise = torch.randn_like(mean)
        pre_tanh = mean + std * noise
        action = torch.tanh(pre_tanh)
        # log N(pre_tanh; mean, std) minus the log-determinant of tanh (written stably)
        log_prob = (-0.5 * noise**2 - log_std - 0.5 * math.log(2 * math.pi)).sum(dim=1)
        log_prob = log_prob - (2 * (math.log(2) - pre_tanh - nn.functional.softplus(-2 * pre_tanh))).sum(dim=1)
        return action, log_prob, torch.tanh(mean)


class TwinQ(nn.Module):
    """Two independent Q(s, a) estimates; ``forward`` returns both, shape (B,) each."""

    def __init__(self, obs_size: int, action_size: int, hidden=(256, 256)):
        super().__init__()
        self.q1 = mlp([obs_size + action_size, *hidden, 1])
        self.q2 = mlp([obs_size + action_size, *hidden, 1])

    def forward(self, obs: torch.Tensor, action: torch.Tensor):
        x = torch.cat([obs, action], dim=1)
        return self.q1(x).squeeze(1), self.q2(x).squeeze(1)
