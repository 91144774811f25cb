"""Constraint rows as MuJoCo builds them, with MuJoCo's soft-constraint parameters.

So far: ``connect`` and ``weld`` equalities, joint and fixed-tendon equality couplings, dof and fixed-tendon friction loss,
hinge, slide and fixed-tendon limits [mj_instantiateEquality, mj_instantiateFriction,
mj_instantiateLimit]. Each candidate row (one per friction loss,
two per limited range) has a dense Jacobian row ``efc_J[e, r]`` (nv) and ``efc_active[e, r]``:
1 where MuJoCo instantiates it (a limit only within its margin), else 0.

Parameters of each row [mj_makeImpedance], with ``solref = (timeconst, dampratio)`` (or
``(-stiffness, -damping)``) and ``solimp = (d0, dwidth, width, midpoint, power)``:

* impedance ``imp`` from the row's violation ``|pos - margin|`` on ``solimp``'s sigmoid
  (its entries clamped as MuJoCo clamps them); friction rows are at zero violation;
* ``K = 1 / (dmax^2 timeconst^2 dampratio^2)``, ``B = 2 / (dmax timeconst)`` with
  ``dmax = dwidth`` and ``timeconst >= 2 dt`` (MuJoCo's ``refsafe``), or ``K = stiffness /
  dmax^2``, ``B = damping / dmax`` in the direct form; friction rows have ``K = 0``;
* ``aref = -B J qvel - K imp (pos - margin)``, ``R = (1 - imp) / imp * diagApprox`` with
  ``diagApprox`` the dof's or tendon's ``invweight0``, ``D = 1 / R``.
"""

from typing import Any

import warp as wp

from diffsim.kernels.actuation import in_chain, tendon_coefficient, tendon_sum
from diffsim.kernels.contact import ADJOINT_SOURCE
from diffsim.kernels.spatial import cross_motion, quat_to_rotvec, quat_wxyz
from diffsim.spec import JOINT_BALL, JOINT_FREE, OBJ_SITE

MINVAL = 1.0e-15  # MuJoCo's mjMINVAL
MINIMP = 0.0001  # mjMINIMP
MAXIMP = 0.9999  # mjMAXIMP

# row kinds, in MuJoCo's order; the solver tells equality rows (< ROW_FRICTION_DOF, always
# quadratic), friction rows (< ROW_LIMIT_JOINT) and limit rows apart
ROW_EQUALITY_CONNECT = 0
ROW_EQUALITY_WELD = 1
ROW_EQUALITY_JOINT = 2
ROW_EQUALITY_TENDON = 3
ROW_FRICTION_DOF = 4
ROW_FRICTION_TENDON = 5
ROW_LIMIT_JOINT = 6
ROW_LIMIT_TENDON = 7


@wp.func
def impedance(violation: Any, solimp: Any):
    """MuJoCo's ``getimpedance`` at ``violation = |pos - margin|``, with ``solimp``'s entries
    clamped as ``getsolparam`` clamps them."""
    one = type(violation)(1.0)
    d0 = wp.clamp(solimp[0], type(violation)(MINIMP), type(violation)(MAXIMP))
    dmax = wp.clamp(solimp[1], type(violation)(MINIMP), type(violation)(MAXIMP))
    width = wp.max(solimp[2], type(violation)(0.0))
    midpoint = wp.clamp(solimp[3], type(violation)(MINIMP), type(violation)(MAXIMP))
    power = wp.max(solimp[4], one)
    if d0 == dmax or width <= type(violation)(MINVAL):
        return type(violation)(0.5) * (d0 + dmax)
    x = violation / width
    if x >= one:
        return dmax
    if x <= type(violation)(0.0):
        return d0
    y = x
    if power != one:
        if x <= midpoint:
            y = wp.pow(x, power) / wp.pow(midpoint, power - one)
        else:
            y = one - wp.pow(one - x, power) / wp.pow(one - midpoint, power - one)
    return d0 + y * (dmax - d0)


@wp.func
def reference_gains(solref: Any, solimp: Any, dt: Any, refsafe: int):
    """``(K, B)`` of ``solref`` [getsolparam, mj_makeImpedance]: the time-constant form
    ``(timeconst, dampratio)``, at least ``2 dt`` unless ``refsafe`` is off, or the direct
    form ``(-stiffness, -damping)``; mixed signs fall back to MuJoCo's default (0.02, 1)."""
    zero = dt * type(dt)(0.0)
    one = type(dt)(1.0)
    tiny = type(dt)(MINVAL)
    ref0 = solref[0]
    ref1 = solref[1]
    if (ref0 > zero) != (ref1 > zero):
        ref0 = type(dt)(0.02)
        ref1 = one
    if refsafe != 0 and ref0 > zero:
        ref0 = wp.max(ref0, type(dt)(2.0) * dt)
    dmax = wp.clamp(solimp[1], type(dt)(MINIMP), type(dt)(MAXIMP))
    k = -ref0 / wp.max(tiny, dmax * dmax)
    if ref0 > zero:
        k = one / wp.max(tiny, dmax * dmax * ref0 * ref0 * ref1 * ref1)
    b = -ref1 / wp.max(tiny, dmax)
    if ref1 > zero:
        b = type(dt)(2.0) / wp.max(tiny, dmax * ref0)
    return k, b


@wp.func
def coupling(data: Any, x: Any):
    """MuJoCo's joint or tendon coupling polynomial ``data[1] x + ... + data[4] x^4`` and its
    derivative."""
    value = x * (data[1] + x * (data[2] + x * (data[3] + x * data[4])))
    slope = data[1] + x * (type(x)(2.0) * data[2] + x * (type(x)(3.0) * data[3] + x * type(x)(4.0) * data[4]))
    return value, slope


@wp.func
def pure(v: Any):
    """The quaternion ``(0, v)`` (Warp's order: x, y, z, w)."""
    return wp.quaternion(v[0], v[1], v[2], v[0] * type(v[0])(0.0))


@wp.func
def conjugate(q: Any):
    return wp.quaternion(-q[0], -q[1], -q[2], q[3])


