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
1           grip: both finger forces (closing positive) [-1, 1] -> [-20, 20] N
==========  ==========================================  ==========================

A parallel-jaw hand: one grip command drives both finger motors. ``coupled_fingers=False``
gives each finger its own action (3 actions: lift, left, right).

==========  ==============================================================  ======
reward      term                                                            per step
==========  ==============================================================  ======
reach       0.5 mean_f (1 - tanh(10 m_f)), m_f = finger f's miss (below)    [0, 0.5]
lift        2 min((z_object - z_rest) / 0.2, 1) held, where                 up to 2
            held = prod_f exp(-(m_f / 0.01)^2): only a gripped box counts
effort      -w sum(action^2), w = effort_weight (0.01 by default)           [-2 w, 0]
==========  ==============================================================  ======

A finger's miss ``m_f`` (m) is its gap to its side of the box (zero while it presses in
by up to 1.5 cm: a squeeze sinks about 1 cm into the default contact), combined with the
box centre's x and z offsets from between the fingertips beyond 2 cm. A box tipped onto
its corner, or nudged by a finger short of it, earns no lift. Lift is not clamped at
zero from below, so a box pressed into the floor still has a lift gradient.

Terminates when the object leaves the table area (|x| or |y| > 0.5 m); truncated after
``max_episode_steps`` (default 200 control steps of 0.01 s). Physics: 2 ms steps, 5 per
control step. The object starts at rest with a random offset of up to 2 cm.
"""

from __future__ import annotations

import torch

import diffsim
from diffsim.envs.base import BatchedEnv

HAND_HEIGHT = 0.3  # hand body height at lift = 0 (m)
FINGER_DROP = 0.1  # fingertip centres below the hand (m)
OBJECT_REST_Z = 0.04  # object centre resting on the floor (m)
LIFT_TARGET = 0.2  # lift that earns the full reward (m)
FINGER_OPEN_Y = 0.1  # |y| of an open finger (m)
GRASP_Y = 0.055  # |y| of a finger's centre touching the box: half its width plus the capsule radius (m)
SQUEEZE_DEPTH = 0.015  # how far a finger may press into the box and still count as touching it (m)
CENTRE_SLACK = 0.02  # x and z offsets of the box centre from between the fingertips that still grip it (m)
HOLD_TOLERANCE = 0.01  # a finger this far (m) from gripping holds with weight exp(-1)


class Gripper(BatchedEnv):
    observation_size = 22

    def __init__(
        self,
        num_envs: int = 1,
        device="cpu",
        dtype=torch.float32,
        frame_skip: int = 5,
        max_episode_steps: int = 200,
        seed: int | None = None,
        coupled_fingers: bool = True,
        effort_weight: float = 0.01,
    ):
        if effort_weight < 0:
            raise ValueError(f"effort_weight is a cost per squared action and must be >= 0, got {effort_weight}")
        model = diffsim.load_mjcf(diffsim.asset("gripper.xml"), dtype=dtype, device=device, contact_model="smooth")
        super().__init__(model, num_envs, frame_skip, max_episode_steps, seed)
        self.coupled_fingers = coupled_fingers
        self.effort_weight = effort_weight
        if coupled_fingers:
            self.action_size = 2

    def action_to_ctrl(self, action):
        if self.coupled_fingers:  # one grip command drives both finger motors, as in a parallel-jaw hand
            action = action[:, [0, 1, 1]]
        return super().action_to_ctrl(action)

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
    def _box_from_grasp_point(cls, qpos):
        """(B, 3) the box centre relative to the point midway between the fingertips (m)."""
        return qpos[:, 3:6] - cls._grasp_point(qpos)

    @classmethod
    def _finger_misses(cls, qpos):
        """(B, 2) how far the left and right fingers are from gripping the box, in metres:
        each finger's gap to its side of the box (a finger pressed into the box by up to
        ``SQUEEZE_DEPTH`` counts as touching, since a squeeze of the default contact sinks
        in about 1 cm), and the box centre's offset from between the fingertips in x and z
        beyond ``CENTRE_SLACK``. Measuring each finger, not their midpoint, makes a hand that
        closes before it is around the box score less than one that comes down open."""
        centre = cls._box_from_grasp_point(qpos)
        finger_y = FINGER_OPEN_Y - qpos[:, 1:3]  # |y| of the left (+y) and right (-y) finger
        # gap > 0: the finger is outside the box's side; < 0: pressed into it
        gap = torch.stack([finger_y[:, 0] - centre[:, 1], finger_y[:, 1] + centre[:, 1]], dim=1) - GRASP_Y
        side = torch.relu(gap) + torch.relu(-gap - SQUEEZE_DEPTH)
        offset_sq = (torch.relu(centre[:, [0, 2]].abs() - CENTRE_SLACK) ** 2).sum(dim=1, keepdim=True)
        return torch.sqrt(side**2 + offset_sq + 1e-12)

    def observe(self, qpos, qvel):
        return torch.cat([qpos[:, 0:10], self._box_from_grasp_point(qpos), qvel], dim=1)

    def reward(self, qpos, qvel, action, qpos_next, qvel_next):
        lifted = (qpos_next[:, 5] - OBJECT_REST_Z) / LIFT_TARGET
        misses = self._finger_misses(qpos_next)
        # only a box gripped by both fingers earns lift: not one tipped onto its corner (its
        # centre rises 3 cm), nor one pushed by a finger short of it through the contact's smoothing
        held = torch.exp(-((misses / HOLD_TOLERANCE) ** 2)).prod(dim=1)
        terms = {
            "reward/reach": 0.5 * (1.0 - torch.tanh(10.0 * misses)).mean(dim=1),
            "reward/lift": 2.0 * lifted.clamp(max=1.0) * held,
            "reward/effort": -self.effort_weight * (action**2).sum(dim=1),
        }
        return sum(terms.values()), terms

    def is_terminated(self, qpos, qvel):
        return (qpos[:, 3:5].abs() > 0.5).any(dim=1)
