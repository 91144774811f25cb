"""The torch bridge: gradcheck, long rollouts through contact, parameters, system
identification, and the error paths of the differentiable step."""

import warnings

import pytest
import torch

import diffsim
import diffsim.stored_steps
from diffsim.gradcheck import compare_gradients

F64 = torch.float64


def settled_ant(dtype=F64, seconds=1.0):
    """The Ant standing on its feet after falling from qpos0 and coming to rest."""
    model = diffsim.load_mjcf(diffsim.asset("ant.xml"), dtype=dtype, contact_model="smooth")
    steps = int(seconds / model.dt)
    qpos, qvel = diffsim.rollout(
        model, model.qpos0[None], torch.zeros(1, model.nv, dtype=dtype), torch.zeros(1, steps, model.nu, dtype=dtype)
    )
    return model, qpos[:, -1].clone(), qvel[:, -1].clone()


def feet_touch(model, qpos, qvel):
    """True when contact changes the next step, i.e. the Ant rests on the ground."""
    ctrl = torch.zeros(1, model.nu, dtype=model.dtype)
    with_contact = diffsim.step(model, qpos, qvel, ctrl)[1]
    model.enable_contact = False
    without = diffsim.step(model, qpos, qvel, ctrl)[1]
    model.enable_contact = True
    return bool((with_contact - without).abs().max() > 1e-3)


def test_gradcheck_step_hinge_model_all_inputs_and_parameters():
    model = diffsim.load_mjcf(diffsim.asset("cartpole.xml"), dtype=F64, contact_model="smooth")
    qpos = (model.qpos0[None] + torch.tensor([[0.1, 0.5]], dtype=F64)).requires_grad_()
    qvel = torch.tensor([[0.3, -1.0]], dtype=F64, requires_grad=True)
    ctrl = torch.tensor([[0.4]], dtype=F64, requires_grad=True)
    mass = model.body_mass.requires_grad_()
    damping = model.dof_damping.requires_grad_()
    try:
        assert torch.autograd.gradcheck(
            lambda q, v, c, m, d: diffsim.step(model, q, v, c, frame_skip=3), (qpos, qvel, ctrl, mass, damping)
        )
    finally:
        mass.requires_grad_(False)
        damping.requires_grad_(False)


@pytest.mark.parametrize("steps_that_fit", [None, 0])  # stored, or recomputed in backward
def test_only_the_parameters_that_require_grad_accumulate_gradients(steps_that_fit):
    """A step is recorded for the set of parameters that require grad: the adjoints add
    nothing for the others, and switching the set between rollouts of one model gives
    each parameter the gradient it gets when every parameter requires grad."""
    model = diffsim.load_mjcf(diffsim.asset("ant.xml"), dtype=F64, contact_model="smooth")
    model.options.max_stored_bytes = steps_that_fit
    qpos = model.qpos0[None].repeat(2, 1)  # falls onto its feet: contact and friction
    ctrls = 0.4 * torch.sin(torch.arange(2 * 6 * model.nu, dtype=F64)).reshape(2, 6, model.nu)
    qvel = torch.zeros(2, model.nv, dtype=F64)

    def gradients(names):
        params = [model.params[name].requires_grad_() for name in names]
        try:
            loss = diffsim.rollout(model, qpos, qvel, ctrls, frame_skip=2)[0][:, -1, :3].sum()
            return dict(zip(names, torch.autograd.grad(loss, params)))
        finally:
            for p in params:
                p.requires_grad_(False)

    everything = gradients(["body_mass", "dof_damping", "geom_friction"])
    assert all(g.abs().max() > 0 for g in everything.values())
    for name in ("body_mass", "dof_damping", "geom_friction", "body_mass"):
        alone = gradients([name])
        torch.testing.assert_close(alone[name], everything[name], rtol=1e-12, atol=1e-12)
        untouched = [other for other in everything if other != name]
        assert all(model.param_grads[other].abs().max() == 0 for other in untouched), (
            f"a backward pass for {name} accumulated gradients of {untouched}"
        )


def test_gradcheck_step_free_flight():
    """A free body in the air: qvel and its mass and inertia (quaternions in the state)."""
    model = diffsim.load_mjcf(diffsim.asset("free_body.xml"), dtype=F64, contact_model="smooth")
    qpos = model.qpos0[None].clone()
    qpos[0, 2] += 2.0
    qvel = torch.tensor([[0.5, -0.2, 0.3, 1.0, -2.0, 0.5]], dtype=F64, requires_grad=True)
    ctrl = torch.zeros(1, 0, dtype=F64)
    inertia = model.body_inertia.requires_grad_()
    try:
        assert torch.autograd.gradcheck(
            lambda v, inertia: diffsim.step(model, qpos, v, ctrl, frame_skip=2), (qvel, inertia)
        )
    finally:
        inertia.requires_grad_(False)


