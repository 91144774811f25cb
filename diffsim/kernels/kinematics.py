"""Forward kinematics, com-based inertias, motion subspaces and velocities.

Every kernel is generic over float32/float64. They follow MuJoCo's ``mj_kinematics``,
``mj_comPos`` and ``mj_comVel`` so that intermediate quantities agree with MuJoCo's.

The two tree recursions (body frames, dof velocities) take what each thread walks as
index ranges, ``ranges[i] = (first, end)`` of bodies or of dofs (parents come before
children in both orders), and are launched over (environment, range):
* the whole tree in one range, ``[(0, nbody)]``: a thread per environment, the least
  work, fastest on a CPU;
* one launch per tree level, a range per body of the level: a thread per (environment,
  body), which fills a GPU; each level reads its parents' values from the launch before.
Both give the same numbers bit for bit (``model.options.tree_parallel`` picks).
The other kernels are launched over (environment, body) or (environment, dof).

Gradient rules kept by every kernel here (Warp's adjoint needs them):
* an array element is written once per launch and only read after it was written;
* loops never carry a local value across iterations; tree recursions read the parent's
  value back from an array, and sums over loops live in a ``wp.func`` that returns them.
"""

from typing import Any

import warp as wp

from diffsim.kernels.spatial import cross_motion, quat_axis_angle, quat_wxyz, spatial
from diffsim.spec import JOINT_BALL, JOINT_FREE, JOINT_HINGE, JOINT_SLIDE


@wp.kernel
def forward_kinematics(
    body_ranges: wp.array2d(dtype=int),
    body_parent: wp.array(dtype=int),
    body_jntadr: wp.array(dtype=int),
    body_jntnum: wp.array(dtype=int),
    body_pos: wp.array(dtype=Any),
    body_quat: wp.array(dtype=Any),
    jnt_type: wp.array(dtype=int),
    jnt_qposadr: wp.array(dtype=int),
    jnt_pos: wp.array(dtype=Any),
    jnt_axis: wp.array(dtype=Any),
    qpos0: wp.array(dtype=Any),
    qpos: wp.array2d(dtype=Any),
    # outputs
    xpos: wp.array2d(dtype=Any),
    xquat: wp.array2d(dtype=Any),
    jnt_xpos: wp.array2d(dtype=Any),
    jnt_xquat: wp.array2d(dtype=Any),
    xanchor: wp.array2d(dtype=Any),
    xaxis: wp.array2d(dtype=Any),
):
    """Body frames in the world, for bodies ``body_ranges[i, 0] .. body_ranges[i, 1] - 1``
    in order; launch over (env, range) (see the module's docstring).

    ``jnt_xpos``/``jnt_xquat`` hold the body frame after each joint of a body is applied,
    so a body with several joints composes them without a loop-carried value.
    """
    e, i = wp.tid()
    zero = qpos.dtype(0.0)
    for b in range(body_ranges[i, 0], body_ranges[i, 1]):
        if b == 0:
            xpos[e, 0] = wp.vector(zero, zero, zero)
            xquat[e, 0] = wp.quaternion(zero, zero, zero, qpos.dtype(1.0))
        else:
            parent = body_parent[b]
            parent_quat = xquat[e, parent]
            base_quat = parent_quat * quat_wxyz(body_quat[b])
            base_pos = xpos[e, parent] + wp.quat_rotate(parent_quat, body_pos[b])
            first = body_jntadr[b]
            count = body_jntnum[b]
            for j in range(first, first + count):
                in_quat = base_quat
                in_pos = base_pos
                if j > first:
                    in_quat = jnt_xquat[e, j - 1]
                    in_pos = jnt_xpos[e, j - 1]
                adr = jnt_qposadr[j]
                jtype = jnt_type[j]
                anchor = in_pos + wp.quat_rotate(in_quat, jnt_pos[j])
                axis = wp.quat_rotate(in_quat, jnt_axis[j])
                out_quat = in_quat
                out_pos = in_pos
                if jtype == JOINT_FREE:
                    out_pos = wp.vector(qpos[e, adr], qpos[e, adr + 1], qpos[e, adr + 2])
                    out_quat = wp.normalize(
                        wp.quaternion(qpos[e, adr + 4], qpos[e, adr + 5], qpos[e, adr + 6], qpos[e, adr + 3])
                    )
                    anchor = out_pos
                    axis = jnt_axis[j]
                elif jtype == JOINT_SLIDE:
                    out_pos = in_pos + axis * (qpos[e, adr] - qpos0[adr])
                else:
                    local = quat_axis_angle(jnt_axis[j], qpos[e, adr] - qpos0[adr])
                    if jtype == JOINT_BALL:
                        local = wp.normalize(
                            wp.quaternion(qpos[e, adr + 1], qpos[e, adr + 2], qpos[e, adr + 3], qpos[e, adr])
                        )
                    out_quat = in_quat * local
                    # rotate about the anchor, not about the body origin
                    out_pos = anchor - wp.quat_rotate(out_quat, jnt_pos[j])
                jnt_xquat[e, j] = out_quat
                jnt_xpos[e, j] = out_pos
                xanchor[e, j] = anchor
                xaxis[e, j] = axis
            if count > 0:
                xquat[e, b] = jnt_xquat[e, first + count - 1]
                xpos[e, b] = jnt_xpos[e, first + count - 1]
            else:
                xquat[e, b] = base_quat
                xpos[e, b] = base_pos