@wp.func
def moving_cdof_dot(
    e: int,
    i: int,
    body_lastdof: wp.array(dtype=int),
    dof_body: wp.array(dtype=int),
    dof_jnt: wp.array(dtype=int),
    jnt_type: wp.array(dtype=int),
    jnt_dofadr: wp.array(dtype=int),
    cdof: wp.array2d(dtype=Any),
    cdof_dot: wp.array2d(dtype=Any),
    dof_cvel: wp.array2d(dtype=Any),
):
    """Dof ``i``'s rate of motion as mj_jacDot takes it: ``cdof_dot``, or for the rotations of
    ball and free joints ``cvel x cdof`` with the velocity of the dof's body."""
    j = dof_jnt[i]
    if jnt_type[j] == JOINT_BALL or (jnt_type[j] == JOINT_FREE and i >= jnt_dofadr[j] + 3):
        return cross_motion(dof_cvel[e, body_lastdof[dof_body[i]]], cdof[e, i])
    return cdof_dot[e, i]


@wp.func
def body_angular_velocity(
    e: int, b: int, zero: Any, body_lastdof: wp.array(dtype=int), dof_cvel: wp.array2d(dtype=Any)
):
    """World angular velocity of body ``b`` (zero for a body without dofs)."""
    last = body_lastdof[b]
    if last < 0:
        return wp.vector(zero, zero, zero)
    c = dof_cvel[e, last]
    return wp.vector(c[0], c[1], c[2])


@wp.func
def point_jacobian(e: int, k: int, p: Any, origin: Any, cdof: wp.array2d(dtype=Any)):
    """Column ``k`` of the translational Jacobian of world point ``p`` (its tree's reference
    point ``origin``): ``lin_k + ang_k x (p - origin)``."""
    c = cdof[e, k]
    return wp.vector(c[3], c[4], c[5]) + wp.cross(wp.vector(c[0], c[1], c[2]), p - origin)


@wp.func
def jacobian_dot_qvel(
    e: int,
    b: int,
    p: Any,
    nv: int,
    body_rootid: wp.array(dtype=int),
    body_lastdof: wp.array(dtype=int),
    dof_ancestor: wp.array2d(dtype=int),
    dof_body: wp.array(dtype=int),
    dof_jnt: wp.array(dtype=int),
    jnt_type: wp.array(dtype=int),
    jnt_dofadr: wp.array(dtype=int),
    xpos: wp.array2d(dtype=Any),
    cdof: wp.array2d(dtype=Any),
    cdof_dot: wp.array2d(dtype=Any),
    dof_cvel: wp.array2d(dtype=Any),
    qvel: wp.array2d(dtype=Any),
):
    """``(Jdot qvel, Jrdot qvel)`` of world point ``p`` on body ``b`` [mj_jacDot]: over the
    dofs that move the body, ``(cdot_lin + cdot_ang x (p - origin) + ang x pvel) qvel`` and
    ``cdot_ang qvel``, with ``cdot`` the dof's ``cdof_dot`` (for the rotations of ball and
    free joints ``cvel x cdof`` with its body's velocity) and ``pvel`` the point's velocity."""
    zero3 = p * type(p[0])(0.0)
    last = body_lastdof[b]
    total = zero3
    rotation = zero3
    if last < 0:
        return total, rotation
    origin = xpos[e, body_rootid[b]]
    body_vel = dof_cvel[e, last]
    pvel = wp.vector(body_vel[3], body_vel[4], body_vel[5]) + wp.cross(
        wp.vector(body_vel[0], body_vel[1], body_vel[2]), p - origin
    )
    for i in range(nv):
        if in_chain(dof_ancestor, last, i) != 0:
            c = cdof[e, i]
            cdot = moving_cdof_dot(
                e, i, body_lastdof, dof_body, dof_jnt, jnt_type, jnt_dofadr, cdof, cdof_dot, dof_cvel
            )
            angular = wp.vector(cdot[0], cdot[1], cdot[2])
            column = (
                wp.vector(cdot[3], cdot[4], cdot[5])
                + wp.cross(angular, p - origin)
                + wp.cross(wp.vector(c[0], c[1], c[2]), pvel)
            )
            total = total + column * qvel[e, i]
            rotation = rotation + angular * qvel[e, i]
    return total, rotation


@wp.func
def row_jacobian(
    e: int,
    r: int,
    kind: int,
    axis: int,
    b1: int,
    b2: int,
    p1: Any,
    p2: Any,
    q1r: Any,
    q2c: Any,
    torquescale: Any,
    tendon: bool,
    first: int,
    second: int,
    a1: Any,
    a2: Any,
    active: Any,
    dof_ancestor: wp.array2d(dtype=int),
    body_lastdof: wp.array(dtype=int),
    body_rootid: wp.array(dtype=int),
    jnt_dofadr: wp.array(dtype=int),
    tendon_adr: wp.array(dtype=int),
    tendon_num: wp.array(dtype=int),
    wrap_objid: wp.array(dtype=int),
    wrap_prm: wp.array(dtype=Any),
    xpos: wp.array2d(dtype=Any),
    cdof: wp.array2d(dtype=Any),
    qvel: wp.array2d(dtype=Any),
    efc_J: wp.array3d(dtype=Any),
):
    """Writes equality row ``r``'s Jacobian (times ``active``) and returns its velocity
    ``J qvel`` (see ``equality_rows``). The sum over dofs lives in this function, not in the kernel:
    Warp's adjoint replays a function's loop, but a kernel's reverse pass would see a sum
    carried through a loop at its value before the loop."""
    zero = a1 * type(a1)(0.0)
    one = zero + type(a1)(1.0)
    velocity = zero
    for k in range(efc_J.shape[2]):
        value = zero
        if (kind == ROW_EQUALITY_CONNECT or kind == ROW_EQUALITY_WELD) and axis < 3:
            if in_chain(dof_ancestor, body_lastdof[b1], k) != 0:
                value = value + point_jacobian(e, k, p1, xpos[e, body_rootid[b1]], cdof)[axis]
            if in_chain(dof_ancestor, body_lastdof[b2], k) != 0:
                value = value - point_jacobian(e, k, p2, xpos[e, body_rootid[b2]], cdof)[axis]
        elif kind == ROW_EQUALITY_WELD:
            c = cdof[e, k]
            relative = wp.vector(zero, zero, zero)
            if in_chain(dof_ancestor, body_lastdof[b1], k) != 0:
                relative = relative + wp.vector(c[0], c[1], c[2])
            if in_chain(dof_ancestor, body_lastdof[b2], k) != 0:
                relative = relative - wp.vector(c[0], c[1], c[2])
            t = q2c * pure(relative) * q1r
            value = type(one)(0.5) * wp.vector(t[0], t[1], t[2])[axis - 3] * torquescale
        elif tendon:
            value = a1 * tendon_coefficient(first, k, tendon_adr, tendon_num, wrap_objid, wrap_prm, jnt_dofadr)
            if second >= 0:
                value = value + a2 * tendon_coefficient(
                    second, k, tendon_adr, tendon_num, wrap_objid, wrap_prm, jnt_dofadr
                )
        else:
            if k == jnt_dofadr[first]:
                value = a1
            if second >= 0 and k == jnt_dofadr[second]:
                value = value + a2
        efc_J[e, r, k] = value * active
        velocity = velocity + value * qvel[e, k]
    return velocity


