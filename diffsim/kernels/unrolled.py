"""The tree algebra of one model, unrolled: ``M``'s factorisation and solve, products with
``M``, and the Newton Hessian's tree-sparse factorisation and solve, written out dof by
dof for the model's kinematic trees as straight-line code.

The generic functions (``solve.factor_and_solve_env``, ``solver.mass_row_dot``,
``solver.tree_factor``, ``solver.tree_solve``) loop over the trees' index arrays. On a
CPU, their many short loops of data-dependent length cost about twice the arithmetic
(docs/results/cpu_benchmarks.md). Here those loops run in Python, once per tree
structure; the generated code does the same arithmetic in the same order and keeps the
factors' entries in registers between uses, so its outputs are the generic ones bit for
bit (``tests/test_unrolled.py``).

``for_model(model)`` generates, imports and caches the module of the model's trees. It is
written under Warp's kernel cache directory (Warp reads a kernel's source) and holds:

* ``factor_and_solve_env``, ``mass_product``, ``tree_factor_island``,
  ``tree_solve_island``: the unrolled versions of the functions ``solver.make_newton``
  takes (each tree's code runs only when the tree belongs to the island being solved);
* ``newton[dtype]``: ``solver.newton`` built on them;
* ``factor_and_solve_forward[dtype]``: ``solve.factor_and_solve_forward`` built on them.

Each kernel and precision has a Warp module of its own, so each compiles only what runs
(a few seconds per model and precision). ``StepProgram`` replays these kernels forward
on the CPU (``forward_kernel``, unless ``model.options.unroll_trees`` is False); the
generic kernels stay what ``Simulator.step``, ``wp.Tape``, the backward pass and GPUs
run. Trees that would take more than ``MAX_TERMS`` products keep the generic loops:
their code would be long to compile, and their loops long enough to run well.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile

import warp as wp

from diffsim.kernels import solve, solver

MAX_TERMS = 4000  # products in the unrolled code, beyond which a model keeps the generic loops

_sources = {}  # tree structure -> (generated source, its number of products)


def _topology(model):
    parent = [int(p) for p in model.spec.dof_parent]
    subtree_end = [int(x) for x in model.topology["dof_subtree_end"].cpu().numpy()]
    ancestors_table = model.topology["dof_ancestors"].cpu().numpy()
    tree = [int(t) for t in model.topology["dof_tree"].cpu().numpy()]
    ancestors = [[int(a) for a in ancestors_table[k, 1 : 1 + ancestors_table[k, 0]]] for k in range(len(parent))]
    return parent, subtree_end, ancestors, tree


def _chain(parent, k):
    """The strict ancestors of dof ``k``, parent first."""
    out = []
    j = parent[k]
    while j >= 0:
        out.append(j)
        j = parent[j]
    return out


class _Writer:
    def __init__(self):
        self.lines = []
        self.terms = 0

    def __call__(self, indent, text):
        self.lines.append("    " * indent + text)


def _subtree_dot(w, indent, target, i, j, end, entry):
    """``target = subtree_dot(U, e, i, j, end)`` (``solve.subtree_dot``: even and odd partial
    sums, in its order), ``entry(a, b)`` naming ``U[e, a, b]``."""
    w(indent, "even = zero")
    w(indent, "odd = zero")
    m = j + 1
    while m < end - 1:
        w(indent, f"even = even + {entry(i, m)} * {entry(j, m)}")
        w(indent, f"odd = odd + {entry(i, m + 1)} * {entry(j, m + 1)}")
        w.terms += 2
        m += 2
    if (end - j - 1) % 2 == 1:
        w(indent, f"even = even + {entry(i, end - 1)} * {entry(j, end - 1)}")
        w.terms += 1
    w(indent, f"{target} = even + odd")


def _trees(tree):
    """(tree id, its dofs) in dof order; a tree's dofs are contiguous."""
    out = []
    for k, t in enumerate(tree):
        if out and out[-1][0] == t:
            out[-1][1].append(k)
        else:
            out.append((t, [k]))
    return out


