"""MuJoCo's primal Newton solver for the constraint forces, one thread per environment,
step for step as MuJoCo 4 runs it [mj_fwdConstraint, mj_solNewton, mj_island].

MuJoCo's constrained acceleration minimises

    f(a) = 0.5 (M a - qfrc_smooth)^T (a - a0) + sum_r s_r(J_r a - aref_r)

over the acceleration ``a`` (``a0``: the unconstrained one, ``qacc_smooth``), with each
row's cost ``s_r`` a function of its ``jar = J_r a - aref_r`` (``D = 1 / R``):

* an equality row: ``0.5 D jar^2``;
* a limit or contact row (a frictionless contact or a pyramidal cone's edge): ``0.5 D
  jar^2`` where ``jar < 0``, else 0;
* a friction-loss row (``f``: its friction loss): ``0.5 D jar^2`` for ``|jar| < R f``,
  else ``f |jar| - 0.5 R f^2``;
* an elliptic cone's rows together (a contact's normal and friction directions): 0, the
  rows' quadratic or the squared distance to the cone, by zone (see ``cone_zone``);

and the row's force is ``-ds/djar``. As MuJoCo does:

1. **Warm start**: the better (lower ``f``) of the previous step's solution
   (``qacc_warmstart``) and ``a0``.
2. **Islands**: kinematic trees coupled by a row (a contact between two trees, an
   equality) form an island; each island is solved on its own, with its own scale
   ``1 / trace(M_island)`` and its own stopping tests; dofs in no island keep ``a0``.
3. **Newton iterations**: stop before the first if the gradient is below ``tolerance``
   and either ``0.5 g^T M^-1 g`` or the Newton decrement ``0.5 g^T H^-1 g`` is too
   (scaled); else step along ``-H^-1 g`` (``H = M + sum D J_r^T J_r`` over the rows in
   their quadratic zone, factored by Cholesky) with MuJoCo's exact line search (Newton
   steps on the step length, then a bracket, at most ``ls_iterations`` evaluations, to a
   slope below ``tolerance * ls_tolerance``), and stop when the improvement, the
   gradient or the decrement (scaled) falls below ``tolerance``, or after ``iterations``.

The kernel keeps what the adjoint of the solve needs: the solution ``qacc``, the rows'
forces (their zones: the active set) and the factor of the final Hessian in ``H`` (per
island; ``factored`` says when it spans every dof, so that ``newton_adjoint`` can solve
with it instead of factoring again). It writes its scratch arrays in place; diffsim's
backward pass runs ``newton_adjoint`` (implicit differentiation) in place of its adjoint.

Beyond MuJoCo's own steps, which it reproduces up to rounding, the kernel skips repeated
work: the Hessian is refactored only when a row changes zone, ``M a`` and ``J a -
aref`` at the warm start are kept from the warm-start test, and products with ``M`` and
its factorisation visit the tree's nonzero entries only.

Both kernels loop with ``while``, not ``range``: Warp compiles a ``range`` loop with run-time
bounds into a generic iterator that costs about three times as much per iteration of a
short loop on the CPU, and since neither kernel is differentiated by Warp (``newton`` has
``newton_adjoint``, which nothing differentiates), both are built without Warp's backward
code (``enable_backward=False``): a ``wp.Tape`` through the solve raises instead of giving
wrong gradients.
"""

from typing import Any

import warp as wp

from diffsim.kernels.constraints import MINVAL, ROW_CONTACT, ROW_FRICTION_DOF, ROW_LIMIT_JOINT
from diffsim.kernels.solve import factor_and_solve_env, subtree_dot


@wp.func(inline=True)
def kind_of(row_kind: wp.array(dtype=int), r: int):
    """Row ``r``'s kind: ``row_kind`` lists the rows before the contacts'."""
    if r < row_kind.shape[0]:
        return row_kind[r]
    return ROW_CONTACT


@wp.func(inline=True)
def row_force(kind: int, jar: Any, R: Any, friction: Any):
    """``(force, D if the row is in its quadratic zone else 0)`` of one row at ``jar``
    [mj_constraintUpdate]."""
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


@wp.func(inline=True)
def row_cost(kind: int, jar: Any, R: Any, friction: Any):
    """The row's cost ``s(jar)``."""
    zero = jar * type(jar)(0.0)
    half = type(jar)(0.5)
    D = type(jar)(1.0) / R
    if kind < ROW_FRICTION_DOF:
        return half * D * jar * jar
    if kind < ROW_LIMIT_JOINT:
        bound = R * friction
        if jar <= -bound:
            return -half * R * friction * friction - friction * jar
        if jar >= bound:
            return -half * R * friction * friction + friction * jar
        return half * D * jar * jar
    if jar < zero:
        return half * D * jar * jar
    return zero


@wp.func(inline=True)
def friction_zone(x: Any, bound: Any):
    """-1 below ``-bound``, +1 above ``bound``, 0 strictly between."""
    if x <= -bound:
        return -1
    if x >= bound:
        return 1
    return 0


@wp.func(inline=True)
def friction_cost_change(x0: Any, x: Any, R: Any, friction: Any):
    """``s(x) - s(x0)`` of a friction-loss row, computed as MuJoCo does (so that tiny
    steps keep the sign of the change)."""
    bound = R * friction
    D = type(x)(1.0) / R
    z0 = friction_zone(x0, bound)
    z = friction_zone(x, bound)
    if z == 0 and z0 == 0:
        return type(x)(0.5) * D * (x - x0) * (x + x0)
    if z == z0:
        return type(x)(z) * friction * (x - x0)
    return row_cost(ROW_FRICTION_DOF, x, R, friction) - row_cost(ROW_FRICTION_DOF, x0, R, friction)


# An elliptic cone's rows (``constraints.contact_rows``): its normal row ``r`` (``efc_cone[e,
# r] = condim``) with ``x0 = J_0 a - aref_0`` and ``R0``, then its friction rows ``x_k``
# (``efc_cone = -1``), scaled so that the cone is round, all with ``Rt = R0 mu^2`` (``mu =
# friction_1 / sqrt(impratio)``, MuJoCo's regularised cone). With ``T = |x_1..|`` its cost
# [mj_constraintUpdate] is, in MuJoCo's three zones:
#
# * top, ``x0 >= T``: 0 (no force);
# * bottom, ``mu^2 x0 + T <= 0``: ``0.5 sum_k x_k^2 / R_k`` (every row quadratic);
# * middle: ``0.5 (x0 - T)^2 / (R0 + Rt)``, MuJoCo's ``0.5 Dm (N - mu T)^2`` with ``N = mu
#   x0`` and ``Dm = 1 / (R0 mu^2 (1 + mu^2))``, which needs no ``mu`` once written so.


@wp.func(inline=True)
def cone_zone(x0: Any, T: Any, mu2: Any):
    """1: top, 2: bottom, 3: middle."""
    zero = x0 * type(x0)(0.0)
    if T <= zero:
        if x0 < zero:
            return 2
        return 1
    if x0 >= T:
        return 1
    if mu2 * x0 + T <= zero:
        return 2
    return 3


@wp.func(inline=True)
def cone_tangent(e: int, r: int, dim: int, x: wp.array2d(dtype=Any)):
    """``T = |x_1 .. x_(dim-1)|`` of the cone whose normal row is ``r``."""
    total = x.dtype(0.0)
    k = int(1)
    while k < dim:
        total = total + x[e, r + k] * x[e, r + k]
        k += 1
    return wp.sqrt(total)


@wp.func(inline=True)
def cone_cost(e: int, r: int, dim: int, x: wp.array2d(dtype=Any), efc_R: wp.array2d(dtype=Any)):
    """The cone's cost at its rows' ``x``."""
    half = x.dtype(0.5)
    x0 = x[e, r]
    R0 = efc_R[e, r]
    Rt = efc_R[e, r + 1]
    T = cone_tangent(e, r, dim, x)
    zone = cone_zone(x0, T, Rt / R0)
    if zone == 1:
        return x.dtype(0.0)
    if zone == 3:
        return half * (x0 - T) * (x0 - T) / (R0 + Rt)
    total = x.dtype(0.0)
    k = int(0)
    while k < dim:
        total = total + half * (x.dtype(1.0) / efc_R[e, r + k]) * x[e, r + k] * x[e, r + k]
        k += 1
    return total


@wp.func(inline=True)
def cone_force(
    e: int, r: int, k: int, zone: int, x0: Any, T: Any, jaref: wp.array2d(dtype=Any), efc_R: wp.array2d(dtype=Any)
):
    """Row ``r + k``'s force in the cone's ``zone``: ``-d cost / d x_k``."""
    if zone == 1:
        return x0 * type(x0)(0.0)
    if zone == 2:
        return -(type(x0)(1.0) / efc_R[e, r + k]) * jaref[e, r + k]
    Dc = type(x0)(1.0) / (efc_R[e, r] + efc_R[e, r + 1])
    if k == 0:
        return -Dc * (x0 - T)
    return Dc * (x0 - T) * jaref[e, r + k] / T


