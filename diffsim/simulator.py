"""Runs the kernels of one physics step in order.

A step reads ``qpos, qvel, ctrl`` and writes ``qpos_next, qvel_next``; every
intermediate lives in a ``StepBuffers``. Replaying a step's adjoint is correct as long
as the buffers it read still hold that step's values (Warp's adjoint needs the forward
values unchanged): a ``StepProgram`` owns its buffers, and ``diffsim.autograd`` keeps one
program per physics step it will differentiate (or re-runs the step before its adjoint).

Stages, in launch order (MuJoCo's names in brackets):
    kinematics        body frames, com-based inertias, dof motions   [mj_kinematics, mj_comPos]
    mass matrix       composite rigid bodies                         [mj_crb]
    bias forces       velocities, then recursive Newton-Euler at qacc = 0  [mj_comVel, mj_rne]
    contact           smoothed penalty contact forces, to joint space (diffsim's own)
    transmission      actuator lengths and moments                   [mj_transmission]
    actuators         actuator forces and activation rates           [mj_fwdActuation]
    tendons           fixed tendons' spring and damper forces        [mj_passive]
    smooth forces     passive, actuator and limit forces minus bias  [mj_passive, mj_fwdActuation]
    solve             (M + dt D) qacc = f, tree-sparse Cholesky (analytic adjoint)  [mj_Euler]
    integrate         semi-implicit Euler, quaternions on the sphere [mj_advance, mj_integratePos]

The state's second half holds the velocities and, after them, the activations:
``qvel`` is (batch, nv + na) here (``diffsim.autograd`` splits it for the user).
"""

from __future__ import annotations

import contextlib
import warnings

import torch
import warp as wp

from diffsim.kernels import (
    actuation,
    collision_driver,
    constraints,
    contact,
    dynamics,
    implicit,
    integrate,
    kinematics,
    passive,
    solve,
    solver,
    unrolled,
)
from diffsim.model import Model, warp_type


# the arrays that say what each actuator is, in the order actuation.py's kernels take them
ACTUATOR_TYPES = (
    "actuator_trntype",
    "actuator_trnid",
    "actuator_gear",
    "actuator_dyntype",
    "actuator_gaintype",
    "actuator_biastype",
    "actuator_dynprm",
    "actuator_gainprm",
    "actuator_biasprm",
    "actuator_actadr",
)