def _factor_and_solve(w, parent, subtree_end, ancestors):
    n = len(parent)
    w(0, "@wp.func")
    w(
        0,
        "def factor_and_solve_env(M: wp.array3d(dtype=Any), dof_ancestors: wp.array2d(dtype=int), "
        "dof_subtree_end: wp.array(dtype=int), diag_add: wp.array(dtype=Any), h: Any, rhs: wp.array2d(dtype=Any), "
        "U: wp.array3d(dtype=Any), y: wp.array2d(dtype=Any), x: wp.array2d(dtype=Any), e: int):",
    )
    w(1, "zero = M.dtype(0.0)")

    def u(a, b):
        return f"u_{a}_{b}"

    for j in range(n - 1, -1, -1):
        end = subtree_end[j]
        _subtree_dot(w, 1, "dot", j, j, end, u)
        w(1, f"{u(j, j)} = wp.sqrt(M[e, {j}, {j}] + h * diag_add[{j}] - dot)")
        w(1, f"U[e, {j}, {j}] = {u(j, j)}")
        for i in ancestors[j]:
            _subtree_dot(w, 1, "dot", i, j, end, u)
            w(1, f"{u(i, j)} = (M[e, {i}, {j}] - dot) / {u(j, j)}")
            w(1, f"U[e, {i}, {j}] = {u(i, j)}")
    for i in range(n - 1, -1, -1):
        w(1, "total = zero")
        for m in range(i + 1, subtree_end[i]):
            w(1, f"total = total + {u(i, m)} * y_{m}")
            w.terms += 1
        w(1, f"y_{i} = (rhs[e, {i}] - total) / {u(i, i)}")
        w(1, f"y[e, {i}] = y_{i}")
    for j in range(n):
        w(1, "total = zero")
        for k in ancestors[j]:
            w(1, f"total = total + {u(k, j)} * x_{k}")
            w.terms += 1
        w(1, f"x_{j} = (y_{j} - total) / {u(j, j)}")
        w(1, f"x[e, {j}] = x_{j}")
    w(0, "")


_ISLAND_ARGS = (
    "e: int, island: int, n: int, dofs: wp.array2d(dtype=int), tree_parent: wp.array2d(dtype=int), "
    "dof_parent: wp.array(dtype=int), dof_subtree_end: wp.array(dtype=int)"
)


def _in_island(w, t):
    w(1, f"if island < 0 or find_root(tree_parent, e, {t}) == island:")


def _mass_product(w, parent, subtree_end, tree):
    w(0, "@wp.func")
    w(
        0,
        f"def mass_product({_ISLAND_ARGS}, M: wp.array3d(dtype=Any), x: wp.array2d(dtype=Any), out: wp.array2d(dtype=Any)):",
    )
    w(1, "zero = M.dtype(0.0)")
    for t, dofs in _trees(tree):
        _in_island(w, t)
        for k in dofs:
            w(2, f"x_{k} = x[e, {k}]")
        for i in dofs:  # solver.mass_row_dot, in its order
            end = subtree_end[i]
            w(2, f"even = M[e, {i}, {i}] * x_{i}")
            w(2, "odd = zero")
            m = i + 1
            while m < end - 1:
                w(2, f"even = even + M[e, {i}, {m}] * x_{m}")
                w(2, f"odd = odd + M[e, {i}, {m + 1}] * x_{m + 1}")
                m += 2
            if (end - i - 1) % 2 == 1:
                w(2, f"even = even + M[e, {i}, {end - 1}] * x_{end - 1}")
            w(2, "up = zero")
            for k in _chain(parent, i):
                w(2, f"up = up + M[e, {i}, {k}] * x_{k}")
            w.terms += end - i + len(_chain(parent, i))
            w(2, f"out[e, {i}] = even + odd + up")
    w(0, "")


def _tree_factor(w, parent, subtree_end, tree):
    w(0, "@wp.func")
    w(0, f"def tree_factor_island({_ISLAND_ARGS}, H: wp.array3d(dtype=Any)):")
    w(1, "zero = H.dtype(0.0)")
    w(1, "tiny = H.dtype(MINVAL)")

    def u(a, b):
        return f"u_{a}_{b}"

    for t, dofs in _trees(tree):
        _in_island(w, t)
        for j in reversed(dofs):  # solver.tree_factor, in its order
            end = subtree_end[j]
            _subtree_dot(w, 2, "dot", j, j, end, u)
            w(2, f"pivot = H[e, {j}, {j}] - dot")
            w(2, "if pivot < tiny:")
            w(3, "pivot = tiny")
            w(2, f"{u(j, j)} = wp.sqrt(pivot)")
            w(2, f"H[e, {j}, {j}] = {u(j, j)}")
            for i in _chain(parent, j):
                _subtree_dot(w, 2, "dot", i, j, end, u)
                w(2, f"{u(i, j)} = (H[e, {j}, {i}] - dot) / {u(j, j)}")
                w(2, f"H[e, {i}, {j}] = {u(i, j)}")
    w(0, "")