@wp.func(inline=True)
def cone_hessian_entry(
    e: int,
    r: int,
    dim: int,
    i: int,
    j: int,
    x0: Any,
    T: Any,
    jaref: wp.array2d(dtype=Any),
    efc_J: wp.array3d(dtype=Any),
):
    """Entry ``(i, j)`` of ``J^T Hc J`` of a cone in its middle zone, ``Hc`` the Hessian of
    its cost in ``x`` [mj_constraintUpdate's cone Hessian]: ``Dc (w w^T + c (sum_k J_k J_k^T
    - q q^T))`` with ``t = x_(1..) / T``, ``q = sum_k t_k J_k``, ``w = J_0 - q`` and ``c = (T
    - x0) / T``; the unscaled ``Dc = 1 / (R0 + Rt)`` is applied by the caller."""
    qi = x0 * type(x0)(0.0)
    qj = qi
    S = qi
    k = int(1)
    while k < dim:
        Jki = efc_J[e, r + k, i]
        Jkj = efc_J[e, r + k, j]
        t = jaref[e, r + k] / T
        qi = qi + t * Jki
        qj = qj + t * Jkj
        S = S + Jki * Jkj
        k += 1
    wi = efc_J[e, r, i] - qi
    wj = efc_J[e, r, j] - qj
    return wi * wj + (T - x0) / T * (S - qi * qj)


@wp.func(inline=True)
def cone_line_point(
    e: int,
    r: int,
    dim: int,
    alpha: Any,
    efc_R: wp.array2d(dtype=Any),
    jaref: wp.array2d(dtype=Any),
    jv: wp.array2d(dtype=Any),
):
    """``(cost(alpha) - cost(0), slope, curvature)`` of one cone along the search direction
    [PrimalPrepare, ellipticCostDif, PrimalEval], in MuJoCo's cases (a cost difference
    within a zone computed so that small steps keep their sign)."""
    zero = alpha * type(alpha)(0.0)
    half = type(alpha)(0.5)
    two = type(alpha)(2.0)
    x0 = jaref[e, r]
    v0 = jv[e, r]
    R0 = efc_R[e, r]
    Rt = efc_R[e, r + 1]
    mu2 = Rt / R0
    Dc = type(alpha)(1.0) / (R0 + Rt)
    # the rows' quadratic (the bottom zone) and the tangent's sums of squares
    q0 = half * (type(alpha)(1.0) / R0) * x0 * x0
    q1 = (type(alpha)(1.0) / R0) * x0 * v0
    q2 = half * (type(alpha)(1.0) / R0) * v0 * v0
    UU = zero
    UV = zero
    VV = zero
    k = int(1)
    while k < dim:
        D = type(alpha)(1.0) / efc_R[e, r + k]
        x = jaref[e, r + k]
        v = jv[e, r + k]
        q0 = q0 + half * D * x * x
        q1 = q1 + D * x * v
        q2 = q2 + half * D * v * v
        UU = UU + x * x
        UV = UV + x * v
        VV = VV + v * v
        k += 1
    T0 = zero
    if UU > zero:
        T0 = wp.sqrt(UU)
    zone0 = cone_zone(x0, T0, mu2)
    N = x0 + alpha * v0
    Tsqr = UU + alpha * (two * UV + alpha * VV)
    T = zero
    if Tsqr > zero:
        T = wp.sqrt(Tsqr)
    zone = cone_zone(N, T, mu2)
    cost = zero
    if zone0 == 2 and zone == 2:
        cost = alpha * alpha * q2 + alpha * q1
    elif zone0 == 3 and zone == 3:
        T_delta = alpha * (two * UV + alpha * VV) / (T + T0)
        r_delta = alpha * v0 - T_delta
        cost = half * Dc * r_delta * (two * (x0 - T0) + r_delta)
    elif zone0 == 3 and zone == 2:
        gap0 = mu2 * x0 + T0
        cost = alpha * (alpha * q2 + q1) + half * Dc / mu2 * gap0 * gap0
    elif zone0 == 2 and zone == 3:
        gap = mu2 * N + T
        cost = alpha * (alpha * q2 + q1) - half * Dc / mu2 * gap * gap
    elif zone0 == 1 and zone == 2:
        cost = alpha * alpha * q2 + alpha * q1 + q0
    elif zone0 == 1 and zone == 3:
        cost = half * Dc * (N - T) * (N - T)
    elif zone0 == 3 and zone == 1:
        cost = -half * Dc * (x0 - T0) * (x0 - T0)
    elif zone0 == 2 and zone == 1:
        cost = -q0
    d1 = zero
    d2 = zero
    if zone == 2:
        d1 = two * alpha * q2 + q1
        d2 = two * q2
    elif zone == 3:
        T1 = (UV + alpha * VV) / T
        T2 = VV / T - (UV + alpha * VV) * T1 / (T * T)
        slope = v0 - T1
        d1 = Dc * (N - T) * slope
        d2 = Dc * (slope * slope - (N - T) * T2)
    return cost, d1, d2


@wp.func(inline=True)
def find_root(parent: wp.array2d(dtype=int), e: int, t: int):
    root = int(t)
    while parent[e, root] != root:
        root = parent[e, root]
    return root


@wp.func(inline=True)
def dense_factor(e: int, n: int, dofs: wp.array2d(dtype=int), H: wp.array3d(dtype=Any)):
    """Cholesky of ``H`` over the island's ``n`` dofs ``dofs[e, :n]`` (ascending), in
    place (lower triangle; MuJoCo's mju_cholFactor: a pivot below mjMINVAL is set to it)."""
    tiny = H.dtype(MINVAL)
    a = int(0)
    while a < n:
        j = dofs[e, a]
        pivot = H[e, j, j]
        b = int(0)
        while b < a:
            p = dofs[e, b]
            pivot = pivot - H[e, j, p] * H[e, j, p]
            b += 1
        if pivot < tiny:
            pivot = tiny
        pivot = wp.sqrt(pivot)
        H[e, j, j] = pivot
        c = int(a + 1)
        while c < n:
            i = dofs[e, c]
            value = H[e, i, j]
            b = int(0)
            while b < a:
                p = dofs[e, b]
                value = value - H[e, i, p] * H[e, j, p]
                b += 1
            H[e, i, j] = value / pivot
            c += 1
        a += 1


@wp.func(inline=True)
def dense_solve(
    e: int,
    n: int,
    dofs: wp.array2d(dtype=int),
    H: wp.array3d(dtype=Any),
    rhs: wp.array2d(dtype=Any),
    out: wp.array2d(dtype=Any),
):
    """``out = H^-1 rhs`` over the island's dofs, ``H`` holding ``dense_factor``'s factor."""
    a = int(0)
    while a < n:
        i = dofs[e, a]
        value = rhs[e, i]
        b = int(0)
        while b < a:
            p = dofs[e, b]
            value = value - H[e, i, p] * out[e, p]
            b += 1
        out[e, i] = value / H[e, i, i]
        a += 1
    t = int(0)
    while t < n:
        a = n - 1 - t
        i = dofs[e, a]
        value = out[e, i]
        c = int(a + 1)
        while c < n:
            p = dofs[e, c]
            value = value - H[e, p, i] * out[e, p]
            c += 1
        out[e, i] = value / H[e, i, i]
        t += 1


@wp.func(inline=True)
def tree_factor(
    e: int,
    n: int,
    dofs: wp.array2d(dtype=int),
    dof_parent: wp.array(dtype=int),
    dof_subtree_end: wp.array(dtype=int),
    H: wp.array3d(dtype=Any),
):
    """``A = U U^T`` for ``A`` (the lower triangle of ``H``) with the kinematic tree's
    sparsity, leaves first, as MuJoCo factors ``M`` (no fill-in): ``U`` goes to the upper
    triangle and the diagonal of ``H``. The island's dofs are whole trees."""
    tiny = H.dtype(MINVAL)
    t = int(0)
    while t < n:
        j = dofs[e, n - 1 - t]
        end = dof_subtree_end[j]
        pivot = H[e, j, j] - subtree_dot(H, e, j, j, end)
        if pivot < tiny:
            pivot = tiny
        pivot = wp.sqrt(pivot)
        H[e, j, j] = pivot
        i = dof_parent[j]
        while i >= 0:  # the ancestors of j
            H[e, i, j] = (H[e, j, i] - subtree_dot(H, e, i, j, end)) / pivot
            i = dof_parent[i]
        t += 1


@wp.func(inline=True)
def tree_solve(
    e: int,
    n: int,
    dofs: wp.array2d(dtype=int),
    dof_parent: wp.array(dtype=int),
    dof_subtree_end: wp.array(dtype=int),
    U: wp.array3d(dtype=Any),
    rhs: wp.array2d(dtype=Any),
    out: wp.array2d(dtype=Any),
):
    """``out = (U U^T)^-1 rhs`` over the island's dofs, ``U`` a tree-sparse factor in the
    upper triangle (``tree_factor``, or ``solve.factor_and_solve``'s factor of ``M``)."""
    t = int(0)
    while t < n:
        i = dofs[e, n - 1 - t]
        value = rhs[e, i]
        m = int(i + 1)
        m_end = dof_subtree_end[i]
        while m < m_end:
            value = value - U[e, i, m] * out[e, m]
            m += 1
        out[e, i] = value / U[e, i, i]
        t += 1
    a = int(0)
    while a < n:
        i = dofs[e, a]
        value = out[e, i]
        k = dof_parent[i]
        while k >= 0:  # the ancestors of i
            value = value - U[e, k, i] * out[e, k]
            k = dof_parent[k]
        out[e, i] = value / U[e, i, i]
        a += 1