@wp.kernel
def equality_rows(
    row_kind: wp.array(dtype=int),
    row_id: wp.array(dtype=int),
    row_side: wp.array(dtype=int),
    dof_invweight0: wp.array(dtype=Any),
    jnt_qposadr: wp.array(dtype=int),
    jnt_dofadr: wp.array(dtype=int),
    qpos0: wp.array(dtype=Any),
    tendon_adr: wp.array(dtype=int),
    tendon_num: wp.array(dtype=int),
    wrap_objid: wp.array(dtype=int),
    wrap_prm: wp.array(dtype=Any),
    tendon_invweight0: wp.array(dtype=Any),
    tendon_length0: wp.array(dtype=Any),
    eq_objtype: wp.array(dtype=int),
    eq_obj1id: wp.array(dtype=int),
    eq_obj2id: wp.array(dtype=int),
    eq_solref: wp.array(dtype=Any),
    eq_solimp: wp.array(dtype=Any),
    eq_data: wp.array(dtype=Any),
    site_body: wp.array(dtype=int),
    site_pos: wp.array(dtype=Any),
    site_quat: wp.array(dtype=Any),
    body_rootid: wp.array(dtype=int),
    body_lastdof: wp.array(dtype=int),
    body_invweight0: wp.array(dtype=Any),
    dof_ancestor: wp.array2d(dtype=int),
    dof_body: wp.array(dtype=int),
    dof_jnt: wp.array(dtype=int),
    jnt_type: wp.array(dtype=int),
    dt: wp.array(dtype=Any),
    refsafe: int,
    qpos: wp.array2d(dtype=Any),
    qvel: wp.array2d(dtype=Any),
    xpos: wp.array2d(dtype=Any),
    xquat: wp.array2d(dtype=Any),
    cdof: wp.array2d(dtype=Any),
    cdof_dot: wp.array2d(dtype=Any),
    dof_cvel: wp.array2d(dtype=Any),
    # outputs
    efc_J: wp.array3d(dtype=Any),
    efc_active: wp.array2d(dtype=Any),
    efc_aref: wp.array2d(dtype=Any),
    efc_R: wp.array2d(dtype=Any),
    efc_frictionloss: wp.array2d(dtype=Any),
):
    """The equality rows (the first rows); launch over (env, equality row).

    A ``connect`` (one row per world axis ``row_side``): the two anchors' separation
    ``p1 - p2`` (anchors from ``eq_data`` in the bodies' frames, or two sites), the
    impedance from its length, ``J`` the difference of the anchors' point Jacobians, and
    ``aref`` less the anchors' ``Jdot qvel`` difference [mj_Jdotv]. A joint or tendon coupling ``x1 - x1_0 = data[0] + p(x2 - x2_0)`` (``x``: a joint's
    position or a fixed tendon's length, ``_0`` at qpos0; without a second object only
    ``data[0]``): ``pos`` its violation, ``J = J1 - p'(x2 - x2_0) J2``. A ``weld`` (six rows:
    translation, then rotation): the separation and the vector part of the relative
    rotation times ``torquescale``, one impedance from the whole error's length."""
    e, r = wp.tid()
    kind = row_kind[r]
    id = row_id[r]
    nv = efc_J.shape[2]
    zero = qvel.dtype(0.0)
    one = qvel.dtype(1.0)
    active = one
    pos = zero
    diag = zero
    solref = eq_solref[0]
    solimp = eq_solimp[0]
    # the row is a1 J(object 1) + a2 J(object 2), each a joint's unit row or a tendon's coefficients
    tendon = kind == ROW_EQUALITY_TENDON
    first = id
    second = -1
    a1 = one
    a2 = zero
    # connect: the anchors, their bodies, and this row's world axis
    axis = row_side[r]
    b1 = 0
    b2 = 0
    p1 = xpos[e, 0]
    p2 = xpos[e, 0]
    jdv = zero
    q1r = quat_wxyz(wp.vector(one, zero, zero, zero))  # weld: body 1's frame (times relpose)
    q2c = q1r  # weld: the conjugate of body 2's frame
    torquescale = one
    if kind == ROW_EQUALITY_CONNECT or kind == ROW_EQUALITY_WELD:
        data = eq_data[id]
        b1 = eq_obj1id[id]
        b2 = eq_obj2id[id]
        anchor1 = wp.vector(data[0], data[1], data[2])
        anchor2 = wp.vector(data[3], data[4], data[5])
        if kind == ROW_EQUALITY_WELD:  # MuJoCo's weld anchors the other way round
            anchor1 = wp.vector(data[3], data[4], data[5])
            anchor2 = wp.vector(data[0], data[1], data[2])
            torquescale = data[10]
        q1 = xquat[e, b1]
        q2 = xquat[e, b2]
        if eq_objtype[id] == OBJ_SITE:
            anchor1 = site_pos[b1]
            anchor2 = site_pos[b2]
            b1 = site_body[b1]
            b2 = site_body[b2]
            q1 = xquat[e, b1] * quat_wxyz(site_quat[eq_obj1id[id]])
            q2 = xquat[e, b2] * quat_wxyz(site_quat[eq_obj2id[id]])
        p1 = xpos[e, b1] + wp.quat_rotate(xquat[e, b1], anchor1)
        p2 = xpos[e, b2] + wp.quat_rotate(xquat[e, b2], anchor2)
        if kind == ROW_EQUALITY_WELD:  # the frames whose relative rotation the weld holds
            q1r = q1
            if eq_objtype[id] != OBJ_SITE:
                q1r = q1 * quat_wxyz(wp.vector(data[6], data[7], data[8], data[9]))
            q2c = conjugate(q2)
        solref = eq_solref[id]
        solimp = eq_solimp[id]
        jdv1, jr1 = jacobian_dot_qvel(
            e, b1, p1, nv, body_rootid, body_lastdof, dof_ancestor, dof_body, dof_jnt, jnt_type, jnt_dofadr,
            xpos, cdof, cdof_dot, dof_cvel, qvel,
        )  # fmt: skip
        jdv2, jr2 = jacobian_dot_qvel(
            e, b2, p2, nv, body_rootid, body_lastdof, dof_ancestor, dof_body, dof_jnt, jnt_type, jnt_dofadr,
            xpos, cdof, cdof_dot, dof_cvel, qvel,
        )  # fmt: skip
        if axis < 3:
            pos = (p1 - p2)[axis]
            diag = body_invweight0[b1][0] + body_invweight0[b2][0]
            jdv = jdv1[axis] - jdv2[axis]
        else:
            # rotation error: the vector part of conj(q2) q1 relpose, times torquescale
            error = q2c * q1r
            pos = wp.vector(error[0], error[1], error[2])[axis - 3] * torquescale
            diag = body_invweight0[b1][1] + body_invweight0[b2][1]
            # d/dt of 0.5 conj(q2) (w1 - w2) q1r, as MuJoCo's mj_Jdotv
            w1 = body_angular_velocity(e, b1, zero, body_lastdof, dof_cvel)
            w2 = body_angular_velocity(e, b2, zero, body_lastdof, dof_cvel)
            dw = w1 - w2
            q2dot_c = conjugate(pure(w2) * q2 * type(one)(0.5))
            q1rdot = pure(w1) * q1 * type(one)(0.5)
            if eq_objtype[id] != OBJ_SITE:
                q1rdot = q1rdot * quat_wxyz(wp.vector(data[6], data[7], data[8], data[9]))
            t = q2dot_c * pure(dw) * q1r + q2c * pure(jr1 - jr2) * q1r + q2c * pure(dw) * q1rdot
            jdv = type(one)(0.5) * wp.vector(t[0], t[1], t[2])[axis - 3] * torquescale
    elif kind == ROW_EQUALITY_JOINT or kind == ROW_EQUALITY_TENDON:
        first = eq_obj1id[id]
        second = eq_obj2id[id]
        data = eq_data[id]
        x1 = zero
        if tendon:
            x1 = (
                tendon_sum(e, first, tendon_adr, tendon_num, wrap_objid, wrap_prm, jnt_qposadr, qpos)
                - tendon_length0[first]
            )
            diag = tendon_invweight0[first]
        else:
            x1 = qpos[e, jnt_qposadr[first]] - qpos0[jnt_qposadr[first]]
            diag = dof_invweight0[jnt_dofadr[first]]
        pos = x1 - data[0]
        if second >= 0:
            x2 = zero
            if tendon:
                x2 = (
                    tendon_sum(e, second, tendon_adr, tendon_num, wrap_objid, wrap_prm, jnt_qposadr, qpos)
                    - tendon_length0[second]
                )
                diag = diag + tendon_invweight0[second]
            else:
                x2 = qpos[e, jnt_qposadr[second]] - qpos0[jnt_qposadr[second]]
                diag = diag + dof_invweight0[jnt_dofadr[second]]
            value, slope = coupling(data, x2)
            pos = pos - value
            a2 = -slope
        solref = eq_solref[id]
        solimp = eq_solimp[id]
    velocity = row_jacobian(
        e, r, kind, axis, b1, b2, p1, p2, q1r, q2c, torquescale, tendon, first, second, a1, a2, active,
        dof_ancestor, body_lastdof, body_rootid, jnt_dofadr, tendon_adr, tendon_num, wrap_objid, wrap_prm, xpos,
        cdof, qvel, efc_J,
    )  # fmt: skip
    violation = wp.abs(pos)
    if kind == ROW_EQUALITY_CONNECT:
        violation = wp.length(p1 - p2)  # one impedance for the three rows, from the separation's length
    if kind == ROW_EQUALITY_WELD:  # one impedance for the six rows, from the whole error's length
        error = q2c * q1r
        rotation_error = wp.vector(error[0], error[1], error[2]) * torquescale
        separation = p1 - p2
        violation = wp.sqrt(wp.dot(separation, separation) + wp.dot(rotation_error, rotation_error))
    imp = impedance(violation, solimp)
    k_ref, b_ref = reference_gains(solref, solimp, dt[0], refsafe)
    efc_active[e, r] = active
    efc_aref[e, r] = -b_ref * velocity - k_ref * imp * pos - jdv
    efc_R[e, r] = wp.max(qvel.dtype(MINVAL), (one - imp) / imp * diag)
    efc_frictionloss[e, r] = zero


