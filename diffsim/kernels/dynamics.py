"""Joint-space dynamics: bias forces (recursive Newton-Euler), the mass matrix
(composite rigid bodies), and passive, actuator and joint-limit forces.

Follows MuJoCo's ``mj_rne`` (with zero joint acceleration), ``mj_crb``,
``mj_passive`` and ``mj_fwdActuation``. The same gradient rules as in
``kinematics.py`` hold: one write per element, sums over loops inside ``wp.func``.
"""

from typing import Any

import warp as wp

from diffsim.kernels.spatial import cross_force, inertia_mul, quat_to_rotvec, quat_wxyz, spatial
from diffsim.spec import JOINT_BALL, JOINT_FREE, JOINT_HINGE, JOINT_SLIDE


@wp.kernel
def body_forces(
    body_lastdof: wp.array(dtype=int),
    body_mass: wp.array(dtype=Any),
    gravity: wp.array(dtype=Any),
    cinert_h: wp.array2d(dtype=Any),
    cinert_J: wp.array2d(dtype=Any),
    dof_cvel: wp.array2d(dtype=Any),
    dof_cacc: wp.array2d(dtype=Any),
    # output
    cfrc_body: wp.array2d(dtype=Any),
):
    """Net spatial force each body needs for its bias motion, ``I a + v x* (I v)``; launch over (env, body)."""
    e, b = wp.tid()
    g = gravity[0]
    zero = g[0] * type(g[0])(0.0)
    zero3 = wp.vector(zero, zero, zero)
    vel = spatial(zero3, zero3)
    acc = spatial(zero3, -g)
    last = body_lastdof[b]
    if last >= 0:
        vel = dof_cvel[e, last]
        acc = dof_cacc[e, last]
    m = body_mass[b]
    h = cinert_h[e, b]
    J = cinert_J[e, b]
    cfrc_body[e, b] = inertia_mul(m, h, J, acc) + cross_force(vel, inertia_mul(m, h, J, vel))


@wp.func
def subtree_sum_vec(values: wp.array2d(dtype=Any), e: int, first: int, end: int):
    total = values[e, first]
    for d in range(first + 1, end):
        total = total + values[e, d]
    return total


@wp.func
def subtree_sum_scalar(values: wp.array(dtype=Any), first: int, end: int):
    total = values[first]
    for d in range(first + 1, end):
        total = total + values[d]
    return total


@wp.kernel
def mass_matrix_rows(
    body_dofadr: wp.array(dtype=int),
    body_dofnum: wp.array(dtype=int),
    dof_ancestor: wp.array2d(dtype=int),
    dof_armature: wp.array(dtype=Any),
    body_subtree_end: wp.array(dtype=int),
    body_mass: wp.array(dtype=Any),
    cinert_h: wp.array2d(dtype=Any),
    cinert_J: wp.array2d(dtype=Any),
    cdof: wp.array2d(dtype=Any),
    # output (zero-initialised)
    M: wp.array3d(dtype=Any),
):
    """The rows of the joint-space inertia matrix that belong to one body's dofs (armature
    on the diagonal), each written with its mirror column; launch over (env, body).

    The composite inertia of the body's subtree (bodies are in DFS order, so a subtree is
    the range ``b .. subtree_end-1``) is summed once per body and acts on each of its
    dofs' motion: a free joint's six rows share one sum. ``dof_ancestor[k, j]`` is 1 when
    dof ``j`` lies on the path from ``k`` to the root (``k`` excluded); ancestors come
    first in DFS order, so ``j < k``.
    """
    e, b = wp.tid()
    count = body_dofnum[b]
    if count > 0:
        end = body_subtree_end[b]
        mass = subtree_sum_scalar(body_mass, b, end)
        h = subtree_sum_vec(cinert_h, e, b, end)
        J = subtree_sum_vec(cinert_J, e, b, end)
        first = body_dofadr[b]
        for k in range(first, first + count):
            force = inertia_mul(mass, h, J, cdof[e, k])
            M[e, k, k] = wp.dot(cdof[e, k], force) + dof_armature[k]
            for j in range(k):
                if dof_ancestor[k, j] != 0:
                    value = wp.dot(cdof[e, j], force)
                    M[e, k, j] = value
                    M[e, j, k] = value


@wp.kernel
def joint_forces_from_body_forces(
    dof_body: wp.array(dtype=int),
    body_subtree_end: wp.array(dtype=int),
    cdof: wp.array2d(dtype=Any),
    cfrc_body: wp.array2d(dtype=Any),
    # output
    qfrc: wp.array2d(dtype=Any),
):
    """Project spatial body forces onto the dofs: each dof feels the total force of the
    subtree it carries, ``qfrc[k] = cdof[k] . sum_{subtree} f``; launch over (env, dof).
    With the bias forces of RNEA this is MuJoCo's ``qfrc_bias``; with contact forces, J^T f."""
    e, k = wp.tid()
    b = dof_body[k]
    qfrc[e, k] = wp.dot(cdof[e, k], subtree_sum_vec(cfrc_body, e, b, body_subtree_end[b]))


@wp.func
def softplus(x: Any):
    """``log(1 + exp(x))`` without overflow."""
    if x > type(x)(0.0):
        return x + wp.log(type(x)(1.0) + wp.exp(-x))
    return wp.log(type(x)(1.0) + wp.exp(x))


@wp.func
def sigmoid(x: Any):
    if x > type(x)(0.0):
        return type(x)(1.0) / (type(x)(1.0) + wp.exp(-x))
    z = wp.exp(x)
    return z / (type(x)(1.0) + z)