@wp.func(inline=True)
def mass_row_dot(
    e: int,
    i: int,
    dof_parent: wp.array(dtype=int),
    dof_subtree_end: wp.array(dtype=int),
    M: wp.array3d(dtype=Any),
    x: wp.array2d(dtype=Any),
):
    """``(M x)_i`` over the entries of row ``i`` that the kinematic tree leaves nonzero: dof
    ``i``'s ancestors and its subtree ``i .. dof_subtree_end[i] - 1`` [mj_mulM]."""
    end = dof_subtree_end[i]
    even = M[e, i, i] * x[e, i]  # three partial sums: shorter chains of dependent additions
    odd = x.dtype(0.0)
    m = int(i + 1)
    m_end = end - 1
    while m < m_end:
        even = even + M[e, i, m] * x[e, m]
        odd = odd + M[e, i, m + 1] * x[e, m + 1]
        m += 2
    if (end - i - 1) % 2 == 1:
        even = even + M[e, i, end - 1] * x[e, end - 1]
    up = x.dtype(0.0)
    k = dof_parent[i]
    while k >= 0:
        up = up + M[e, i, k] * x[e, k]
        k = dof_parent[k]
    return even + odd + up


@wp.func(inline=True)
def mass_product(
    e: int,
    island: int,
    n: int,
    dofs: wp.array2d(dtype=int),
    tree_parent: wp.array2d(dtype=int),
    dof_parent: wp.array(dtype=int),
    dof_subtree_end: wp.array(dtype=int),
    M: wp.array3d(dtype=Any),
    x: wp.array2d(dtype=Any),
    out: wp.array2d(dtype=Any),
):
    """``out = M x`` over the island's ``n`` dofs ``dofs[e, :n]`` (``island < 0``: every
    dof) by ``mass_row_dot``; ``tree_parent`` names the islands (for the unrolled twin)."""
    if island < 0:
        i = int(0)
        while i < M.shape[1]:
            out[e, i] = mass_row_dot(e, i, dof_parent, dof_subtree_end, M, x)
            i += 1
    else:
        a = int(0)
        while a < n:
            i = dofs[e, a]
            out[e, i] = mass_row_dot(e, i, dof_parent, dof_subtree_end, M, x)
            a += 1


@wp.func(inline=True)
def tree_factor_island(
    e: int,
    island: int,
    n: int,
    dofs: wp.array2d(dtype=int),
    tree_parent: wp.array2d(dtype=int),
    dof_parent: wp.array(dtype=int),
    dof_subtree_end: wp.array(dtype=int),
    H: wp.array3d(dtype=Any),
):
    """``tree_factor`` over the island's dofs."""
    tree_factor(e, n, dofs, dof_parent, dof_subtree_end, H)


@wp.func(inline=True)
def tree_solve_island(
    e: int,
    island: int,
    n: int,
    dofs: wp.array2d(dtype=int),
    tree_parent: wp.array2d(dtype=int),
    dof_parent: wp.array(dtype=int),
    dof_subtree_end: wp.array(dtype=int),
    U: wp.array3d(dtype=Any),
    rhs: wp.array2d(dtype=Any),
    out: wp.array2d(dtype=Any),
):
    """``tree_solve`` over the island's dofs."""
    tree_solve(e, n, dofs, dof_parent, dof_subtree_end, U, rhs, out)


def make_hessian_solve(tree_factor_island, tree_solve_island):
    """``out = H^-1 rhs`` over an island (``island < 0``: every dof) on these functions of
    the trees (``make_newton``): by the tree-sparse factor when every row lies on one chain
    of its tree (``chains``: ``H`` keeps ``M``'s sparsity), else by a dense Cholesky. With
    ``factor`` 0, ``H`` already holds the factor (the Hessian has not changed since)."""

    @wp.func
    def hessian_solve(
        e: int,
        island: int,
        n: int,
        dofs: wp.array2d(dtype=int),
        tree_parent: wp.array2d(dtype=int),
        chains: int,
        dof_parent: wp.array(dtype=int),
        dof_subtree_end: wp.array(dtype=int),
        factor: int,
        H: wp.array3d(dtype=Any),
        rhs: wp.array2d(dtype=Any),
        out: wp.array2d(dtype=Any),
    ):
        if chains != 0:
            if factor != 0:
                tree_factor_island(e, island, n, dofs, tree_parent, dof_parent, dof_subtree_end, H)
            tree_solve_island(e, island, n, dofs, tree_parent, dof_parent, dof_subtree_end, H, rhs, out)
        else:
            if factor != 0:
                dense_factor(e, n, dofs, H)
            dense_solve(e, n, dofs, H, rhs, out)

    return hessian_solve


hessian_solve = make_hessian_solve(tree_factor_island, tree_solve_island)


@wp.func(inline=True)
def line_point(
    alpha: Any,
    e: int,
    nact: int,
    row_list: wp.array2d(dtype=int),
    g1: Any,
    g2: Any,
    row_kind: wp.array(dtype=int),
    row_island: wp.array2d(dtype=int),
    island: int,
    efc_R: wp.array2d(dtype=Any),
    efc_frictionloss: wp.array2d(dtype=Any),
    efc_cone: wp.array2d(dtype=int),
    jaref: wp.array2d(dtype=Any),
    jv: wp.array2d(dtype=Any),
):
    """``(alpha, f(a + alpha s) - f(a), its slope, its curvature)`` along the search
    direction ``s`` [PrimalEval]: the Gauss term ``alpha^2 g2 + alpha g1``, the rows'
    quadratic pieces gathered, friction rows' changes added directly."""
    zero = g1 * type(g1)(0.0)
    half = type(g1)(0.5)
    two = type(g1)(2.0)
    q0 = zero
    q1 = g1
    q2 = g2
    cost = zero
    d1 = zero
    d2 = zero
    a = int(0)
    while a < nact:
        r = row_list[e, a]
        cone = efc_cone[e, r]
        if row_island[e, r] != island or cone < 0:
            a += 1
            continue
        if cone > 0:
            cone_change, cone_d1, cone_d2 = cone_line_point(e, r, cone, alpha, efc_R, jaref, jv)
            cost = cost + cone_change
            d1 = d1 + cone_d1
            d2 = d2 + cone_d2
            a += 1
            continue
        kind = kind_of(row_kind, r)
        R = efc_R[e, r]
        D = type(g1)(1.0) / R
        x0 = jaref[e, r]
        v = jv[e, r]
        if kind < ROW_FRICTION_DOF:
            q1 = q1 + D * x0 * v
            q2 = q2 + half * D * v * v
        elif kind < ROW_LIMIT_JOINT:
            f = efc_frictionloss[e, r]
            x = x0 + alpha * v
            cost = cost + friction_cost_change(x0, x, R, f)
            z = friction_zone(x, R * f)
            if z == 0:
                d1 = d1 + D * x * v
                d2 = d2 + D * v * v
            else:
                d1 = d1 + type(g1)(z) * f * v
        else:
            x = x0 + alpha * v
            cost0 = zero
            if x0 < zero:
                cost0 = half * D * x0 * x0
            if x < zero:
                q0 = q0 + half * D * x0 * x0 - cost0
                q1 = q1 + D * x0 * v
                q2 = q2 + half * D * v * v
            else:
                cost = cost - cost0
        a += 1
    cost = cost + alpha * alpha * q2 + alpha * q1 + q0
    d1 = d1 + two * alpha * q2 + q1
    d2 = d2 + two * q2
    if d2 <= zero:
        d2 = type(g1)(MINVAL)
    return wp.vector(alpha, cost, d1, d2)


@wp.func(inline=True)
def improves_bracket(p: Any, c: Any):
    """Whether candidate ``c`` is a tighter bracket end than ``p`` on ``p``'s side."""
    zero = p[2] * type(p[2])(0.0)
    return (p[2] < zero and c[2] < zero and p[2] < c[2]) or (p[2] > zero and c[2] > zero and p[2] > c[2])


@wp.func(inline=True)
def tighter_end(p: Any, c0: Any, c1: Any, c2: Any):
    """The bracket end ``p`` moved to the tightest of the candidates on its side, in order
    [updateBracket], and whether it moved."""
    moved = int(0)
    if improves_bracket(p, c0):
        p = c0
        moved = 1
    if improves_bracket(p, c1):
        p = c1
        moved = 1
    if improves_bracket(p, c2):
        p = c2
        moved = 1
    return p, moved


