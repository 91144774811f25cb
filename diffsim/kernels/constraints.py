"""Constraint rows as MuJoCo builds them, with MuJoCo's soft-constraint parameters.

So far: joint and fixed-tendon equality couplings, dof and fixed-tendon friction loss,
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

from diffsim.kernels.actuation import tendon_coefficient, tendon_sum

MINVAL = 1.0e-15  # MuJoCo's mjMINVAL
MINIMP = 0.0001  # mjMINIMP
MAXIMP = 0.9999  # mjMAXIMP

# row kinds, in MuJoCo's order; the solver tells equality rows (< ROW_FRICTION_DOF, always
# quadratic), friction rows (< ROW_LIMIT_JOINT) and limit rows apart
ROW_EQUALITY_JOINT, ROW_EQUALITY_TENDON, ROW_FRICTION_DOF, ROW_FRICTION_TENDON, ROW_LIMIT_JOINT, ROW_LIMIT_TENDON = (
    range(6)
)


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


@wp.kernel
def constraint_rows(
    row_kind: wp.array(dtype=int),
    row_id: wp.array(dtype=int),
    row_side: wp.array(dtype=int),
    dof_invweight0: wp.array(dtype=Any),
    dof_frictionloss: wp.array(dtype=Any),
    dof_solref: wp.array(dtype=Any),
    dof_solimp: wp.array(dtype=Any),
    jnt_qposadr: wp.array(dtype=int),
    jnt_dofadr: wp.array(dtype=int),
    jnt_range: wp.array(dtype=Any),
    jnt_margin: wp.array(dtype=Any),
    jnt_solref: wp.array(dtype=Any),
    jnt_solimp: wp.array(dtype=Any),
    qpos0: wp.array(dtype=Any),
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
    tendon_length0: wp.array(dtype=Any),
    eq_obj1id: wp.array(dtype=int),
    eq_obj2id: wp.array(dtype=int),
    eq_solref: wp.array(dtype=Any),
    eq_solimp: wp.array(dtype=Any),
    eq_data: wp.array(dtype=Any),
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
    """One candidate row per (env, row); launch over (env, row).

    A joint or tendon coupling ``x1 - x1_0 = data[0] + p(x2 - x2_0)`` (``x``: a joint's
    position or a fixed tendon's length, ``_0`` at qpos0; without a second object only
    ``data[0]``): ``pos`` its violation, ``J = J1 - p'(x2 - x2_0) J2``. Friction loss of a dof
    or a fixed tendon: ``J`` the dof's unit row or the tendon's coefficients, ``pos = 0``. A
    limit (``row_side`` -1: the lower end, +1: the upper end of a hinge's, slide's or fixed
    tendon's range): ``dist = x - lower`` or ``upper - x``, instantiated when
    ``dist < margin``, ``J`` pointing away from the end."""
    e, r = wp.tid()
    kind = row_kind[r]
    id = row_id[r]
    nv = efc_J.shape[2]
    zero = qvel.dtype(0.0)
    one = qvel.dtype(1.0)
    side = qvel.dtype(row_side[r])
    active = one
    pos = zero
    margin = zero
    friction = zero
    diag = zero
    solref = dof_solref[0]
    solimp = dof_solimp[0]
    # the row is a1 J(object 1) + a2 J(object 2), each a joint's unit row or a tendon's coefficients
    tendon = kind == ROW_EQUALITY_TENDON or kind == ROW_FRICTION_TENDON or kind == ROW_LIMIT_TENDON
    first = id
    second = -1
    a1 = one
    a2 = zero
    if kind == ROW_EQUALITY_JOINT or kind == ROW_EQUALITY_TENDON:
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
    elif kind == ROW_FRICTION_DOF:
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
            x = qpos[e, jnt_qposadr[id]]
            lower = jnt_range[id][0]
            upper = jnt_range[id][1]
            margin = jnt_margin[id]
            diag = dof_invweight0[jnt_dofadr[id]]
            solref = jnt_solref[id]
            solimp = jnt_solimp[id]
        pos = x - lower
        if row_side[r] > 0:
            pos = upper - x
        a1 = -side
        if pos >= margin:
            active = zero
    velocity = zero
    for k in range(nv):
        value = zero
        if tendon:
            value = a1 * tendon_coefficient(first, k, tendon_adr, tendon_num, wrap_objid, wrap_prm, jnt_dofadr)
            if second >= 0:
                value = value + a2 * tendon_coefficient(
                    second, k, tendon_adr, tendon_num, wrap_objid, wrap_prm, jnt_dofadr
                )
        else:
            if k == jnt_dofadr[first] and kind != ROW_FRICTION_DOF:
                value = a1
            if kind == ROW_FRICTION_DOF and k == first:
                value = a1
            if second >= 0 and k == jnt_dofadr[second]:
                value = value + a2
        efc_J[e, r, k] = value * active
        velocity = velocity + value * qvel[e, k]
    imp = impedance(wp.abs(pos - margin), solimp)
    k_ref, b_ref = reference_gains(solref, solimp, dt[0], refsafe)
    if kind == ROW_FRICTION_DOF or kind == ROW_FRICTION_TENDON:
        k_ref = zero
    efc_active[e, r] = active
    efc_aref[e, r] = -b_ref * velocity - k_ref * imp * (pos - margin)
    efc_R[e, r] = wp.max(qvel.dtype(MINVAL), (one - imp) / imp * diag)
    efc_frictionloss[e, r] = friction