@wp.kernel
def com_inertia(
    nbody: int,
    per_block: int,
    body_rootid: wp.array(dtype=int),
    body_mass: wp.array(dtype=Any),
    body_ipos: wp.array(dtype=Any),
    body_inertia: wp.array(dtype=Any),
    xpos: wp.array2d(dtype=Any),
    xquat: wp.array2d(dtype=Any),
    # outputs
    xipos: wp.array2d(dtype=Any),
    cinert_h: wp.array2d(dtype=Any),
    cinert_J: wp.array2d(dtype=Any),
):
    """Each body's spatial inertia about its tree's reference point; launch over (env, block of
    ``per_block`` bodies, ``Simulator.row_blocks``)."""
    e, block = wp.tid()
    for b in range(block * per_block, wp.min((block + 1) * per_block, nbody)):
        rot = wp.quat_to_matrix(xquat[e, b])
        com = xpos[e, b] + rot * body_ipos[b]
        xipos[e, b] = com
        m = body_mass[b]
        r = com - xpos[e, body_rootid[b]]
        # inertia about the COM in world axes, shifted to the reference point (parallel axes)
        J_com = rot * body_inertia[b] * wp.transpose(rot)
        cinert_J[e, b] = J_com + (wp.identity(n=3, dtype=type(m)) * wp.dot(r, r) - wp.outer(r, r)) * m
        cinert_h[e, b] = r * m


@wp.kernel
def motion_subspace(
    ndof: int,
    per_block: int,
    body_rootid: wp.array(dtype=int),
    dof_body: wp.array(dtype=int),
    dof_jnt: wp.array(dtype=int),
    jnt_type: wp.array(dtype=int),
    jnt_dofadr: wp.array(dtype=int),
    xpos: wp.array2d(dtype=Any),
    xquat: wp.array2d(dtype=Any),
    xanchor: wp.array2d(dtype=Any),
    xaxis: wp.array2d(dtype=Any),
    # output
    cdof: wp.array2d(dtype=Any),
):
    """Spatial motion of each dof about the tree's reference point (MuJoCo's ``cdof``); launch over (env, block of
    ``per_block`` dofs, ``Simulator.row_blocks``)."""
    e, block = wp.tid()
    for k in range(block * per_block, wp.min((block + 1) * per_block, ndof)):
        b = dof_body[k]
        j = dof_jnt[k]
        jtype = jnt_type[j]
        offset = xpos[e, body_rootid[b]] - xanchor[e, j]
        zero = offset[0] * type(offset[0])(0.0)
        zero3 = wp.vector(zero, zero, zero)
        if jtype == JOINT_HINGE:
            axis = xaxis[e, j]
            cdof[e, k] = spatial(axis, wp.cross(axis, offset))
        elif jtype == JOINT_SLIDE:
            cdof[e, k] = spatial(zero3, xaxis[e, j])
        else:
            i = k - jnt_dofadr[j]
            if jtype == JOINT_FREE and i < 3:
                unit = zero3
                unit[i] = type(zero)(1.0)
                cdof[e, k] = spatial(zero3, unit)
            else:
                if jtype == JOINT_FREE:
                    i = i - 3
                # ball and free rotations turn about the axes of the body frame
                rot = wp.quat_to_matrix(xquat[e, b])
                axis = wp.vector(rot[0, i], rot[1, i], rot[2, i])
                cdof[e, k] = spatial(axis, wp.cross(axis, offset))


@wp.kernel
def velocities_and_bias_acceleration(
    dof_ranges: wp.array2d(dtype=int),
    dof_parent: wp.array(dtype=int),
    dof_rate_src: wp.array(dtype=int),
    gravity: wp.array(dtype=Any),
    cdof: wp.array2d(dtype=Any),
    qvel: wp.array2d(dtype=Any),
    # outputs
    dof_cvel: wp.array2d(dtype=Any),
    cdof_dot: wp.array2d(dtype=Any),
    dof_cacc: wp.array2d(dtype=Any),
):
    """Body velocities, dof motion rates and the bias acceleration (MuJoCo's mj_comVel and
    the first half of mj_rne at qacc = 0), for dofs ``dof_ranges[i, 0] .. dof_ranges[i, 1] - 1``
    in order; launch over (env, range) (see the module's docstring).

    ``dof_cvel[k]``: spatial velocity of dof ``k``'s body after that dof moved.
    ``cdof_dot[k] = v x cdof[k]`` with ``v`` the velocity MuJoCo uses: the one entering
    dof ``dof_rate_src[k]`` (itself for hinge/slide, the joint's first dof for a ball,
    the first rotational dof of a free joint; -1: zero rate, free-joint translation).
    ``dof_cacc[k]``: spatial acceleration at zero joint acceleration, gravity entering as
    a world acceleration of ``-g``.
    """
    e, i = wp.tid()
    g = gravity[0]
    zero = g[0] * type(g[0])(0.0)
    zero3 = wp.vector(zero, zero, zero)
    still = spatial(zero3, zero3)
    for k in range(dof_ranges[i, 0], dof_ranges[i, 1]):
        parent = dof_parent[k]
        s = cdof[e, k]
        velocity_in = still
        acceleration_in = spatial(zero3, -g)
        if parent >= 0:
            velocity_in = dof_cvel[e, parent]
            acceleration_in = dof_cacc[e, parent]
        dof_cvel[e, k] = velocity_in + s * qvel[e, k]
        src = dof_rate_src[k]
        rate = still
        if src >= 0:
            src_parent = dof_parent[src]
            if src_parent >= 0:
                rate = cross_motion(dof_cvel[e, src_parent], s)
        cdof_dot[e, k] = rate
        dof_cacc[e, k] = acceleration_in + rate * qvel[e, k]
