"""Batched factorisation and solve of the joint-space system, one environment per thread.

Used for ``(M + dt * diag(damping)) qacc = f``: MuJoCo's Euler integrator treats joint
damping implicitly. ``M`` has the sparsity of the kinematic tree: ``M[i, j]`` can be
nonzero only when dof ``i`` is an ancestor of dof ``j`` or the other way round. As in
MuJoCo's ``mj_factorM``, the factorisation eliminates the leaves first, which creates
no fill-in: ``A = U U^T`` with ``U`` upper triangular and ``U[i, j]`` nonzero only for
``i`` an ancestor of ``j`` (or ``i = j``). The sums that build ``U[i, j]`` then run over
the descendants of ``j``, a contiguous range ``j+1 .. dof_subtree_end[j] - 1`` in
MuJoCo's dof order, and the whole factorisation costs a fraction of a dense Cholesky
(the Ant: 14 dofs, at most 7 deep).

Each entry of ``U``, ``y`` and ``x`` is written exactly once and the inner products
live in ``wp.func``s, which keeps Warp's adjoint exact.

``factor_and_solve`` has an analytic adjoint, ``factor_and_solve_adjoint``: with
``A x = f``, ``adj_f = A^-1 adj_x`` (two more triangular solves with the stored factor)
and ``adj_A = -adj_f x^T`` on the tree's pattern. diffsim's backward pass launches it in
place of the adjoint Warp generates (still what a ``wp.Tape`` uses), which
differentiates every step of the factorisation and costs several times as much.
``tests/test_gradients.py`` checks the two against each other, and the step's gradients
against finite differences.
"""

from typing import Any

import warp as wp


@wp.func
def descendant_dot(U: wp.array3d(dtype=Any), e: int, i: int, j: int, end: int):
    """``sum_{j < m < end} U[i, m] * U[j, m]``: over the descendants ``m`` of dof ``j``
    (two partial sums, which halves the chain of dependent additions)."""
    even = U.dtype(0.0)
    odd = U.dtype(0.0)
    for m in range(j + 1, end - 1, 2):
        even = even + U[e, i, m] * U[e, j, m]
        odd = odd + U[e, i, m + 1] * U[e, j, m + 1]
    if (end - j - 1) % 2 == 1:
        even = even + U[e, i, end - 1] * U[e, j, end - 1]
    return even + odd


@wp.func
def descendant_dot_vector(U: wp.array3d(dtype=Any), v: wp.array2d(dtype=Any), e: int, i: int, end: int):
    """``sum_{i < m < end} U[i, m] * v[m]``: over the descendants ``m`` of dof ``i``."""
    total = v.dtype(0.0)
    for m in range(i + 1, end):
        total = total + U[e, i, m] * v[e, m]
    return total


@wp.func
def ancestor_dot_vector(
    U: wp.array3d(dtype=Any), v: wp.array2d(dtype=Any), dof_ancestors: wp.array2d(dtype=int), e: int, j: int
):
    """``sum_{i ancestor of j} U[i, j] * v[i]`` (``dof_ancestors``: see ``diffsim.model``)."""
    total = v.dtype(0.0)
    for a in range(dof_ancestors[j, 0]):
        i = dof_ancestors[j, 1 + a]
        total = total + U[e, i, j] * v[e, i]
    return total


@wp.func
def solve_upper_then_lower(
    U: wp.array3d(dtype=Any),
    dof_ancestors: wp.array2d(dtype=int),
    dof_subtree_end: wp.array(dtype=int),
    e: int,
    n: int,
    f: wp.array2d(dtype=Any),
    y: wp.array2d(dtype=Any),
    x: wp.array2d(dtype=Any),
):
    """``x = (U U^T)^-1 f``: ``U y = f`` from the leaves up, then ``U^T x = y`` from the root down."""
    for r in range(n):
        i = n - 1 - r
        y[e, i] = (f[e, i] - descendant_dot_vector(U, y, e, i, dof_subtree_end[i])) / U[e, i, i]
    for i in range(n):
        x[e, i] = (y[e, i] - ancestor_dot_vector(U, x, dof_ancestors, e, i)) / U[e, i, i]


