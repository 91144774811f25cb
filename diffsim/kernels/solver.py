"""MuJoCo's primal Newton solver for the constraint forces, one thread per environment.

MuJoCo's constrained acceleration minimises [mj_solNewton]

    0.5 (a - a0)^T M (a - a0) + sum_r s_r(J_r a - aref_r)

over the acceleration ``a`` (``a0``: the unconstrained one, ``qacc_smooth``), with each
row's cost ``s_r`` a function of its ``jar = J_r a - aref_r``:

* an equality row: ``0.5 D jar^2``;
* a limit row: ``0.5 D jar^2`` where ``jar < 0``, else 0;
* a friction-loss row (``f``: its friction loss): ``0.5 D jar^2`` for ``|jar| <= R f``,
  else ``f |jar| - 0.5 R f^2``;

and the row's force is ``-ds/djar``. The cost is convex, piecewise quadratic: Newton
steps with the Hessian ``M + sum_(quadratic rows) D J_r^T J_r`` (factored by Cholesky),
each followed by an exact line search along the step (a monotone, piecewise-linear
derivative: Newton on the step length inside a shrinking bracket), stop when the
improvement or the gradient, scaled by ``1 / trace(M)`` as MuJoCo 4 scales them, falls
below the model's ``tolerance``, or after its ``iterations``.

Rows come from ``constraints.py``: a dense Jacobian row ``efc_J[e, r]`` and
``efc_active[e, r]`` (0: not instantiated, no cost).

The kernel writes its scratch arrays in place: it has no adjoint (gradients through the
constraint solve are the next stage of the project, by implicit differentiation).
"""

from typing import Any

import warp as wp

from diffsim.kernels.constraints import ROW_FRICTION_DOF, ROW_LIMIT_JOINT


@wp.func
def row_force(kind: int, jar: Any, R: Any, friction: Any):
    """``(force, D if the row is in its quadratic zone else 0)`` of one row at ``jar``."""
    zero = jar * type(jar)(0.0)
    D = type(jar)(1.0) / R
    if kind < ROW_FRICTION_DOF:
        return -D * jar, D
    if kind < ROW_LIMIT_JOINT:
        bound = R * friction
        if jar <= -bound:
            return friction, zero
        if jar >= bound:
            return -friction, zero
        return -D * jar, D
    if jar < zero:
        return -D * jar, D
    return zero, zero


@wp.func
def row_cost(kind: int, jar: Any, R: Any, friction: Any):
    zero = jar * type(jar)(0.0)
    half = type(jar)(0.5)
    if kind < ROW_FRICTION_DOF:
        return half * jar * jar / R
    if kind < ROW_LIMIT_JOINT:
        bound = R * friction
        if jar <= -bound:
            return -friction * jar - half * R * friction * friction
        if jar >= bound:
            return friction * jar - half * R * friction * friction
        return half * jar * jar / R
    if jar < zero:
        return half * jar * jar / R
    return zero


@wp.func
def row_dot(efc_J: wp.array3d(dtype=Any), e: int, r: int, x: wp.array2d(dtype=Any)):
    """``J_r . x[e]``."""
    total = x.dtype(0.0)
    for k in range(efc_J.shape[2]):
        total = total + efc_J[e, r, k] * x[e, k]
    return total


@wp.func
def total_cost(
    e: int,
    nv: int,
    nr: int,
    row_kind: wp.array(dtype=int),
    efc_J: wp.array3d(dtype=Any),
    efc_active: wp.array2d(dtype=Any),
    efc_aref: wp.array2d(dtype=Any),
    efc_R: wp.array2d(dtype=Any),
    efc_frictionloss: wp.array2d(dtype=Any),
    qacc: wp.array2d(dtype=Any),
    qacc_smooth: wp.array2d(dtype=Any),
    qfrc_smooth: wp.array2d(dtype=Any),
    Ma: wp.array2d(dtype=Any),
):
    """The cost at ``qacc`` (``Ma = M qacc`` given): Gauss term plus the rows' costs."""
    cost = qacc.dtype(0.0)
    for i in range(nv):
        cost = cost + qacc.dtype(0.5) * (Ma[e, i] - qfrc_smooth[e, i]) * (qacc[e, i] - qacc_smooth[e, i])
    for r in range(nr):
        if efc_active[e, r] != qacc.dtype(0.0):
            jar = row_dot(efc_J, e, r, qacc) - efc_aref[e, r]
            cost = cost + row_cost(row_kind[r], jar, efc_R[e, r], efc_frictionloss[e, r])
    return cost


