"""Joint-space dynamics: bias forces (recursive Newton-Euler), the mass matrix
(composite rigid bodies), and passive, actuator and joint-limit forces.

Follows MuJoCo's ``mj_rne`` (with zero joint acceleration), ``mj_crb``,
``mj_passive`` and ``mj_fwdActuation``. The same gradient rules as in
``kinematics.py`` hold: one write per element, sums over loops inside ``wp.func``.
"""

from typing import Any

import warp as wp

from diffsim.kernels.actuation import joint_motor_forces, tendon_coefficient
from diffsim.kernels.spatial import cross_force, inertia_mul, quat_to_rotvec, quat_wxyz, spatial
from diffsim.spec import JOINT_BALL, JOINT_FREE, JOINT_HINGE, JOINT_SLIDE


@wp.kernel
def body_forces(
    nbody: int,
    per_block: int,
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
    """Net spatial force each body needs for its bias motion, ``I a + v x* (I v)``; launch over (env, block of
    ``per_block`` bodies, ``Simulator.row_blocks``)."""
    e, block = wp.tid()
    for b in range(block * per_block, wp.min((block + 1) * per_block, nbody)):
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
    nbody: int,
    per_block: int,
    body_dofadr: wp.array(dtype=int),
    body_dofnum: wp.array(dtype=int),
    dof_ancestors: wp.array2d(dtype=int),
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
    on the diagonal), each written with its mirror column; launch over (env, block of
    ``per_block`` bodies, ``Simulator.row_blocks``).

    The composite inertia of the body's subtree (bodies are in DFS order, so a subtree is
    the range ``b .. subtree_end-1``) is summed once per body and acts on each of its
    dofs' motion: a free joint's six rows share one sum. ``dof_ancestors[k]`` lists the
    dofs on the path from ``k`` to the root (``k`` excluded; see ``diffsim.model``).
    """
    e, block = wp.tid()
    for b in range(block * per_block, wp.min((block + 1) * per_block, nbody)):
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
                for a in range(dof_ancestors[k, 0]):
                    j = dof_ancestors[k, 1 + a]
                    value = wp.dot(cdof[e, j], force)
                    M[e, k, j] = value
                    M[e, j, k] = value


@wp.kernel
def joint_forces_from_body_forces(
    ndof: int,
    per_block: int,
    dof_body: wp.array(dtype=int),
    body_subtree_end: wp.array(dtype=int),
    cdof: wp.array2d(dtype=Any),
    cfrc_body: wp.array2d(dtype=Any),
    # output
    qfrc: wp.array2d(dtype=Any),
):
    """Project spatial body forces onto the dofs: each dof feels the total force of the
    subtree it carries, ``qfrc[k] = cdof[k] . sum_{subtree} f``; launch over (env, block of
    ``per_block`` dofs, ``Simulator.row_blocks``).
    With the bias forces of RNEA this is MuJoCo's ``qfrc_bias``; with contact forces, J^T f."""
    e, block = wp.tid()
    for k in range(block * per_block, wp.min((block + 1) * per_block, ndof)):
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
def actuator_force_on_dof(
    e: int,
    k: int,
    moment_actuators: wp.array(dtype=int),
    actuator_moment: wp.array3d(dtype=Any),
    actuator_force: wp.array2d(dtype=Any),
):
    """``sum_u moment[u, k] * force[u]`` over the actuators whose moments ``actuation.transmission`` computed."""
    total = actuator_force.dtype(0.0)
    for i in range(moment_actuators.shape[0]):
        u = moment_actuators[i]
        total = total + actuator_moment[e, u, k] * actuator_force[e, u]
    return total


@wp.func
def tendon_force_on_dof(
    e: int,
    k: int,
    tendon_adr: wp.array(dtype=int),
    tendon_num: wp.array(dtype=int),
    wrap_objid: wp.array(dtype=int),
    wrap_prm: wp.array(dtype=Any),
    jnt_dofadr: wp.array(dtype=int),
    tendon_force: wp.array2d(dtype=Any),
):
    """``sum_t J[t, k] * tendon_force[t]`` over the fixed tendons."""
    total = tendon_force.dtype(0.0)
    for t in range(tendon_force.shape[1]):
        total = total + tendon_force[e, t] * tendon_coefficient(
            t, k, tendon_adr, tendon_num, wrap_objid, wrap_prm, jnt_dofadr
        )
    return total


