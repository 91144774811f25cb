"""Constraint rows as MuJoCo builds them, with MuJoCo's soft-constraint parameters.

So far: dof and fixed-tendon friction loss, hinge, slide and fixed-tendon limits
[mj_instantiateFriction, mj_instantiateLimit]. Each candidate row (one per friction loss,
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

# row kinds; the solver treats friction rows (< ROW_LIMIT_JOINT) and limit rows apart
ROW_FRICTION_DOF, ROW_FRICTION_TENDON, ROW_LIMIT_JOINT, ROW_LIMIT_TENDON = 0, 1, 2, 3


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
    """One candidate row per (env, row); launch over (env, row).

    Friction loss of a dof or a fixed tendon: ``J`` the dof's unit row or the tendon's
    coefficients, ``pos = 0``. A limit (``row_side`` -1: the lower end, +1: the upper end
    of a hinge's, slide's or fixed tendon's range): ``dist = q - lower`` or ``upper - q``,
    instantiated when ``dist < margin``, ``J`` pointing away from the end (``-side``
    times the joint's unit row or the tendon's coefficients)."""
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
    dof = -1  # a unit row at this dof, or (dof < 0) the tendon's coefficients
    diag = zero
    solref = dof_solref[0]
    solimp = dof_solimp[0]
    if kind == ROW_FRICTION_DOF:
        dof = id
        friction = dof_frictionloss[id]
        diag = dof_invweight0[id]
        solref = dof_solref[id]
        solimp = dof_solimp[id]
    elif kind == ROW_FRICTION_TENDON:
        friction = tendon_frictionloss[id]
        diag = tendon_invweight0[id]
        solref = tendon_solref_fri[id]
        solimp = tendon_solimp_fri[id]
    elif kind == ROW_LIMIT_JOINT:
        dof = jnt_dofadr[id]
        q = qpos[e, jnt_qposadr[id]]
        pos = q - jnt_range[id][0]
        if row_side[r] > 0:
            pos = jnt_range[id][1] - q
        margin = jnt_margin[id]
        diag = dof_invweight0[dof]
        solref = jnt_solref[id]
        solimp = jnt_solimp[id]
    else:
        length = tendon_sum(e, id, tendon_adr, tendon_num, wrap_objid, wrap_prm, jnt_qposadr, qpos)
        pos = length - tendon_range[id][0]
        if row_side[r] > 0:
            pos = tendon_range[id][1] - length
        margin = tendon_margin[id]
        diag = tendon_invweight0[id]
        solref = tendon_solref_lim[id]
        solimp = tendon_solimp_lim[id]
    if kind >= ROW_LIMIT_JOINT and pos >= margin:
        active = zero
    direction = one
    if kind >= ROW_LIMIT_JOINT:
        direction = -side
    for k in range(nv):
        value = zero
        if dof >= 0:
            if k == dof:
                value = direction
        else:
            value = direction * tendon_coefficient(id, k, tendon_adr, tendon_num, wrap_objid, wrap_prm, jnt_dofadr)
        efc_J[e, r, k] = value * active
    velocity = zero
    if dof >= 0:
        velocity = direction * qvel[e, dof]
    else:
        velocity = direction * tendon_sum(e, id, tendon_adr, tendon_num, wrap_objid, wrap_prm, jnt_dofadr, qvel)
    imp = impedance(wp.abs(pos - margin), solimp)
    k_ref, b_ref = reference_gains(solref, solimp, dt[0], refsafe)
    if kind < ROW_LIMIT_JOINT:
        k_ref = zero
    efc_active[e, r] = active
    efc_aref[e, r] = -b_ref * velocity - k_ref * imp * (pos - margin)
    efc_R[e, r] = wp.max(qvel.dtype(MINVAL), (one - imp) / imp * diag)
    efc_frictionloss[e, r] = friction
