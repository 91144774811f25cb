"""Ant: a four-legged walker learns to run forward (+x). Model ``assets/ant.xml``.

==========  ========================================================  =========
index       observation                                               unit
==========  ========================================================  =========
0           torso height z                                            m
1 - 4       torso orientation, quaternion (w, x, y, z)                -
5 - 12      hip and knee angles, legs 1 to 4                          rad
13 - 15     torso linear velocity (world frame)                       m/s
16 - 18     torso angular velocity (body frame)                       rad/s
19 - 26     hip and knee angular velocities                           rad/s
==========  ========================================================  =========

The torso's x and y are left out, so that a policy cannot depend on where it is.

==========  ==============================================  ==================
action      meaning                                         range
==========  ==============================================  ==================
0 - 7       torque of hip_1, knee_1, ..., knee_4 motors     [-1, 1] -> x gear 80 N m
==========  ==============================================  ==================

============  =================================================  =====================
reward        term                                               per control step
============  =================================================  =====================
forward       x displacement of the torso / control_dt           m/s, unbounded
healthy       1 while the torso height is in ``healthy_z``       0 or 1
upright       0.25 * z component of the torso's up axis          [-0.25, 0.25]
control       -0.05 * sum(action^2)  (``control_cost``)          [-0.4, 0]
============  =================================================  =====================

The upright term is smooth, so that gradient-based agents (SHAC, hybrid) feel a fall
coming before the 0/1 healthy bonus drops. Standing still earns about 1.25 per step.

Terminates when the torso leaves ``healthy_z`` = (0.2, 1.0) m (it has fallen or
flown); truncated after ``max_episode_steps`` (default 1000 control steps of 0.05 s).
Physics: 5 ms steps, 10 per control step (``frame_skip``).
"""
from __future__ import annotations

import torch

import diffsim
from diffsim.envs.base import BatchedEnv


class Ant(BatchedEnv):
    observation_size = 27
    healthy_z = (0.2, 1.0)
    control_cost = 0.05      # per unit action^2; Gym's 0.5 outweighs the forward reward of a walk this slow

    def __init__(self, num_envs: int = 1, device="cpu", dtype=torch.float32, frame_skip: int = 10,
                 max_episode_steps: int = 1000, seed: int | None = None):
        model = diffsim.load_mjcf(diffsim.asset("ant.xml"), dtype=dtype, device=device)
        super().__init__(model, num_envs, frame_skip, max_episode_steps, seed)

    def initial_state(self, count: int):
        qpos = self.model.qpos0.detach()[None].repeat(count, 1)
        qpos[:, 7:] += self._random(count, self.model.nq - 7, low=-0.1, high=0.1)
        qvel = 0.1 * self._random(count, self.model.nv)
        return qpos, qvel

    def observe(self, qpos, qvel):
        return torch.cat([qpos[:, 2:], qvel], dim=1)

    def healthy(self, qpos):
        z = qpos[:, 2]
        return (z > self.healthy_z[0]) & (z < self.healthy_z[1])

    @staticmethod
    def up_z(qpos):
        """(B,) z component of the torso's up axis: 1 upright, 0 on its side, -1 upside down."""
        qx, qy = qpos[:, 4], qpos[:, 5]
        return 1 - 2 * (qx ** 2 + qy ** 2)

    def reward(self, qpos, qvel, action, qpos_next, qvel_next):
        terms = {
            "reward/forward": (qpos_next[:, 0] - qpos[:, 0]) / self.control_dt,
            "reward/healthy": self.healthy(qpos_next).to(qpos_next.dtype),
            "reward/upright": 0.25 * self.up_z(qpos_next),
            "reward/control": -self.control_cost * (action ** 2).sum(dim=1),
        }
        return sum(terms.values()), terms

    def is_terminated(self, qpos, qvel):
        return ~self.healthy(qpos)
