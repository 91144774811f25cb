"""MuJoCo's ``implicitfast`` integrator: velocities implicit in the velocity-dependent forces.

``qacc = (M - h D)^-1 f`` with ``D = d(actuator + passive forces) / d qvel``
[mjd_smooth_vel without the bias forces' derivative], gathered onto the mass matrix's
tree sparsity (dof pairs where one is the other's ancestor; couplings across branches,
which a tendon or an actuator can make, are dropped, as MuJoCo's ``mapD2M`` drops them):

* actuators: ``sum_u dforce_u/dvelocity * m_u m_u^T`` with ``dforce/dvelocity =
  biasprm[2] + gainprm[2] * input`` (affine bias and gain), skipping actuators saturated
  at their ``forcerange`` or, for joint transmissions, at the joint's ``actuatorfrcrange``;
* dof damping on the diagonal and each fixed tendon's ``damping * J^T J``;
* the inertia-box fluid drag, ``J^T diag(slope) J`` at each body's centre of mass.

A standalone free body (one free joint, no children) is solved apart, as MuJoCo 4 does:
its 6x6 block ``M - h D + h dbias/dqvel`` includes the gyroscopic derivative of the bias
forces and is solved by elimination (``free_body_accelerations``).
"""

from typing import Any

import warp as wp

from diffsim.kernels.actuation import in_chain, tendon_coefficient
from diffsim.kernels.passive import fluid_drag_coefficients, inertia_box, inertial_frame, local_velocity
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
    jnt_actgravcomp: wp.array(dtype=int),
    gravcomp_to_actuators: int,
    qfrc_gravcomp: wp.array2d(dtype=Any),
):
    """1 when the actuators' total force on joint ``j``'s first dof (its gravity
    compensation included, where routed to the actuators) is at its ``actuatorfrcrange``."""
    if jnt_actfrclimited[j] == 0:
        return 0
    k = jnt_dofadr[j]
    total = actuator_force.dtype(0.0)
    if jnt_actgravcomp[j] != 0 and gravcomp_to_actuators != 0:
        total = qfrc_gravcomp[e, k]
    for u in range(actuator_moment.shape[1]):
        total = total + actuator_moment[e, u, k] * actuator_force[e, u]
    if total <= jnt_actfrcrange[j][0] or total >= jnt_actfrcrange[j][1]:
        return 1
    return 0