@wp.func
def actuator_force_on_joint(
    j: int,
    e: int,
    jnt_actuator_adr: wp.array(dtype=int),
    jnt_actuator_num: wp.array(dtype=int),
    actuator_by_joint: wp.array(dtype=int),
    actuator_gear: wp.array(dtype=Any),
    actuator_ctrllimited: wp.array(dtype=int),
    actuator_ctrlrange: wp.array(dtype=Any),
    actuator_forcelimited: wp.array(dtype=int),
    actuator_forcerange: wp.array(dtype=Any),
    ctrl: wp.array2d(dtype=Any),
):
    """Sum of motor forces on joint ``j``: ``gear * clamp(ctrl)``, the force clamped to
    ``forcerange``, over the joint's actuators ``actuator_by_joint[adr .. adr + num - 1]``."""
    total = actuator_gear.dtype(0.0)
    first = jnt_actuator_adr[j]
    for a in range(first, first + jnt_actuator_num[j]):
        u = actuator_by_joint[a]
        c = ctrl[e, u]
        if actuator_ctrllimited[u] != 0:
            c = wp.clamp(c, actuator_ctrlrange[u][0], actuator_ctrlrange[u][1])
        if actuator_forcelimited[u] != 0:
            c = wp.clamp(c, actuator_forcerange[u][0], actuator_forcerange[u][1])
        total = total + actuator_gear[u] * c
    return total


@wp.kernel
def smooth_forces(
    dof_jnt: wp.array(dtype=int),
    dof_damping: wp.array(dtype=Any),
    jnt_type: wp.array(dtype=int),
    jnt_qposadr: wp.array(dtype=int),
    jnt_dofadr: wp.array(dtype=int),
    jnt_stiffness: wp.array(dtype=Any),
    jnt_limited: wp.array(dtype=int),
    jnt_range: wp.array(dtype=Any),
    qpos_spring: wp.array(dtype=Any),
    jnt_actuator_adr: wp.array(dtype=int),
    jnt_actuator_num: wp.array(dtype=int),
    actuator_by_joint: wp.array(dtype=int),
    actuator_gear: wp.array(dtype=Any),
    actuator_ctrllimited: wp.array(dtype=int),
    actuator_ctrlrange: wp.array(dtype=Any),
    actuator_forcelimited: wp.array(dtype=int),
    actuator_forcerange: wp.array(dtype=Any),
    limit_params: wp.array(dtype=Any),
    qpos: wp.array2d(dtype=Any),
    qvel: wp.array2d(dtype=Any),
    ctrl: wp.array2d(dtype=Any),
    qfrc_bias: wp.array2d(dtype=Any),
    qfrc_ext: wp.array2d(dtype=Any),
    # output
    qfrc_smooth: wp.array2d(dtype=Any),
):
    """All forces but the mass matrix's: ``actuator + passive + limit + external - bias``; launch over (env, dof).

    External: contact forces mapped to joint space (``qfrc_ext``).

    Passive: ``-damping * qvel`` and ``-stiffness * (q - springref)``, where for ball and
    free joints the rotational difference is the rotation vector from the spring's
    quaternion to the current one, in the body frame (as MuJoCo's mj_passive).
    Limits (hinge/slide, when ``limit_params[0] > 0``): a smooth one-sided spring at each
    end of the range, ``k * w * softplus(depth / w)``, plus damping ``-c * qvel`` weighted by
    ``sigmoid(depth / w)``; ``limit_params = (k, c, w)``.
    """
    e, k = wp.tid()
    j = dof_jnt[k]
    jtype = jnt_type[j]
    v = qvel[e, k]
    force = qfrc_ext[e, k] - dof_damping[k] * v - qfrc_bias[e, k]
    if jtype == JOINT_FREE or jtype == JOINT_BALL:
        a = jnt_qposadr[j]
        i = k - jnt_dofadr[j]
        if jtype == JOINT_FREE and i < 3:
            force = force - jnt_stiffness[j] * (qpos[e, a + i] - qpos_spring[a + i])
        else:
            if jtype == JOINT_FREE:
                a = a + 3
                i = i - 3
            current = wp.normalize(quat_wxyz(wp.vector(qpos[e, a], qpos[e, a + 1], qpos[e, a + 2], qpos[e, a + 3])))
            rest = quat_wxyz(wp.vector(qpos_spring[a], qpos_spring[a + 1], qpos_spring[a + 2], qpos_spring[a + 3]))
            difference = quat_to_rotvec(wp.quat_inverse(rest) * current)
            force = force - jnt_stiffness[j] * difference[i]
    if jtype == JOINT_HINGE or jtype == JOINT_SLIDE:
        q = qpos[e, jnt_qposadr[j]]
        force = force - jnt_stiffness[j] * (q - qpos_spring[jnt_qposadr[j]])
        force = force + actuator_force_on_joint(
            j,
            e,
            jnt_actuator_adr,
            jnt_actuator_num,
            actuator_by_joint,
            actuator_gear,
            actuator_ctrllimited,
            actuator_ctrlrange,
            actuator_forcelimited,
            actuator_forcerange,
            ctrl,
        )
        stiffness = limit_params[0]
        if jnt_limited[j] != 0 and stiffness > type(stiffness)(0.0):
            damping = limit_params[1]
            width = limit_params[2]
            below = (jnt_range[j][0] - q) / width
            above = (q - jnt_range[j][1]) / width
            force = force + stiffness * width * (softplus(below) - softplus(above))
            force = force - damping * v * (sigmoid(below) + sigmoid(above))
    qfrc_smooth[e, k] = force