@wp.func
def unit_row(e: int, r: int, dof: int, a1: Any, active: Any, qvel: wp.array2d(dtype=Any), efc_J: wp.array3d(dtype=Any)):
    """Writes row ``r``'s Jacobian ``a1`` at ``dof`` (times ``active``), returns its velocity."""
    for k in range(efc_J.shape[2]):
        value = a1 * type(a1)(0.0)
        if k == dof:
            value = a1 * active
        efc_J[e, r, k] = value
    return a1 * qvel[e, dof]


@wp.func
def ball_row(
    e: int, r: int, dof: int, axis: Any, active: Any, qvel: wp.array2d(dtype=Any), efc_J: wp.array3d(dtype=Any)
):
    """A ball joint's limit row: minus the rotation's unit ``axis`` on the joint's 3 dofs."""
    for k in range(efc_J.shape[2]):
        value = active * type(active)(0.0)
        if k >= dof and k < dof + 3:
            value = -axis[k - dof] * active
        efc_J[e, r, k] = value
    return -(axis[0] * qvel[e, dof] + axis[1] * qvel[e, dof + 1] + axis[2] * qvel[e, dof + 2])


@wp.func
def tendon_row(
    e: int,
    r: int,
    tendon: int,
    a1: Any,
    active: Any,
    tendon_adr: wp.array(dtype=int),
    tendon_num: wp.array(dtype=int),
    wrap_objid: wp.array(dtype=int),
    wrap_prm: wp.array(dtype=Any),
    jnt_dofadr: wp.array(dtype=int),
    qvel: wp.array2d(dtype=Any),
    efc_J: wp.array3d(dtype=Any),
):
    """A fixed tendon's row: ``a1`` times its coefficients; returns its velocity (the sum in
    a function, see ``row_jacobian``)."""
    velocity = a1 * type(a1)(0.0)
    for k in range(efc_J.shape[2]):
        value = a1 * tendon_coefficient(tendon, k, tendon_adr, tendon_num, wrap_objid, wrap_prm, jnt_dofadr)
        efc_J[e, r, k] = value * active
        velocity = velocity + value * qvel[e, k]
    return velocity