class StepBuffers:
    """Every intermediate array of one step for a batch of ``batch`` environments."""

    def __init__(self, model: Model, batch: int, requires_grad: bool = False, stage: bool = False):
        T = model.wp_scalar
        vec3 = wp.types.vector(length=3, dtype=T)
        quat = wp.types.quaternion(dtype=T)
        mat33 = wp.types.matrix(shape=(3, 3), dtype=T)
        vec6 = wp.types.vector(length=6, dtype=T)
        E, nb, nj, nv = batch, model.nbody, model.njnt, model.nv

        arrays = []

        def zeros(shape, dtype):
            array = wp.zeros(shape, dtype=dtype, device=model.wp_device)
            arrays.append(array)
            return array

        self.batch = batch
        # kinematics
        self.xpos = zeros((E, nb), vec3)
        self.xquat = zeros((E, nb), quat)
        self.jnt_xpos = zeros((E, nj), vec3)
        self.jnt_xquat = zeros((E, nj), quat)
        self.xanchor = zeros((E, nj), vec3)
        self.xaxis = zeros((E, nj), vec3)
        self.xipos = zeros((E, nb), vec3)
        self.cinert_h = zeros((E, nb), vec3)
        self.cinert_J = zeros((E, nb), mat33)
        self.cdof = zeros((E, nv), vec6)
        # velocities and bias
        self.dof_cvel = zeros((E, nv), vec6)
        self.cdof_dot = zeros((E, nv), vec6)
        self.dof_cacc = zeros((E, nv), vec6)
        self.cfrc_body = zeros((E, nb), vec6)
        self.qfrc_bias = zeros((E, nv), T)
        # mass matrix
        self.M = zeros((E, nv, nv), T)
        # contact (cfrc_ext is accumulated with atomics: zero it before reuse)
        ns = model.nslot
        self.contact_dist = zeros((E, ns), T)
        self.contact_pos = zeros((E, ns), vec3)
        self.contact_force = zeros((E, ns), vec3)
        self.cfrc_ext = zeros((E, nb), vec6)
        self.qfrc_ext = zeros((E, nv), T)
        self.contact_near = wp.zeros((E, ns), dtype=wp.int32, device=model.wp_device)  # no gradient

        # actuators with moments, tendons, gravity compensation and fluid forces: empty
        # (E, 0) arrays for a model without them, so that the arena of gradients that every
        # backward pass resets holds only what the model uses
        def used(flag, count):
            return count if flag else 0

        nu = used(model.n_moment_actuators, model.nu)
        self.actuator_length = zeros((E, nu), T)
        self.actuator_moment = zeros((E, nu, nv), T)
        self.actuator_force = zeros((E, nu), T)
        self.act_dot = zeros((E, model.na), T)
        self.actuator_force_velocity = zeros((E, nu), T)
        self.tendon_force = zeros((E, model.ntendon), T)
        body_forces = model.has_gravcomp or model.has_fluid
        self.cfrc_gravcomp = zeros((E, used(body_forces, nb)), vec6)
        self.cfrc_fluid = zeros((E, used(body_forces, nb)), vec6)
        self.qfrc_gravcomp = zeros((E, used(body_forces, nv)), T)
        self.qfrc_fluid = zeros((E, used(body_forces, nv)), T)
        self.qfrc_actuator_extra = zeros((E, used(model.has_extra_forces, nv)), T)
        self.qfrc_passive_extra = zeros((E, used(model.has_extra_forces, nv)), T)
        # MuJoCo's constraints: the rows and the solver's outputs carry gradients (the
        # solver's adjoint, solver.newton_adjoint); its scratch, the warm start and
        # qacc_smooth (the solution does not depend on where the iterations start) do not
        nr = model.nrow if model.constraint_rows else 0
        nc = nv if model.constraint_rows else 0

        def plain(shape):
            return wp.zeros(shape, dtype=T, device=model.wp_device)

        self.qacc_smooth = plain((E, nc))
        self.efc_J = zeros((E, nr, nc), T)
        self.efc_active = plain((E, nr))
        self.efc_aref, self.efc_R, self.efc_frictionloss, self.efc_force = (zeros((E, nr), T) for _ in range(4))
        # the solver's scratch (solver.newton): islands, row products, Newton direction, Hessian
        ints = lambda shape: wp.zeros(shape, dtype=wp.int32, device=model.wp_device)  # noqa: E731
        self.tree_parent, self.tree_rows = ints((E, model.nbody if nc else 0)), ints((E, model.nbody if nc else 0))
        self.row_list, self.row_island, self.dof_list = ints((E, nr)), ints((E, nr)), ints((E, nc))
        self.row_lo, self.row_hi = ints((E, nr)), ints((E, nr))  # each row's nonzero dofs: lo .. hi - 1
        self.efc_cone = ints((E, nr))  # elliptic cones' rows (constraints.contact_rows)
        self.efc_jaref, self.efc_jv = plain((E, nr)), plain((E, nr))
        self.solver_scratch = [plain((E, nc)) for _ in range(4)]  # Ma, grad, search, Ms
        self.solver_H = plain((E, nc, nc))
        self.qacc_constrained = zeros((E, nc), T)
        self.solver_niter = wp.zeros(E, dtype=wp.int32, device=model.wp_device)
        self.solver_factored = wp.zeros(E, dtype=wp.int32, device=model.wp_device)  # see solver.newton
        # MuJoCo's warm start, the last step's solution: one array for every step buffer of this
        # batch size (chained steps follow each other), RK4's stages included
        if nc and batch not in model.caches.warmstarts:
            model.caches.warmstarts[batch] = plain((E, nc))
        self.qacc_warmstart = model.caches.warmstarts[batch] if nc else plain((E, nc))
        self.qfrc_constraint = zeros((E, nc), T)
        self.qfrc_total = zeros((E, nc), T)
        # MuJoCo's contacts: the collision functions' slots, then the gathered contacts
        npair = model.ncollision if model.mujoco_contacts else 0
        nslot = model.nprecon if model.mujoco_contacts else 0
        C = model.contact_capacity if model.mujoco_contacts else 0

        def typed(shape, dtype):
            return wp.zeros(shape, dtype=dtype, device=model.wp_device)

        vec = lambda n: warp_type(T, n)  # noqa: E731
        self.precon_count = typed((E, npair), wp.int32)
        self.precon_dist = zeros((E, nslot), T)
        self.precon_pos, self.precon_normal, self.precon_tangent = (zeros((E, nslot), vec3) for _ in range(3))
        self.ncon = typed(E, wp.int32)
        # contacts beyond the capacity, summed over the steps of a call: one array per batch size
        if model.mujoco_contacts and batch not in model.caches.overflows:
            model.caches.overflows[batch] = typed(E, wp.int32)
        self.contact_overflow = model.caches.overflows[batch] if model.mujoco_contacts else typed(E, wp.int32)
        self.con_pair = typed((E, C), wp.int32)
        self.con_slot = typed((E, C), wp.int32)
        self.con_dim = typed((E, C), wp.int32)
        self.con_dist = zeros((E, C), T)
        self.con_pos = zeros((E, C), vec3)
        self.con_frame = zeros((E, C), mat33)
        self.con_includemargin = zeros((E, C), T)
        self.con_friction = zeros((E, C), vec(5))
        self.con_solref = zeros((E, C), vec(2))
        self.con_solreffriction = zeros((E, C), vec(2))
        self.con_solimp = zeros((E, C), vec(5))
        # forces, solve, integrate
        self.qfrc_smooth = zeros((E, nv), T)
        self.U = zeros((E, nv, nv), T)  # the factor of M + dt diag(damping) (solve.py)
        self.y = zeros((E, nv), T)
        self.qacc = zeros((E, nv), T)
        # implicitfast: the matrix M - h D, and qacc with the standalone free bodies solved apart
        if model.integrator == "implicitfast":
            self.H = zeros((E, nv, nv), T)
            self.qacc_implicit = zeros((E, nv), T)
        # RK4: the three later stages' intermediates, the states they start from and
        # their velocities for positions (see integrate.py)
        self.stages = []
        if model.integrator == "RK4" and not stage:
            self.stages = [StepBuffers(model, batch, requires_grad, stage=True) for _ in range(3)]
            self.stage_qpos = [zeros((E, model.nq), T) for _ in range(3)]
            self.stage_qvel = [zeros((E, model.nva), T) for _ in range(3)]
            self.stage_velocity = [zeros((E, nv), T) for _ in range(3)]
            self.rk4_velocity = zeros((E, nv), T)
            self.rk4_act_dot = zeros((E, model.na), T)
        self.grad_arena = _attach_gradients(arrays, model.dtype, model.device) if requires_grad else None
        # scratch of the solve's analytic adjoint (solve.factor_and_solve_adjoint)
        self.solve_scratch = (
            [wp.zeros((E, nv), dtype=T, device=model.wp_device) for _ in range(2)] if requires_grad else None
        )

    def gradient_arenas(self) -> list:
        """The torch buffers holding the gradients of every intermediate, the stages' included."""
        own = [self.grad_arena] if self.grad_arena is not None else []
        return own + [arena for stage in self.stages for arena in stage.gradient_arenas()]


def _attach_gradients(arrays, scalar: torch.dtype, device) -> torch.Tensor:
    """Give every array a gradient carved from one zeroed torch buffer, returned so that
    all of a step's gradients can be reset with a single ``zero_()``."""
    align = 16
    offsets, total = [], 0
    for a in arrays:
        offsets.append(total)
        total += (a.capacity + align - 1) // align * align
    arena = torch.zeros(max(total, align), dtype=torch.uint8, device=device)
    for a, offset in zip(arrays, offsets):
        if a.size > 0:
            # a torch view of the arena: wp.from_torch keeps the arena alive with the gradient
            view = arena[offset : offset + a.capacity].view(scalar).reshape(*a.shape, *_element_shape(a.dtype))
            a.grad = wp.from_torch(view, dtype=a.dtype)
    return arena


def _element_shape(dtype) -> tuple:
    """The trailing torch dimensions of one Warp element (() for scalars, (3,) for vec3, ...)."""
    return tuple(getattr(dtype, "_shape_", ()))


