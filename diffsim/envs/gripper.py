"""Gripper: grasp a box from the floor with two fingers and lift it. Model ``assets/gripper.xml``.

==========  ==============================================================  ======
index       observation                                                     unit
==========  ==============================================================  ======
0           hand height above its start (lift joint)                        m
1, 2        left and right finger closing distance                          m
3 - 5       object position                                                 m
6 - 9       object orientation, quaternion (w, x, y, z)                     -
10 - 12     object position relative to the point between the fingertips    m
13          lift velocity                                                   m/s
14, 15      finger velocities                                               m/s
16 - 18     object linear velocity                                          m/s
19 - 21     object angular velocity (body frame)                            rad/s
==========  ==============================================================  ======

==========  ==========================================  ==========================
action      meaning                                     range
==========  ==========================================  ==========================
0           lift force (up positive)                    [-1, 1] -> [-30, 30] N
1, 2        left, right finger force (closing positive) [-1, 1] -> [-20, 20] N
==========  ==========================================  ==========================

==========  ==========================================================  ===============
reward      term                                                        per step
==========  ==========================================================  ===============
reach       0.5 exp(-50 d^2), d = fingertips' midpoint to object (m)     [0, 0.5]
lift        2 clamp((z_object - z_rest) / 0.2, 0, 1)                     [0, 2]
effort      -0.01 sum(action^2)                                          [-0.03, 0]
==========  ==========================================================  ===============

Terminates when the object leaves the table area (|x| or |y| > 0.5 m); truncated after
``max_episode_steps`` (default 200 control steps of 0.01 s). Physics: 2 ms steps, 5 per
control step. The object starts at rest with a random offset of up to 2 cm.
"""
from __future__ import annotations

import torch

import diffsim
from diffsim.envs.base import BatchedEnv

HAND_HEIGHT = 0.3      # hand body height at lift = 0 (m)
FINGER_DROP = 0.1      # fingertip centres below the hand (m)
OBJECT_REST_Z = 0.04   # object centre resting on the floor (m)
LIFT_TARGET = 0.2      # lift that earns the full reward (m)


class Gripper(BatchedEnv):
    observation_size = 22

    def __init__(self, num_envs: int = 1, device="cpu", dtype=torch.float32, frame_skip: int = 5,
                 max_episode_steps: int = 200, seed: int | None = None):
        model = diffsim.load_mjcf(diffsim.asset("gripper.xml"), dtype=dtype, device=device)
        super().__init__(model, num_envs, frame_skip, max_episode_steps, seed)

    def initial_state(self, count: int):
        qpos = self.model.qpos0.detach()[None].repeat(count, 1)
        qpos[:, 3:5] += self._random(count, 2, low=-0.02, high=0.02)
        qvel = torch.zeros(count, self.model.nv, dtype=self.dtype, device=self.device)
        return qpos, qvel

    @staticmethod
    def _grasp_point(qpos):
        """World position of the point midway between the fingertips."""
        z = HAND_HEIGHT + qpos[:, 0] - FINGER_DROP
        return torch.stack([torch.zeros_like(z), torch.zeros_like(z), z], dim=1)

    def observe(self, qpos, qvel):
        relative = qpos[:, 3:6] - self._grasp_point(qpos)
        return torch.cat([qpos[:, 0:3], qpos[:, 3:10], relative, qvel], dim=1)

    def reward(self, qpos, qvel, action, qpos_next, qvel_next):
        distance_sq = ((qpos_next[:, 3:6] - self._grasp_point(qpos_next)) ** 2).sum(dim=1)
        lifted = (qpos_next[:, 5] - OBJECT_REST_Z) / LIFT_TARGET
        terms = {
            "reward/reach": 0.5 * torch.exp(-50.0 * distance_sq),
            "reward/lift": 2.0 * lifted.clamp(0.0, 1.0),
            "reward/effort": -0.01 * (action ** 2).sum(dim=1),
        }
        return sum(terms.values()), terms

    def is_terminated(self, qpos, qvel):
        return (qpos[:, 3:5].abs() > 0.5).any(dim=1)