@wp.func(inline=True)  # inlined: no copy of its many arguments per item
def limit_or_friction_row(
    e: int,
    i: int,
    first_row: int,
    row_kind: wp.array(dtype=int),
    row_id: wp.array(dtype=int),
    row_side: wp.array(dtype=int),
    dof_invweight0: wp.array(dtype=Any),
    dof_frictionloss: wp.array(dtype=Any),
    dof_solref: wp.array(dtype=Any),
    dof_solimp: wp.array(dtype=Any),
    jnt_qposadr: wp.array(dtype=int),
    jnt_dofadr: wp.array(dtype=int),
    jnt_type: wp.array(dtype=int),
    jnt_range: wp.array(dtype=Any),
    jnt_margin: wp.array(dtype=Any),
    jnt_solref: wp.array(dtype=Any),
    jnt_solimp: wp.array(dtype=Any),
    tendon_adr: wp.array(dtype=int),
    tendon_num: wp.array(dtype=int),
    wrap_objid: wp.array(dtype=int),
    wrap_prm: wp.array(dtype=Any),
    tendon_range: wp.array(dtype=Any),
    tendon_margin: wp.array(dtype=Any),
    tendon_frictionloss: wp.array(dtype=Any),
    tendon_solref_lim: wp.array(dtype=Any),
    tendon_solimp_lim: wp.array(dtype=Any),
    tendon_solref_fri: wp.array(dtype=Any),
    tendon_solimp_fri: wp.array(dtype=Any),
    tendon_invweight0: wp.array(dtype=Any),
    dt: wp.array(dtype=Any),
    refsafe: int,
    qpos: wp.array2d(dtype=Any),
    qvel: wp.array2d(dtype=Any),
    # outputs
    efc_J: wp.array3d(dtype=Any),
    efc_active: wp.array2d(dtype=Any),
    efc_aref: wp.array2d(dtype=Any),
    efc_R: wp.array2d(dtype=Any),
    efc_frictionloss: wp.array2d(dtype=Any),
):
    """The friction-loss and limit rows (every row after the equalities), as
    MuJoCo builds them [mj_instantiateFriction, mj_instantiateLimit]; launch over (env, row -
    ``first_row``)."""
    r = first_row + i
    kind = row_kind[r]
    id = row_id[r]
    zero = qvel.dtype(0.0)
    one = qvel.dtype(1.0)
    side = qvel.dtype(row_side[r])
    active = one
    pos = zero
    margin = zero
    friction = zero
    diag = zero
    a1 = one
    solref = dof_solref[0]
    solimp = dof_solimp[0]
    tendon = kind == ROW_FRICTION_TENDON or kind == ROW_LIMIT_TENDON
    ball = kind == ROW_LIMIT_JOINT and jnt_type[id] == JOINT_BALL
    ball_axis = wp.vector(zero, zero, zero)
    dof = id
    if kind == ROW_FRICTION_DOF:
        friction = dof_frictionloss[id]
        diag = dof_invweight0[id]
        solref = dof_solref[id]
        solimp = dof_solimp[id]
    elif kind == ROW_FRICTION_TENDON:
        friction = tendon_frictionloss[id]
        diag = tendon_invweight0[id]
        solref = tendon_solref_fri[id]
        solimp = tendon_solimp_fri[id]
    else:
        x = zero
        lower = zero
        upper = zero
        if tendon:
            x = tendon_sum(e, id, tendon_adr, tendon_num, wrap_objid, wrap_prm, jnt_qposadr, qpos)
            lower = tendon_range[id][0]
            upper = tendon_range[id][1]
            margin = tendon_margin[id]
            diag = tendon_invweight0[id]
            solref = tendon_solref_lim[id]
            solimp = tendon_solimp_lim[id]
        else:
            dof = jnt_dofadr[id]
            x = qpos[e, jnt_qposadr[id]]
            lower = jnt_range[id][0]
            upper = jnt_range[id][1]
            margin = jnt_margin[id]
            diag = dof_invweight0[dof]
            solref = jnt_solref[id]
            solimp = jnt_solimp[id]
            if ball:
                # the rotation angle against max(range): J is minus the rotation's unit axis
                a = jnt_qposadr[id]
                rotation = quat_to_rotvec(
                    wp.normalize(quat_wxyz(wp.vector(qpos[e, a], qpos[e, a + 1], qpos[e, a + 2], qpos[e, a + 3])))
                )
                x = wp.length(rotation)
                if x > zero:
                    ball_axis = rotation / x
                upper = wp.max(lower, upper)
        pos = x - lower
        if row_side[r] > 0 or ball:
            pos = upper - x
        a1 = -side
        if pos >= margin:
            # a limit not instantiated: nothing reads its other entries (the solver and its
            # adjoint visit the active rows only)
            efc_active[e, r] = zero
            return
    velocity = zero
    if tendon:
        velocity = tendon_row(
            e, r, id, a1, active, tendon_adr, tendon_num, wrap_objid, wrap_prm, jnt_dofadr, qvel, efc_J
        )
    elif ball:
        velocity = ball_row(e, r, dof, ball_axis, active, qvel, efc_J)
    else:
        velocity = unit_row(e, r, dof, a1, active, qvel, efc_J)
    imp = impedance(wp.abs(pos - margin), solimp)
    k_ref, b_ref = reference_gains(solref, solimp, dt[0], refsafe)
    if kind == ROW_FRICTION_DOF or kind == ROW_FRICTION_TENDON:
        k_ref = zero
    efc_active[e, r] = active
    efc_aref[e, r] = -b_ref * velocity - k_ref * imp * (pos - margin)
    efc_R[e, r] = wp.max(qvel.dtype(MINVAL), (one - imp) / imp * diag)
    efc_frictionloss[e, r] = friction


