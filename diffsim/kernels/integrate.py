"""Semi-implicit Euler: MuJoCo's ``Euler`` integrator.

``qvel' = qvel + dt * qacc`` first, then positions advance with the new velocity:
hinge and slide add ``dt * qvel'``; ball and free joints rotate their quaternion by the
body-frame angular velocity (free joints also translate by the world-frame linear one).
"""

from typing import Any

import warp as wp

from diffsim.kernels.spatial import quat_integrate
from diffsim.spec import JOINT_BALL, JOINT_FREE


@wp.kernel
def integrate(
    jnt_type: wp.array(dtype=int),
    jnt_qposadr: wp.array(dtype=int),
    jnt_dofadr: wp.array(dtype=int),
    dt: wp.array(dtype=Any),
    qpos: wp.array2d(dtype=Any),
    qvel: wp.array2d(dtype=Any),
    qacc: wp.array2d(dtype=Any),
    # outputs
    qpos_next: wp.array2d(dtype=Any),
    qvel_next: wp.array2d(dtype=Any),
):
    """Launch over (env, joint): the joint's velocities, then its position with them."""
    e, j = wp.tid()
    h = dt[0]
    a = jnt_qposadr[j]
    d = jnt_dofadr[j]
    jtype = jnt_type[j]
    count = 1
    if jtype == JOINT_FREE:
        count = 6
    elif jtype == JOINT_BALL:
        count = 3
    for i in range(count):
        qvel_next[e, d + i] = qvel[e, d + i] + h * qacc[e, d + i]
    if jtype == JOINT_FREE or jtype == JOINT_BALL:
        if jtype == JOINT_FREE:
            for i in range(3):
                qpos_next[e, a + i] = qpos[e, a + i] + h * qvel_next[e, d + i]
            a = a + 3
            d = d + 3
        q = wp.normalize(wp.quaternion(qpos[e, a + 1], qpos[e, a + 2], qpos[e, a + 3], qpos[e, a]))
        w = wp.vector(qvel_next[e, d], qvel_next[e, d + 1], qvel_next[e, d + 2])
        q = quat_integrate(q, w, h)
        qpos_next[e, a] = q[3]
        qpos_next[e, a + 1] = q[0]
        qpos_next[e, a + 2] = q[1]
        qpos_next[e, a + 3] = q[2]
    else:
        qpos_next[e, a] = qpos[e, a] + h * qvel_next[e, d]