@wp.func
def fluid_derivative(
    e: int,
    b: int,
    k: int,
    j: int,
    body_mass: wp.array(dtype=Any),
    body_principal_inertia: wp.array(dtype=Any),
    body_iquat: wp.array(dtype=Any),
    body_rootid: wp.array(dtype=int),
    body_lastdof: wp.array(dtype=int),
    density: wp.array(dtype=Any),
    viscosity: wp.array(dtype=Any),
    wind: wp.array(dtype=Any),
    xpos: wp.array2d(dtype=Any),
    xquat: wp.array2d(dtype=Any),
    xipos: wp.array2d(dtype=Any),
    cdof: wp.array2d(dtype=Any),
    dof_cvel: wp.array2d(dtype=Any),
):
    """Body ``b``'s inertia-box drag in ``D[k, j]``: ``sum_r slope_r J_r[k] J_r[j]`` with ``J``
    the body's Jacobian at its centre of mass in its principal axes [mjd_inertiaBoxFluid]."""
    frame = inertial_frame(xquat[e, b], body_iquat, b)
    angular, linear = local_velocity(e, b, frame, body_lastdof, body_rootid, wind, xpos, xipos, dof_cvel)
    box = inertia_box(body_principal_inertia, body_mass, b)
    coef_rot, coef_lin, slope_rot, slope_lin = fluid_drag_coefficients(box, density[0], viscosity[0], angular, linear)
    arm = xipos[e, b] - xpos[e, body_rootid[b]]
    ck = cdof[e, k]
    cj = cdof[e, j]
    wk = wp.vector(ck[0], ck[1], ck[2])
    wj = wp.vector(cj[0], cj[1], cj[2])
    vk = wp.vector(ck[3], ck[4], ck[5]) + wp.cross(wk, arm)
    vj = wp.vector(cj[3], cj[4], cj[5]) + wp.cross(wj, arm)
    rot = wp.cw_mul(wp.quat_rotate_inv(frame, wk), wp.quat_rotate_inv(frame, wj))
    lin = wp.cw_mul(wp.quat_rotate_inv(frame, vk), wp.quat_rotate_inv(frame, vj))
    return wp.dot(slope_rot, rot) + wp.dot(slope_lin, lin)


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
    jnt_actgravcomp: wp.array(dtype=int),
    gravcomp_to_actuators: int,
    qfrc_gravcomp: wp.array2d(dtype=Any),
    fluid: int,
    dof_ancestor: wp.array2d(dtype=int),
    body_mass: wp.array(dtype=Any),
    body_principal_inertia: wp.array(dtype=Any),
    body_iquat: wp.array(dtype=Any),
    body_rootid: wp.array(dtype=int),
    body_lastdof: wp.array(dtype=int),
    density: wp.array(dtype=Any),
    viscosity: wp.array(dtype=Any),
    wind: wp.array(dtype=Any),
    xpos: wp.array2d(dtype=Any),
    xquat: wp.array2d(dtype=Any),
    xipos: wp.array2d(dtype=Any),
    cdof: wp.array2d(dtype=Any),
    dof_cvel: wp.array2d(dtype=Any),
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
                    jnt_actgravcomp,
                    gravcomp_to_actuators,
                    qfrc_gravcomp,
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
    if fluid != 0:
        for b in range(body_mass.shape[0]):
            last = body_lastdof[b]
            if body_mass[b] >= body_mass.dtype(1.0e-15) and in_chain(dof_ancestor, last, k) != 0:
                if in_chain(dof_ancestor, last, j) != 0:
                    total = total + fluid_derivative(
                        e, b, k, j, body_mass, body_principal_inertia, body_iquat, body_rootid, body_lastdof,
                        density, viscosity, wind, xpos, xquat, xipos, cdof, dof_cvel,
                    )  # fmt: skip
    return total


@wp.kernel
def implicit_matrix(
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
    jnt_actgravcomp: wp.array(dtype=int),
    gravcomp_to_actuators: int,
    qfrc_gravcomp: wp.array2d(dtype=Any),
    fluid: int,
    dof_ancestor: wp.array2d(dtype=int),
    body_mass: wp.array(dtype=Any),
    body_principal_inertia: wp.array(dtype=Any),
    body_iquat: wp.array(dtype=Any),
    body_rootid: wp.array(dtype=int),
    body_lastdof: wp.array(dtype=int),
    density: wp.array(dtype=Any),
    viscosity: wp.array(dtype=Any),
    wind: wp.array(dtype=Any),
    xpos: wp.array2d(dtype=Any),
    xquat: wp.array2d(dtype=Any),
    xipos: wp.array2d(dtype=Any),
    cdof: wp.array2d(dtype=Any),
    dof_cvel: wp.array2d(dtype=Any),
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
                jnt_actgravcomp,
                gravcomp_to_actuators,
                qfrc_gravcomp,
                fluid,
                dof_ancestor,
                body_mass,
                body_principal_inertia,
                body_iquat,
                body_rootid,
                body_lastdof,
                density,
                viscosity,
                wind,
                xpos,
                xquat,
                xipos,
                cdof,
                dof_cvel,
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
    jnt_actgravcomp: wp.array(dtype=int),
    gravcomp_to_actuators: int,
    qfrc_gravcomp: wp.array2d(dtype=Any),
    fluid: int,
    dof_ancestor: wp.array2d(dtype=int),
    body_mass: wp.array(dtype=Any),
    body_principal_inertia: wp.array(dtype=Any),
    body_iquat: wp.array(dtype=Any),
    body_rootid: wp.array(dtype=int),
    body_lastdof: wp.array(dtype=int),
    density: wp.array(dtype=Any),
    viscosity: wp.array(dtype=Any),
    wind: wp.array(dtype=Any),
    xpos: wp.array2d(dtype=Any),
    xquat: wp.array2d(dtype=Any),
    xipos: wp.array2d(dtype=Any),
    cdof: wp.array2d(dtype=Any),
    dof_cvel: wp.array2d(dtype=Any),
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
                jnt_actgravcomp,
                gravcomp_to_actuators,
                qfrc_gravcomp,
                fluid,
                dof_ancestor,
                body_mass,
                body_principal_inertia,
                body_iquat,
                body_rootid,
                body_lastdof,
                density,
                viscosity,
                wind,
                xpos,
                xquat,
                xipos,
                cdof,
                dof_cvel,
            )
    return out