def test_gradcheck_step_ant_feet_on_the_ground():
    model, qpos, qvel = settled_ant()
    assert feet_touch(model, qpos, qvel)
    qvel = qvel.clone().requires_grad_()
    ctrl = torch.linspace(-0.5, 0.5, model.nu, dtype=F64)[None].requires_grad_()
    contact = model.contact_params.requires_grad_()
    friction = model.geom_friction.requires_grad_()
    try:
        assert torch.autograd.gradcheck(
            lambda v, c, k, mu: diffsim.step(model, qpos, v, c, frame_skip=2), (qvel, ctrl, contact, friction)
        )
    finally:
        contact.requires_grad_(False)
        friction.requires_grad_(False)


TWO_CAPSULES_IN_THE_AIR = """
<mujoco><worldbody><geom type="plane" size="5 5 0.1"/>
  <body pos="0 0 2"><freejoint/><geom type="capsule" fromto="-0.1 0 0 0.1 0 0" size="0.05"/></body>
  <body pos="0.02 0.03 2.09"><freejoint/><geom type="capsule" fromto="0 -0.1 0 0 0.1 0.02" size="0.05"/></body>
</worldbody></mujoco>"""


def test_gradcheck_step_capsules_pressed_together():
    """Two crossed capsules overlapping 1 cm, far above the floor: the capsule-capsule
    contact (closest points of two segments) alone, its gradient w.r.t. the velocities
    and the contact parameters against finite differences."""
    model = diffsim.load_mjcf(TWO_CAPSULES_IN_THE_AIR, dtype=F64, contact_model="smooth")
    assert [kind for kind, _ in model.contact_kinds] == [1, 5]  # capsule-plane, capsule-capsule
    qpos = model.qpos0[None].clone()
    qvel = torch.tensor([[0.1, -0.2, 0.0, 0.3, 0.1, -0.2, -0.1, 0.0, 0.2, 0.0, -0.3, 0.1]], dtype=F64)
    ctrl = torch.zeros(1, 0, dtype=F64)
    model.enable_contact = False
    without = diffsim.step(model, qpos, qvel, ctrl)[1]
    model.enable_contact = True
    assert (diffsim.step(model, qpos, qvel, ctrl)[1] - without).abs().max() > 1e-3, "the capsules must push apart"
    contact = model.contact_params.requires_grad_()
    try:
        assert torch.autograd.gradcheck(
            lambda v, k: diffsim.step(model, qpos, v, ctrl, frame_skip=2), (qvel.requires_grad_(), contact)
        )
    finally:
        contact.requires_grad_(False)


def test_50_step_ant_rollout_with_contact_matches_finite_differences():
    """50 control steps of the Ant on its feet (contact, friction, motors): the gradient with
    respect to every input agrees with central differences at two step sizes.

    The state is chosen so that central differences are a reliable reference on any CPU.
    With the default contact_slip of 0.05 m/s, friction on a foot at rest acts as a damper
    (mu * f_n / slip) too stiff for explicit Euler at 5 ms: any perturbation, rounding
    included, grows fourfold per step with alternating sign until the feet slide and the
    friction saturates. The "settled" Ant then jitters, so its state depends on the last
    bit of every operation. In one case OpenBLAS's AVX2 kernels (an AMD EPYC) and its
    AVX-512 kernels (an Intel Xeon) normalised the body quaternions differently, and one
    second of settling turned that 1e-16 into 1e-2. Central differences through that
    jitter converge as eps^2 with a huge constant (qpos: 5.9e-3 at eps=1e-7, 5.9e-5 at
    1e-8), while the analytic gradient was right.

    At slip 0.2 m/s the stance is stable. The test asserts the two properties that make
    it robust rather than assuming them: rounding-sized perturbations do not grow, and
    the finite-difference reference agrees with itself across eps.
    """
    model = diffsim.load_mjcf(diffsim.asset("ant.xml"), dtype=F64, contact_model="smooth")
    model.contact_slip = 0.2
    steps = int(1.0 / model.dt)
    qpos, qvel = diffsim.rollout(
        model, model.qpos0[None], torch.zeros(1, model.nv, dtype=F64), torch.zeros(1, steps, model.nu, dtype=F64)
    )
    qpos, qvel = qpos[:, -1].clone(), qvel[:, -1].clone()
    ctrls = 0.5 * torch.sin(torch.arange(50 * model.nu, dtype=F64).reshape(1, 50, model.nu) * 0.37)

    def loss(qpos_traj, qvel_traj):
        return qpos_traj[:, -1, 0] + 0.5 * qpos_traj[:, -1, 2] + 0.01 * (qvel_traj**2).sum(dim=(1, 2))

    qpos_traj, _ = diffsim.rollout(model, qpos, qvel, ctrls)
    assert feet_touch(model, qpos, qvel) and qpos_traj[0, :, 2].max() < 0.8, "the Ant must stand on the ground"

    # well conditioned: a perturbation of 1e-12 (far above rounding) changes the loss by about as much
    noise = 1e-12 * torch.randn(1, model.nq, dtype=F64, generator=torch.Generator().manual_seed(0))
    both = diffsim.rollout(model, torch.cat([qpos, qpos + noise]), qvel.repeat(2, 1), ctrls.repeat(2, 1, 1))
    assert abs(float(loss(*both).diff())) < 1e-10, "rounding-sized perturbations must not grow over the rollout"

    coarse = compare_gradients(model, loss, qpos, qvel, ctrls, eps=1e-6)
    fine = compare_gradients(model, loss, qpos, qvel, ctrls, eps=1e-7)
    print(coarse, fine, sep="\n")
    for name in fine.numeric:  # the reference agrees with itself across eps (measured: 1.2e-7)
        scale = float(fine.numeric[name].abs().max())
        assert float((coarse.numeric[name] - fine.numeric[name]).abs().max()) < 1e-6 * scale, name
    # analytic against both (measured: 3.4e-8 at eps=1e-6, 2e-9 at 1e-7, the same on models whose
    # quaternions and inertias were moved by one ulp, as another CPU's rounding would)
    assert coarse.relative_error() < 1e-6
    assert fine.relative_error() < 1e-6


