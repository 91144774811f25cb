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
healthy       1 while healthy (see termination below)            0 or 1
upright       0.25 * z component of the torso's up axis          [-0.25, 0.25]
control       -0.05 * sum(action^2)  (``control_cost``)          [-0.4, 0]
============  =================================================  =====================

The upright term is smooth, so that gradient-based agents (SHAC, hybrid) feel a fall
coming before the 0/1 healthy bonus drops. Standing still earns about 1.25 per step.

Episodes start at ``qpos0`` with hip and knee angles perturbed by up to 0.1 rad and
velocities by up to 0.1; the torso is lifted just enough that no shin starts inside the
floor (a bent knee would otherwise start 3 cm deep, and the contact throw the torso out
of the healthy band before the policy acts).

Terminates when the torso leaves ``healthy_z`` = (0.3, 1.0) m (its 0.25 m sphere
is on the ground, or it has flown) or tilts more than 60 degrees (``min_up_z`` = 0.5):
without the tilt rule, gradient-trained policies found that rolling onto the torso's
side and scooting was faster than walking. Truncated after ``max_episode_steps``
(default 1000 control steps of 0.05 s).
Physics: 5 ms steps, 10 per control step (``frame_skip``).
"""

from __future__ import annotations

import numpy as np
import torch

import diffsim
from diffsim.envs.base import BatchedEnv
from diffsim.spec import GEOM_CAPSULE, JOINT_HINGE


class Ant(BatchedEnv):
    observation_size = 27
    healthy_z = (0.3, 1.0)  # m, torso height
    min_up_z = 0.5  # cos of the largest torso tilt (60 degrees)
    control_cost = 0.05  # per unit action^2; Gym's 0.5 outweighs the forward reward of a walk this slow

    def __init__(
        self,
        num_envs: int = 1,
        device="cpu",
        dtype=torch.float32,
        frame_skip: int = 10,
        max_episode_steps: int = 1000,
        seed: int | None = None,
    ):
        model = diffsim.load_mjcf(diffsim.asset("ant.xml"), dtype=dtype, device=device, contact_model="smooth")
        super().__init__(model, num_envs, frame_skip, max_episode_steps, seed)
        self._shins = self._shin_geometry()

    def _shin_geometry(self):
        """For each knee: its qpos address, and, in the world frame at ``qpos0``, the knee
        axis, the knee anchor, the shin capsule's two end points and its radius. The
        torso starts upright and the hips turn about the vertical, so only the knee
        angles move a shin up or down."""
        from diffsim.poses import body_poses  # numpy forward kinematics (MuJoCo's xpos/xmat)

        spec = self.model.spec
        xpos, xmat = body_poses(spec, spec.qpos0)
        rows = []
        for j, name in enumerate(spec.jnt_name):
            body = int(spec.jnt_body[j])
            shins = [g for g in range(spec.ngeom) if spec.geom_body[g] == body and spec.geom_type[g] == GEOM_CAPSULE]
            if not name.startswith("knee") or spec.jnt_type[j] != JOINT_HINGE or len(shins) != 1:
                continue
            g = shins[0]
            w, x, y, z = spec.geom_quat[g]
            geom_axis = np.array([2 * (x * z + w * y), 2 * (y * z - w * x), 1 - 2 * (x * x + y * y)])
            ends = [spec.geom_pos[g] + sign * spec.geom_size[g, 1] * geom_axis for sign in (1, -1)]
            world = lambda v: xpos[body] + xmat[body] @ v  # noqa: E731
            rows.append(
                [
                    spec.jnt_qposadr[j],
                    *(xmat[body] @ spec.jnt_axis[j]),
                    *world(spec.jnt_pos[j]),
                    *world(ends[0]),
                    *world(ends[1]),
                    spec.geom_size[g, 0],
                ]
            )
        return torch.tensor(np.array(rows, dtype=np.float64))

    def shin_clearance(self, qpos):
        """(B,) height of the lowest shin surface above the floor (z = 0), m, for states
        whose torso is upright (as initial states are)."""
        shins = self._shins.to(qpos.device)
        angle = qpos[:, shins[:, 0].long()].double() - self.model.qpos0.detach()[shins[:, 0].long()].double()
        axis, anchor, radius = shins[:, 1:4], shins[:, 4:7], shins[:, 13]
        lowest = []
        for ends in (shins[:, 7:10], shins[:, 10:13]):
            v = ends - anchor  # rotate about the knee axis (Rodrigues)
            cos, sin = angle.cos()[..., None], angle.sin()[..., None]
            turned = v * cos + torch.linalg.cross(axis, v) * sin + axis * (axis * v).sum(-1, keepdim=True) * (1 - cos)
            lowest.append(anchor[:, 2] + turned[..., 2] - radius)
        height = qpos[:, 2:3].double() - self.model.qpos0.detach()[2].double()
        return (torch.minimum(*lowest) + height).min(dim=1).values.to(qpos.dtype)

    def initial_state(self, count: int):
        qpos = self.model.qpos0.detach()[None].repeat(count, 1)
        qpos[:, 7:] += self._random(count, self.model.nq - 7, low=-0.1, high=0.1)
        qpos[:, 2] -= self.shin_clearance(qpos).clamp(max=0.0)  # lift the torso out of the floor
        qvel = 0.1 * self._random(count, self.model.nv)
        return qpos, qvel

    def observe(self, qpos, qvel):
        return torch.cat([qpos[:, 2:], qvel], dim=1)

    def healthy(self, qpos):
        z = qpos[:, 2]
        return (z > self.healthy_z[0]) & (z < self.healthy_z[1]) & (self.up_z(qpos) > self.min_up_z)

    @staticmethod
    def up_z(qpos):
        """(B,) z component of the torso's up axis: 1 upright, 0 on its side, -1 upside down."""
        qx, qy = qpos[:, 4], qpos[:, 5]
        return 1 - 2 * (qx**2 + qy**2)

    def reward(self, qpos, qvel, action, qpos_next, qvel_next):
        terms = {
            "reward/forward": (qpos_next[:, 0] - qpos[:, 0]) / self.control_dt,
            "reward/healthy": self.healthy(qpos_next).to(qpos_next.dtype),
            "reward/upright": 0.25 * self.up_z(qpos_next),
            "reward/control": -self.control_cost * (action**2).sum(dim=1),
        }
        return sum(terms.values()), terms

    def is_terminated(self, qpos, qvel):
        return ~self.healthy(qpos)
