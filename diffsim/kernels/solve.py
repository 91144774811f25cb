"""Batched dense Cholesky factorisation and solve, one environment per thread.

Used for ``(M + dt * diag(damping)) qacc = f``: MuJoCo's Euler integrator treats joint
damping implicitly. Each entry of ``L``, ``y`` and ``x`` is written exactly once and the
inner products live in ``wp.func``s, which keeps Warp's adjoint exact.
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
def cholesky_factor(
    M: wp.array3d(dtype=Any),
    diag_add: wp.array(dtype=Any),
    dt: wp.array(dtype=Any),
    # output (zero-initialised)
    L: wp.array3d(dtype=Any),
):
    """Lower factor ``L`` of ``M + dt * diag(diag_add)``; one env per thread."""
    e = wp.tid()
    n = M.shape[1]
    h = dt[0]
    for j in range(n):
        d = wp.sqrt(M[e, j, j] + h * diag_add[j] - lower_row_dot(L, e, j, j, j))
        L[e, j, j] = d
        for i in range(j + 1, n):
            L[e, i, j] = (M[e, i, j] - lower_row_dot(L, e, i, j, j)) / d


@wp.kernel
def cholesky_solve(
    L: wp.array3d(dtype=Any),
    rhs: wp.array2d(dtype=Any),
    # outputs
    y: wp.array2d(dtype=Any),
    x: wp.array2d(dtype=Any),
):
    """Solve ``L L^T x = rhs`` by forward then backward substitution; one env per thread."""
    e = wp.tid()
    n = L.shape[1]
    for i in range(n):
        y[e, i] = (rhs[e, i] - forward_dot(L, y, e, i)) / L[e, i, i]
    for r in range(n):
        i = n - 1 - r
        x[e, i] = (y[e, i] - backward_dot(L, x, e, i, n)) / L[e, i, i]