@wp.kernel
def free_body_accelerations(
    dof_free_body: wp.array(dtype=int),
    dof_body: wp.array(dtype=int),
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
    jnt_actgravcomp: wp.array(dtype=int),
    gravcomp_to_actuators: int,
    qfrc_gravcomp: wp.array2d(dtype=Any),
    fluid: int,
    dof_ancestor: wp.array2d(dtype=int),
    body_mass: wp.array(dtype=Any),
    body_principal_inertia: wp.array(dtype=Any),
    body_iquat: wp.array(dtype=Any),
    body_rootid: wp.array(dtype=int),
    body_lastdof: wp.array(dtype=int),
    density: wp.array(dtype=Any),
    viscosity: wp.array(dtype=Any),
    wind: wp.array(dtype=Any),
    xpos: wp.array2d(dtype=Any),
    xquat: wp.array2d(dtype=Any),
    xipos: wp.array2d(dtype=Any),
    cdof: wp.array2d(dtype=Any),
    dof_cvel: wp.array2d(dtype=Any),
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
    P = block(
        e, adr, 0, 0, h, M, actuator_trntype, actuator_trnid, dof_damping, jnt_dofadr, jnt_actfrclimited, jnt_actfrcrange,
        tendon_adr, tendon_num, tendon_damping, wrap_objid, wrap_prm, damper, actuator_moment, actuator_force,
        actuator_force_velocity, jnt_actgravcomp, gravcomp_to_actuators, qfrc_gravcomp, fluid, dof_ancestor,
        body_mass, body_principal_inertia, body_iquat, body_rootid, body_lastdof, density, viscosity, wind,
        xpos, xquat, xipos, cdof, dof_cvel,
    )  # fmt: skip
    Q = block(
        e, adr, 0, 3, h, M, actuator_trntype, actuator_trnid, dof_damping, jnt_dofadr, jnt_actfrclimited, jnt_actfrcrange,
        tendon_adr, tendon_num, tendon_damping, wrap_objid, wrap_prm, damper, actuator_moment, actuator_force,
        actuator_force_velocity, jnt_actgravcomp, gravcomp_to_actuators, qfrc_gravcomp, fluid, dof_ancestor,
        body_mass, body_principal_inertia, body_iquat, body_rootid, body_lastdof, density, viscosity, wind,
        xpos, xquat, xipos, cdof, dof_cvel,
    )  # fmt: skip
    R_ = block(
        e, adr, 3, 0, h, M, actuator_trntype, actuator_trnid, dof_damping, jnt_dofadr, jnt_actfrclimited, jnt_actfrcrange,
        tendon_adr, tendon_num, tendon_damping, wrap_objid, wrap_prm, damper, actuator_moment, actuator_force,
        actuator_force_velocity, jnt_actgravcomp, gravcomp_to_actuators, qfrc_gravcomp, fluid, dof_ancestor,
        body_mass, body_principal_inertia, body_iquat, body_rootid, body_lastdof, density, viscosity, wind,
        xpos, xquat, xipos, cdof, dof_cvel,
    )  # fmt: skip
    S = block(
        e, adr, 3, 3, h, M, actuator_trntype, actuator_trnid, dof_damping, jnt_dofadr, jnt_actfrclimited, jnt_actfrcrange,
        tendon_adr, tendon_num, tendon_damping, wrap_objid, wrap_prm, damper, actuator_moment, actuator_force,
        actuator_force_velocity, jnt_actgravcomp, gravcomp_to_actuators, qfrc_gravcomp, fluid, dof_ancestor,
        body_mass, body_principal_inertia, body_iquat, body_rootid, body_lastdof, density, viscosity, wind,
        xpos, xquat, xipos, cdof, dof_cvel,
    )  # fmt: skip
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