class Simulator:
    """Launches the stages of a step for one model. All arrays are Warp arrays of shape
    (B, nq), (B, nv) or (B, nu) in the model's precision and on its device.

    Inside ``with sim.recording() as ops:`` nothing runs: each launch is appended to
    ``ops`` as ``("launch", kernel, dim, inputs)`` and each reset as ``("zero", array)``,
    which is how ``StepProgram`` resolves a step's launches once and replays them.
    """

    def __init__(self, model: Model, grad_params=None):
        """``grad_params``: the names of the parameters whose gradients the adjoint of the
        launches accumulates (into ``model.param_grads``); None: all of them."""
        self.model = model
        self.grad_params = None if grad_params is None else frozenset(grad_params)
        self._ops = None

    def gravity(self):
        """The gravity the bias forces use: the model's, or zero when its flag switches gravity off."""
        return self.warp("gravity") if self.model.flags.gravity else self.model.warp("zero_gravity")

    def warp(self, name: str):
        """The Warp array of a model parameter or topology tensor for a launch: with its
        gradient buffer only for the parameters in ``grad_params``."""
        return self.model.warp(name, grad=self.grad_params is None or name in self.grad_params)

    def _tree_walks(self, kind: str) -> list:
        """The index ranges of the tree recursions' launches (see kinematics.py), parents
        first; ``kind``: "body" or "dof"."""
        walks = self.model.tree_walks
        parallel = self.model.options.tree_parallel  # see diffsim.options; both give the same states
        if parallel is None:
            parallel = self.model.wp_device.is_cuda
        column = 0 if kind == "body" else 1
        if not parallel:
            return [self.model.warp(walks["whole"][column])]
        levels = walks["levels"] if kind == "body" else walks["levels"][1:]  # the world (depth 0) has no dofs
        return [self.model.warp(names[column]) for names in levels]

    def row_blocks(self, n: int) -> tuple:
        """``(blocks, per_block)``: how a kernel over ``n`` rows (or contacts) of every
        environment splits them among threads. On a GPU, one each; on the CPU, where Warp
        runs threads one after another and each copies the kernel's arguments (some
        kilobytes for the row kernels, and twice that in their adjoints), all of an
        environment's in one."""
        if n == 0:
            return 0, 1
        if self.model.wp_device.is_cuda:
            return n, 1
        return 1, n

    @contextlib.contextmanager
    def recording(self):
        self._ops = []
        try:
            yield self._ops
        finally:
            self._ops = None

    def _launch(self, kernel, dim, inputs, device):
        if not all(d > 0 for d in (dim if isinstance(dim, tuple) else (dim,))):
            return
        if self._ops is not None:
            self._ops.append(("launch", kernel, dim, inputs))
        else:
            wp.launch(kernel, dim=dim, inputs=inputs, device=device)

    def _zero(self, array):
        if self._ops is not None:
            self._ops.append(("zero", array))
        else:
            array.zero_()

    def kinematics(self, buf: StepBuffers, qpos):
        m, w, dev, E = self.model, self.warp, self.model.wp_device, buf.batch
        for body_ranges in self._tree_walks("body"):
            self._launch(
                kinematics.forward_kinematics,
                (E, body_ranges.shape[0]),
                [
                    body_ranges,
                    w("body_parent"),
                    w("body_jntadr"),
                    w("body_jntnum"),
                    w("body_pos"),
                    w("body_quat"),
                    w("jnt_type"),
                    w("jnt_qposadr"),
                    w("jnt_pos"),
                    w("jnt_axis"),
                    w("qpos0"),
                    qpos,
                    buf.xpos,
                    buf.xquat,
                    buf.jnt_xpos,
                    buf.jnt_xquat,
                    buf.xanchor,
                    buf.xaxis,
                ],
                dev,
            )
        blocks, per_block = self.row_blocks(m.nbody)
        self._launch(
            kinematics.com_inertia,
            (E, blocks),
            [
                m.nbody,
                per_block,
                w("body_rootid"),
                w("body_mass"),
                w("body_ipos"),
                w("body_inertia"),
                buf.xpos,
                buf.xquat,
                buf.xipos,
                buf.cinert_h,
                buf.cinert_J,
            ],
            dev,
        )
        blocks, per_block = self.row_blocks(m.nv)
        self._launch(
            kinematics.motion_subspace,
            (E, blocks),
            [
                m.nv,
                per_block,
                w("body_rootid"),
                w("dof_body"),
                w("dof_jnt"),
                w("jnt_type"),
                w("jnt_dofadr"),
                buf.xpos,
                buf.xquat,
                buf.xanchor,
                buf.xaxis,
                buf.cdof,
            ],
            dev,
        )

    def mass_matrix(self, buf: StepBuffers):
        """Needs ``kinematics`` first. Fills ``buf.M``."""
        m, w, dev, E = self.model, self.warp, self.model.wp_device, buf.batch
        blocks, per_block = self.row_blocks(m.nbody)
        self._launch(
            dynamics.mass_matrix_rows,
            (E, blocks),
            [
                m.nbody,
                per_block,
                w("body_dofadr"),
                w("body_dofnum"),
                w("dof_ancestors"),
                w("dof_armature"),
                w("body_subtree_end"),
                w("body_mass"),
                buf.cinert_h,
                buf.cinert_J,
                buf.cdof,
                buf.M,
            ],
            dev,
        )

    def bias_forces(self, buf: StepBuffers, qvel):
        """Needs ``kinematics`` first. Fills ``buf.qfrc_bias`` (and the velocities contact needs)."""
        m, w, dev, E = self.model, self.warp, self.model.wp_device, buf.batch
        for dof_ranges in self._tree_walks("dof"):
            self._launch(
                kinematics.velocities_and_bias_acceleration,
                (E, dof_ranges.shape[0]),
                [
                    dof_ranges,
                    w("dof_parent"),
                    w("dof_rate_src"),
                    self.gravity(),
                    buf.cdof,
                    qvel,
                    buf.dof_cvel,
                    buf.cdof_dot,
                    buf.dof_cacc,
                ],
                dev,
            )
        blocks, per_block = self.row_blocks(m.nbody)
        self._launch(
            dynamics.body_forces,
            (E, blocks),
            [
                m.nbody,
                per_block,
                w("body_lastdof"),
                w("body_mass"),
                self.gravity(),
                buf.cinert_h,
                buf.cinert_J,
                buf.dof_cvel,
                buf.dof_cacc,
                buf.cfrc_body,
            ],
            dev,
        )
        blocks, per_block = self.row_blocks(m.nv)
        self._launch(
            dynamics.joint_forces_from_body_forces,
            (E, blocks),
            [m.nv, per_block, w("dof_body"), w("body_subtree_end"), buf.cdof, buf.cfrc_body, buf.qfrc_bias],
            dev,
        )

    def contact_forces(self, buf: StepBuffers):
        """Needs ``kinematics`` and ``bias_forces`` (velocities) first. Fills ``buf.qfrc_ext``."""
        m, w, dev, E = self.model, self.warp, self.model.wp_device, buf.batch
        self._zero(buf.cfrc_ext)
        for kind, slots in m.contact_kinds:
            self._launch(
                contact.contact_kernels(kind)[0],
                (E, w(slots).shape[0]),
                [
                    w(slots),
                    buf.contact_near,
                    w("slot_geom_a"),
                    w("slot_geom_b"),
                    w("slot_sub"),
                    w("geom_body"),
                    w("geom_pos"),
                    w("geom_quat"),
                    w("geom_size"),
                    w("geom_friction"),
                    w("body_rootid"),
                    w("body_lastdof"),
                    w("contact_params"),
                    buf.xpos,
                    buf.xquat,
                    buf.dof_cvel,
                    buf.contact_dist,
                    buf.contact_pos,
                    buf.contact_force,
                    buf.cfrc_ext,
                ],
                dev,
            )
        blocks, per_block = self.row_blocks(m.nv)
        self._launch(
            dynamics.joint_forces_from_body_forces,
            (E, blocks),
            [m.nv, per_block, w("dof_body"), w("body_subtree_end"), buf.cdof, buf.cfrc_ext, buf.qfrc_ext],
            dev,
        )

    def step(self, buf: StepBuffers, qpos, qvel, ctrl, qpos_next, qvel_next):
        """One physics step of ``model.dt`` with the model's integrator: writes ``qpos_next``, ``qvel_next``."""
        m = self.model
        if m.integrator == "RK4":
            self.rk4(buf, qpos, qvel, ctrl, qpos_next, qvel_next)
        elif m.integrator == "implicitfast":
            self.forces(buf, qpos, qvel, ctrl)
            self.implicitfast_accelerations(buf, qvel, self.constraint_forces(buf, qpos, qvel))
            qacc = buf.qacc_implicit if m.has_free_bodies else buf.qacc
            self.euler(buf, qpos, qvel, qacc, qpos_next, qvel_next)
        else:
            # MuJoCo's Euler treats dof damping implicitly unless eulerdamp or damper is off
            self.derivatives(buf, qpos, qvel, ctrl, implicit_damping=m.flags.eulerdamp and m.flags.damper)
            self.euler(buf, qpos, qvel, buf.qacc, qpos_next, qvel_next)
        if m.constraint_rows:  # the next step's warm start: this step's (last) solution [mj_advance]
            last = buf.stages[-1] if buf.stages else buf
            self._launch(solver.keep_warmstart, buf.batch, [last.qacc_constrained, buf.qacc_warmstart], m.wp_device)

    def euler(self, buf: StepBuffers, qpos, qvel, qacc, qpos_next, qvel_next):
        """Semi-implicit Euler from ``qacc`` and ``buf.act_dot`` [mj_advance]."""
        m, w, dev, E = self.model, self.warp, self.model.wp_device, buf.batch
        blocks, per_block = self.row_blocks(m.njnt)
        self._launch(
            integrate.integrate,
            (E, blocks),
            [
                m.njnt,
                per_block,
                w("jnt_type"),
                w("jnt_qposadr"),
                w("jnt_dofadr"),
                w("dt"),
                qpos,
                qvel,
                qacc,
                qpos_next,
                qvel_next,
            ],
            dev,
        )
        self.advance_activations(buf, qvel, buf.act_dot, buf.actuator_length, qvel_next)

    def advance_activations(self, buf: StepBuffers, qvel, act_dot, actuator_length, qvel_next):
        """``act_next`` into the second half of ``qvel_next`` [mj_advance]."""
        m, w, dev, E = self.model, self.warp, self.model.wp_device, buf.batch
        if m.na:
            self._launch(
                actuation.advance_activations,
                (E, m.nu),
                [w(name) for name in ACTUATOR_TYPES]
                + [
                    w("actuator_actlimited"),
                    w("actuator_actrange"),
                    w("actuator_enabled"),
                    w("jnt_type"),
                    w("dt"),
                    int(m.flags.actuation),
                    m.nv,
                    qvel,
                    act_dot,
                    actuator_length,
                    qvel_next,
                ],
                dev,
            )

    def rk4(self, buf: StepBuffers, qpos, qvel, ctrl, qpos_next, qvel_next):
        """MuJoCo's RK4 [mj_RungeKutta]: four evaluations of the derivatives, each in its
        own buffers so that the adjoint finds every stage's values."""
        m, w, dev, E = self.model, self.warp, self.model.wp_device, buf.batch
        stages = [buf] + buf.stages
        states = [(qpos, qvel)] + list(zip(buf.stage_qpos, buf.stage_qvel))
        velocities = [qvel] + buf.stage_velocity  # velocity for positions: K_1 = qvel
        for i in range(4):
            stage_qpos, stage_qvel = states[i]
            self.derivatives(stages[i], stage_qpos, stage_qvel, ctrl, implicit_damping=False)
            if i == 3:
                break
            next_qpos, next_qvel = states[i + 1]
            self._launch(
                integrate.rk4_stage_state,
                (E, m.njnt),
                [
                    w("jnt_type"),
                    w("jnt_qposadr"),
                    w("jnt_dofadr"),
                    w("dt"),
                    i,
                    qpos,
                    qvel,
                    velocities[i],
                    stages[i].qacc,
                    next_qpos,
                    next_qvel,
                ],
                dev,
            )
            if m.na:
                self._launch(
                    integrate.rk4_stage_activation,
                    (E, m.na),
                    [w("dt"), i, m.nv, qvel, stages[i].act_dot, next_qvel],
                    dev,
                )
            self._launch(
                integrate.rk4_position_velocity,
                (E, m.njnt),
                [w("jnt_type"), w("jnt_dofadr"), w("dt"), i, velocities[i], next_qvel, velocities[i + 1]],
                dev,
            )
        self._launch(
            integrate.rk4_combine,
            (E, m.njnt),
            [w("jnt_type"), w("jnt_qposadr"), w("jnt_dofadr"), w("dt"), qpos, qvel]
            + velocities
            + [stage.qacc for stage in stages]
            + [buf.rk4_velocity, qpos_next, qvel_next],
            dev,
        )
        if m.na:
            self._launch(
                integrate.rk4_activation_rate,
                (E, m.na),
                [stage.act_dot for stage in stages] + [buf.rk4_act_dot],
                dev,
            )
            # the activations advance with the averaged rate; lengths are the last stage's (as MuJoCo's)
            self.advance_activations(buf, qvel, buf.rk4_act_dot, stages[3].actuator_length, qvel_next)

    def derivatives(self, buf: StepBuffers, qpos, qvel, ctrl, implicit_damping: bool):
        """Everything up to ``buf.qacc`` and ``buf.act_dot`` [mj_forward]; with
        ``implicit_damping`` the solve is Euler's ``(M + dt D) qacc = f``."""
        self.forces(buf, qpos, qvel, ctrl)
        rhs = self.constraint_forces(buf, qpos, qvel)
        self.solve(buf, buf.M, self.warp("dof_damping") if implicit_damping else self.model.warp("zero_dof"), rhs)
        if self.model.constraint_rows:  # without damping to treat implicitly: the solver's own qacc
            self._launch(
                solver.undamped_acceleration,
                buf.batch,
                [self.warp("dof_damping"), int(implicit_damping), buf.qacc_constrained, buf.qacc],
                self.model.wp_device,
            )

    def implicitfast_accelerations(self, buf: StepBuffers, qvel, rhs):
        """``qacc = (M - h D)^-1 f`` into ``buf.qacc``, then ``buf.qacc_implicit`` with the
        standalone free bodies solved apart (see implicit.py) [mj_implicit]."""
        m, w, dev, E = self.model, self.warp, self.model.wp_device, buf.batch
        shared = [
            w("actuator_trntype"),
            w("actuator_trnid"),
            w("dof_damping"),
            w("jnt_dofadr"),
            w("jnt_actfrclimited"),
            w("jnt_actfrcrange"),
            w("tendon_adr"),
            w("tendon_num"),
            w("tendon_damping"),
            w("wrap_objid"),
            w("wrap_prm"),
            int(m.flags.damper),
            w("dt"),
            buf.M,
            buf.actuator_moment,
            buf.actuator_force,
            buf.actuator_force_velocity,
            w("jnt_actgravcomp"),
            int(m.has_gravcomp and m.nu > 0 and m.flags.actuation),
            buf.qfrc_gravcomp,
            int(m.has_fluid),
            w("dof_ancestor"),
            w("body_mass"),
            w("body_principal_inertia"),
            w("body_iquat"),
            w("body_rootid"),
            w("body_lastdof"),
            w("density"),
            w("viscosity"),
            w("wind"),
            buf.xpos,
            buf.xquat,
            buf.xipos,
            buf.cdof,
            buf.dof_cvel,
        ]
        self._launch(implicit.implicit_matrix, (E, m.nv), [w("dof_free_body")] + shared + [buf.H], dev)
        self.solve(buf, buf.H, m.warp("zero_dof"), rhs)
        if m.has_free_bodies:
            self._launch(
                implicit.free_body_accelerations,
                (E, m.nv),
                [w("dof_free_body"), w("dof_body"), w("body_inertia")]
                + shared
                + [qvel, rhs, buf.qacc, buf.qacc_implicit],
                dev,
            )

    def forces(self, buf: StepBuffers, qpos, qvel, ctrl):
        """Every stage up to ``buf.qfrc_smooth``, the force the accelerations solve for."""
        m, w, dev, E = self.model, self.warp, self.model.wp_device, buf.batch
        self.kinematics(buf, qpos)
        self.mass_matrix(buf)
        self.bias_forces(buf, qvel)
        if m.enable_contact and m.contact_model == "smooth" and m.nslot:
            self.contact_forces(buf)
        else:
            self._zero(buf.qfrc_ext)
        if m.n_moment_actuators:
            self.actuators(buf, qpos, qvel, ctrl)
        if m.has_gravcomp or m.has_fluid:
            self.body_passive_forces(buf)
        if m.ntendon:
            self._launch(
                passive.tendon_forces,
                (E, m.ntendon),
                [
                    w("tendon_adr"),
                    w("tendon_num"),
                    w("tendon_stiffness"),
                    w("tendon_damping"),
                    w("tendon_lengthspring"),
                    w("wrap_objid"),
                    w("wrap_prm"),
                    w("jnt_qposadr"),
                    w("jnt_dofadr"),
                    int(m.flags.spring),
                    int(m.flags.damper),
                    qpos,
                    qvel,
                    buf.tendon_force,
                ],
                dev,
            )
        if m.has_extra_forces:
            self._launch(
                dynamics.extra_forces,
                (E, m.nv),
                [
                    w("dof_jnt"),
                    w("jnt_dofadr"),
                    w("jnt_actfrclimited"),
                    w("jnt_actfrcrange"),
                    w("jnt_actgravcomp"),
                    w("tendon_adr"),
                    w("tendon_num"),
                    w("wrap_objid"),
                    w("wrap_prm"),
                    w("moment_actuators"),
                    int(m.has_gravcomp or m.has_fluid),
                    int(m.has_gravcomp and m.nu > 0 and m.flags.actuation),
                    buf.actuator_moment,
                    buf.actuator_force,
                    buf.tendon_force,
                    buf.qfrc_gravcomp,
                    buf.qfrc_fluid,
                    buf.qfrc_actuator_extra,
                    buf.qfrc_passive_extra,
                ],
                dev,
            )
        blocks, per_block = self.row_blocks(m.nv)
        self._launch(
            dynamics.smooth_forces,
            (E, blocks),
            [
                m.nv,
                per_block,
                w("dof_jnt"),
                w("dof_damping"),
                w("jnt_type"),
                w("jnt_qposadr"),
                w("jnt_dofadr"),
                w("jnt_stiffness"),
                w("jnt_limited"),
                w("jnt_range"),
                w("qpos_spring"),
                w("limit_params"),
                int(m.flags.spring),
                int(m.flags.damper),
                int(m.flags.limit and m.contact_model == "smooth"),
                int(m.has_extra_forces),
                w("jnt_actuator_adr"),
                w("jnt_actuator_num"),
                w("actuator_by_joint"),
                w("actuator_gear"),
                w("actuator_gainprm"),
                w("actuator_ctrllimited"),
                w("actuator_ctrlrange"),
                w("actuator_forcelimited"),
                w("actuator_forcerange"),
                w("actuator_enabled"),
                int(m.flags.clampctrl),
                int(m.flags.actuation),
                ctrl,
                qpos,
                qvel,
                buf.qfrc_actuator_extra,
                buf.qfrc_passive_extra,
                buf.qfrc_bias,
                buf.qfrc_ext,
                buf.qfrc_smooth,
            ],
            dev,
        )

    def solve(self, buf: StepBuffers, matrix, diagonal, rhs, qacc=None):
        """``(matrix + dt diag(diagonal)) qacc = rhs`` into ``qacc`` (default ``buf.qacc``)."""
        w, dev, E = self.warp, self.model.wp_device, buf.batch
        self._launch(
            solve.factor_and_solve,
            E,
            [
                matrix,
                w("dof_ancestors"),
                w("dof_subtree_end"),
                diagonal,
                w("dt"),
                rhs,
                buf.U,
                buf.y,
                buf.qacc if qacc is None else qacc,
            ],
            dev,
        )

    def constraint_forces(self, buf: StepBuffers, qpos, qvel):
        """MuJoCo's constraint forces (``model.constraint_rows``): the rows and their
        parameters, then the Newton solve, which starts from the unconstrained acceleration
        ``buf.qacc_smooth`` and writes it [mj_fwdConstraint].
        Returns the force the accelerations solve for: ``qfrc_smooth + qfrc_constraint``, or
        ``qfrc_smooth`` for a model without MuJoCo's constraints."""
        m, w, dev, E = self.model, self.warp, self.model.wp_device, buf.batch
        if not m.constraint_rows:
            return buf.qfrc_smooth
        shared = [w("dt"), int(m.flags.refsafe), qpos, qvel]
        outputs = [buf.efc_J, buf.efc_active, buf.efc_aref, buf.efc_R, buf.efc_frictionloss]
        self._launch(
            constraints.equality_rows,
            (E, m.nrow_equality),
            [
                w("row_kind"),
                w("row_id"),
                w("row_side"),
                w("dof_invweight0"),
                w("jnt_qposadr"),
                w("jnt_dofadr"),
                w("qpos0"),
                w("tendon_adr"),
                w("tendon_num"),
                w("wrap_objid"),
                w("wrap_prm"),
                w("tendon_invweight0"),
                w("tendon_length0"),
                w("eq_objtype"),
                w("eq_obj1id"),
                w("eq_obj2id"),
                w("eq_solref"),
                w("eq_solimp"),
                w("eq_data"),
                w("site_body"),
                w("site_pos"),
                w("site_quat"),
                w("body_rootid"),
                w("body_lastdof"),
                w("body_invweight0"),
                w("dof_ancestor"),
                w("dof_body"),
                w("dof_jnt"),
                w("jnt_type"),
                *shared,
                buf.xpos,
                buf.xquat,
                buf.cdof,
                buf.cdof_dot,
                buf.dof_cvel,
                *outputs,
            ],
            dev,
        )
        nrows = m.nrow_static - m.nrow_equality
        blocks, per_block = self.row_blocks(nrows)
        self._launch(
            constraints.limit_and_friction_rows,
            (E, blocks),
            [
                nrows,
                per_block,
                m.nrow_equality,
                w("row_kind"),
                w("row_id"),
                w("row_side"),
                w("dof_invweight0"),
                w("dof_frictionloss"),
                w("dof_solref"),
                w("dof_solimp"),
                w("jnt_qposadr"),
                w("jnt_dofadr"),
                w("jnt_type"),
                w("jnt_range"),
                w("jnt_margin"),
                w("jnt_solref"),
                w("jnt_solimp"),
                w("tendon_adr"),
                w("tendon_num"),
                w("wrap_objid"),
                w("wrap_prm"),
                w("tendon_range"),
                w("tendon_margin"),
                w("tendon_frictionloss"),
                w("tendon_solref_lim"),
                w("tendon_solimp_lim"),
                w("tendon_solref_fri"),
                w("tendon_solimp_fri"),
                w("tendon_invweight0"),
                *shared,
                *outputs,
            ],
            dev,
        )
        if m.mujoco_contacts:
            self.collision(buf)
            self.contact_rows(buf, qvel)
        spec, T = m.spec, m.wp_scalar
        self._launch(
            solver.newton,
            E,
            [
                w("row_kind"),
                w("dof_tree"),
                w("dof_ancestor"),
                w("dof_parent"),
                w("dof_subtree_end"),
                spec.iterations,
                T(spec.tolerance),
                T(spec.ls_tolerance),
                spec.ls_iterations,
                int("warmstart" not in spec.disabled),
                buf.M,
                buf.U,
                buf.qfrc_smooth,
                buf.qacc_smooth,
                buf.qacc_warmstart,
                buf.efc_J,
                buf.efc_active,
                buf.efc_aref,
                buf.efc_R,
                buf.efc_frictionloss,
                buf.efc_cone,
                buf.tree_parent,
                buf.tree_rows,
                buf.row_list,
                buf.dof_list,
                buf.row_island,
                buf.row_lo,
                buf.row_hi,
                buf.efc_jaref,
                buf.efc_jv,
                *buf.solver_scratch,
                buf.solver_H,
                buf.solver_factored,
                w("dof_ancestors"),
                m.warp("zero_dof"),
                buf.y,
                buf.qacc_constrained,
                buf.solver_niter,
                buf.efc_force,
                buf.qfrc_constraint,
                buf.qfrc_total,
            ],
            dev,
        )
        return buf.qfrc_total

    def collision(self, buf: StepBuffers):
        """MuJoCo's contacts (needs ``kinematics``): every candidate pair's collision function,
        then the contacts gathered with their parameters into ``buf.con_*`` (``buf.ncon`` per
        environment; ``buf.contact_overflow`` adds up the ones beyond the capacity)."""
        m, w, dev, E = self.model, self.warp, self.model.wp_device, buf.batch
        self._launch(
            collision_driver.collide,
            (E, m.ncollision),
            [
                w("collision_geom1"),
                w("collision_geom2"),
                w("collision_kind"),
                w("collision_conadr"),
                w("collision_explicit"),
                w("geom_type"),
                w("geom_body"),
                w("geom_pos"),
                w("geom_quat"),
                w("geom_size"),
                w("geom_rbound"),
                w("geom_margin"),
                w("geom_gap"),
                w("pair_margin"),
                w("pair_gap"),
                buf.xpos,
                buf.xquat,
                buf.precon_count,
                buf.precon_dist,
                buf.precon_pos,
                buf.precon_normal,
                buf.precon_tangent,
            ],
            dev,
        )
        self._launch(
            collision_driver.gather_contacts,
            E,
            [
                m.contact_capacity,
                w("collision_conadr"),
                w("collision_condim"),
                buf.precon_count,
                buf.ncon,
                buf.contact_overflow,
                buf.con_pair,
                buf.con_slot,
                buf.con_dim,
            ],
            dev,
        )
        blocks, per_block = self.row_blocks(m.contact_capacity)
        self._launch(
            collision_driver.contact_parameters,
            (E, blocks),
            [
                m.contact_capacity,
                per_block,
                w("collision_geom1"),
                w("collision_geom2"),
                w("collision_explicit"),
                w("geom_priority"),
                w("geom_solmix"),
                w("geom_friction"),
                w("geom_solref"),
                w("geom_solimp"),
                w("geom_margin"),
                w("pair_friction"),
                w("pair_solref"),
                w("pair_solreffriction"),
                w("pair_solimp"),
                w("pair_margin"),
                buf.precon_dist,
                buf.precon_pos,
                buf.precon_normal,
                buf.precon_tangent,
                buf.ncon,
                buf.con_pair,
                buf.con_slot,
                buf.con_dist,
                buf.con_pos,
                buf.con_frame,
                buf.con_includemargin,
                buf.con_friction,
                buf.con_solref,
                buf.con_solreffriction,
                buf.con_solimp,
            ],
            dev,
        )

    def contact_rows(self, buf: StepBuffers, qvel):
        """The contacts' constraint rows after the other rows (needs ``collision``)."""
        m, w, dev, E = self.model, self.warp, self.model.wp_device, buf.batch
        blocks, per_block = self.row_blocks(m.contact_capacity)
        self._launch(
            constraints.contact_rows,
            (E, blocks),
            [
                m.contact_capacity,
                per_block,
                m.nrow_static,
                m.rows_per_contact,
                int(m.spec.cone == "elliptic"),
                m.wp_scalar(m.spec.impratio),
                w("collision_geom1"),
                w("collision_geom2"),
                w("geom_body"),
                w("body_rootid"),
                w("body_lastdof"),
                w("body_invweight0"),
                w("dof_ancestor"),
                w("dt"),
                int(m.flags.refsafe),
                buf.ncon,
                buf.con_pair,
                buf.con_dim,
                buf.con_dist,
                buf.con_pos,
                buf.con_frame,
                buf.con_includemargin,
                buf.con_friction,
                buf.con_solref,
                buf.con_solreffriction,
                buf.con_solimp,
                qvel,
                buf.xpos,
                buf.cdof,
                buf.dof_cvel,
                buf.efc_J,
                buf.efc_active,
                buf.efc_aref,
                buf.efc_R,
                buf.efc_frictionloss,
                buf.efc_cone,
            ],
            dev,
        )

    def body_passive_forces(self, buf: StepBuffers):
        """Needs ``kinematics`` and ``bias_forces`` (velocities) first. Fills ``buf.qfrc_gravcomp``
        and ``buf.qfrc_fluid``."""
        m, w, dev, E = self.model, self.warp, self.model.wp_device, buf.batch
        self._launch(
            passive.body_passive_forces,
            (E, m.nbody),
            [
                w("body_mass"),
                w("body_gravcomp"),
                w("body_principal_inertia"),
                w("body_iquat"),
                w("body_rootid"),
                w("body_lastdof"),
                self.gravity() if m.has_gravcomp else m.warp("zero_gravity"),
                w("density"),
                w("viscosity"),
                w("wind"),
                int(m.has_fluid),
                buf.xpos,
                buf.xquat,
                buf.xipos,
                buf.dof_cvel,
                buf.cfrc_gravcomp,
                buf.cfrc_fluid,
            ],
            dev,
        )
        blocks, per_block = self.row_blocks(m.nv)
        for body_forces, qfrc in ((buf.cfrc_gravcomp, buf.qfrc_gravcomp), (buf.cfrc_fluid, buf.qfrc_fluid)):
            self._launch(
                dynamics.joint_forces_from_body_forces,
                (E, blocks),
                [m.nv, per_block, w("dof_body"), w("body_subtree_end"), buf.cdof, body_forces, qfrc],
                dev,
            )

    def actuators(self, buf: StepBuffers, qpos, qvel, ctrl):
        """Needs ``kinematics`` first. Fills the lengths, moments, forces and activation rates
        of the actuators that act through their moments (``model.n_moment_actuators``)."""
        m, w, dev, E = self.model, self.warp, self.model.wp_device, buf.batch
        self._launch(
            actuation.transmission,
            (E, m.n_moment_actuators),
            [
                w("moment_actuators"),
                w("actuator_trntype"),
                w("actuator_trnid"),
                w("actuator_gear"),
                w("jnt_type"),
                w("jnt_qposadr"),
                w("jnt_dofadr"),
                w("site_body"),
                w("site_pos"),
                w("site_quat"),
                w("tendon_adr"),
                w("tendon_num"),
                w("wrap_objid"),
                w("wrap_prm"),
                w("body_lastdof"),
                w("body_rootid"),
                w("dof_ancestor"),
                qpos,
                buf.xpos,
                buf.xquat,
                buf.cdof,
                buf.actuator_length,
                buf.actuator_moment,
            ],
            dev,
        )
        self._launch(
            actuation.actuator_forces,
            (E, m.n_moment_actuators),
            [w("moment_actuators")]
            + [w(name) for name in ACTUATOR_TYPES]
            + [
                w("actuator_actearly"),
                w("actuator_actlimited"),
                w("actuator_actrange"),
                w("actuator_ctrllimited"),
                w("actuator_ctrlrange"),
                w("actuator_forcelimited"),
                w("actuator_forcerange"),
                w("actuator_enabled"),
                w("jnt_type"),
                w("dt"),
                int(m.flags.clampctrl),
                int(m.flags.actuation),
                m.nv,
                ctrl,
                qvel,
                buf.actuator_length,
                buf.actuator_moment,
                buf.actuator_force,
                buf.act_dot,
                buf.actuator_force_velocity,
            ],
            dev,
        )