def test_repeated_backward_and_reused_gradient_outputs():
    model = diffsim.load_mjcf(diffsim.asset("pendulum.xml"), dtype=F64, contact_model="smooth")
    qpos = (model.qpos0[None] + 0.3).requires_grad_()
    qvel = torch.zeros(1, model.nv, dtype=F64)
    ctrls = torch.full((1, 20, model.nu), 0.2, dtype=F64, requires_grad=True)
    mass = model.body_mass.requires_grad_()
    try:
        qpos_traj, qvel_traj = diffsim.rollout(model, qpos, qvel, ctrls)
        grad_out = torch.ones_like(qpos_traj)
        first = torch.autograd.grad(qpos_traj, (qpos, ctrls, mass), grad_out, retain_graph=True)
        second = torch.autograd.grad(qpos_traj, (qpos, ctrls, mass), grad_out)
        for a, b in zip(first, second):
            assert torch.equal(a, b)
        assert torch.equal(grad_out, torch.ones_like(qpos_traj)), "the incoming gradient must not be consumed"
        assert first[2].abs().sum() > 0
    finally:
        mass.requires_grad_(False)


def test_batched_gradients_equal_single_environment_gradients():
    model = diffsim.load_mjcf(diffsim.asset("cartpole.xml"), dtype=F64, contact_model="smooth")
    qpos = model.qpos0[None].repeat(3, 1) + torch.tensor([[0.0, 0.1], [0.2, -0.3], [-0.1, 2.0]], dtype=F64)
    qvel = torch.zeros(3, model.nv, dtype=F64)
    ctrls = torch.randn(3, 15, model.nu, dtype=F64, generator=torch.Generator().manual_seed(0)).requires_grad_()
    loss = diffsim.rollout(model, qpos, qvel, ctrls, frame_skip=2)[0][:, -1].pow(2).sum()
    (batch_grad,) = torch.autograd.grad(loss, ctrls)
    for i in range(3):
        c = ctrls[i : i + 1].detach().requires_grad_()
        loss_i = diffsim.rollout(model, qpos[i : i + 1], qvel[i : i + 1], c, frame_skip=2)[0][:, -1].pow(2).sum()
        (grad_i,) = torch.autograd.grad(loss_i, c)
        torch.testing.assert_close(grad_i[0], batch_grad[i], rtol=1e-12, atol=1e-12)


def test_float32_gradients_follow_float64():
    grads = {}
    for dtype in (torch.float32, F64):
        model = diffsim.load_mjcf(diffsim.asset("cartpole.xml"), dtype=dtype, contact_model="smooth")
        qpos = model.qpos0[None] + torch.tensor([[0.0, 0.4]], dtype=dtype)
        ctrls = torch.full((1, 30, model.nu), 0.3, dtype=dtype, requires_grad=True)
        qpos_traj, _ = diffsim.rollout(model, qpos, torch.zeros(1, model.nv, dtype=dtype), ctrls)
        qpos_traj[:, -1].sum().backward()
        assert ctrls.grad.dtype == dtype
        grads[dtype] = ctrls.grad.double()
    torch.testing.assert_close(grads[torch.float32], grads[F64], rtol=1e-3, atol=1e-4)