@wp.func(inline=True)
def newton_point(
    p: Any,
    e: int,
    nact: int,
    row_list: wp.array2d(dtype=int),
    g1: Any,
    g2: Any,
    row_kind: wp.array(dtype=int),
    row_island: wp.array2d(dtype=int),
    island: int,
    efc_R: wp.array2d(dtype=Any),
    efc_frictionloss: wp.array2d(dtype=Any),
    efc_cone: wp.array2d(dtype=int),
    jaref: wp.array2d(dtype=Any),
    jv: wp.array2d(dtype=Any),
):
    """The line's point one Newton step on from ``p``: at ``alpha - slope / curvature``."""
    return line_point(
        p[0] - p[2] / p[3], e, nact, row_list, g1, g2, row_kind, row_island, island, efc_R, efc_frictionloss, efc_cone, jaref, jv
    )  # fmt: skip


@wp.func(inline=True)
def line_search(
    e: int,
    nact: int,
    row_list: wp.array2d(dtype=int),
    gtol: Any,
    ls_iterations: int,
    g1: Any,
    g2: Any,
    row_kind: wp.array(dtype=int),
    row_island: wp.array2d(dtype=int),
    island: int,
    efc_R: wp.array2d(dtype=Any),
    efc_frictionloss: wp.array2d(dtype=Any),
    efc_cone: wp.array2d(dtype=int),
    jaref: wp.array2d(dtype=Any),
    jv: wp.array2d(dtype=Any),
):
    """MuJoCo's exact line search [PrimalSearch]: the step ``alpha`` and the cost change
    there (negative: an improvement; ``alpha = 0``: none found)."""
    zero = g1 * type(g1)(0.0)
    half = type(g1)(0.5)
    p0 = line_point(
        zero, e, nact, row_list, g1, g2, row_kind, row_island, island, efc_R, efc_frictionloss, efc_cone, jaref, jv
    )
    p1 = newton_point(
        p0, e, nact, row_list, g1, g2, row_kind, row_island, island, efc_R, efc_frictionloss, efc_cone, jaref, jv
    )
    evaluations = int(2)
    if wp.abs(p1[2]) < gtol and (p1[0] == zero or p1[1] < zero):
        return p1
    direction = type(g1)(-1.0)
    if p1[2] < zero:
        direction = type(g1)(1.0)
    p2 = p0
    # Newton steps from one side until the slope changes sign
    while p1[2] * direction <= -gtol and evaluations < ls_iterations:
        p2 = p1
        p1 = newton_point(
            p1, e, nact, row_list, g1, g2, row_kind, row_island, island, efc_R, efc_frictionloss, efc_cone, jaref, jv
        )
        evaluations += 1
        if wp.abs(p1[2]) < gtol and p1[1] < zero:
            return p1
    if evaluations >= ls_iterations:
        return p1
    # the bracket [p1, p2]: Newton steps from both ends and the midpoint
    p2next = p1
    p1next = newton_point(
        p1, e, nact, row_list, g1, g2, row_kind, row_island, island, efc_R, efc_frictionloss, efc_cone, jaref, jv
    )
    evaluations += 1
    while evaluations < ls_iterations:
        middle = line_point(
            half * (p1[0] + p2[0]), e, nact, row_list, g1, g2, row_kind, row_island, island, efc_R, efc_frictionloss, efc_cone, jaref, jv
        )  # fmt: skip
        evaluations += 1
        # the lowest-cost candidate with a small slope (the first of equals)
        best = p1next
        found = wp.abs(p1next[2]) < gtol
        if wp.abs(p2next[2]) < gtol and (not found or p2next[1] < best[1]):
            best = p2next
            found = True
        if wp.abs(middle[2]) < gtol and (not found or middle[1] < best[1]):
            best = middle
            found = True
        if found:
            return best
        c0 = p1next
        c1 = p2next
        p1, moved1 = tighter_end(p1, c0, c1, middle)
        if moved1 != 0:
            p1next = newton_point(
                p1, e, nact, row_list, g1, g2, row_kind, row_island, island, efc_R, efc_frictionloss, efc_cone, jaref, jv
            )  # fmt: skip
            evaluations += 1
        p2, moved2 = tighter_end(p2, c0, c1, middle)
        if moved2 != 0:
            p2next = newton_point(
                p2, e, nact, row_list, g1, g2, row_kind, row_island, island, efc_R, efc_frictionloss, efc_cone, jaref, jv
            )  # fmt: skip
            evaluations += 1
        if moved1 == 0 and moved2 == 0:
            return middle
    if p1[1] <= p2[1] and p1[1] < zero:
        return p1
    if p2[1] < zero:
        return p2
    return wp.vector(zero, zero, zero, zero)


@wp.func(inline=True)
def update_rows(
    e: int,
    nact: int,
    row_list: wp.array2d(dtype=int),
    row_lo: wp.array2d(dtype=int),
    row_hi: wp.array2d(dtype=int),
    n: int,
    dofs: wp.array2d(dtype=int),
    island: int,
    row_kind: wp.array(dtype=int),
    row_island: wp.array2d(dtype=int),
    efc_J: wp.array3d(dtype=Any),
    efc_R: wp.array2d(dtype=Any),
    efc_frictionloss: wp.array2d(dtype=Any),
    efc_cone: wp.array2d(dtype=int),
    jaref: wp.array2d(dtype=Any),
    qfrc_smooth: wp.array2d(dtype=Any),
    Ma: wp.array2d(dtype=Any),
    efc_force: wp.array2d(dtype=Any),
    grad: wp.array2d(dtype=Any),
):
    """The island's rows' forces at ``jaref`` and the gradient ``M a - qfrc_smooth - J^T
    force`` over its dofs [PrimalUpdateConstraint, PrimalUpdateGrad]."""
    a = int(0)
    while a < n:
        i = dofs[e, a]
        grad[e, i] = Ma[e, i] - qfrc_smooth[e, i]
        a += 1
    b = int(0)
    while b < nact:
        r = row_list[e, b]
        cone = efc_cone[e, r]
        if row_island[e, r] != island or cone < 0:
            b += 1
            continue
        if cone > 0:
            x0 = jaref[e, r]
            T = cone_tangent(e, r, cone, jaref)
            zone = cone_zone(x0, T, efc_R[e, r + 1] / efc_R[e, r])
            k = int(0)
            while k < cone:
                force = cone_force(e, r, k, zone, x0, T, jaref, efc_R)
                efc_force[e, r + k] = force
                if force != force * type(force)(0.0):
                    i = int(row_lo[e, r + k])
                    i_end = row_hi[e, r + k]
                    while i < i_end:
                        grad[e, i] = grad[e, i] - efc_J[e, r + k, i] * force
                        i += 1
                k += 1
            b += 1
            continue
        force, _D = row_force(kind_of(row_kind, r), jaref[e, r], efc_R[e, r], efc_frictionloss[e, r])
        efc_force[e, r] = force
        if force != force * type(force)(0.0):
            i = int(row_lo[e, r])
            i_end = row_hi[e, r]
            while i < i_end:
                grad[e, i] = grad[e, i] - efc_J[e, r, i] * force
                i += 1
        b += 1


@wp.func(inline=True)
def add_cone_hessian(
    e: int,
    r: int,
    dim: int,
    row_lo: wp.array2d(dtype=int),
    row_hi: wp.array2d(dtype=int),
    efc_J: wp.array3d(dtype=Any),
    efc_R: wp.array2d(dtype=Any),
    jaref: wp.array2d(dtype=Any),
    H: wp.array3d(dtype=Any),
):
    """Adds the Hessian of the cone at normal row ``r`` to ``H`` (lower triangle): its
    rows' ``D J^T J`` in the bottom zone, ``J^T Hc J`` in the middle, nothing on top."""
    x0 = jaref[e, r]
    T = cone_tangent(e, r, dim, jaref)
    R0 = efc_R[e, r]
    zone = cone_zone(x0, T, efc_R[e, r + 1] / R0)
    if zone == 1:
        return
    if zone == 2:
        k = int(0)
        while k < dim:
            D = efc_R.dtype(1.0) / efc_R[e, r + k]
            lo = row_lo[e, r + k]
            hi = row_hi[e, r + k]
            i = int(lo)
            while i < hi:
                Ji = efc_J[e, r + k, i]
                if Ji != efc_R.dtype(0.0):
                    j = int(lo)
                    while j <= i:
                        H[e, i, j] = H[e, i, j] + D * Ji * efc_J[e, r + k, j]
                        j += 1
                i += 1
            k += 1
        return
    # the dofs of any of the cone's rows
    lo = row_lo[e, r]
    hi = row_hi[e, r]
    k = int(1)
    while k < dim:
        lo = wp.min(lo, row_lo[e, r + k])
        hi = wp.max(hi, row_hi[e, r + k])
        k += 1
    Dc = efc_R.dtype(1.0) / (R0 + efc_R[e, r + 1])
    i = int(lo)
    while i < hi:
        j = int(lo)
        while j <= i:
            H[e, i, j] = H[e, i, j] + Dc * cone_hessian_entry(e, r, dim, i, j, x0, T, jaref, efc_J)
            j += 1
        i += 1