@wp.kernel
def newton(
    row_kind: wp.array(dtype=int),
    iterations: int,
    tolerance: Any,
    ls_iterations: int,
    M: wp.array3d(dtype=Any),
    qfrc_smooth: wp.array2d(dtype=Any),
    qacc_smooth: wp.array2d(dtype=Any),
    efc_J: wp.array3d(dtype=Any),
    efc_active: wp.array2d(dtype=Any),
    efc_aref: wp.array2d(dtype=Any),
    efc_R: wp.array2d(dtype=Any),
    efc_frictionloss: wp.array2d(dtype=Any),
    # scratch, written in place
    qacc: wp.array2d(dtype=Any),
    Ma: wp.array2d(dtype=Any),
    grad: wp.array2d(dtype=Any),
    search: wp.array2d(dtype=Any),
    Ms: wp.array2d(dtype=Any),
    H: wp.array3d(dtype=Any),
    # outputs
    efc_force: wp.array2d(dtype=Any),
    qfrc_constraint: wp.array2d(dtype=Any),
    qfrc_total: wp.array2d(dtype=Any),
):
    """The constrained acceleration of one environment; writes the rows' forces,
    ``qfrc_constraint = J^T force`` and ``qfrc_total = qfrc_smooth + qfrc_constraint``."""
    e = wp.tid()
    nv = M.shape[1]
    nr = row_kind.shape[0]
    zero = qacc.dtype(0.0)
    trace = zero
    for i in range(nv):
        trace = trace + M[e, i, i]
    scale = qacc.dtype(1.0) / trace
    for i in range(nv):
        qacc[e, i] = qacc_smooth[e, i]
    for i in range(nv):
        total = zero
        for j in range(nv):
            total = total + M[e, i, j] * qacc[e, j]
        Ma[e, i] = total
    cost = total_cost(
        e, nv, nr, row_kind, efc_J, efc_active, efc_aref, efc_R, efc_frictionloss, qacc, qacc_smooth, qfrc_smooth, Ma
    )
    for _it in range(iterations):
        # gradient and Hessian at qacc
        for i in range(nv):
            grad[e, i] = Ma[e, i] - qfrc_smooth[e, i]
            for j in range(nv):
                H[e, i, j] = M[e, i, j]
        for r in range(nr):
            if efc_active[e, r] != zero:
                jar = row_dot(efc_J, e, r, qacc) - efc_aref[e, r]
                force, stiffness = row_force(row_kind[r], jar, efc_R[e, r], efc_frictionloss[e, r])
                for i in range(nv):
                    Ji = efc_J[e, r, i]
                    if Ji != zero:
                        grad[e, i] = grad[e, i] - Ji * force
                        if stiffness != zero:
                            for j in range(nv):
                                H[e, i, j] = H[e, i, j] + stiffness * Ji * efc_J[e, r, j]
        norm = zero
        for i in range(nv):
            norm = norm + grad[e, i] * grad[e, i]
        if scale * wp.sqrt(norm) < tolerance:
            break
        # Cholesky H = L L^T in place (lower triangle), then search = -H^-1 grad
        for j in range(nv):
            diagonal = H[e, j, j]
            for p in range(j):
                diagonal = diagonal - H[e, j, p] * H[e, j, p]
            diagonal = wp.sqrt(wp.max(diagonal, qacc.dtype(1.0e-15)))
            H[e, j, j] = diagonal
            for i in range(j + 1, nv):
                value = H[e, i, j]
                for p in range(j):
                    value = value - H[e, i, p] * H[e, j, p]
                H[e, i, j] = value / diagonal
        for i in range(nv):
            value = -grad[e, i]
            for p in range(i):
                value = value - H[e, i, p] * search[e, p]
            search[e, i] = value / H[e, i, i]
        for t in range(nv):
            i = nv - 1 - t
            value = search[e, i]
            for p in range(i + 1, nv):
                value = value - H[e, p, i] * search[e, p]
            search[e, i] = value / H[e, i, i]
        # exact line search on the piecewise-quadratic cost along search
        g1 = zero
        g2 = zero
        for i in range(nv):
            total = zero
            for j in range(nv):
                total = total + M[e, i, j] * search[e, j]
            Ms[e, i] = total
            g1 = g1 + search[e, i] * (Ma[e, i] - qfrc_smooth[e, i])
            g2 = g2 + search[e, i] * total
        low = zero
        high = qacc.dtype(-1.0)  # < 0: no upper bracket yet
        alpha = qacc.dtype(1.0)
        for _ls in range(ls_iterations):
            slope = g1 + alpha * g2
            curvature = g2
            for r in range(nr):
                if efc_active[e, r] != zero:
                    jv = row_dot(efc_J, e, r, search)
                    jar = row_dot(efc_J, e, r, qacc) - efc_aref[e, r] + alpha * jv
                    force, stiffness = row_force(row_kind[r], jar, efc_R[e, r], efc_frictionloss[e, r])
                    slope = slope - force * jv
                    curvature = curvature + stiffness * jv * jv
            if slope < zero:
                low = alpha
            else:
                high = alpha
            if wp.abs(slope) <= qacc.dtype(1.0e-14) * (wp.abs(g1) + qacc.dtype(1.0e-15)):
                break
            step = alpha - slope / wp.max(curvature, qacc.dtype(1.0e-15))
            if high >= zero and (step <= low or step >= high):
                step = qacc.dtype(0.5) * (low + high)
            if high < zero and step <= low:
                step = low + (alpha - low) * qacc.dtype(2.0) + qacc.dtype(1.0)
            if step == alpha:
                break
            alpha = step
        for i in range(nv):
            qacc[e, i] = qacc[e, i] + alpha * search[e, i]
            Ma[e, i] = Ma[e, i] + alpha * Ms[e, i]
        new_cost = total_cost(
            e,
            nv,
            nr,
            row_kind,
            efc_J,
            efc_active,
            efc_aref,
            efc_R,
            efc_frictionloss,
            qacc,
            qacc_smooth,
            qfrc_smooth,
            Ma,
        )
        improvement = scale * (cost - new_cost)
        cost = new_cost
        if improvement < tolerance:
            break
    # forces at the solution
    for i in range(nv):
        qfrc_constraint[e, i] = zero
    for r in range(nr):
        force = zero
        if efc_active[e, r] != zero:
            jar = row_dot(efc_J, e, r, qacc) - efc_aref[e, r]
            force, _stiffness = row_force(row_kind[r], jar, efc_R[e, r], efc_frictionloss[e, r])
            for i in range(nv):
                qfrc_constraint[e, i] = qfrc_constraint[e, i] + efc_J[e, r, i] * force
        efc_force[e, r] = force
    for i in range(nv):
        qfrc_total[e, i] = qfrc_smooth[e, i] + qfrc_constraint[e, i]
