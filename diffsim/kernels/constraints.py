"""Constraint rows as MuJoCo builds them, with MuJoCo's soft-constraint parameters.

So far: joint limits (hinge and slide) and dof friction loss [mj_instantiateLimit,
mj_instantiateFriction]. Every row acts on one dof (Jacobian +-1), so a row is stored as
its dof (fixed per model) and its Jacobian's sign per environment, 0 where the row is not
instantiated (a limit farther than its margin).

Parameters of each row [mj_makeImpedance], with ``solref = (timeconst, dampratio)`` (or
``(-stiffness, -damping)``) and ``solimp = (d0, dwidth, width, midpoint, power)``:

* impedance ``imp`` from the row's violation ``|pos - margin|`` on ``solimp``'s sigmoid
  (its entries clamped as MuJoCo clamps them); friction rows are at zero violation;
* ``K = 1 / (dmax^2 timeconst^2 dampratio^2)``, ``B = 2 / (dmax timeconst)`` with
  ``dmax = dwidth`` and ``timeconst >= 2 dt`` (MuJoCo's ``refsafe``), or ``K = stiffness /
  dmax^2``, ``B = damping / dmax`` in the direct form; friction rows have ``K = 0``;
* ``aref = -B J qvel - K imp (pos - margin)``, ``R = (1 - imp) / imp * diagApprox`` with
  ``diagApprox = dof_invweight0``, ``D = 1 / R``.
"""

from typing import Any

import warp as wp

MINVAL = 1.0e-15  # MuJoCo's mjMINVAL
MINIMP = 0.0001  # mjMINIMP
MAXIMP = 0.9999  # mjMAXIMP

ROW_FRICTION, ROW_LIMIT = 0, 1


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
def joint_rows(
    row_kind: wp.array(dtype=int),
    row_dof: wp.array(dtype=int),
    row_side: wp.array(dtype=int),
    dof_jnt: wp.array(dtype=int),
    dof_invweight0: wp.array(dtype=Any),
    dof_frictionloss: wp.array(dtype=Any),
    dof_solref: wp.array(dtype=Any),
    dof_solimp: wp.array(dtype=Any),
    jnt_qposadr: wp.array(dtype=int),
    jnt_range: wp.array(dtype=Any),
    jnt_margin: wp.array(dtype=Any),
    jnt_solref: wp.array(dtype=Any),
    jnt_solimp: wp.array(dtype=Any),
    dt: wp.array(dtype=Any),
    refsafe: int,
    qpos: wp.array2d(dtype=Any),
    qvel: wp.array2d(dtype=Any),
    # outputs
    efc_sign: wp.array2d(dtype=Any),
    efc_aref: wp.array2d(dtype=Any),
    efc_R: wp.array2d(dtype=Any),
    efc_frictionloss: wp.array2d(dtype=Any),
):
    """One candidate row per (env, row): a dof's friction loss, or one side of a hinge or
    slide joint's range (``row_side`` -1: lower, +1: upper), instantiated when the joint is
    within its margin of that side; launch over (env, row)."""
    e, r = wp.tid()
    k = row_dof[r]
    j = dof_jnt[k]
    zero = qvel.dtype(0.0)
    one = qvel.dtype(1.0)
    sign = zero
    pos = zero
    margin = zero
    friction = zero
    solref = dof_solref[k]
    solimp = dof_solimp[k]
    if row_kind[r] == ROW_FRICTION:
        sign = one
        friction = dof_frictionloss[k]
    else:
        q = qpos[e, jnt_qposadr[j]]
        margin = jnt_margin[j]
        solref = jnt_solref[j]
        solimp = jnt_solimp[j]
        if row_side[r] < 0:
            pos = q - jnt_range[j][0]
            sign = one
        else:
            pos = jnt_range[j][1] - q
            sign = -one
        if pos >= margin:
            sign = zero
    violation = wp.abs(pos - margin)
    imp = impedance(violation, solimp)
    k_ref, b_ref = reference_gains(solref, solimp, dt[0], refsafe)
    if row_kind[r] == ROW_FRICTION:
        k_ref = zero
    velocity = sign * qvel[e, k]
    efc_sign[e, r] = sign
    efc_aref[e, r] = -b_ref * velocity - k_ref * imp * (pos - margin)
    efc_R[e, r] = wp.max(qvel.dtype(MINVAL), (one - imp) / imp * dof_invweight0[k])
    efc_frictionloss[e, r] = friction
