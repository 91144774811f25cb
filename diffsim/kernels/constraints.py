"""Constraint rows as MuJoCo builds them, with MuJoCo's soft-constraint parameters.

So far: joint limits (hinge and slide) and dof friction loss [mj_instantiateLimit,
mj_instantiateFriction]. Every row acts on one dof (Jacobian +-1), so a row is stored as
its dof (fixed per model) and its Jacobian's sign per environment, 0 where the row is not
instantiated (a limit farther than its margin).

Parameters of each row [mj_makeImpedance], with ``solref = (timeconst, dampratio)`` (or
``(-stiffness, -damping)``) and ``solimp = (d0, dwidth, width, midpoint, power)``:

* impedance ``imp`` from the row's violation ``|pos - margin|`` on ``solimp``'s sigmoid,
  clamped to [1e-4, 0.9999]; friction rows are at zero violation;
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
    """MuJoCo's ``getimpedance``: the impedance at ``violation = |pos - margin|``."""
    d0 = solimp[0]
    dwidth = solimp[1]
    width = solimp[2]
    midpoint = solimp[3]
    power = solimp[4]
    one = type(d0)(1.0)
    imp = dwidth
    if width > type(d0)(MINVAL):
        x = violation / width
        if x < one:
            y = x
            if power != one:
                if x <= midpoint:
                    y = wp.pow(x, power) / wp.pow(midpoint, power - one)
                else:
                    y = one - wp.pow(one - x, power) / wp.pow(one - midpoint, power - one)
            imp = d0 + y * (dwidth - d0)
    return wp.clamp(imp, type(d0)(MINIMP), type(d0)(MAXIMP))


@wp.func
def reference_gains(solref: Any, dmax: Any, dt: Any, refsafe: int):
    """``(K, B)`` of ``solref`` [mj_makeImpedance]; ``refsafe``: time constant at least 2 dt."""
    zero = dmax * type(dmax)(0.0)
    one = type(dmax)(1.0)
    k = zero
    b = zero
    if solref[0] > zero:
        timeconst = solref[0]
        if refsafe != 0:
            timeconst = wp.max(timeconst, type(dmax)(2.0) * dt)
        dampratio = solref[1]
        k = one / (dmax * dmax * timeconst * timeconst * dampratio * dampratio)
        b = type(dmax)(2.0) / (dmax * timeconst)
    else:
        k = -solref[0] / (dmax * dmax)
        b = -solref[1] / dmax
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
    k_ref, b_ref = reference_gains(solref, solimp[1], dt[0], refsafe)
    if row_kind[r] == ROW_FRICTION:
        k_ref = zero
    velocity = sign * qvel[e, k]
    efc_sign[e, r] = sign
    efc_aref[e, r] = -b_ref * velocity - k_ref * imp * (pos - margin)
    efc_R[e, r] = wp.max(qvel.dtype(MINVAL), (one - imp) / imp * dof_invweight0[k])
    efc_frictionloss[e, r] = friction