def test_system_identification_recovers_mass_and_friction():
    """A sled pushed along the floor by a known force: fit its mass and the floor's
    friction to a trajectory simulated with hidden values, by gradient descent (L-BFGS)."""
    xml = """
    <mujoco><option timestep="0.002"/>
      <worldbody>
        <geom name="floor" type="plane" size="5 5 0.1" friction="0.6"/>
        <body name="sled" pos="0 0 0.1">
          <joint name="x" type="slide" axis="1 0 0"/>
          <joint name="z" type="slide" axis="0 0 1"/>
          <geom type="box" size="0.2 0.1 0.1" mass="2" friction="0.01"/>
        </body>
      </worldbody>
      <actuator><motor joint="x" gear="1"/></actuator></mujoco>"""
    model = diffsim.load_mjcf(xml, dtype=F64, contact_model="smooth")
    sled, floor = 1, 0
    horizon, frame_skip = 30, 4
    force = 30.0 * (1.0 + torch.sin(torch.linspace(0, 6, horizon, dtype=F64)))[None, :, None]
    qpos0 = torch.tensor([[0.0, -0.01]], dtype=F64)  # resting on the floor
    qvel0 = torch.zeros(1, 2, dtype=F64)

    def set_parameters(mass, friction):
        with torch.no_grad():
            model.body_mass[sled] = mass
            model.geom_friction[floor, 0] = friction

    hidden_mass, hidden_friction = 3.0, 0.4
    set_parameters(hidden_mass, hidden_friction)
    observed = diffsim.rollout(model, qpos0, qvel0, force, frame_skip)[0][0, :, 0]

    guess = torch.tensor([0.0, 0.9], dtype=F64, requires_grad=True)  # log mass (1 kg), friction
    optimizer = torch.optim.LBFGS([guess], max_iter=30, line_search_fn="strong_wolfe")
    model.body_mass.requires_grad_()
    model.geom_friction.requires_grad_()

    def closure():
        optimizer.zero_grad()
        set_parameters(guess[0].exp(), guess[1])
        x = diffsim.rollout(model, qpos0, qvel0, force, frame_skip)[0][0, :, 0]
        loss = ((x - observed) ** 2).mean()
        grad_mass, grad_friction = torch.autograd.grad(loss, (model.body_mass, model.geom_friction))
        guess.grad = torch.stack([grad_mass[sled] * guess[0].exp(), grad_friction[floor, 0]]).detach()
        return loss

    try:
        optimizer.step(closure)
    finally:
        model.body_mass.requires_grad_(False)
        model.geom_friction.requires_grad_(False)
    mass, friction = guess[0].exp().item(), guess[1].item()
    print(f"identified mass {mass:.5f} kg (hidden {hidden_mass}), friction {friction:.5f} (hidden {hidden_friction})")
    assert abs(mass - hidden_mass) < 0.01 * hidden_mass
    assert abs(friction - hidden_friction) < 0.01 * hidden_friction


def test_blow_up_names_environments_and_step():
    model = diffsim.load_mjcf(diffsim.asset("ant.xml"), dtype=F64, contact_model="smooth")
    model.limit_stiffness = 1e7  # far too stiff for the time step
    model.dt = 0.01
    qpos = model.qpos0[None].repeat(3, 1)
    qpos[:, 2] = 5.0  # in the air
    ctrls = torch.ones(3, 40, model.nu, dtype=F64)
    ctrls[0] = 0.0  # env 0 never reaches its joint limits
    with pytest.raises(diffsim.SimulationError, match=r"environment\(s\) \[1, 2\] at control step \d+") as info:
        diffsim.rollout(model, qpos, torch.zeros(3, model.nv, dtype=F64), ctrls)
    assert info.value.envs == [1, 2]
    assert 0 <= info.value.step < 40