@wp.func(inline=True)
def hessian(
    e: int,
    nact: int,
    row_list: wp.array2d(dtype=int),
    row_lo: wp.array2d(dtype=int),
    row_hi: wp.array2d(dtype=int),
    n: int,
    dofs: wp.array2d(dtype=int),
    island: int,
    row_kind: wp.array(dtype=int),
    row_island: wp.array2d(dtype=int),
    M: wp.array3d(dtype=Any),
    efc_J: wp.array3d(dtype=Any),
    efc_R: wp.array2d(dtype=Any),
    efc_frictionloss: wp.array2d(dtype=Any),
    efc_cone: wp.array2d(dtype=int),
    jaref: wp.array2d(dtype=Any),
    with_rows: int,
    H: wp.array3d(dtype=Any),
):
    """``H = M + sum D J_r^T J_r`` over the island's rows in their quadratic zone (lower
    triangle, the island's dofs), or ``M`` alone. A row's nonzero entries lie in its dofs
    ``row_lo .. row_hi - 1``, all in its island: the sums skip only zeros."""
    a = int(0)
    while a < n:
        i = dofs[e, a]
        b = int(0)
        while b <= a:
            j = dofs[e, b]
            H[e, i, j] = M[e, i, j]
            b += 1
        a += 1
    if with_rows == 0:
        return
    c = int(0)
    while c < nact:
        r = row_list[e, c]
        cone = efc_cone[e, r]
        if row_island[e, r] != island or cone < 0:
            c += 1
            continue
        if cone > 0:
            add_cone_hessian(e, r, cone, row_lo, row_hi, efc_J, efc_R, jaref, H)
            c += 1
            continue
        _force, D = row_force(kind_of(row_kind, r), jaref[e, r], efc_R[e, r], efc_frictionloss[e, r])
        if D == D * type(D)(0.0):
            c += 1
            continue
        lo = row_lo[e, r]
        i = int(lo)
        i_end = row_hi[e, r]
        while i < i_end:
            Ji = efc_J[e, r, i]
            if Ji != Ji * type(Ji)(0.0):
                j = int(lo)
                j_end = i + 1
                while j < j_end:
                    H[e, i, j] = H[e, i, j] + D * Ji * efc_J[e, r, j]
                    j += 1
            i += 1
        c += 1


@wp.func(inline=True)
def island_dot(e: int, n: int, dofs: wp.array2d(dtype=int), a: Any, b: Any):
    total = a.dtype(0.0)
    c = int(0)
    while c < n:
        i = dofs[e, c]
        total = total + a[e, i] * b[e, i]
        c += 1
    return total


@wp.func(inline=True)
def nonzero_range(e: int, r: int, efc_J: wp.array3d(dtype=Any)):
    """``(lo, hi)``: row ``r``'s nonzero Jacobian entries lie in dofs ``lo .. hi - 1``
    (``(nv, 0)`` for a row without any)."""
    nv = efc_J.shape[2]
    lo = int(nv)
    hi = int(0)
    k = int(0)
    while k < nv:
        if efc_J[e, r, k] != efc_J.dtype(0.0):
            lo = wp.min(lo, k)
            hi = k + 1
        k += 1
    return lo, hi


@wp.func(inline=True)
def rows_on_chains(
    e: int,
    nact: int,
    row_list: wp.array2d(dtype=int),
    row_lo: wp.array2d(dtype=int),
    row_hi: wp.array2d(dtype=int),
    efc_J: wp.array3d(dtype=Any),
    efc_cone: wp.array2d(dtype=int),
    dof_ancestor: wp.array2d(dtype=int),
):
    """1 when every listed row's nonzero Jacobian entries (in its dofs ``row_lo ..
    row_hi - 1``) lie on one chain of its tree (the Hessian then keeps the sparsity of M),
    else 0. An elliptic cone's rows count as one: its Hessian couples them."""
    zero = efc_J.dtype(0.0)
    a = int(0)
    while a < nact:
        r = row_list[e, a]
        count = wp.max(efc_cone[e, r], 1)
        deepest = int(-1)  # the last nonzero entry of any of the rows
        q = int(0)
        while q < count:
            deepest = wp.max(deepest, row_hi[e, r + q] - 1)
            q += 1
        q = int(0)
        while q < count:
            k = int(row_lo[e, r + q])
            while k < deepest and k < row_hi[e, r + q]:
                if efc_J[e, r + q, k] != zero and dof_ancestor[deepest, k] == 0:
                    return 0
                k += 1
            q += 1
        a += count
    return 1


