"""CartpoleSwingUp: swing a hanging pole up and balance it, by pushing the cart.

Cheap enough for fast tests and CPU benchmarks; model ``assets/cartpole.xml``.

=========  ====================================  ======
index      observation                           unit
=========  ====================================  ======
0          cart position x                       m
1, 2       cos(theta), sin(theta) of the pole    -
3          cart velocity                         m/s
4          pole angular velocity                 rad/s
=========  ====================================  ======

theta = 0 is upright; episodes start hanging down (theta near pi).

=========  ===========================================  ========================
action     meaning                                      range
=========  ===========================================  ========================
0          force on the cart, times the motor's gear    [-1, 1] -> [-10, 10] N
=========  ===========================================  ========================

==========  ==============================  =============================
reward      term                            range per step
==========  ==============================  =============================
upright     (1 + cos(theta)) / 2            [0, 1]
centre      -0.05 x^2                       [-0.16, 0] (rail: |x| < 1.8)
effort      -0.01 action^2                  [-0.01, 0]
spin        -0.001 theta_dot^2              <= 0
==========  ==============================  =============================

No termination; episodes are truncated after ``max_episode_steps`` (default 250
control steps of 0.02 s: 5 s). Physics: 0.01 s steps, 2 per control step.
"""

from __future__ import annotations

import math

import torch

import diffsim
from diffsim.envs.base import BatchedEnv


class CartpoleSwingUp(BatchedEnv):
    observation_size = 5

    def __init__(
        self,
        num_envs: int = 1,
        device="cpu",
        dtype=torch.float32,
        frame_skip: int = 2,
        max_episode_steps: int = 250,
        seed: int | None = None,
    ):
        model = diffsim.load_mjcf(diffsim.asset("cartpole.xml"), dtype=dtype, device=device, contact_model="smooth")
        super().__init__(model, num_envs, frame_skip, max_episode_steps, seed)

    def initial_state(self, count: int):
        qpos = torch.stack(
            [self._random(count, low=-0.1, high=0.1), math.pi + self._random(count, low=-0.1, high=0.1)], dim=1
        )
        qvel = self._random(count, 2, low=-0.05, high=0.05)
        return qpos, qvel

    def observe(self, qpos, qvel):
        x, theta = qpos[:, 0], qpos[:, 1]
        return torch.stack([x, torch.cos(theta), torch.sin(theta), qvel[:, 0], qvel[:, 1]], dim=1)

    def reward(self, qpos, qvel, action, qpos_next, qvel_next):
        terms = {
            "reward/upright": (1 + torch.cos(qpos_next[:, 1])) / 2,
            "reward/centre": -0.05 * qpos_next[:, 0] ** 2,
            "reward/effort": -0.01 * (action**2).sum(dim=1),
            "reward/spin": -0.001 * qvel_next[:, 1] ** 2,
        }
        return sum(terms.values()), terms