@wp.kernel
def limit_and_friction_rows(
    nrows: int,
    per_block: int,
    first_row: int,
    row_kind: wp.array(dtype=int),
    row_id: wp.array(dtype=int),
    row_side: wp.array(dtype=int),
    dof_invweight0: wp.array(dtype=Any),
    dof_frictionloss: wp.array(dtype=Any),
    dof_solref: wp.array(dtype=Any),
    dof_solimp: wp.array(dtype=Any),
    jnt_qposadr: wp.array(dtype=int),
    jnt_dofadr: wp.array(dtype=int),
    jnt_type: wp.array(dtype=int),
    jnt_range: wp.array(dtype=Any),
    jnt_margin: wp.array(dtype=Any),
    jnt_solref: wp.array(dtype=Any),
    jnt_solimp: wp.array(dtype=Any),
    tendon_adr: wp.array(dtype=int),
    tendon_num: wp.array(dtype=int),
    wrap_objid: wp.array(dtype=int),
    wrap_prm: wp.array(dtype=Any),
    tendon_range: wp.array(dtype=Any),
    tendon_margin: wp.array(dtype=Any),
    tendon_frictionloss: wp.array(dtype=Any),
    tendon_solref_lim: wp.array(dtype=Any),
    tendon_solimp_lim: wp.array(dtype=Any),
    tendon_solref_fri: wp.array(dtype=Any),
    tendon_solimp_fri: wp.array(dtype=Any),
    tendon_invweight0: wp.array(dtype=Any),
    dt: wp.array(dtype=Any),
    refsafe: int,
    qpos: wp.array2d(dtype=Any),
    qvel: wp.array2d(dtype=Any),
    # outputs
    efc_J: wp.array3d(dtype=Any),
    efc_active: wp.array2d(dtype=Any),
    efc_aref: wp.array2d(dtype=Any),
    efc_R: wp.array2d(dtype=Any),
    efc_frictionloss: wp.array2d(dtype=Any),
):
    """``limit_or_friction_row`` for the friction-loss and limit rows of every environment; launch over (env, block of
    ``per_block``, ``Simulator.row_blocks``)."""
    e, block = wp.tid()
    for i in range(block * per_block, wp.min((block + 1) * per_block, nrows)):
        limit_or_friction_row(
            e,
            i,
            first_row,
            row_kind,
            row_id,
            row_side,
            dof_invweight0,
            dof_frictionloss,
            dof_solref,
            dof_solimp,
            jnt_qposadr,
            jnt_dofadr,
            jnt_type,
            jnt_range,
            jnt_margin,
            jnt_solref,
            jnt_solimp,
            tendon_adr,
            tendon_num,
            wrap_objid,
            wrap_prm,
            tendon_range,
            tendon_margin,
            tendon_frictionloss,
            tendon_solref_lim,
            tendon_solimp_lim,
            tendon_solref_fri,
            tendon_solimp_fri,
            tendon_invweight0,
            dt,
            refsafe,
            qpos,
            qvel,
            efc_J,
            efc_active,
            efc_aref,
            efc_R,
            efc_frictionloss,
        )


@wp.kernel
def limit_and_friction_rows_of_active(
    nrows: int,
    per_block: int,
    first_row: int,
    row_kind: wp.array(dtype=int),
    row_id: wp.array(dtype=int),
    row_side: wp.array(dtype=int),
    dof_invweight0: wp.array(dtype=Any),
    dof_frictionloss: wp.array(dtype=Any),
    dof_solref: wp.array(dtype=Any),
    dof_solimp: wp.array(dtype=Any),
    jnt_qposadr: wp.array(dtype=int),
    jnt_dofadr: wp.array(dtype=int),
    jnt_type: wp.array(dtype=int),
    jnt_range: wp.array(dtype=Any),
    jnt_margin: wp.array(dtype=Any),
    jnt_solref: wp.array(dtype=Any),
    jnt_solimp: wp.array(dtype=Any),
    tendon_adr: wp.array(dtype=int),
    tendon_num: wp.array(dtype=int),
    wrap_objid: wp.array(dtype=int),
    wrap_prm: wp.array(dtype=Any),
    tendon_range: wp.array(dtype=Any),
    tendon_margin: wp.array(dtype=Any),
    tendon_frictionloss: wp.array(dtype=Any),
    tendon_solref_lim: wp.array(dtype=Any),
    tendon_solimp_lim: wp.array(dtype=Any),
    tendon_solref_fri: wp.array(dtype=Any),
    tendon_solimp_fri: wp.array(dtype=Any),
    tendon_invweight0: wp.array(dtype=Any),
    dt: wp.array(dtype=Any),
    refsafe: int,
    qpos: wp.array2d(dtype=Any),
    qvel: wp.array2d(dtype=Any),
    # outputs
    efc_J: wp.array3d(dtype=Any),
    efc_active: wp.array2d(dtype=Any),
    efc_aref: wp.array2d(dtype=Any),
    efc_R: wp.array2d(dtype=Any),
    efc_frictionloss: wp.array2d(dtype=Any),
):
    """``limit_and_friction_rows`` for the backward pass: the same, skipping where the forward left
    nothing to differentiate, so that its adjoint does too (``contact.ADJOINT_SOURCE``)."""
    e, block = wp.tid()
    for i in range(block * per_block, wp.min((block + 1) * per_block, nrows)):
        if efc_active[e, first_row + i] != efc_active.dtype(0.0):
            limit_or_friction_row(
                e,
                i,
                first_row,
                row_kind,
                row_id,
                row_side,
                dof_invweight0,
                dof_frictionloss,
                dof_solref,
                dof_solimp,
                jnt_qposadr,
                jnt_dofadr,
                jnt_type,
                jnt_range,
                jnt_margin,
                jnt_solref,
                jnt_solimp,
                tendon_adr,
                tendon_num,
                wrap_objid,
                wrap_prm,
                tendon_range,
                tendon_margin,
                tendon_frictionloss,
                tendon_solref_lim,
                tendon_solimp_lim,
                tendon_solref_fri,
                tendon_solimp_fri,
                tendon_invweight0,
                dt,
                refsafe,
                qpos,
                qvel,
                efc_J,
                efc_active,
                efc_aref,
                efc_R,
                efc_frictionloss,
            )


