"""MuJoCo's ``implicitfast`` integrator: velocities implicit in the velocity-dependent forces.

``qacc = (M - h D)^-1 f`` with ``D = d(actuator + passive forces) / d qvel``
[mjd_smooth_vel without the bias forces' derivative], gathered onto the mass matrix's
tree sparsity (dof pairs where one is the other's ancestor; couplings across branches,
which a tendon or an actuator can make, are dropped, as MuJoCo's ``mapD2M`` drops them):

* actuators: ``sum_u dforce_u/dvelocity * m_u m_u^T`` with ``dforce/dvelocity =
  biasprm[2] + gainprm[2] * input`` (affine bias and gain), skipping actuators saturated
  at their ``forcerange`` or, for joint transmissions, at the joint's ``actuatorfrcrange``;
* dof damping on the diagonal and each fixed tendon's ``damping * J^T J``.

A standalone free body (one free joint, no children) is solved apart, as MuJoCo 4 does:
its 6x6 block ``M - h D + h dbias/dqvel`` includes the gyroscopic derivative of the bias
forces and is solved by elimination (``free_body_accelerations``).
"""

from typing import Any

import warp as wp

from diffsim.kernels.actuation import tendon_coefficient
from diffsim.spec import TRN_JOINT


@wp.func
def joint_actuator_saturated(
    e: int,
    j: int,
    jnt_dofadr: wp.array(dtype=int),
    jnt_actfrclimited: wp.array(dtype=int),
    jnt_actfrcrange: wp.array(dtype=Any),
    actuator_moment: wp.array3d(dtype=Any),
    actuator_force: wp.array2d(dtype=Any),
):
    """1 when the actuators' total force on joint ``j``'s first dof is at its ``actuatorfrcrange``."""
    if jnt_actfrclimited[j] == 0:
        return 0
    k = jnt_dofadr[j]
    total = actuator_force.dtype(0.0)
    for u in range(actuator_moment.shape[1]):
        total = total + actuator_moment[e, u, k] * actuator_force[e, u]
    if total <= jnt_actfrcrange[j][0] or total >= jnt_actfrcrange[j][1]:
        return 1
    return 0


@wp.func
def velocity_derivative(
    e: int,
    k: int,
    j: int,
    actuator_trntype: wp.array(dtype=int),
    actuator_trnid: wp.array2d(dtype=int),
    dof_damping: wp.array(dtype=Any),
    jnt_dofadr: wp.array(dtype=int),
    jnt_actfrclimited: wp.array(dtype=int),
    jnt_actfrcrange: wp.array(dtype=Any),
    tendon_adr: wp.array(dtype=int),
    tendon_num: wp.array(dtype=int),
    tendon_damping: wp.array(dtype=Any),
    wrap_objid: wp.array(dtype=int),
    wrap_prm: wp.array(dtype=Any),
    damper: int,
    actuator_moment: wp.array3d(dtype=Any),
    actuator_force: wp.array2d(dtype=Any),
    actuator_force_velocity: wp.array2d(dtype=Any),
):
    """``D[k, j] = d(qfrc_actuator + qfrc_passive)[k] / d qvel[j]``."""
    total = dof_damping.dtype(0.0)
    for u in range(actuator_moment.shape[1]):
        slope = actuator_force_velocity[e, u]
        if actuator_trntype[u] == TRN_JOINT:
            if (
                joint_actuator_saturated(
                    e,
                    actuator_trnid[u, 0],
                    jnt_dofadr,
                    jnt_actfrclimited,
                    jnt_actfrcrange,
                    actuator_moment,
                    actuator_force,
                )
                != 0
            ):
                slope = slope * dof_damping.dtype(0.0)
        total = total + slope * actuator_moment[e, u, k] * actuator_moment[e, u, j]
    if damper != 0:
        if k == j:
            total = total - dof_damping[k]
        for t in range(tendon_adr.shape[0]):
            total = total - tendon_damping[t] * tendon_coefficient(
                t, k, tendon_adr, tendon_num, wrap_objid, wrap_prm, jnt_dofadr
            ) * tendon_coefficient(t, j, tendon_adr, tendon_num, wrap_objid, wrap_prm, jnt_dofadr)
    return total