@wp.kernel
def factor_and_solve(
    M: wp.array3d(dtype=Any),
    dof_ancestors: wp.array2d(dtype=int),
    dof_subtree_end: wp.array(dtype=int),
    diag_add: wp.array(dtype=Any),
    dt: wp.array(dtype=Any),
    rhs: wp.array2d(dtype=Any),
    # outputs
    U: wp.array3d(dtype=Any),
    y: wp.array2d(dtype=Any),
    x: wp.array2d(dtype=Any),
):
    """``x = (M + dt * diag(diag_add))^-1 rhs``, keeping the factor ``U`` (entries off the
    tree's pattern are never read or written) for the adjoint; one env per thread.
    ``dof_ancestors[j]``: the number of dof ``j``'s ancestors, then the ancestors;
    ``dof_subtree_end[j]``: one past the last descendant of dof ``j``."""
    e = wp.tid()
    n = M.shape[1]
    h = dt[0]
    for r in range(n):
        j = n - 1 - r
        end = dof_subtree_end[j]
        d = wp.sqrt(M[e, j, j] + h * diag_add[j] - descendant_dot(U, e, j, j, end))
        U[e, j, j] = d
        for a in range(dof_ancestors[j, 0]):
            i = dof_ancestors[j, 1 + a]
            U[e, i, j] = (M[e, i, j] - descendant_dot(U, e, i, j, end)) / d
    solve_upper_then_lower(U, dof_ancestors, dof_subtree_end, e, n, rhs, y, x)


@wp.func(inline=True)
def subtree_dot(U: wp.array3d(dtype=Any), e: int, i: int, j: int, end: int):
    """``descendant_dot`` in a ``while`` loop, the same sums in the same order."""
    even = U.dtype(0.0)
    odd = U.dtype(0.0)
    m = j + 1
    while m < end - 1:
        even = even + U[e, i, m] * U[e, j, m]
        odd = odd + U[e, i, m + 1] * U[e, j, m + 1]
        m += 2
    if (end - j - 1) % 2 == 1:
        even = even + U[e, i, end - 1] * U[e, j, end - 1]
    return even + odd


@wp.func(inline=True)
def solve_factored(
    U: wp.array3d(dtype=Any),
    dof_ancestors: wp.array2d(dtype=int),
    dof_subtree_end: wp.array(dtype=int),
    e: int,
    n: int,
    f: wp.array2d(dtype=Any),
    y: wp.array2d(dtype=Any),
    x: wp.array2d(dtype=Any),
):
    """``solve_upper_then_lower`` in ``while`` loops, the same sums in the same order."""
    i = n - 1
    while i >= 0:
        total = f.dtype(0.0)
        m = i + 1
        end = dof_subtree_end[i]
        while m < end:
            total = total + U[e, i, m] * y[e, m]
            m += 1
        y[e, i] = (f[e, i] - total) / U[e, i, i]
        i -= 1
    j = int(0)
    while j < n:
        total = f.dtype(0.0)
        a = int(0)
        count = dof_ancestors[j, 0]
        while a < count:
            k = dof_ancestors[j, 1 + a]
            total = total + U[e, k, j] * x[e, k]
            a += 1
        x[e, j] = (y[e, j] - total) / U[e, j, j]
        j += 1


@wp.func(inline=True)
def factor_and_solve_env(
    M: wp.array3d(dtype=Any),
    dof_ancestors: wp.array2d(dtype=int),
    dof_subtree_end: wp.array(dtype=int),
    diag_add: wp.array(dtype=Any),
    h: Any,
    rhs: wp.array2d(dtype=Any),
    U: wp.array3d(dtype=Any),
    y: wp.array2d(dtype=Any),
    x: wp.array2d(dtype=Any),
    e: int,
):
    """``factor_and_solve`` for environment ``e`` in ``while`` loops, bit for bit the same
    outputs (``h``: the time step)."""
    n = M.shape[1]
    j = n - 1
    while j >= 0:
        end = dof_subtree_end[j]
        d = wp.sqrt(M[e, j, j] + h * diag_add[j] - subtree_dot(U, e, j, j, end))
        U[e, j, j] = d
        a = int(0)
        count = dof_ancestors[j, 0]
        while a < count:
            i = dof_ancestors[j, 1 + a]
            U[e, i, j] = (M[e, i, j] - subtree_dot(U, e, i, j, end)) / d
            a += 1
        j -= 1
    solve_factored(U, dof_ancestors, dof_subtree_end, e, n, rhs, y, x)


