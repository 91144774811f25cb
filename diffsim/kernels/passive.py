"""Passive forces of fixed tendons: springs with a dead band and dampers (MuJoCo's ``mj_passive``).

A fixed tendon's length is linear in the joint positions, ``L = sum_w prm_w q_w``; its
spring pulls it back into ``[lengthspring[0], lengthspring[1]]`` with stiffness ``k``, its
damper resists ``dL/dt``. The tendon force reaches the dofs through the same
coefficients; ``dynamics.smooth_forces`` adds it there.
"""

from typing import Any

import warp as wp

from diffsim.kernels.actuation import tendon_length


@wp.func
def tendon_velocity(
    e: int,
    t: int,
    tendon_adr: wp.array(dtype=int),
    tendon_num: wp.array(dtype=int),
    wrap_objid: wp.array(dtype=int),
    wrap_prm: wp.array(dtype=Any),
    jnt_dofadr: wp.array(dtype=int),
    qvel: wp.array2d(dtype=Any),
):
    total = wrap_prm.dtype(0.0)
    first = tendon_adr[t]
    for w in range(first, first + tendon_num[t]):
        total = total + wrap_prm[w] * qvel[e, jnt_dofadr[wrap_objid[w]]]
    return total


@wp.kernel
def tendon_forces(
    tendon_adr: wp.array(dtype=int),
    tendon_num: wp.array(dtype=int),
    tendon_stiffness: wp.array(dtype=Any),
    tendon_damping: wp.array(dtype=Any),
    tendon_lengthspring: wp.array(dtype=Any),
    wrap_objid: wp.array(dtype=int),
    wrap_prm: wp.array(dtype=Any),
    jnt_qposadr: wp.array(dtype=int),
    jnt_dofadr: wp.array(dtype=int),
    spring: int,
    damper: int,
    qpos: wp.array2d(dtype=Any),
    qvel: wp.array2d(dtype=Any),
    # output
    tendon_force: wp.array2d(dtype=Any),
):
    """Spring and damper force along each tendon, N; launch over (env, tendon)."""
    e, t = wp.tid()
    zero = tendon_stiffness.dtype(0.0)
    force = zero
    if spring != 0:
        length = tendon_length(e, t, tendon_adr, tendon_num, wrap_objid, wrap_prm, jnt_qposadr, qpos)
        lower = tendon_lengthspring[t][0]
        upper = tendon_lengthspring[t][1]
        x = zero
        if length > upper:
            x = length - upper
        elif length < lower:
            x = length - lower
        force = -tendon_stiffness[t] * x
    if damper != 0:
        v = tendon_velocity(e, t, tendon_adr, tendon_num, wrap_objid, wrap_prm, jnt_dofadr, qvel)
        force = force - tendon_damping[t] * v
    tendon_force[e, t] = force