@wp.kernel
def implicit_matrix(
    dof_ancestor: wp.array2d(dtype=int),
    dof_free_body: wp.array(dtype=int),
    actuator_trntype: wp.array(dtype=int),
    actuator_trnid: wp.array2d(dtype=int),
    dof_damping: wp.array(dtype=Any),
    jnt_dofadr: wp.array(dtype=int),
    jnt_actfrclimited: wp.array(dtype=int),
    jnt_actfrcrange: wp.array(dtype=Any),
    tendon_adr: wp.array(dtype=int),
    tendon_num: wp.array(dtype=int),
    tendon_damping: wp.array(dtype=Any),
    wrap_objid: wp.array(dtype=int),
    wrap_prm: wp.array(dtype=Any),
    damper: int,
    dt: wp.array(dtype=Any),
    M: wp.array3d(dtype=Any),
    actuator_moment: wp.array3d(dtype=Any),
    actuator_force: wp.array2d(dtype=Any),
    actuator_force_velocity: wp.array2d(dtype=Any),
    # output
    H: wp.array3d(dtype=Any),
):
    """Row ``k`` of ``M - h D`` on the mass matrix's sparsity (``M`` alone for the rows and
    columns of standalone free bodies, which are solved apart); launch over (env, dof)."""
    e, k = wp.tid()
    h = dt[0]
    for j in range(M.shape[2]):
        value = M[e, k, j]
        related = k == j or dof_ancestor[k, j] != 0 or dof_ancestor[j, k] != 0
        if related and dof_free_body[k] < 0 and dof_free_body[j] < 0:
            value = value - h * velocity_derivative(
                e,
                k,
                j,
                actuator_trntype,
                actuator_trnid,
                dof_damping,
                jnt_dofadr,
                jnt_actfrclimited,
                jnt_actfrcrange,
                tendon_adr,
                tendon_num,
                tendon_damping,
                wrap_objid,
                wrap_prm,
                damper,
                actuator_moment,
                actuator_force,
                actuator_force_velocity,
            )
        H[e, k, j] = value


@wp.func
def skew(v: Any):
    """``[v]x``: the matrix of ``v x .``."""
    zero = v[0] * type(v[0])(0.0)
    return wp.matrix(zero, -v[2], v[1], v[2], zero, -v[0], -v[1], v[0], zero, shape=(3, 3))


@wp.func
def block(
    e: int,
    adr: int,
    r0: int,
    c0: int,
    h: Any,
    M: wp.array3d(dtype=Any),
    actuator_trntype: wp.array(dtype=int),
    actuator_trnid: wp.array2d(dtype=int),
    dof_damping: wp.array(dtype=Any),
    jnt_dofadr: wp.array(dtype=int),
    jnt_actfrclimited: wp.array(dtype=int),
    jnt_actfrcrange: wp.array(dtype=Any),
    tendon_adr: wp.array(dtype=int),
    tendon_num: wp.array(dtype=int),
    tendon_damping: wp.array(dtype=Any),
    wrap_objid: wp.array(dtype=int),
    wrap_prm: wp.array(dtype=Any),
    damper: int,
    actuator_moment: wp.array3d(dtype=Any),
    actuator_force: wp.array2d(dtype=Any),
    actuator_force_velocity: wp.array2d(dtype=Any),
):
    """The 3x3 block ``(M - h D)[adr + r0 : +3, adr + c0 : +3]``."""
    out = wp.matrix(h, h, h, h, h, h, h, h, h, shape=(3, 3)) * type(h)(0.0)
    for r in range(3):
        for c in range(3):
            k = adr + r0 + r
            j = adr + c0 + c
            out[r, c] = M[e, k, j] - h * velocity_derivative(
                e,
                k,
                j,
                actuator_trntype,
                actuator_trnid,
                dof_damping,
                jnt_dofadr,
                jnt_actfrclimited,
                jnt_actfrcrange,
                tendon_adr,
                tendon_num,
                tendon_damping,
                wrap_objid,
                wrap_prm,
                damper,
                actuator_moment,
                actuator_force,
                actuator_force_velocity,
            )
    return out