def make_factor_and_solve(factor_and_solve_env, module=None):
    """The forward kernel of ``factor_and_solve`` built on ``factor_and_solve_env``: this
    module's (``factor_and_solve_forward``) or a model's unrolled one
    (``diffsim.kernels.unrolled``), which computes the same. ``module``: the Warp module
    that holds the kernel."""

    @wp.kernel(enable_backward=False, module=module)
    def factor_and_solve_forward(
        M: wp.array3d(dtype=Any),
        dof_ancestors: wp.array2d(dtype=int),
        dof_subtree_end: wp.array(dtype=int),
        diag_add: wp.array(dtype=Any),
        dt: wp.array(dtype=Any),
        rhs: wp.array2d(dtype=Any),
        # outputs
        U: wp.array3d(dtype=Any),
        y: wp.array2d(dtype=Any),
        x: wp.array2d(dtype=Any),
    ):
        """``factor_and_solve`` in ``while`` loops, bit for bit the same outputs. Warp cannot
        differentiate ``while`` loops, but runs them faster than ``range`` loops on the CPU
        (see ``solver``): a ``StepProgram`` replays this one forward (``FORWARD_TWIN``) and
        ``factor_and_solve_adjoint`` backward; a ``wp.Tape`` around ``Simulator.step``
        differentiates ``factor_and_solve``."""
        e = wp.tid()
        factor_and_solve_env(M, dof_ancestors, dof_subtree_end, diag_add, dt[0], rhs, U, y, x, e)

    return factor_and_solve_forward


factor_and_solve_forward = make_factor_and_solve(factor_and_solve_env)


@wp.kernel(enable_backward=False)
def factor_and_solve_adjoint(
    U: wp.array3d(dtype=Any),
    dof_ancestors: wp.array2d(dtype=int),
    dof_subtree_end: wp.array(dtype=int),
    x: wp.array2d(dtype=Any),
    diag_add: wp.array(dtype=Any),
    dt: wp.array(dtype=Any),
    adj_x: wp.array2d(dtype=Any),
    # scratch
    z: wp.array2d(dtype=Any),
    adj_f: wp.array2d(dtype=Any),
    # gradients, accumulated
    adj_M: wp.array3d(dtype=Any),
    adj_diag_add: wp.array(dtype=Any),
    adj_dt: wp.array(dtype=Any),
    adj_rhs: wp.array2d(dtype=Any),
):
    """Adjoint of ``factor_and_solve`` from its outputs ``U`` and ``x``; one env per thread.
    ``adj_M`` gets ``-adj_f x^T`` on the tree's pattern (both ``[i, j]`` and ``[j, i]``),
    the entries the mass matrix writes. Not differentiable itself (nothing runs it under a tape)."""
    e = wp.tid()
    n = U.shape[1]
    h = dt[0]
    solve_factored(U, dof_ancestors, dof_subtree_end, e, n, adj_x, z, adj_f)
    adj_h = h * type(h)(0.0)
    for i in range(n):
        g = adj_f[e, i]
        adj_rhs[e, i] = adj_rhs[e, i] + g
        adj_M[e, i, i] = adj_M[e, i, i] - g * x[e, i]
        for a in range(dof_ancestors[i, 0]):
            j = dof_ancestors[i, 1 + a]
            adj_M[e, i, j] = adj_M[e, i, j] - g * x[e, j]
            adj_M[e, j, i] = adj_M[e, j, i] - adj_f[e, j] * x[e, i]
        # A's diagonal holds M + dt * diag_add; the parameters' gradients only where asked
        # for (a null array otherwise: every environment adding into one address is slow)
        if adj_diag_add.shape[0] > 0:
            wp.atomic_add(adj_diag_add, i, -h * g * x[e, i])
        adj_h = adj_h - diag_add[i] * g * x[e, i]
    if adj_dt.shape[0] > 0:
        wp.atomic_add(adj_dt, 0, adj_h)


# kernels a StepProgram replays forward in place of the one Simulator launches: the same
# outputs bit for bit, in loops Warp cannot differentiate (its backward never needs them)
FORWARD_TWIN = {factor_and_solve: factor_and_solve_forward}
