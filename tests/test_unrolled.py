"""The kernels unrolled for one model's trees (``diffsim.kernels.unrolled``) compute what the
generic ones compute, bit for bit.

``StepProgram`` replays them forward on the CPU in place of ``solver.newton`` and
``solve.factor_and_solve``. Each model here is stepped twice along the same random
trajectory, once with the generic kernels and once with the unrolled ones, and every
state and solver output must agree exactly at every step: one tree (the Ant, with
contacts), several free trees that contacts join into islands (a stack of boxes), a
branching tree with limits and friction loss, and a loop closed by an equality (the
Hessian leaves the tree's sparsity: the dense path), and elliptic friction cones.
"""

from __future__ import annotations

import pathlib

import mujoco
import numpy as np
import pytest
import torch
import warp as wp

import diffsim
from diffsim.kernels import solve, solver, unrolled
from diffsim.simulator import Simulator, StepBuffers

MODELS = pathlib.Path(__file__).parent / "models"
CASES = [
    (diffsim.asset("ant.xml"), torch.float32, "Euler"),
    (diffsim.asset("ant.xml"), torch.float64, "Euler"),
    (str(MODELS / "box_stack.xml"), torch.float64, "Euler"),
    (str(MODELS / "limited_arm.xml"), torch.float64, "Euler"),
    (str(MODELS / "limited_arm.xml"), torch.float64, "implicitfast"),  # solves with M - h D
    (str(MODELS / "limited_arm.xml"), torch.float64, "RK4"),  # four solves per step
    (str(MODELS / "four_bar.xml"), torch.float64, "Euler"),
    (str(MODELS / "elliptic_cones.xml"), torch.float64, "Euler"),  # elliptic cones' Hessians
    (str(MODELS / "cone_islands.xml"), torch.float64, "Euler"),  # cones across trees and branches
]
COMPARED = ("qacc", "qacc_smooth", "qacc_constrained", "efc_force", "solver_niter", "solver_H", "solver_factored", "U")


def _stepper(path, dtype, integrator, batch, unroll):
    """A recorded step of a fresh model (its own warm start) replaying generic or unrolled kernels."""
    m = mujoco.MjModel.from_xml_path(path)
    m.opt.integrator = getattr(mujoco.mjtIntegrator, f"mjINT_{integrator.upper()}")
    model = diffsim.load_mjcf(m, dtype=dtype, device="cpu")
    model.contact_model = "mujoco"
    sim, buf = Simulator(model), StepBuffers(model, batch)
    T = model.wp_scalar
    rng = np.random.default_rng(3)
    qpos = np.repeat(model.qpos0.numpy()[None], batch, 0)
    qvel = rng.normal(scale=0.5, size=(batch, model.nva))
    state = [wp.array(qpos, dtype=T), wp.array(qvel, dtype=T)]
    nxt = [wp.zeros_like(state[0]), wp.zeros_like(state[1])]
    ctrl = wp.zeros((batch, model.nu), dtype=T)
    programs, used = [], set()
    for a, b in ((state, nxt), (nxt, state)):
        with sim.recording() as ops:
            sim.step(buf, a[0], a[1], ctrl, b[0], b[1])
        launches = []
        for op in ops:
            if op[0] == "zero":
                launches.append(op[1].zero_)
                continue
            _, kernel, dim, inputs = op
            replayed = unrolled.forward_kernel(kernel, model) if unroll else solve.FORWARD_TWIN.get(kernel, kernel)
            used.add(replayed)
            launches.append(wp.launch(replayed, dim=dim, inputs=inputs, record_cmd=True).launch)
        programs.append(launches)
    return model, buf, state, ctrl, programs, used


@pytest.mark.parametrize(
    "path,dtype,integrator", CASES, ids=[f"{pathlib.Path(p).stem}-{str(d)[6:]}-{i}" for p, d, i in CASES]
)
def test_unrolled_kernels_are_bit_identical(path, dtype, integrator):
    batch, steps = 16, 60
    generic = _stepper(path, dtype, integrator, batch, unroll=False)
    ours = _stepper(path, dtype, integrator, batch, unroll=True)
    module = unrolled.for_model(ours[0])
    assert module is not None
    assert module.newton[ours[0].wp_scalar] in ours[5] and solver.newton in generic[5]
    assert module.factor_and_solve_forward[ours[0].wp_scalar] in ours[5]
    rng = np.random.default_rng(4)
    niter = forces = 0
    for t in range(steps):
        ctrl = rng.uniform(-1, 1, size=(batch, generic[0].nu))
        for model, buf, state, c, programs, _ in (generic, ours):
            c.assign(ctrl)
            for launch in programs[t % 2]:
                launch()
        for name in COMPARED:
            np.testing.assert_array_equal(
                getattr(generic[1], name).numpy(), getattr(ours[1], name).numpy(), err_msg=name
            )
        for a, b in zip(generic[2], ours[2]):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
        niter += int(ours[1].solver_niter.numpy().sum())
        forces += int(np.count_nonzero(ours[1].efc_force.numpy()))
    assert np.isfinite(generic[2][0].numpy()).all()
    assert niter > 0 and forces > 0  # the solver iterated, with rows active


def test_large_trees_and_the_option_keep_the_generic_kernels(monkeypatch):
    """Beyond ``MAX_TERMS`` products the unrolled code would be long to compile, and
    ``options.unroll_trees = False`` asks for none: the generic kernels run instead."""
    model = diffsim.load_mjcf(diffsim.asset("ant.xml"), dtype=torch.float64, device="cpu")
    assert unrolled.forward_kernel(solver.newton, model) is not solver.newton
    model.options.unroll_trees = False
    assert unrolled.forward_kernel(solver.newton, model) is solver.newton
    with pytest.raises(ValueError, match="unroll_trees must be True or False"):
        model.options.unroll_trees = "yes"
    model.options.unroll_trees = True
    monkeypatch.setattr(unrolled, "MAX_TERMS", 10)
    assert unrolled.for_model(model) is None
    assert unrolled.forward_kernel(solver.newton, model) is solver.newton
    assert unrolled.forward_kernel(solve.factor_and_solve, model) is solve.FORWARD_TWIN[solve.factor_and_solve]