@pytest.mark.parametrize("asset", ["pendulum.xml", "free_body.xml"])  # with controls and without (nu = 0)
@pytest.mark.parametrize("steps_that_fit", [None, 0, 3])  # all, none or the last 3 steps stored
def test_non_finite_gradient_is_reported_with_step_and_environment(asset, steps_that_fit):
    model = diffsim.load_mjcf(diffsim.asset(asset), dtype=F64, contact_model="smooth")
    if steps_that_fit is not None:
        pool = diffsim.stored_steps.stored_steps_for(model, 2, 1)
        pool.lease(1).release()  # measures one step's bytes
        model.options.max_stored_bytes = steps_that_fit * pool.bytes_per_step
    ctrls = torch.zeros(2, 10, model.nu, dtype=F64, requires_grad=True)
    qvel = torch.zeros(2, model.nv, dtype=F64, requires_grad=True)
    qpos_traj, _ = diffsim.rollout(model, model.qpos0[None].repeat(2, 1) + 0.2, qvel, ctrls)
    grad_out = torch.zeros_like(qpos_traj)
    grad_out[1, 6] = float("nan")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        qpos_traj.backward(grad_out)
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert any("control step 6" in m and "[1]" in m for m in messages), messages


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    cpu = diffsim.load_mjcf(diffsim.asset("ant.xml"), dtype=F64, contact_model="smooth")
    gpu = diffsim.load_mjcf(diffsim.asset("ant.xml"), dtype=F64, device="cuda", contact_model="smooth")
    ctrls = 0.3 * torch.ones(4, 20, cpu.nu, dtype=F64)
    results = []
    for model in (cpu, gpu):
        for _ in range(2):  # the second run replays captured graphs
            c = ctrls.to(model.device, copy=True).requires_grad_()
            qpos, qvel = diffsim.rollout(
                model, model.qpos0[None].repeat(4, 1), torch.zeros(4, model.nv, dtype=F64, device=model.device), c
            )
            qpos[:, -1, :3].sum().backward()
        results.append((qpos.cpu(), c.grad.cpu()))
    # the steps ran as CUDA graphs, not launch by launch
    programs = [p for pool in gpu.caches.stored_steps.values() for r in pool.free for p in r.programs]
    assert programs and all(p._forward.graph is not None and p._adjoint.graph is not None for p in programs)
    # ... with the tree recursions launched level by level, a thread per (env, body)
    assert all(_launch_dims(p, "forward_kinematics") == [(4, 1), (4, 1), (4, 4), (4, 4)] for p in programs)
    torch.testing.assert_close(results[0][0], results[1][0], rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(results[0][1], results[1][1], rtol=1e-7, atol=1e-9)


def _launch_dims(program, kernel_name):
    """The launch dimensions of a kernel in a step program's forward, in order."""
    import warp as wp

    launches = [getattr(replay, "__self__", None) for replay in program._forward.launches]  # wp.Launch.launch
    return [
        tuple(launch.bounds.shape)
        for launch in launches
        if isinstance(launch, wp.Launch) and launch.kernel.key == kernel_name
    ]


@pytest.mark.parametrize("asset", ["ant.xml", "ball_chain.xml"])
def test_tree_walks_per_level_equal_tree_walks_per_environment(asset):
    """``options.tree_parallel`` launches the tree recursions a level at a time, a thread per (env,
    body) (the GPU's default), or a thread per env walking the whole tree (the CPU's). The
    same arithmetic in the same order: states agree bit for bit, through contact; gradients
    differ only in the order the adjoints of sibling bodies are summed."""
    results = []
    for parallel in (True, False):
        model = diffsim.load_mjcf(
            diffsim.asset(asset), dtype=F64, contact_model="smooth"
        )  # fresh: nothing recorded yet
        model.options.tree_parallel = parallel
        g = torch.Generator().manual_seed(3)
        qpos = model.qpos0[None].repeat(2, 1) + 0.1 * torch.randn(2, model.nq, generator=g, dtype=F64)
        if asset == "ant.xml":
            qpos[:, 2] = 0.55  # the feet press into the floor
            assert feet_touch(model, qpos[:1], torch.zeros(1, model.nv, dtype=F64))
        qvel = torch.randn(2, model.nv, generator=g, dtype=F64).requires_grad_()
        ctrls = (0.5 * torch.randn(2, 12, model.nu, generator=g, dtype=F64)).requires_grad_()
        mass = model.body_mass.requires_grad_()
        q, v = diffsim.rollout(model, qpos, qvel, ctrls, frame_skip=2)
        (q[:, -1].sin().sum() + (v**2).sum()).backward()
        program = next(iter(model.caches.stored_steps.values())).free[0].programs[0]
        results.append(
            (_launch_dims(program, "forward_kinematics"), q.detach(), v.detach(), qvel.grad, ctrls.grad, mass.grad)
        )
    levels = diffsim.model.body_levels(model.spec.body_parent)
    evaluations = 4 if model.integrator == "RK4" else 1  # ball_chain asks for RK4: four stages per step
    assert results[0][0] == [(2, len(level)) for level in levels] * evaluations and len(levels) >= 4
    assert results[1][0] == [(2, 1)] * evaluations
    assert torch.equal(results[0][1], results[1][1]) and torch.equal(results[0][2], results[1][2])
    for per_level, per_env in zip(results[0][3:], results[1][3:]):
        assert per_env.abs().max() > 0
        torch.testing.assert_close(per_level, per_env, rtol=1e-12, atol=1e-12)


def _ant_gradients(model, qpos, qvel, ctrls):
    c = ctrls.clone().requires_grad_()
    loss = diffsim.rollout(model, qpos, qvel, c, frame_skip=2)[0][:, -1, :3].sum()
    return torch.autograd.grad(loss, c)[0]


def test_stored_bytes_budget_defaults_by_device(monkeypatch):
    """256 MiB of stored intermediates on a CPU, a quarter of the card on CUDA, unless set."""
    from types import SimpleNamespace

    from diffsim.options import Options

    budget = diffsim.autograd.stored_bytes_budget
    cpu = diffsim.load_mjcf(diffsim.asset("pendulum.xml"), contact_model="smooth")
    gpu = SimpleNamespace(options=Options(), device=torch.device("cuda:0"))  # what the budget reads of a model
    assert budget(cpu) == 256 * 2**20
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda device: SimpleNamespace(total_memory=80 * 2**30))
    assert budget(gpu) == 20 * 2**30
    cpu.options.max_stored_bytes = gpu.options.max_stored_bytes = 3 * 2**20
    assert budget(gpu) == budget(cpu) == 3 * 2**20
    with pytest.raises(ValueError, match="max_stored_bytes must be a number of bytes >= 0 or None"):
        cpu.options.max_stored_bytes = -1
    with pytest.raises(AttributeError, match="no simulation option 'max_stored'"):
        cpu.options.max_stored = 1