ADJOINT_SOURCE[limit_and_friction_rows] = limit_and_friction_rows_of_active


ROW_CONTACT = 8  # a contact's rows (after every other kind, as MuJoCo orders them)


@wp.func
def contact_jacobian_column(
    e: int,
    k: int,
    b1: int,
    b2: int,
    p: Any,
    body_rootid: wp.array(dtype=int),
    body_lastdof: wp.array(dtype=int),
    dof_ancestor: wp.array2d(dtype=int),
    xpos: wp.array2d(dtype=Any),
    cdof: wp.array2d(dtype=Any),
):
    """Column ``k`` of the difference of the translational and rotational Jacobians of
    point ``p`` on body ``b2`` and on body ``b1`` [mj_jacDifPair]."""
    zero = p * type(p[0])(0.0)
    linear = zero
    angular = zero
    c = cdof[e, k]
    if in_chain(dof_ancestor, body_lastdof[b2], k) != 0:
        linear = linear + point_jacobian(e, k, p, xpos[e, body_rootid[b2]], cdof)
        angular = angular + wp.vector(c[0], c[1], c[2])
    if in_chain(dof_ancestor, body_lastdof[b1], k) != 0:
        linear = linear - point_jacobian(e, k, p, xpos[e, body_rootid[b1]], cdof)
        angular = angular - wp.vector(c[0], c[1], c[2])
    return linear, angular


@wp.func
def contact_row_value(j: int, nrows: int, dim: int, cone: int, frame: Any, friction: Any, linear: Any, angular: Any):
    """Row ``j`` of a contact applied to a relative (linear, angular) motion of its point:
    the normal component, plus or minus ``mu`` times a tangent's (or a rotation's); of an
    elliptic cone (``cone != 0``), the normal component or ``mu`` times a tangent's."""
    value = frame[0, 0] * linear[0] + frame[0, 1] * linear[1] + frame[0, 2] * linear[2]
    if cone != 0 and j > 0:
        axis = j
        moving = linear
        if j >= 3:
            axis = j - 3
            moving = angular
        return friction[j - 1] * (frame[axis, 0] * moving[0] + frame[axis, 1] * moving[1] + frame[axis, 2] * moving[2])
    if cone == 0 and j < nrows and dim > 1:
        direction = j / 2 + 1  # the friction direction of this pair of rows
        axis = direction
        moving = linear
        if direction >= 3:  # torsion and rolling: the rotational Jacobian
            axis = direction - 3
            moving = angular
        tangent = frame[axis, 0] * moving[0] + frame[axis, 1] * moving[1] + frame[axis, 2] * moving[2]
        if j % 2 == 1:
            tangent = -tangent
        value = value + friction[direction - 1] * tangent
    return value


@wp.func
def point_velocity(
    e: int,
    b: int,
    p: Any,
    body_rootid: wp.array(dtype=int),
    body_lastdof: wp.array(dtype=int),
    xpos: wp.array2d(dtype=Any),
    dof_cvel: wp.array2d(dtype=Any),
):
    """(linear, angular) world velocity of point ``p`` moving with body ``b``: its ``cvel``
    (the sum of its chain's ``cdof qvel``) at the point."""
    zero = p * type(p[0])(0.0)
    last = body_lastdof[b]
    if last < 0:
        return zero, zero
    c = dof_cvel[e, last]
    angular = wp.vector(c[0], c[1], c[2])
    return wp.vector(c[3], c[4], c[5]) + wp.cross(angular, p - xpos[e, body_rootid[b]]), angular