def make_newton(mass_product, tree_factor_island, tree_solve_island, factor_and_solve_env, module=None):
    """The Newton kernel built on these functions of the kinematic trees: the generic
    ones here (``newton``) or a model's unrolled ones (``diffsim.kernels.unrolled``), which
    compute the same. ``module``: the Warp module that holds the kernel."""

    island_hessian_solve = make_hessian_solve(tree_factor_island, tree_solve_island)

    @wp.kernel(enable_backward=False, module=module)
    def newton(
        row_kind: wp.array(dtype=int),
        dof_tree: wp.array(dtype=int),
        dof_ancestor: wp.array2d(dtype=int),
        dof_parent: wp.array(dtype=int),
        dof_subtree_end: wp.array(dtype=int),
        iterations: int,
        tolerance: Any,
        ls_tolerance: Any,
        ls_iterations: int,
        warmstart: int,
        M: wp.array3d(dtype=Any),
        M_factor: wp.array3d(dtype=Any),  # written: M's factor
        qfrc_smooth: wp.array2d(dtype=Any),
        qacc_smooth: wp.array2d(dtype=Any),  # written
        qacc_warmstart: wp.array2d(dtype=Any),
        efc_J: wp.array3d(dtype=Any),
        efc_active: wp.array2d(dtype=Any),
        efc_aref: wp.array2d(dtype=Any),
        efc_R: wp.array2d(dtype=Any),
        efc_frictionloss: wp.array2d(dtype=Any),
        efc_cone: wp.array2d(dtype=int),
        # scratch, written in place
        tree_parent: wp.array2d(dtype=int),
        tree_rows: wp.array2d(dtype=int),
        row_list: wp.array2d(dtype=int),
        dof_list: wp.array2d(dtype=int),
        row_island: wp.array2d(dtype=int),
        row_lo: wp.array2d(dtype=int),
        row_hi: wp.array2d(dtype=int),
        jaref: wp.array2d(dtype=Any),
        jv: wp.array2d(dtype=Any),
        Ma: wp.array2d(dtype=Any),
        grad: wp.array2d(dtype=Any),
        search: wp.array2d(dtype=Any),
        Ms: wp.array2d(dtype=Any),
        H: wp.array3d(dtype=Any),
        factored: wp.array(dtype=int),
        # the unconstrained solve's inputs and scratch (see below)
        dof_ancestors: wp.array2d(dtype=int),
        zero_dof: wp.array(dtype=Any),
        y: wp.array2d(dtype=Any),
        # outputs
        qacc: wp.array2d(dtype=Any),
        solver_niter: wp.array(dtype=int),
        efc_force: wp.array2d(dtype=Any),
        qfrc_constraint: wp.array2d(dtype=Any),
        qfrc_total: wp.array2d(dtype=Any),
    ):
        """The constrained acceleration ``qacc`` of one environment. First writes the
        unconstrained ``qacc_smooth = M^-1 qfrc_smooth`` and ``M``'s factor into ``M_factor``;
        then the rows' forces, ``qfrc_constraint = J^T force``, ``qfrc_total = qfrc_smooth +
        qfrc_constraint`` and the iterations taken (summed over islands). Only the instantiated
        rows (``row_list``) are visited."""
        e = wp.tid()
        nv = M.shape[1]
        nr = efc_J.shape[1]
        ntree = tree_parent.shape[1]
        zero = qacc.dtype(0.0)
        half = qacc.dtype(0.5)
        # the unconstrained acceleration qacc_smooth = M^-1 qfrc_smooth and M's factor (for the
        # certificate below), here rather than in a launch of their own: M is read once
        factor_and_solve_env(
            M, dof_ancestors, dof_subtree_end, zero_dof, zero, qfrc_smooth, M_factor, y, qacc_smooth, e
        )
        # the instantiated rows
        nact = int(0)
        r = int(0)
        while r < nr:
            efc_force[e, r] = zero
            if efc_active[e, r] != zero:
                row_list[e, nact] = r
                nact += 1
            r += 1
        # islands: trees joined by the rows they share [mj_island]
        t = int(0)
        while t < ntree:
            tree_parent[e, t] = t
            tree_rows[e, t] = 0
            t += 1
        # a cone's rows share one island (MuJoCo's, from the contact), even those whose
        # Jacobian is zero or moves one side only: the union runs on over them
        carried = int(-1)
        a = int(0)
        while a < nact:
            r = row_list[e, a]
            first = int(-1)
            if efc_cone[e, r] < 0:
                first = carried
            lo, hi = nonzero_range(e, r, efc_J)
            row_lo[e, r] = lo  # the row's nonzero entries lie in dofs lo .. hi - 1
            row_hi[e, r] = hi
            k = int(lo)
            while k < hi:
                if efc_J[e, r, k] != zero:
                    root = find_root(tree_parent, e, dof_tree[k])
                    if first < 0:
                        first = root
                    elif root != first:
                        low = wp.min(root, first)
                        tree_parent[e, wp.max(root, first)] = low
                        first = low
                k += 1
            row_island[e, r] = first
            carried = first
            a += 1
        a = int(0)
        while a < nact:
            r = row_list[e, a]
            count = wp.max(efc_cone[e, r], 1)  # a cone's rows: the last holds their union
            root = row_island[e, r + count - 1]
            if root >= 0:
                root = find_root(tree_parent, e, root)
                tree_rows[e, root] = 1
            k = int(0)
            while k < count:
                row_island[e, r + k] = root
                k += 1
            a += count
        # whether every row (a cone: its rows together) lies on one chain of its tree: then H
        # keeps M's sparsity
        chains = rows_on_chains(e, nact, row_list, row_lo, row_hi, efc_J, efc_cone, dof_ancestor)
        # warm start [warmstart]: the previous solution unless it costs more than qacc_smooth
        use_warmstart = warmstart != 0 and nact > 0  # without rows every dof keeps qacc_smooth
        if use_warmstart:
            cost_warm = zero
            cost_smooth = zero
            # M qacc_warmstart, kept for the islands when the warm start wins
            mass_product(e, -1, 0, dof_list, tree_parent, dof_parent, dof_subtree_end, M, qacc_warmstart, Ma)
            i = int(0)
            while i < nv:
                total = Ma[e, i]
                cost_warm = cost_warm + half * (total - qfrc_smooth[e, i]) * (qacc_warmstart[e, i] - qacc_smooth[e, i])
                i += 1
            a = int(0)
            while a < nact:
                r = row_list[e, a]
                warm = -efc_aref[e, r]
                smooth = -efc_aref[e, r]
                k = int(row_lo[e, r])
                k_end = row_hi[e, r]
                while k < k_end:
                    warm = warm + efc_J[e, r, k] * qacc_warmstart[e, k]
                    smooth = smooth + efc_J[e, r, k] * qacc_smooth[e, k]
                    k += 1
                jaref[e, r] = warm  # kept, as Ma
                if efc_cone[e, r] == 0:
                    kind = kind_of(row_kind, r)
                    cost_warm = cost_warm + row_cost(kind, warm, efc_R[e, r], efc_frictionloss[e, r])
                    cost_smooth = cost_smooth + row_cost(kind, smooth, efc_R[e, r], efc_frictionloss[e, r])
                else:
                    jv[e, r] = smooth  # a cone's cost needs all its rows: below
                a += 1
            a = int(0)
            while a < nact:
                r = row_list[e, a]
                cone = efc_cone[e, r]
                if cone > 0:
                    cost_warm = cost_warm + cone_cost(e, r, cone, jaref, efc_R)
                    cost_smooth = cost_smooth + cone_cost(e, r, cone, jv, efc_R)
                a += 1
            use_warmstart = not (cost_warm > cost_smooth)
        i = int(0)
        while i < nv:
            qacc[e, i] = qacc_smooth[e, i]
            if use_warmstart:
                root = find_root(tree_parent, e, dof_tree[i])
                if tree_rows[e, root] != 0:
                    qacc[e, i] = qacc_warmstart[e, i]
            i += 1
        niter = int(0)
        tol = tolerance
        # 1 when H ends up holding the factor of the Hessian at the solution over every dof
        # (one island spanning them all): the adjoint then needs no factor of its own
        factored[e] = 0
        islands = int(0)
        island = int(0)
        while island < ntree:
            if tree_parent[e, island] != island or tree_rows[e, island] == 0:
                island += 1
                continue
            n = int(0)
            trace = zero
            i = int(0)
            while i < nv:
                if find_root(tree_parent, e, dof_tree[i]) == island:
                    dof_list[e, n] = i
                    n += 1
                    trace = trace + M[e, i, i]
                i += 1
            scale = qacc.dtype(1.0) / trace
            if not use_warmstart:  # else the warm start's test left M qacc in Ma and J qacc - aref in jaref
                mass_product(e, island, n, dof_list, tree_parent, dof_parent, dof_subtree_end, M, qacc, Ma)
                c = int(0)
                while c < nact:
                    r = row_list[e, c]
                    if row_island[e, r] == island:
                        value = -efc_aref[e, r]
                        k = int(row_lo[e, r])
                        k_end = row_hi[e, r]
                        while k < k_end:
                            value = value + efc_J[e, r, k] * qacc[e, k]
                            k += 1
                        jaref[e, r] = value
                    c += 1
            update_rows(
                e, nact, row_list, row_lo, row_hi, n, dof_list, island, row_kind, row_island, efc_J, efc_R, efc_frictionloss, efc_cone,
                jaref, qfrc_smooth, Ma, efc_force, grad,
            )  # fmt: skip
            # stop before the first iteration: the certificate, then the Newton decrement (both
            # need the gradient below tolerance)
            gradient = scale * wp.sqrt(island_dot(e, n, dof_list, grad, grad))
            done = False
            if gradient < tol:  # M^-1 grad by the factor of M the unconstrained solve left
                tree_solve_island(
                    e, island, n, dof_list, tree_parent, dof_parent, dof_subtree_end, M_factor, grad, search
                )
                done = wp.max(zero, half * scale * island_dot(e, n, dof_list, grad, search)) < tol
            islands += 1
            if not done:
                hessian(
                    e, nact, row_list, row_lo, row_hi, n, dof_list, island, row_kind, row_island, M, efc_J, efc_R, efc_frictionloss,
                    efc_cone, jaref, 1, H,
                )  # fmt: skip
                island_hessian_solve(
                    e, island, n, dof_list, tree_parent, chains, dof_parent, dof_subtree_end, 1, H, grad, search
                )
                if islands == 1 and n == nv:
                    factored[e] = 1  # every later step keeps H the factor at the current point
                decrement = wp.max(zero, half * scale * island_dot(e, n, dof_list, grad, search))
                done = gradient < tol and decrement < tol
            iteration = int(0)
            while not done and iteration < iterations:
                # search holds H^-1 grad: step along its negative
                norm = zero
                a = int(0)
                while a < n:
                    i = dof_list[e, a]
                    search[e, i] = -search[e, i]
                    norm = norm + search[e, i] * search[e, i]
                    a += 1
                norm = wp.sqrt(norm)
                if norm < qacc.dtype(MINVAL):
                    break
                gtol = tol * ls_tolerance * norm / scale
                g1 = zero
                g2 = zero
                mass_product(e, island, n, dof_list, tree_parent, dof_parent, dof_subtree_end, M, search, Ms)
                a = int(0)
                while a < n:
                    i = dof_list[e, a]
                    total = Ms[e, i]
                    g1 = g1 + search[e, i] * Ma[e, i] - qfrc_smooth[e, i] * search[e, i]
                    g2 = g2 + half * search[e, i] * total
                    a += 1
                c = int(0)
                while c < nact:
                    r = row_list[e, c]
                    if row_island[e, r] == island:
                        value = zero
                        k = int(row_lo[e, r])
                        k_end = row_hi[e, r]
                        while k < k_end:
                            value = value + efc_J[e, r, k] * search[e, k]
                            k += 1
                        jv[e, r] = value
                    c += 1
                point = line_search(
                    e, nact, row_list, gtol, ls_iterations, g1, g2, row_kind, row_island, island, efc_R,
                    efc_frictionloss, efc_cone, jaref, jv,
                )  # fmt: skip
                alpha = point[0]
                if alpha == zero:
                    break
                a = int(0)
                while a < n:
                    i = dof_list[e, a]
                    qacc[e, i] = qacc[e, i] + alpha * search[e, i]
                    Ma[e, i] = Ma[e, i] + alpha * Ms[e, i]
                    a += 1
                # the Hessian changes only where a row changes zone: else its factor is reused
                changed = int(0)
                c = int(0)
                while c < nact:
                    r = row_list[e, c]
                    if row_island[e, r] == island:
                        before = jaref[e, r]
                        after = before + alpha * jv[e, r]
                        jaref[e, r] = after
                        cone = efc_cone[e, r]
                        if changed == 0 and cone > 0:
                            # a cone's Hessian changes with its rows in the middle zone
                            mu2 = efc_R[e, r + 1] / efc_R[e, r]
                            T0 = cone_tangent(e, r, cone, jaref)  # its friction rows: not moved yet
                            zone0 = cone_zone(before, T0, mu2)
                            T1 = zero
                            k = int(1)
                            while k < cone:
                                moved = jaref[e, r + k] + alpha * jv[e, r + k]
                                T1 = T1 + moved * moved
                                k += 1
                            zone1 = cone_zone(after, wp.sqrt(T1), mu2)
                            if zone0 != zone1 or zone0 == 3:
                                changed = 1
                        elif changed == 0 and cone == 0:
                            kind = kind_of(row_kind, r)
                            _f0, D0 = row_force(kind, before, efc_R[e, r], efc_frictionloss[e, r])
                            _f1, D1 = row_force(kind, after, efc_R[e, r], efc_frictionloss[e, r])
                            if D0 != D1:
                                changed = 1
                    c += 1
                update_rows(
                    e, nact, row_list, row_lo, row_hi, n, dof_list, island, row_kind, row_island, efc_J, efc_R, efc_frictionloss,
                    efc_cone, jaref, qfrc_smooth, Ma, efc_force, grad,
                )  # fmt: skip
                if changed != 0:
                    hessian(
                        e, nact, row_list, row_lo, row_hi, n, dof_list, island, row_kind, row_island, M, efc_J, efc_R,
                        efc_frictionloss, efc_cone, jaref, 1, H,
                    )  # fmt: skip
                island_hessian_solve(
                    e, island, n, dof_list, tree_parent, chains, dof_parent, dof_subtree_end, changed, H, grad, search
                )
                improvement = -scale * point[1]
                gradient = scale * wp.sqrt(island_dot(e, n, dof_list, grad, grad))
                decrement = wp.max(zero, half * scale * island_dot(e, n, dof_list, grad, search))
                iteration += 1
                if (improvement > zero and improvement < tol) or gradient < tol or decrement < tol:
                    break
            niter += iteration
            island += 1
        if islands != 1:
            factored[e] = 0
        solver_niter[e] = niter
        # J^T force over the instantiated rows, and the total force the accelerations solve for
        i = int(0)
        while i < nv:
            qfrc_constraint[e, i] = zero
            i += 1
        a = int(0)
        while a < nact:
            r = row_list[e, a]
            force = efc_force[e, r]
            if force != zero:
                i = int(row_lo[e, r])
                i_end = row_hi[e, r]
                while i < i_end:
                    qfrc_constraint[e, i] = qfrc_constraint[e, i] + efc_J[e, r, i] * force
                    i += 1
            a += 1
        i = int(0)
        while i < nv:
            qfrc_total[e, i] = qfrc_smooth[e, i] + qfrc_constraint[e, i]
            i += 1

    return newton


