"""Batched dense Cholesky factorisation and solve, one environment per thread.

Used for ``(M + dt * diag(damping)) qacc = f``: MuJoCo's Euler integrator treats joint
damping implicitly. Each entry of ``L``, ``y`` and ``x`` is written exactly once and the
inner products live in ``wp.func``s, which keeps Warp's adjoint exact.

``factor_and_solve`` has an analytic adjoint, ``factor_and_solve_adjoint``: with
``A x = f``, ``adj_f = A^-1 adj_x`` (two more triangular solves with the stored factor)
and ``adj_A = -adj_f x^T``. diffsim's backward pass launches it in place of the adjoint
Warp generates (still what a ``wp.Tape`` uses), which differentiates every step of the
factorisation and costs four times as much. ``tests/test_gradients.py`` checks the two
against each other, and the step's gradients against finite differences.
"""
from typing import Any

import warp as wp


@wp.func
def lower_row_dot(L: wp.array3d(dtype=Any), e: int, i: int, j: int, count: int):
    """``sum_{k < count} L[i, k] * L[j, k]``."""
    total = L.dtype(0.0)
    for k in range(count):
        total = total + L[e, i, k] * L[e, j, k]
    return total


@wp.func
def forward_dot(L: wp.array3d(dtype=Any), y: wp.array2d(dtype=Any), e: int, i: int):
    """``sum_{k < i} L[i, k] * y[k]``."""
    total = y.dtype(0.0)
    for k in range(i):
        total = total + L[e, i, k] * y[e, k]
    return total


@wp.func
def backward_dot(L: wp.array3d(dtype=Any), x: wp.array2d(dtype=Any), e: int, i: int, n: int):
    """``sum_{k > i} L[k, i] * x[k]``."""
    total = x.dtype(0.0)
    for k in range(i + 1, n):
        total = total + L[e, k, i] * x[e, k]
    return total


@wp.kernel
def factor_and_solve(
    M: wp.array3d(dtype=Any),
    diag_add: wp.array(dtype=Any),
    dt: wp.array(dtype=Any),
    rhs: wp.array2d(dtype=Any),
    # outputs (L zero-initialised)
    L: wp.array3d(dtype=Any),
    y: wp.array2d(dtype=Any),
    x: wp.array2d(dtype=Any),
):
    """``x = (M + dt * diag(diag_add))^-1 rhs``, keeping the lower factor ``L`` for the
    adjoint; one env per thread."""
    e = wp.tid()
    n = M.shape[1]
    h = dt[0]
    for j in range(n):
        d = wp.sqrt(M[e, j, j] + h * diag_add[j] - lower_row_dot(L, e, j, j, j))
        L[e, j, j] = d
        for i in range(j + 1, n):
            L[e, i, j] = (M[e, i, j] - lower_row_dot(L, e, i, j, j)) / d
    for i in range(n):
        y[e, i] = (rhs[e, i] - forward_dot(L, y, e, i)) / L[e, i, i]
    for r in range(n):
        i = n - 1 - r
        x[e, i] = (y[e, i] - backward_dot(L, x, e, i, n)) / L[e, i, i]


@wp.kernel
def factor_and_solve_adjoint(
    L: wp.array3d(dtype=Any),
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
    """Adjoint of ``factor_and_solve`` from its outputs ``L`` and ``x``; one env per thread.
    Not differentiable itself (nothing runs it under a tape)."""
    e = wp.tid()
    n = L.shape[1]
    h = dt[0]
    # adj_f = A^-1 adj_x: L z = adj_x, then L^T adj_f = z
    for i in range(n):
        z[e, i] = (adj_x[e, i] - forward_dot(L, z, e, i)) / L[e, i, i]
    for r in range(n):
        i = n - 1 - r
        adj_f[e, i] = (z[e, i] - backward_dot(L, adj_f, e, i, n)) / L[e, i, i]
    adj_h = h * type(h)(0.0)
    for i in range(n):
        g = adj_f[e, i]
        adj_rhs[e, i] = adj_rhs[e, i] + g
        for j in range(n):
            adj_M[e, i, j] = adj_M[e, i, j] - g * x[e, j]
        # A's diagonal holds M + dt * diag_add
        wp.atomic_add(adj_diag_add, i, -h * g * x[e, i])
        adj_h = adj_h - diag_add[i] * g * x[e, i]
    wp.atomic_add(adj_dt, 0, adj_h)