@wp.kernel
def contact_rows(
    capacity: int,
    per_block: int,
    nrow_static: int,
    rows_per_contact: int,
    elliptic: int,
    impratio: Any,
    collision_geom1: wp.array(dtype=int),
    collision_geom2: wp.array(dtype=int),
    geom_body: wp.array(dtype=int),
    body_rootid: wp.array(dtype=int),
    body_lastdof: wp.array(dtype=int),
    body_invweight0: wp.array(dtype=Any),
    dof_ancestor: wp.array2d(dtype=int),
    dt: wp.array(dtype=Any),
    refsafe: int,
    ncon: wp.array(dtype=int),
    con_pair: wp.array2d(dtype=int),
    con_dim: wp.array2d(dtype=int),
    con_dist: wp.array2d(dtype=Any),
    con_pos: wp.array2d(dtype=Any),
    con_frame: wp.array2d(dtype=Any),
    con_includemargin: wp.array2d(dtype=Any),
    con_friction: wp.array2d(dtype=Any),
    con_solref: wp.array2d(dtype=Any),
    con_solreffriction: wp.array2d(dtype=Any),
    con_solimp: wp.array2d(dtype=Any),
    qvel: wp.array2d(dtype=Any),
    xpos: wp.array2d(dtype=Any),
    cdof: wp.array2d(dtype=Any),
    dof_cvel: wp.array2d(dtype=Any),
    # outputs
    efc_J: wp.array3d(dtype=Any),
    efc_active: wp.array2d(dtype=Any),
    efc_aref: wp.array2d(dtype=Any),
    efc_R: wp.array2d(dtype=Any),
    efc_frictionloss: wp.array2d(dtype=Any),
    efc_cone: wp.array2d(dtype=int),
):
    """The rows of contact ``c`` of environment ``e`` [mj_instantiateContact, mj_diagApprox,
    mj_makeImpedance]; launch over (env, block of ``per_block`` contact slots,
    ``Simulator.row_blocks``; the slots' code is in the loop itself, not a function, so
    that the adjoint replays each slot once). The contact's Jacobian ``J_k = frame_k
    (Jp2 - Jp1)`` for ``k < 3`` (normal, then tangents) and ``frame_(k-3) (Jr2 - Jr1)`` for
    torsion and rolling; a frictionless contact (``condim`` 1) is one row ``J_0``, a
    frictional one ``2 (condim - 1)`` rows ``J_0 + mu_k J_k`` and ``J_0 - mu_k J_k`` (a
    pyramidal cone's edges, ``mu_k`` the contact's ``friction[k - 1]``). All rows of a
    contact share its impedance (from ``dist - includemargin``) and ``R``: ``(1 - imp) / imp
    * tran`` without friction, else ``Rpy = 2 mu^2 R0`` with ``R0`` the first row's ``(1 -
    imp) / imp * (1 + friction0^2) tran`` and ``mu^2 = friction0^2 / impratio`` (``tran``,
    ``rot``: the two bodies' ``body_invweight0``). Only contacts closer than
    ``includemargin`` have rows.

    With ``elliptic`` cones a frictional contact has ``condim`` rows instead: ``J_0`` and
    each friction direction's ``mu_k J_k``, scaled by its coefficient so that the cone is
    circular in the rows' space and the solver needs no frictions (MuJoCo keeps ``J_k``
    and scales inside its solver: the rows' forces here are MuJoCo's divided by ``mu_k``);
    the normal row has ``R0 = (1 - imp) / imp * tran`` and the friction rows ``R0 mu_1^2 /
    impratio`` (MuJoCo's ``R_k = R0 / impratio * mu_1^2 / mu_k^2``, scaled), their ``aref``
    the damping of ``solreffriction`` when it is set, else ``solref``'s, without stiffness.
    ``efc_cone`` marks the rows for the solver: ``condim`` on a cone's normal row, -1 on its
    friction rows, 0 elsewhere."""
    e, block = wp.tid()
    for c in range(block * per_block, wp.min((block + 1) * per_block, capacity)):
        r0 = nrow_static + c * rows_per_contact
        zero = qvel.dtype(0.0)
        one = qvel.dtype(1.0)
        dim = con_dim[e, c]
        dist = con_dist[e, c]
        margin = con_includemargin[e, c]
        if c >= ncon[e] or dist >= margin:
            for j in range(rows_per_contact):
                efc_active[e, r0 + j] = zero
                efc_cone[e, r0 + j] = 0
        else:
            p = con_pair[e, c]
            b1 = geom_body[collision_geom1[p]]
            b2 = geom_body[collision_geom2[p]]
            frame = con_frame[e, c]
            friction = con_friction[e, c]
            solimp = con_solimp[e, c]
            tran = body_invweight0[b1][0] + body_invweight0[b2][0]
            imp = impedance(wp.abs(dist - margin), solimp)
            k_ref, b_ref = reference_gains(con_solref[e, c], solimp, dt[0], refsafe)
            R = wp.max(qvel.dtype(MINVAL), (one - imp) / imp * tran)
            R_friction = R
            b_friction = b_ref
            nrows = 1
            cone = int(0)
            if dim > 1 and elliptic != 0:
                nrows = dim
                cone = dim
                R_friction = R / wp.max(qvel.dtype(MINVAL), impratio) * friction[0] * friction[0]
                # solreffriction when set (values of one sign) [getsolparam, mj_makeImpedance]
                ref_friction = con_solreffriction[e, c]
                if (ref_friction[0] != zero or ref_friction[1] != zero) and (
                    (ref_friction[0] > zero) == (ref_friction[1] > zero)
                ):
                    _k, b_friction = reference_gains(ref_friction, solimp, dt[0], refsafe)
            elif dim > 1:
                nrows = 2 * (dim - 1)
                R0 = wp.max(qvel.dtype(MINVAL), (one - imp) / imp * (tran + friction[0] * friction[0] * tran))
                R1 = R0 / wp.max(qvel.dtype(MINVAL), impratio)
                mu = friction[0] * wp.sqrt(R1 / R0)
                R = qvel.dtype(2.0) * mu * mu * R0
            point = con_pos[e, c]
            # each dof's column once: its normal component, then each friction direction's;
            # a dof that moves neither body has a zero column (and no gradient to carry)
            last1 = body_lastdof[b1]
            last2 = body_lastdof[b2]
            for i in range(efc_J.shape[2]):
                if in_chain(dof_ancestor, last1, i) == 0 and in_chain(dof_ancestor, last2, i) == 0:
                    for j in range(rows_per_contact):
                        efc_J[e, r0 + j, i] = zero
                else:
                    linear, angular = contact_jacobian_column(
                        e, i, b1, b2, point, body_rootid, body_lastdof, dof_ancestor, xpos, cdof
                    )
                    for j in range(rows_per_contact):
                        efc_J[e, r0 + j, i] = contact_row_value(j, nrows, dim, cone, frame, friction, linear, angular)
            # the rows' velocities J qvel from the relative velocity of the contact point
            linear2, angular2 = point_velocity(e, b2, point, body_rootid, body_lastdof, xpos, dof_cvel)
            linear1, angular1 = point_velocity(e, b1, point, body_rootid, body_lastdof, xpos, dof_cvel)
            linear_velocity = linear2 - linear1
            angular_velocity = angular2 - angular1
            for j in range(rows_per_contact):
                r = r0 + j
                if j >= nrows:
                    efc_active[e, r] = zero
                    efc_cone[e, r] = 0
                    continue
                velocity = contact_row_value(j, nrows, dim, cone, frame, friction, linear_velocity, angular_velocity)
                efc_active[e, r] = one
                efc_frictionloss[e, r] = zero
                if cone != 0 and j > 0:
                    efc_aref[e, r] = -b_friction * velocity
                    efc_R[e, r] = R_friction
                    efc_cone[e, r] = -1
                else:
                    efc_aref[e, r] = -b_ref * velocity - k_ref * imp * (dist - margin)
                    efc_R[e, r] = R
                    efc_cone[e, r] = cone