@wp.kernel
def free_body_accelerations(
    dof_free_body: wp.array(dtype=int),
    dof_body: wp.array(dtype=int),
    body_mass: wp.array(dtype=Any),
    body_inertia: wp.array(dtype=Any),
    actuator_trntype: wp.array(dtype=int),
    actuator_trnid: wp.array2d(dtype=int),
    dof_damping: wp.array(dtype=Any),
    jnt_dofadr: wp.array(dtype=int),
    jnt_actfrclimited: wp.array(dtype=int),
    jnt_actfrcrange: wp.array(dtype=Any),
    tendon_adr: wp.array(dtype=int),
    tendon_num: wp.array(dtype=int),
    tendon_damping: wp.array(dtype=Any),
    wrap_objid: wp.array(dtype=int),
    wrap_prm: wp.array(dtype=Any),
    damper: int,
    dt: wp.array(dtype=Any),
    M: wp.array3d(dtype=Any),
    actuator_moment: wp.array3d(dtype=Any),
    actuator_force: wp.array2d(dtype=Any),
    actuator_force_velocity: wp.array2d(dtype=Any),
    xpos: wp.array2d(dtype=Any),
    xquat: wp.array2d(dtype=Any),
    xipos: wp.array2d(dtype=Any),
    qvel: wp.array2d(dtype=Any),
    qfrc: wp.array2d(dtype=Any),
    qacc_tree: wp.array2d(dtype=Any),
    # output
    qacc: wp.array2d(dtype=Any),
):
    """``qacc`` of the tree solve, with each standalone free body's six replaced by the
    solution of its own block [MuJoCo 4's mjd_freeMhat]; launch over (env, dof).

    The block is ``[[P, Q], [R, S]] = M - h D + h B`` with ``B = d qfrc_bias / d qvel``, whose
    only nonzero columns are the rotational ones: ``-mass K R`` above and ``R^T C R`` below,
    ``K = [w x s]x + [w]x [s]x``, ``C = -mass [s]x K + [w]x I_w - [I_w w]x`` (``w``: world angular
    velocity, ``s``: the centre of mass from the body origin, ``I_w``: world inertia). The
    system is solved by its Schur complement on the rotational block.
    """
    e, k = wp.tid()
    adr = dof_free_body[k]
    if adr < 0:
        qacc[e, k] = qacc_tree[e, k]
        return
    h = dt[0]
    b = dof_body[adr]
    P = block(e, adr, 0, 0, h, M, actuator_trntype, actuator_trnid, dof_damping, jnt_dofadr, jnt_actfrclimited,
              jnt_actfrcrange, tendon_adr, tendon_num, tendon_damping, wrap_objid, wrap_prm, damper, actuator_moment,
              actuator_force, actuator_force_velocity)  # fmt: skip
    Q = block(e, adr, 0, 3, h, M, actuator_trntype, actuator_trnid, dof_damping, jnt_dofadr, jnt_actfrclimited,
              jnt_actfrcrange, tendon_adr, tendon_num, tendon_damping, wrap_objid, wrap_prm, damper, actuator_moment,
              actuator_force, actuator_force_velocity)  # fmt: skip
    R_ = block(e, adr, 3, 0, h, M, actuator_trntype, actuator_trnid, dof_damping, jnt_dofadr, jnt_actfrclimited,
               jnt_actfrcrange, tendon_adr, tendon_num, tendon_damping, wrap_objid, wrap_prm, damper, actuator_moment,
               actuator_force, actuator_force_velocity)  # fmt: skip
    S = block(e, adr, 3, 3, h, M, actuator_trntype, actuator_trnid, dof_damping, jnt_dofadr, jnt_actfrclimited,
              jnt_actfrcrange, tendon_adr, tendon_num, tendon_damping, wrap_objid, wrap_prm, damper, actuator_moment,
              actuator_force, actuator_force_velocity)  # fmt: skip
    # gyroscopic derivative of the bias forces (MuJoCo's freeBias_vel_blocks)
    rot = wp.quat_to_matrix(xquat[e, b])
    mass = body_mass[b]
    s = xipos[e, b] - xpos[e, b]
    w = rot * wp.vector(qvel[e, adr + 3], qvel[e, adr + 4], qvel[e, adr + 5])
    inertia = rot * body_inertia[b] * wp.transpose(rot)
    K = skew(wp.cross(w, s)) + skew(w) * skew(s)
    C = skew(s) * K * (-mass) + skew(w) * inertia - skew(inertia * w)
    Q = Q + K * rot * (-h * mass)
    S = S + wp.transpose(rot) * C * rot * h
    # Schur complement on the rotational block
    f1 = wp.vector(qfrc[e, adr], qfrc[e, adr + 1], qfrc[e, adr + 2])
    f2 = wp.vector(qfrc[e, adr + 3], qfrc[e, adr + 4], qfrc[e, adr + 5])
    P_inv = wp.inverse(P)
    x2 = wp.inverse(S - R_ * P_inv * Q) * (f2 - R_ * (P_inv * f1))
    x1 = P_inv * (f1 - Q * x2)
    i = k - adr
    if i < 3:
        qacc[e, k] = x1[i]
    else:
        qacc[e, k] = x2[i - 3]