newton = make_newton(mass_product, tree_factor_island, tree_solve_island, factor_and_solve_env)


@wp.kernel
def undamped_acceleration(
    dof_damping: wp.array(dtype=Any),
    implicit: int,
    qacc_constrained: wp.array2d(dtype=Any),
    qacc: wp.array2d(dtype=Any),
):
    """MuJoCo's Euler integrates the solver's ``qacc`` itself unless some dof's damping is
    treated implicitly [mj_EulerSkip]; launch over environments."""
    e = wp.tid()
    damped = int(0)
    if implicit != 0:
        for i in range(dof_damping.shape[0]):
            if dof_damping[i] > dof_damping.dtype(0.0):
                damped = 1
    if damped == 0:
        for i in range(qacc.shape[1]):
            qacc[e, i] = qacc_constrained[e, i]


@wp.kernel
def keep_warmstart(qacc: wp.array2d(dtype=Any), qacc_warmstart: wp.array2d(dtype=Any)):
    """The next step's warm start: this step's solution [mj_advance]; launch over environments."""
    e = wp.tid()
    for i in range(qacc.shape[1]):
        qacc_warmstart[e, i] = qacc[e, i]


@wp.func(inline=True)
def in_quadratic_zone(kind: int, jar: Any, R: Any, friction: Any):
    """Whether the row's cost is ``0.5 D jar^2`` at ``jar`` (its force ``-D jar``)."""
    if kind < ROW_FRICTION_DOF:
        return True
    if kind < ROW_LIMIT_JOINT:
        return friction_zone(jar, R * friction) == 0
    return jar < jar * type(jar)(0.0)


@wp.func(inline=True)
def cone_adjoint(
    e: int,
    r: int,
    dim: int,
    to_acceleration: int,
    qacc: wp.array2d(dtype=Any),
    efc_J: wp.array3d(dtype=Any),
    efc_R: wp.array2d(dtype=Any),
    row_lo: wp.array2d(dtype=int),
    row_hi: wp.array2d(dtype=int),
    jar: wp.array2d(dtype=Any),
    adj_F: wp.array2d(dtype=Any),
    adj_a: wp.array2d(dtype=Any),
    adj_J: wp.array3d(dtype=Any),
    adj_aref: wp.array2d(dtype=Any),
    adj_R: wp.array2d(dtype=Any),
):
    """Back through the forces ``F(x, R)`` of the cone at normal row ``r``, ``x = J a -
    aref``, given their gradient ``adj_F`` (its rows): ``adj_x = dF/dx^T adj_F`` (``dF/dx
    = -Hc``: ``-D`` in the bottom zone; in the middle ``-Dc (g g^T + c (I_t - t t^T))``, ``g =
    (1, -t)``) to ``aref`` (``-adj_x``), to ``J`` (``adj_x a^T``) and, when ``to_acceleration``
    is 1, to ``a`` (``J^T adj_x``); and ``dF/dR^T adj_F`` to the rows' ``R`` (middle: ``dF/dR0 =
    dF/dRt = -Dc F``)."""
    zero = qacc.dtype(0.0)
    x0 = jar[e, r]
    T = cone_tangent(e, r, dim, jar)
    R0 = efc_R[e, r]
    Rt = efc_R[e, r + 1]
    zone = cone_zone(x0, T, Rt / R0)
    if zone == 1:
        return
    Dc = qacc.dtype(1.0) / (R0 + Rt)
    # middle zone: g . adj_F, t . adj_F_t, and adj_F . F for the R's
    g_adj = adj_F[e, r]
    t_adj = zero
    F_adj = zero
    if zone == 3:
        F_adj = adj_F[e, r] * cone_force(e, r, 0, zone, x0, T, jar, efc_R)
        k = int(1)
        while k < dim:
            t_adj = t_adj + jar[e, r + k] / T * adj_F[e, r + k]
            F_adj = F_adj + adj_F[e, r + k] * cone_force(e, r, k, zone, x0, T, jar, efc_R)
            k += 1
        g_adj = adj_F[e, r] - t_adj
        adj_R[e, r] = adj_R[e, r] - Dc * F_adj
        adj_R[e, r + 1] = adj_R[e, r + 1] - Dc * F_adj
    c = zero
    if zone == 3:
        c = (T - x0) / T
    k = int(0)
    while k < dim:
        R = efc_R[e, r + k]
        adj_x = zero
        if zone == 2:
            adj_x = -adj_F[e, r + k] / R
            adj_R[e, r + k] = adj_R[e, r + k] + adj_F[e, r + k] * jar[e, r + k] / (R * R)
        elif k == 0:
            adj_x = -Dc * g_adj
        else:
            t = jar[e, r + k] / T
            adj_x = -Dc * (-t * g_adj + c * (adj_F[e, r + k] - t * t_adj))
        if adj_x != zero:
            adj_aref[e, r + k] = adj_aref[e, r + k] - adj_x
            if to_acceleration != 0:
                i = int(row_lo[e, r + k])
                i_end = row_hi[e, r + k]
                while i < i_end:
                    adj_a[e, i] = adj_a[e, i] + efc_J[e, r + k, i] * adj_x
                    i += 1
            i = int(0)
            while i < qacc.shape[1]:
                adj_J[e, r + k, i] = adj_J[e, r + k, i] + adj_x * qacc[e, i]
                i += 1
        k += 1