@wp.kernel
def extra_forces(
    dof_jnt: wp.array(dtype=int),
    jnt_dofadr: wp.array(dtype=int),
    jnt_actfrclimited: wp.array(dtype=int),
    jnt_actfrcrange: wp.array(dtype=Any),
    jnt_actgravcomp: wp.array(dtype=int),
    tendon_adr: wp.array(dtype=int),
    tendon_num: wp.array(dtype=int),
    wrap_objid: wp.array(dtype=int),
    wrap_prm: wp.array(dtype=Any),
    moment_actuators: wp.array(dtype=int),
    body_forces: int,
    gravcomp_to_actuators: int,
    actuator_moment: wp.array3d(dtype=Any),
    actuator_force: wp.array2d(dtype=Any),
    tendon_force: wp.array2d(dtype=Any),
    qfrc_gravcomp: wp.array2d(dtype=Any),
    qfrc_fluid: wp.array2d(dtype=Any),
    # outputs
    qfrc_actuator_extra: wp.array2d(dtype=Any),
    qfrc_passive_extra: wp.array2d(dtype=Any),
):
    """The joint forces of what not every model has, gathered for ``smooth_forces``; launch
    over (env, dof), only for models that have some of it.

    Actuator: ``moment^T force`` of the actuators with moments (``actuation.py``), and the
    gravity compensation of joints with ``actuatorgravcomp``, clamped to the joint's
    ``actuatorfrcrange`` on its first dof, as MuJoCo does (every actuator of such a joint
    has a moment: ``model._derived_topology``). Passive: the fixed tendons' forces, the
    other joints' gravity compensation and the fluid forces (``passive.py``).
    """
    e, k = wp.tid()
    j = dof_jnt[k]
    actuator = actuator_force_on_dof(e, k, moment_actuators, actuator_moment, actuator_force)
    passive = actuator * type(actuator)(0.0)
    if body_forces != 0:
        passive = qfrc_fluid[e, k]
        if jnt_actgravcomp[j] != 0:
            if gravcomp_to_actuators != 0:
                actuator = actuator + qfrc_gravcomp[e, k]
        else:
            passive = passive + qfrc_gravcomp[e, k]
    if k == jnt_dofadr[j] and jnt_actfrclimited[j] != 0:
        actuator = wp.clamp(actuator, jnt_actfrcrange[j][0], jnt_actfrcrange[j][1])
    passive = passive + tendon_force_on_dof(
        e, k, tendon_adr, tendon_num, wrap_objid, wrap_prm, jnt_dofadr, tendon_force
    )
    qfrc_actuator_extra[e, k] = actuator
    qfrc_passive_extra[e, k] = passive