def _tree_solve(w, parent, subtree_end, tree):
    w(0, "@wp.func")
    w(
        0,
        f"def tree_solve_island({_ISLAND_ARGS}, U: wp.array3d(dtype=Any), rhs: wp.array2d(dtype=Any), "
        "out: wp.array2d(dtype=Any)):",
    )
    for t, dofs in _trees(tree):
        _in_island(w, t)
        for i in reversed(dofs):  # solver.tree_solve, in its order
            w(2, f"value = rhs[e, {i}]")
            for m in range(i + 1, subtree_end[i]):
                w(2, f"value = value - U[e, {i}, {m}] * o_{m}")
                w.terms += 1
            w(2, f"o_{i} = value / U[e, {i}, {i}]")
        for i in dofs:
            w(2, f"value = o_{i}")
            for k in _chain(parent, i):
                w(2, f"value = value - U[e, {k}, {i}] * p_{k}")
                w.terms += 1
            w(2, f"p_{i} = value / U[e, {i}, {i}]")
            w(2, f"out[e, {i}] = p_{i}")
    w(0, "")


def source(parent, subtree_end, ancestors, tree) -> tuple[str, int]:
    """The module's source for these trees, and its number of products."""
    w = _Writer()
    w(0, '"""Generated by diffsim.kernels.unrolled for one tree structure; do not edit."""')
    w(0, "from typing import Any")
    w(0, "import warp as wp")
    w(0, "from diffsim.kernels.constraints import MINVAL")
    w(0, "from diffsim.kernels.solver import find_root, make_newton")
    w(0, "from diffsim.kernels.solve import make_factor_and_solve")
    w(0, "")
    _factor_and_solve(w, parent, subtree_end, ancestors)
    _mass_product(w, parent, subtree_end, tree)
    _tree_factor(w, parent, subtree_end, tree)
    _tree_solve(w, parent, subtree_end, tree)
    w(0, "")
    w(0, "# one Warp module per kernel and precision: each compiles only what it runs")
    w(0, "newton = {")
    w(
        0,
        "    dtype: make_newton(mass_product, tree_factor_island, tree_solve_island, factor_and_solve_env, f'{__name__}.newton_{dtype.__name__}')",
    )
    w(0, "    for dtype in (wp.float32, wp.float64)")
    w(0, "}")
    w(0, "factor_and_solve_forward = {")
    w(0, "    dtype: make_factor_and_solve(factor_and_solve_env, f'{__name__}.solve_{dtype.__name__}')")
    w(0, "    for dtype in (wp.float32, wp.float64)")
    w(0, "}")
    return "\n".join(w.lines) + "\n", w.terms


def for_model(model):
    """The unrolled module of ``model``'s trees (cached per structure), or None: no dofs,
    more than ``MAX_TERMS`` products, or not on the CPU."""
    if model.nv == 0 or model.wp_device.is_cuda:
        return None
    parent, subtree_end, ancestors, tree = _topology(model)
    key = (tuple(parent), tuple(tree))
    if key not in _sources:
        _sources[key] = source(parent, subtree_end, ancestors, tree)
    text, terms = _sources[key]
    return None if terms > MAX_TERMS else _load(text)


def _load(text: str):
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    name = f"diffsim_unrolled_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    folder = os.path.join(wp.config.kernel_cache_dir or tempfile.gettempdir(), "diffsim_unrolled")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, name + ".py")
    if not os.path.exists(path):  # written whole, then renamed: processes may race
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]  # not a half-built module for the next call
        raise
    return module


def forward_kernel(kernel, model):
    """The kernel a ``StepProgram`` replays forward in place of ``kernel``: its unrolled
    twin for this model where there is one, else ``solve.FORWARD_TWIN``'s, else itself."""
    module = None
    if kernel in (solver.newton, solve.factor_and_solve) and model.options.unroll_trees:
        module = for_model(model)
    if module is not None:
        kernels = module.newton if kernel is solver.newton else module.factor_and_solve_forward
        return kernels[model.wp_scalar]
    return solve.FORWARD_TWIN.get(kernel, kernel)