@wp.kernel(enable_backward=False)
def newton_adjoint(
    row_kind: wp.array(dtype=int),
    dof_ancestor: wp.array2d(dtype=int),
    dof_parent: wp.array(dtype=int),
    dof_subtree_end: wp.array(dtype=int),
    M: wp.array3d(dtype=Any),
    qacc: wp.array2d(dtype=Any),
    efc_J: wp.array3d(dtype=Any),
    efc_active: wp.array2d(dtype=Any),
    efc_aref: wp.array2d(dtype=Any),
    efc_R: wp.array2d(dtype=Any),
    efc_frictionloss: wp.array2d(dtype=Any),
    efc_cone: wp.array2d(dtype=int),
    efc_force: wp.array2d(dtype=Any),
    adj_qacc: wp.array2d(dtype=Any),
    adj_force: wp.array2d(dtype=Any),
    adj_qfrc_constraint: wp.array2d(dtype=Any),
    adj_qfrc_total: wp.array2d(dtype=Any),
    # scratch
    row_list: wp.array2d(dtype=int),
    row_lo: wp.array2d(dtype=int),
    row_hi: wp.array2d(dtype=int),
    dof_list: wp.array2d(dtype=int),
    jar: wp.array2d(dtype=Any),
    adj_row_force: wp.array2d(dtype=Any),
    adj_a: wp.array2d(dtype=Any),
    lam: wp.array2d(dtype=Any),
    H: wp.array3d(dtype=Any),
    factored: wp.array(dtype=int),
    # gradients, accumulated
    adj_M: wp.array3d(dtype=Any),
    adj_qfrc_smooth: wp.array2d(dtype=Any),
    adj_J: wp.array3d(dtype=Any),
    adj_aref: wp.array2d(dtype=Any),
    adj_R: wp.array2d(dtype=Any),
    adj_frictionloss: wp.array2d(dtype=Any),
):
    """Adjoint of ``newton`` by implicit differentiation at its solution ``a = qacc``, the
    active set held fixed; launch over environments.

    The solution zeroes ``g(a) = M a - qfrc_smooth - J^T force(J a - aref)`` on every dof (a
    dof in no island has no rows: ``M a = qfrc_smooth``), so with ``H = dg/da = M + sum D
    J_r^T J_r`` over the rows in their quadratic zone, ``lam = H^-1 adj_a`` and each input
    ``p`` gets ``-lam^T dg/dp``. The outputs ``qfrc_total = qfrc_smooth + qfrc_constraint``,
    ``qfrc_constraint = J^T force`` and ``force`` first add their gradients to ``adj_a``
    through the rows' forces at ``a``. The warm start and ``qacc_smooth`` get none: the
    solution does not depend on where the iterations start. ``H`` is factored here over all
    ``nv`` dofs (it is block-diagonal over the islands), tree-sparse when every row lies on
    one chain, as in ``newton``, unless the solve left its factor there (``factored``: one
    island spanning every dof) and every row is in the zone that factor holds it in. Not
    differentiable itself."""
    e = wp.tid()
    nv = M.shape[1]
    nr = efc_J.shape[1]
    zero = qacc.dtype(0.0)
    # the instantiated rows
    nact = int(0)
    r = int(0)
    while r < nr:
        if efc_active[e, r] != zero:
            row_list[e, nact] = r
            nact += 1
            lo, hi = nonzero_range(e, r, efc_J)
            row_lo[e, r] = lo  # the row's nonzero entries lie in dofs lo .. hi - 1
            row_hi[e, r] = hi
        r += 1
    reuse = factored[e] != 0
    # the gradients of qacc and of the rows' forces
    i = int(0)
    while i < nv:
        adj_a[e, i] = adj_qacc[e, i]
        adj_qfrc_smooth[e, i] = adj_qfrc_smooth[e, i] + adj_qfrc_total[e, i]
        dof_list[e, i] = i
        i += 1
    c = int(0)
    while c < nact:
        r = row_list[e, c]
        lo = row_lo[e, r]
        hi = row_hi[e, r]
        value = -efc_aref[e, r]
        adj_f = adj_force[e, r]
        k = int(lo)
        while k < hi:
            J = efc_J[e, r, k]
            value = value + J * qacc[e, k]
            adj_f = adj_f + J * (adj_qfrc_constraint[e, k] + adj_qfrc_total[e, k])
            k += 1
        kind = kind_of(row_kind, r)
        R = efc_R[e, r]
        f = efc_frictionloss[e, r]
        cone = efc_cone[e, r]
        if cone != 0:
            reuse = False  # the solve's factor holds cones at its own running J a - aref
        elif in_quadratic_zone(kind, value, R, f) != in_quadratic_zone(kind, jar[e, r], R, f):
            reuse = False  # the solve's running J a - aref put the row in the other zone
        jar[e, r] = value
        force = efc_force[e, r]
        if force != zero:
            k = int(0)
            while k < nv:
                adj_J[e, r, k] = adj_J[e, r, k] + force * (adj_qfrc_constraint[e, k] + adj_qfrc_total[e, k])
                k += 1
        if cone != 0:
            adj_row_force[e, r] = adj_f  # a cone's rows: below, once all are known
            c += 1
            continue
        if adj_f == zero:
            c += 1
            continue
        if in_quadratic_zone(kind, value, R, f):
            # force = -jar / R
            adj_jar = -adj_f / R
            adj_R[e, r] = adj_R[e, r] + adj_f * value / (R * R)
            adj_aref[e, r] = adj_aref[e, r] - adj_jar
            k = int(lo)
            while k < hi:
                adj_a[e, k] = adj_a[e, k] + efc_J[e, r, k] * adj_jar
                k += 1
            k = int(0)
            while k < nv:
                adj_J[e, r, k] = adj_J[e, r, k] + adj_jar * qacc[e, k]
                k += 1
        elif kind >= ROW_FRICTION_DOF and kind < ROW_LIMIT_JOINT:
            # a saturated friction-loss row: force = +-frictionloss
            adj_frictionloss[e, r] = adj_frictionloss[e, r] + wp.sign(force) * adj_f
        c += 1
    # the cones' forces' gradients: adj_x = dF/dx^T adj_F, and their R's
    c = int(0)
    while c < nact:
        r = row_list[e, c]
        cone = efc_cone[e, r]
        if cone > 0:
            cone_adjoint(
                e, r, cone, 1, qacc, efc_J, efc_R, row_lo, row_hi, jar, adj_row_force, adj_a, adj_J, adj_aref, adj_R
            )
        c += 1
    # H = M + sum D J^T J over the rows in their quadratic zone (lower triangle)
    if not reuse:
        i = int(0)
        while i < nv:
            j = int(0)
            j_end = i + 1
            while j < j_end:
                H[e, i, j] = M[e, i, j]
                j += 1
            i += 1
        c = int(0)
        while c < nact:
            r = row_list[e, c]
            kind = kind_of(row_kind, r)
            R = efc_R[e, r]
            cone = efc_cone[e, r]
            if cone > 0:
                add_cone_hessian(e, r, cone, row_lo, row_hi, efc_J, efc_R, jar, H)
            if cone != 0 or not in_quadratic_zone(kind, jar[e, r], R, efc_frictionloss[e, r]):
                c += 1
                continue
            D = qacc.dtype(1.0) / R
            lo = row_lo[e, r]
            i = int(lo)
            i_end = row_hi[e, r]
            while i < i_end:
                Ji = efc_J[e, r, i]
                if Ji != zero:
                    j = int(lo)
                    j_end = i + 1
                    while j < j_end:
                        H[e, i, j] = H[e, i, j] + D * Ji * efc_J[e, r, j]
                        j += 1
                i += 1
            c += 1
    chains = rows_on_chains(e, nact, row_list, row_lo, row_hi, efc_J, efc_cone, dof_ancestor)
    factor = 1
    if reuse:
        factor = 0
    # every dof (island -1: the island arguments go unread)
    hessian_solve(e, -1, nv, dof_list, dof_list, chains, dof_parent, dof_subtree_end, factor, H, adj_a, lam)
    # -lam^T dg/dp for every input p
    i = int(0)
    while i < nv:
        adj_qfrc_smooth[e, i] = adj_qfrc_smooth[e, i] + lam[e, i]
        adj_M[e, i, i] = adj_M[e, i, i] - lam[e, i] * qacc[e, i]
        j = int(0)
        while j < i:
            if dof_ancestor[i, j] != 0:
                adj_M[e, i, j] = adj_M[e, i, j] - lam[e, i] * qacc[e, j]
                adj_M[e, j, i] = adj_M[e, j, i] - lam[e, j] * qacc[e, i]
            j += 1
        i += 1
    c = int(0)
    while c < nact:
        r = row_list[e, c]
        cone = efc_cone[e, r]
        if cone != 0:
            if cone > 0:
                # -lam^T dg/dp is u^T dF/dp with u = J lam (for J, F lam besides): the
                # forces' own back pass with adj_F = u, none of it to a
                k = int(0)
                while k < cone:
                    value = zero
                    i = int(row_lo[e, r + k])
                    i_end = row_hi[e, r + k]
                    while i < i_end:
                        value = value + efc_J[e, r + k, i] * lam[e, i]
                        i += 1
                    adj_row_force[e, r + k] = value
                    force = efc_force[e, r + k]
                    if force != zero:
                        i = int(0)
                        while i < nv:
                            adj_J[e, r + k, i] = adj_J[e, r + k, i] + force * lam[e, i]
                            i += 1
                    k += 1
                cone_adjoint(
                    e, r, cone, 0, qacc, efc_J, efc_R, row_lo, row_hi, jar, adj_row_force, adj_a, adj_J, adj_aref, adj_R
                )
            c += 1
            continue
        u = zero
        k = int(row_lo[e, r])
        k_end = row_hi[e, r]
        while k < k_end:
            u = u + efc_J[e, r, k] * lam[e, k]
            k += 1
        force = efc_force[e, r]
        kind = kind_of(row_kind, r)
        R = efc_R[e, r]
        x = jar[e, r]
        if in_quadratic_zone(kind, x, R, efc_frictionloss[e, r]):
            D = qacc.dtype(1.0) / R
            adj_aref[e, r] = adj_aref[e, r] + D * u
            adj_R[e, r] = adj_R[e, r] + u * x / (R * R)
            k = int(0)
            while k < nv:
                adj_J[e, r, k] = adj_J[e, r, k] + force * lam[e, k] - D * u * qacc[e, k]
                k += 1
        elif force != zero:
            # a saturated friction-loss row
            adj_frictionloss[e, r] = adj_frictionloss[e, r] + wp.sign(force) * u
            k = int(0)
            while k < nv:
                adj_J[e, r, k] = adj_J[e, r, k] + force * lam[e, k]
                k += 1
        c += 1
