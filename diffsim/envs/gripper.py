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
reach       0.5 mean_f exp(-50 d_f^2), d_f = finger f's centre to its    [0, 0.5]
            grasp point on the object's side (m)
lift        2 clamp((z_object - z_rest) / 0.2, 0, 1) held, where         [0, 2]
            held = exp(-200 max_f d_f^2): only a box in the fingers counts
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
FINGER_OPEN_Y = 0.1    # |y| of an open finger (m)
GRASP_Y = 0.055        # |y| of a finger's centre touching the box: half its width plus the capsule radius (m)


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

    @classmethod
    def _finger_distances_sq(cls, qpos):
        """(B, 2) squared distances of the left and right fingers' centres to where they grasp
        the box: its centre, moved out to its two sides along y. Measuring each finger, not
        their midpoint, makes a hand that closes before it is around the box score less
        than one that comes down open."""
        # the fingers and their targets differ from the grasp point and the object's centre only in y
        centre = qpos[:, 3:6] - cls._grasp_point(qpos)
        finger_y = torch.stack([FINGER_OPEN_Y - qpos[:, 1], -(FINGER_OPEN_Y - qpos[:, 2])], dim=1)
        target_y = centre[:, 1:2] + torch.tensor([GRASP_Y, -GRASP_Y], dtype=qpos.dtype, device=qpos.device)
        return (target_y - finger_y) ** 2 + (centre[:, 0] ** 2 + centre[:, 2] ** 2)[:, None]

    def observe(self, qpos, qvel):
        relative = qpos[:, 3:6] - self._grasp_point(qpos)
        return torch.cat([qpos[:, 0:3], qpos[:, 3:10], relative, qvel], dim=1)

    def reward(self, qpos, qvel, action, qpos_next, qvel_next):
        lifted = (qpos_next[:, 5] - OBJECT_REST_Z) / LIFT_TARGET
        fingers_sq = self._finger_distances_sq(qpos_next)
        # a box tipped onto its corner raises its centre by 3 cm: only a held box earns lift
        held = torch.exp(-200.0 * fingers_sq.max(dim=1).values)
        terms = {
            "reward/reach": 0.5 * torch.exp(-50.0 * fingers_sq).mean(dim=1),
            "reward/lift": 2.0 * lifted.clamp(0.0, 1.0) * held,
            "reward/effort": -0.01 * (action ** 2).sum(dim=1),
        }
        return sum(terms.values()), terms

    def is_terminated(self, qpos, qvel):
        return (qpos[:, 3:5].abs() > 0.5).any(dim=1)
