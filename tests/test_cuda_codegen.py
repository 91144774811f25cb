"""Every kernel diffsim launches compiles for a GPU, on a machine without one.

CI has no GPU, so the CUDA path's kernels would otherwise first be compiled on a lent GPU
machine. Warp's bundled NVRTC needs no driver: each Warp module that a step, a rollout's
backward pass and the dynamics queries launch is compiled ahead of time to a cubin for
Hopper (sm_90, the lent H100/H200) in both dtypes, for every smoothed contact pair kind
and for MuJoCo's collision functions, constraint rows and solver. This
checks CUDA code generation and compilation only; what the GPU computes is checked
against the CPU by ``test_autograd.py::test_cuda_matches_cpu`` where there is a GPU.
"""

import os

import pytest
import torch
import warp as wp

import diffsim
from diffsim.kernels import unrolled

MODELS = os.path.join(os.path.dirname(__file__), "models")
# Two spheres, two capsules and a box, free above the floor: every contact pair kind.
EVERY_CONTACT_KIND = """
<mujoco>
  <worldbody>
    <geom type="plane" size="5 5 0.1"/>
    <body pos="0 0 0.5"><freejoint/><geom type="sphere" size="0.1"/></body>
    <body pos="0.5 0 0.5"><freejoint/><geom type="sphere" size="0.1"/></body>
    <body pos="1 0 0.5"><freejoint/><geom type="capsule" fromto="0 0 0 0.2 0 0" size="0.05"/></body>
    <body pos="1.5 0 0.5"><freejoint/><geom type="capsule" fromto="0 0 0 0.2 0 0" size="0.05"/></body>
    <body pos="2 0 0.5"><joint name="hinge" type="hinge" axis="0 1 0"/><geom type="box" size="0.1 0.1 0.1"/></body>
  </worldbody>
  <actuator><motor joint="hinge"/></actuator>
</mujoco>
"""


def _launched_kernels(model):
    """The step programs rollouts left in the model's caches, and the kernels of their
    forward and adjoint replays (the adjoint's contact kernels are ``contact.ADJOINT_SOURCE``'s)
    and of the forward-only runners' staging replays."""
    programs = [p for pool in model.caches.stored_steps.values() for r in pool.free for p in r.programs]
    replays = [launch for p in programs for launch in p._forward.launches + p._adjoint.launches]
    for runner in model.caches.runners.values():
        if runner.staging is not None:
            replays += [launch for replay in runner.staging.store_and_load for launch in replay.launches]
    kernels = set()
    for replay in replays:
        launch = getattr(replay, "__self__", None)  # wp.Launch.launch
        if isinstance(launch, wp.Launch):
            kernels.add(launch.kernel)
    return programs, kernels


def test_every_kernel_compiles_for_cuda(monkeypatch):
    if wp.get_cuda_toolkit_version() is None:
        pytest.skip("this Warp build has no CUDA compiler (NVRTC)")
    # on a GPU, steps replay the generic kernels: keep the CPU's unrolled twins out
    monkeypatch.setattr(unrolled, "MAX_TERMS", 0)
    modules = {}
    for dtype in (torch.float32, torch.float64):
        model = diffsim.load_mjcf(EVERY_CONTACT_KIND, dtype=dtype, contact_model="smooth")
        kinds = {kind for kind, _ in model.contact_kinds}
        assert kinds == set(range(8)), f"the test model should have every contact kind, has {sorted(kinds)}"
        ctrls = torch.full((2, 3, model.nu), 0.1, dtype=dtype, requires_grad=True)
        qpos, _ = diffsim.rollout(model, model.qpos0[None].repeat(2, 1), torch.zeros(2, model.nv, dtype=dtype), ctrls)
        qpos.sum().backward()
        with torch.no_grad():  # the forward-only runner
            diffsim.rollout(model, model.qpos0[None].repeat(2, 1), torch.zeros(2, model.nv, dtype=dtype), ctrls)
        diffsim.mass_matrix(model, model.qpos0[None])
        diffsim.bias_forces(model, model.qpos0[None], torch.zeros(1, model.nv, dtype=dtype))
        programs, kernels = _launched_kernels(model)
        assert programs, "the rollout should have left its step programs in the model's pool"
        for kernel in kernels:
            modules[kernel.module.name] = kernel.module
        # MuJoCo's constraints: every collision function, the rows of each kind, the solver
        for path in ("contact_pairs.xml", "couplings.xml", "four_bar.xml"):
            model = diffsim.load_mjcf(os.path.join(MODELS, path), dtype=dtype, contact_model="mujoco")
            with torch.no_grad():
                diffsim.rollout(
                    model,
                    model.qpos0[None].repeat(2, 1),
                    torch.zeros(2, model.nv, dtype=dtype),
                    torch.zeros(2, 2, model.nu, dtype=dtype),
                )
            for runner in model.caches.runners.values():  # the forward-only runner's step programs
                for replay in (replay for p in runner.programs for replay in p._forward.launches):
                    launch = getattr(replay, "__self__", None)
                    if isinstance(launch, wp.Launch):
                        modules[launch.kernel.module.name] = launch.kernel.module
    # kinematics, dynamics, solve, integrate, trajectory, and two contact kernels per kind (forward, adjoint twin)
    assert "diffsim.kernels.trajectory" in modules, sorted(modules)
    assert {"diffsim.kernels.collision_driver", "diffsim.kernels.solver"} <= set(modules), sorted(modules)
    assert len(modules) >= 5 + 2 * 8, (
        f"expected the simulator's modules and two per contact kind, got {sorted(modules)}"
    )

    # ahead-of-time compile to a cubin for sm_90; cached beside Warp's own kernel cache (conftest.py sets it)
    out = os.path.join(os.environ["WARP_CACHE_PATH"], "aot_sm90")
    failures = []
    for name, module in sorted(modules.items()):
        try:
            for artifact in wp.compile_aot_module(module, arch=90, module_dir=out, use_ptx=False):
                assert os.path.getsize(artifact) > 0, artifact
        except Exception as error:  # report every module that fails, not just the first
            failures.append(f"{name}: {type(error).__name__}: {str(error)[:400]}")
    assert not failures, "kernels that do not compile for CUDA:\n" + "\n".join(failures)