# kernels whose adjoint adds nothing (see the comment where the adjoints are recorded)
NO_ADJOINT = (solver.keep_warmstart, solver.undamped_acceleration)


def newton_adjoint_inputs(inputs: list) -> list:
    """The inputs of ``solver.newton_adjoint`` from those of the ``solver.newton`` launch."""
    (row_kind, _tree, ancestor, parent, subtree_end, _it, _tol, _lstol, _lsit, _warm, M, _U, qfrc_smooth) = inputs[:13]
    J, active, aref, R, frictionloss, cone = inputs[15:21]
    row_list, dof_list, _row_island, row_lo, row_hi, jaref, jv = inputs[23:30]
    qacc, _niter, force, qfrc_constraint, qfrc_total = inputs[-5:]
    # the adjoint's scratch is the solve's own, which forward no longer needs: a row vector
    # (jv), two of its dof vectors (Ma, grad) and its Hessian
    adj_a, lam, H, factored = inputs[30], inputs[31], inputs[34], inputs[35]
    return [
        row_kind,
        ancestor,
        parent,
        subtree_end,
        M,
        qacc,
        J,
        active,
        aref,
        R,
        frictionloss,
        cone,
        force,
        qacc.grad,
        force.grad,
        qfrc_constraint.grad,
        qfrc_total.grad,
        row_list,
        row_lo,
        row_hi,
        dof_list,
        jaref,
        jv,
        adj_a,
        lam,
        H,
        factored,
        M.grad,
        qfrc_smooth.grad,
        J.grad,
        aref.grad,
        R.grad,
        frictionloss.grad,
    ]