@wp.kernel
def smooth_forces(
    ndof: int,
    per_block: int,
    dof_jnt: wp.array(dtype=int),
    dof_damping: wp.array(dtype=Any),
    jnt_type: wp.array(dtype=int),
    jnt_qposadr: wp.array(dtype=int),
    jnt_dofadr: wp.array(dtype=int),
    jnt_stiffness: wp.array(dtype=Any),
    jnt_limited: wp.array(dtype=int),
    jnt_range: wp.array(dtype=Any),
    qpos_spring: wp.array(dtype=Any),
    limit_params: wp.array(dtype=Any),
    spring: int,
    damper: int,
    limits: int,
    extra: int,
    jnt_actuator_adr: wp.array(dtype=int),
    jnt_actuator_num: wp.array(dtype=int),
    actuator_by_joint: wp.array(dtype=int),
    actuator_gear: wp.array(dtype=Any),
    actuator_gainprm: wp.array(dtype=Any),
    actuator_ctrllimited: wp.array(dtype=int),
    actuator_ctrlrange: wp.array(dtype=Any),
    actuator_forcelimited: wp.array(dtype=int),
    actuator_forcerange: wp.array(dtype=Any),
    actuator_enabled: wp.array(dtype=int),
    clampctrl: int,
    actuation: int,
    ctrl: wp.array2d(dtype=Any),
    qpos: wp.array2d(dtype=Any),
    qvel: wp.array2d(dtype=Any),
    qfrc_actuator_extra: wp.array2d(dtype=Any),
    qfrc_passive_extra: wp.array2d(dtype=Any),
    qfrc_bias: wp.array2d(dtype=Any),
    qfrc_ext: wp.array2d(dtype=Any),
    # output
    qfrc_smooth: wp.array2d(dtype=Any),
):
    """All forces but the mass matrix's: ``actuator + passive + limit + external - bias``;
    launch over (env, block of ``per_block`` dofs, ``Simulator.row_blocks``).

    Actuator: the forces of the motors on this hinge or slide joint, computed here
    (``actuation.joint_motor_forces``), plus (with ``extra``) ``extra_forces``'s actuator
    part (which holds every actuator force on a joint with an ``actuatorfrcrange``).
    External: contact forces mapped to joint space (``qfrc_ext``).

    Passive (``spring``/``damper`` 0: MuJoCo's flags switch them off): ``-damping * qvel``,
    ``-stiffness * (q - springref)`` (for ball and free joints the rotational difference is
    the rotation vector from the spring's quaternion to the current one, in the body
    frame, as MuJoCo's mj_passive), plus (with ``extra``) ``extra_forces``'s passive part.
    Limits (hinge/slide, when ``limits`` and ``limit_params[0] > 0``): a smooth one-sided
    spring at each end of the range, ``k * w * softplus(depth / w)``, plus damping
    ``-c * qvel`` weighted by ``sigmoid(depth / w)``; ``limit_params = (k, c, w)``.
    """
    e, block = wp.tid()
    for k in range(block * per_block, wp.min((block + 1) * per_block, ndof)):
        j = dof_jnt[k]
        jtype = jnt_type[j]
        v = qvel[e, k]
        zero = v * type(v)(0.0)
        actuator = zero
        passive = zero
        if extra != 0:
            actuator = qfrc_actuator_extra[e, k]
            passive = qfrc_passive_extra[e, k]
        if jtype == JOINT_HINGE or jtype == JOINT_SLIDE:
            actuator = actuator + joint_motor_forces(
                e,
                j,
                jnt_actuator_adr,
                jnt_actuator_num,
                actuator_by_joint,
                actuator_gear,
                actuator_gainprm,
                actuator_ctrllimited,
                actuator_ctrlrange,
                actuator_forcelimited,
                actuator_forcerange,
                actuator_enabled,
                clampctrl,
                actuation,
                ctrl,
            )
        force = qfrc_ext[e, k] + actuator + passive - qfrc_bias[e, k]
        if damper != 0:
            force = force - dof_damping[k] * v
        stiffness = jnt_stiffness[j]
        if spring == 0:
            stiffness = zero
        if jtype == JOINT_FREE or jtype == JOINT_BALL:
            a = jnt_qposadr[j]
            i = k - jnt_dofadr[j]
            if jtype == JOINT_FREE and i < 3:
                force = force - stiffness * (qpos[e, a + i] - qpos_spring[a + i])
            else:
                if jtype == JOINT_FREE:
                    a = a + 3
                    i = i - 3
                current = wp.normalize(quat_wxyz(wp.vector(qpos[e, a], qpos[e, a + 1], qpos[e, a + 2], qpos[e, a + 3])))
                rest = quat_wxyz(wp.vector(qpos_spring[a], qpos_spring[a + 1], qpos_spring[a + 2], qpos_spring[a + 3]))
                difference = quat_to_rotvec(wp.quat_inverse(rest) * current)
                force = force - stiffness * difference[i]
        if jtype == JOINT_HINGE or jtype == JOINT_SLIDE:
            q = qpos[e, jnt_qposadr[j]]
            force = force - stiffness * (q - qpos_spring[jnt_qposadr[j]])
            limit_stiffness = limit_params[0]
            if limits != 0 and jnt_limited[j] != 0 and limit_stiffness > type(limit_stiffness)(0.0):
                limit_damping = limit_params[1]
                width = limit_params[2]
                below = (jnt_range[j][0] - q) / width
                above = (q - jnt_range[j][1]) / width
                force = force + limit_stiffness * width * (softplus(below) - softplus(above))
                force = force - limit_damping * v * (sigmoid(below) + sigmoid(above))
        qfrc_smooth[e, k] = force