@pytest.mark.parametrize(
    "device",
    ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"))],
)
@pytest.mark.parametrize("steps_that_fit", [0, 5])
def test_recomputing_backward_equals_stored_backward(steps_that_fit, device):
    """Forward keeps the intermediates of as many of a rollout's last control steps as fit
    in ``options.max_stored_bytes``; backward recomputes the others: the same gradients whether
    all, some or none of the 12 steps were stored (on CUDA, recomputed steps replay graphs)."""
    model, qpos, qvel = settled_ant()
    if device != "cpu":
        model = diffsim.load_mjcf(diffsim.asset("ant.xml"), dtype=F64, device=device, contact_model="smooth")
        qpos, qvel = qpos.to(device), qvel.to(device)
    ctrls = 0.3 * torch.sin(torch.arange(12 * model.nu, dtype=F64, device=device)).reshape(1, 12, model.nu)
    stored = _ant_gradients(model, qpos, qvel, ctrls)
    pool = diffsim.stored_steps.stored_steps_for(model, 1, 2)
    assert pool.allocated == 12
    model.options.max_stored_bytes = steps_that_fit * pool.bytes_per_step
    recomputed = _ant_gradients(model, qpos, qvel, ctrls)
    assert pool.allocated == steps_that_fit  # the pool shrank to the budget
    torch.testing.assert_close(recomputed, stored, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("stored", [True, False])
def test_captured_graphs_replay_exactly_what_the_launches_do(stored):
    """Each step runs as one captured graph (``options.capture_graphs``): the same kernels in the
    same order as launch by launch, so states and gradients agree bit for bit, through
    contact and with a parameter gradient, whether backward stores or recomputes."""
    _, qpos, qvel = settled_ant()
    results = []
    for capture in (True, False):
        model = diffsim.load_mjcf(
            diffsim.asset("ant.xml"), dtype=F64, contact_model="smooth"
        )  # fresh: nothing recorded yet
        model.options.capture_graphs = capture
        model.options.max_stored_bytes = None if stored else 0
        assert feet_touch(model, qpos, qvel)
        mass = model.body_mass.requires_grad_()
        ctrls = (0.4 * torch.sin(torch.arange(2 * 15 * model.nu, dtype=F64))).reshape(2, 15, model.nu)
        for _ in range(2):  # a step is captured on its second run
            mass.grad = None
            c = ctrls.clone().requires_grad_()
            q, v = diffsim.rollout(model, qpos.repeat(2, 1), qvel.repeat(2, 1), c, frame_skip=3)
            (q[:, -1, :3].sum() + (v**2).sum()).backward()
        programs = [p for runner in model.caches.runners.values() for p in runner.programs]
        programs += [p for pool in model.caches.stored_steps.values() for r in pool.free for p in r.programs]
        for replay in ("_forward", "_adjoint"):
            rerun = [getattr(p, replay) for p in programs if getattr(p, replay).calls >= 2]
            assert rerun and all((r.graph is not None) == capture for r in rerun)
        results.append((q.detach(), v.detach(), c.grad, mass.grad))
    for graphed, launched in zip(*results):
        assert torch.equal(graphed, launched)
    assert results[0][3].abs().sum() > 0


@pytest.mark.parametrize("frame_skip", [1, 2, 3])
def test_forward_only_rollout_equals_step_by_step_and_the_stored_rollout(frame_skip):
    """A rollout without gradients moves controls in and states out through staging
    buffers, a chunk of control steps at a time (``options.trajectory_chunk``, 4 here, so 11 steps
    cross two chunk boundaries, the last chunk short): its states equal, bit for bit,
    stepping one control at a time and the rollout that stores its steps for backward
    (which loads and stores with torch), through contact and with two environments."""
    _, qpos, qvel = settled_ant()
    model = diffsim.load_mjcf(diffsim.asset("ant.xml"), dtype=F64, contact_model="smooth")
    model.options.trajectory_chunk = 4
    assert feet_touch(model, qpos, qvel)
    qpos, qvel = qpos.repeat(2, 1), qvel.repeat(2, 1)
    ctrls = (0.4 * torch.sin(torch.arange(2 * 11 * model.nu, dtype=F64))).reshape(2, 11, model.nu)
    for _ in range(3):  # the staging replays are captured on their second run
        q_traj, v_traj = diffsim.rollout(model, qpos, qvel, ctrls, frame_skip=frame_skip)
    q, v = qpos, qvel
    for t in range(ctrls.shape[1]):
        q, v = diffsim.step(model, q, v, ctrls[:, t], frame_skip=frame_skip)
        assert torch.equal(q, q_traj[:, t]) and torch.equal(v, v_traj[:, t]), f"control step {t}"
    stored_q, stored_v = diffsim.rollout(model, qpos, qvel, ctrls.clone().requires_grad_(), frame_skip=frame_skip)
    assert stored_q.grad_fn is not None
    assert torch.equal(stored_q.detach(), q_traj) and torch.equal(stored_v.detach(), v_traj)
    staging = model.caches.runners[(2, 0, False, True)].staging
    assert staging.ctrls.shape[1] == 4 and any(replay.graph is not None for replay in staging.store_and_load)
    assert not torch.equal(q_traj[:, 0], q_traj[:, -1])


def test_a_warp_that_cannot_capture_falls_back_to_launches_with_a_warning(monkeypatch):
    """Where capture fails (an older Warp, a driver without graphs), steps replay launch by
    launch, with one RuntimeWarning that says so, and give the same numbers."""
    import warp as wp

    model = diffsim.load_mjcf(diffsim.asset("cartpole.xml"), dtype=F64, contact_model="smooth")
    start = (model.qpos0[None] + 0.3, torch.zeros(1, model.nv, dtype=F64))
    ctrls = 0.5 * torch.ones(1, 6, model.nu, dtype=F64)
    expected = diffsim.rollout(model, *start, ctrls)[0]
    diffsim.autograd.free_buffers(model)

    def no_capture(*args, **kwargs):
        raise RuntimeError("graph capture is not supported here")

    monkeypatch.setattr(wp, "ScopedCapture", no_capture)
    with pytest.warns(RuntimeWarning, match="could not capture a step as a graph"):
        qpos = diffsim.rollout(model, *start, ctrls)[0]
    torch.testing.assert_close(qpos, expected, rtol=0, atol=0)
    runner = next(iter(model.caches.runners.values()))
    rerun = [p._forward for p in runner.programs if p._forward.calls >= 2]
    assert rerun and all(r.graph is None for r in rerun)


def test_backward_after_a_later_forward_is_still_correct():
    """Two rollouts before one backward: each keeps its own intermediates, both gradients are right."""
    model, qpos, qvel = settled_ant()
    ctrls_a = 0.3 * torch.ones(1, 10, model.nu, dtype=F64)
    ctrls_b = -0.3 * torch.ones(1, 10, model.nu, dtype=F64)
    expected = _ant_gradients(model, qpos, qvel, ctrls_a)
    a = ctrls_a.clone().requires_grad_()
    b = ctrls_b.clone().requires_grad_()
    loss_a = diffsim.rollout(model, qpos, qvel, a, frame_skip=2)[0][:, -1, :3].sum()
    loss_b = diffsim.rollout(model, qpos, qvel, b, frame_skip=2)[0][:, -1, :3].sum()
    (loss_a + loss_b).backward()
    torch.testing.assert_close(a.grad, expected, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(b.grad, _ant_gradients(model, qpos, qvel, ctrls_b), rtol=1e-12, atol=1e-14)


def test_stored_buffers_return_to_the_pool_after_backward_or_when_the_graph_is_dropped():
    import gc

    model = diffsim.load_mjcf(diffsim.asset("pendulum.xml"), dtype=F64, contact_model="smooth")
    ctrls = torch.zeros(1, 5, model.nu, dtype=F64, requires_grad=True)
    start = (model.qpos0[None] + 0.2, torch.zeros(1, model.nv, dtype=F64))
    pool = diffsim.stored_steps.stored_steps_for(model, 1, 1)
    diffsim.rollout(model, *start, ctrls)[0].sum().backward()
    assert len(pool.free) == pool.allocated == 5
    kept = diffsim.rollout(model, *start, ctrls)  # a graph nobody differentiates
    assert len(pool.free) == 0
    del kept
    gc.collect()
    assert len(pool.free) == pool.allocated == 5


def test_a_parameter_edited_in_place_between_forward_and_backward_is_refused():
    """The backward pass re-runs steps with the model's parameters as they are then: an
    in-place edit after the forward pass would silently change the gradient."""
    model = diffsim.load_mjcf(diffsim.asset("cartpole.xml"), dtype=F64, contact_model="smooth")
    qpos = model.qpos0[None] + torch.tensor([[0.0, 0.4]], dtype=F64)
    ctrls = torch.full((1, 10, model.nu), 0.3, dtype=F64, requires_grad=True)
    qvel = torch.zeros(1, model.nv, dtype=F64)
    (reference,) = torch.autograd.grad(diffsim.rollout(model, qpos, qvel, ctrls)[0].sum(), ctrls)
    damping = float(model.dof_damping[1])
    for edit in (lambda: model.dof_damping.__setitem__(1, damping + 0.5), lambda: setattr(model, "dt", 0.011)):
        dt = model.dt
        qpos_traj, _ = diffsim.rollout(model, qpos, qvel, ctrls)
        edit()
        with pytest.raises(RuntimeError, match=r"model parameter\(s\) \['(dof_damping|dt)'\] were modified in place"):
            qpos_traj.sum().backward()
        model.dof_damping[1], model.dt = damping, dt
    (again,) = torch.autograd.grad(diffsim.rollout(model, qpos, qvel, ctrls)[0].sum(), ctrls)
    assert torch.equal(again, reference)  # restored values, a fresh forward: the same gradient


def test_second_derivatives_through_step_are_refused_not_wrong():
    model = diffsim.load_mjcf(diffsim.asset("cartpole.xml"), dtype=F64, contact_model="smooth")
    qpos = (model.qpos0[None] + torch.tensor([[0.0, 0.4]], dtype=F64)).requires_grad_()
    ctrl = torch.full((1, model.nu), 0.3, dtype=F64, requires_grad=True)
    qpos_next, _ = diffsim.step(model, qpos, torch.zeros(1, model.nv, dtype=F64), ctrl, frame_skip=4)
    (grad,) = torch.autograd.grad(qpos_next[:, 1].sum(), qpos, create_graph=True)
    with pytest.raises(RuntimeError, match="diffsim's gradients are first-order"):
        torch.autograd.grad(grad.sum(), ctrl)
    # first derivatives with create_graph=True are still right (a loss of the gradient may ignore its graph)
    (plain,) = torch.autograd.grad(
        diffsim.step(model, qpos, torch.zeros(1, model.nv, dtype=F64), ctrl, frame_skip=4)[0][:, 1].sum(), qpos
    )
    assert torch.equal(grad.detach(), plain)


def test_mass_matrix_and_bias_forces_refuse_a_gradient_instead_of_giving_none():
    model = diffsim.load_mjcf(diffsim.asset("ant.xml"), dtype=F64, contact_model="smooth")
    qpos = model.qpos0[None].clone()
    qvel = torch.linspace(-1, 1, model.nv, dtype=F64)[None]
    M, c = diffsim.mass_matrix(model, qpos), diffsim.bias_forces(model, qpos, qvel)
    assert not M.requires_grad and not c.requires_grad
    for asks in ("qpos", "qvel", "body_mass"):
        q, v = qpos.clone().requires_grad_(asks == "qpos"), qvel.clone().requires_grad_(asks == "qvel")
        model.body_mass.requires_grad_(asks == "body_mass")
        try:
            values = [diffsim.bias_forces(model, q, v)] + ([diffsim.mass_matrix(model, q)] if asks != "qvel" else [])
        finally:
            model.body_mass.requires_grad_(False)
        for value, exact in zip(values, (c, M)):
            assert torch.equal(value.detach(), exact)  # the same value, with a graph that refuses to be used
            with pytest.raises(RuntimeError, match=r"diffsim\.(mass_matrix|bias_forces) is not differentiable"):
                value.sum().backward()
        with torch.no_grad():
            assert not diffsim.mass_matrix(model, q).requires_grad