_capture_streams = {}


def capture_graph(device, launches):
    """Capture the recorded ``launches`` (callables) as one graph on ``device``; None where
    this Warp cannot capture there, and the caller replays them one by one.

    On CUDA the capture runs on a side stream of its own (capture is illegal on torch's
    default stream); ``wp.capture_launch`` later replays the graph on the current stream.
    """
    if not launches:
        return None
    try:
        stream = None
        if device.is_cuda:
            if device.alias not in _capture_streams:
                _capture_streams[device.alias] = wp.Stream(device)
            stream = _capture_streams[device.alias]
        with wp.ScopedStream(stream) if stream is not None else contextlib.nullcontext():
            with wp.ScopedCapture(device=device, force_module_load=False) as capture:
                for launch in launches:
                    launch()
        return capture.graph
    except Exception as error:  # an older Warp, or a driver without graph support
        warnings.warn(
            f"diffsim: Warp could not capture a step as a graph on {device} ({error}); "
            f"replaying its kernel launches one by one instead (slower for small batches)",
            RuntimeWarning,
            stacklevel=2,
        )
        return None


class Replay:
    """Recorded launches, replayed one by one on the first call and as one captured graph
    from the second on (unless ``capture`` is False: ``model.options.capture_graphs``).
    Capturing costs about as much as recording, so a program that runs only once (in a
    one-off rollout) never pays it."""

    def __init__(self, device, launches: list, capture: bool = True):
        self.device, self.launches, self.capture = device, launches, capture
        self.graph = None
        self.calls = 0

    def __call__(self):
        if self.capture and self.calls == 1 and self.graph is None:
            self.graph = capture_graph(self.device, self.launches)
        self.calls += 1
        if self.graph is not None:
            wp.capture_launch(self.graph)
        else:
            for launch in self.launches:
                launch()


class StepProgram:
    """One physics step from fixed state arrays to fixed state arrays, its kernel launches
    resolved once (``wp.launch(record_cmd=True)``) so that replaying it costs no Python
    argument handling, and from its second run on replayed as one captured graph
    (``capture_graph``), which removes the per-launch Python cost (docs/results/cpu_benchmarks.md).
    With ``requires_grad`` it also holds the adjoint launches, in reverse order, replayed
    the same way: ``backward()`` pulls the gradients in ``qpos_next.grad`` and
    ``qvel_next.grad`` back to the inputs' and the model parameters' gradients.
    """

    def __init__(self, sim: Simulator, batch: int, qpos, qvel, ctrl, qpos_next, qvel_next, requires_grad=False):
        model = sim.model
        self.buffers = StepBuffers(model, batch, requires_grad=requires_grad)
        with sim.recording() as ops:
            sim.step(self.buffers, qpos, qvel, ctrl, qpos_next, qvel_next)
        device = model.wp_device
        self._forward = []
        for op in ops:
            if op[0] == "zero":
                self._forward.append(op[1].zero_)
            else:
                _, kernel, dim, inputs = op
                forward = unrolled.forward_kernel(kernel, model)  # its backward is the analytic one below
                self._forward.append(wp.launch(forward, dim=dim, inputs=inputs, device=device, record_cmd=True).launch)
        self._adjoint = []
        if requires_grad:
            tape = wp.Tape()  # only for its rule that finds each argument's adjoint
            for op in reversed(ops):
                if op[0] == "launch":
                    _, kernel, dim, inputs = op
                    if kernel in NO_ADJOINT:
                        # nothing flows back: the warm start, Euler's copy of the solver's
                        # acceleration (the solve beside it carries its gradient)
                        continue
                    if kernel is solver.newton:
                        launch = wp.launch(
                            solver.newton_adjoint,
                            dim=dim,
                            device=device,
                            record_cmd=True,
                            inputs=newton_adjoint_inputs(inputs),
                        )
                    elif kernel is solve.factor_and_solve:
                        # an analytic adjoint in place of the one Warp generates (see solve.py)
                        M, ancestor, subtree_end, diag_add, dt, rhs, U, _, x = inputs
                        z, adj_f = self.buffers.solve_scratch
                        # a parameter without a gradient gets an empty one: the kernel skips it
                        no_grad = wp.empty(0, dtype=dt.dtype, device=device)
                        launch = wp.launch(
                            solve.factor_and_solve_adjoint,
                            dim=dim,
                            device=device,
                            record_cmd=True,
                            inputs=[
                                U,
                                ancestor,
                                subtree_end,
                                x,
                                diag_add,
                                dt,
                                x.grad,
                                z,
                                adj_f,
                                M.grad,
                                diag_add.grad if diag_add.requires_grad else no_grad,
                                dt.grad if dt.requires_grad else no_grad,
                                rhs.grad,
                            ],
                        )
                    else:
                        # contact: the adjoint of a twin kernel that skips far slots at once (see contact.py)
                        source = contact.ADJOINT_SOURCE.get(kernel, kernel)
                        adjoints = [tape.get_adjoint(a) for a in inputs]
                        launch = wp.launch(
                            source,
                            dim=dim,
                            inputs=inputs,
                            adj_inputs=adjoints,
                            device=device,
                            adjoint=True,
                            record_cmd=True,
                        )
                    self._adjoint.append(launch.launch)
        capture = sim.model.options.capture_graphs
        self._forward = Replay(device, self._forward, capture)
        self._adjoint = Replay(device, self._adjoint, capture)

    def gradient_arrays(self) -> list:
        """The torch buffers holding the gradients of every intermediate array, to be zeroed before a replay."""
        return self.buffers.gradient_arenas()

    def forward(self):
        self._forward()

    def backward(self):
        self._adjoint()
