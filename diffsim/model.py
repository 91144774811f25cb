"""Model: a ModelSpec's arrays on one device, in one floating-point precision.

Physical parameters live in torch tensors (``model.body_mass``, ``model.dof_damping``,
...) that share memory with the Warp arrays the kernels read, so editing a tensor in
place changes the simulation, and a tensor can be marked ``requires_grad`` for system
identification. Topology (parents, addresses, joint types) is integer data and fixed.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import warp as wp

import warnings
from dataclasses import dataclass

from diffsim.collision import contact_slots, unsupported_pairs
from diffsim.collision_pairs import candidate_pairs
from diffsim.options import Options
from diffsim.spec import (
    BIAS_NONE,
    DYN_NONE,
    EQ_CONNECT,
    EQ_JOINT,
    EQ_WELD,
    EQ_TENDON,
    GAIN_FIXED,
    JOINT_BALL,
    JOINT_FREE,
    JOINT_HINGE,
    JOINT_SLIDE,
    TRN_JOINT,
    WRAP_JOINT,
    ModelSpec,
)


def _checked(name: str, value, positive: bool = False) -> float:
    """``value`` as a float, or a ValueError naming ``name``: it must be finite and >= 0 (> 0 if ``positive``)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number) or number < 0 or (positive and number == 0):
        raise ValueError(f"{name} must be a finite number {'> 0' if positive else '>= 0'}, got {value!r}")
    return number


# Parameters a user may identify or tune, with their per-element Warp vector length
# (None for scalars, 9 for 3x3 matrices). Quaternions are stored (w, x, y, z).
PARAMETERS = {
    "body_pos": 3,
    "body_quat": 4,
    "body_mass": None,
    "body_ipos": 3,
    "body_inertia": 9,
    "jnt_pos": 3,
    "jnt_axis": 3,
    "jnt_stiffness": None,
    "jnt_range": 2,
    "dof_damping": None,
    "dof_armature": None,
    "qpos0": None,
    "qpos_spring": None,
    "jnt_actfrcrange": 2,
    "jnt_margin": None,
    "jnt_solref": 2,
    "jnt_solimp": 5,
    "dof_frictionloss": None,
    "dof_solref": 2,
    "dof_solimp": 5,
    "dof_invweight0": None,
    "body_gravcomp": None,
    "body_invweight0": 2,
    "body_principal_inertia": 3,
    "body_iquat": 4,
    "site_pos": 3,
    "site_quat": 4,
    "tendon_stiffness": None,
    "tendon_damping": None,
    "tendon_lengthspring": 2,
    "wrap_prm": None,
    "tendon_range": 2,
    "tendon_margin": None,
    "tendon_frictionloss": None,
    "tendon_solref_lim": 2,
    "tendon_solimp_lim": 5,
    "tendon_solref_fri": 2,
    "tendon_solimp_fri": 5,
    "tendon_invweight0": None,
    "tendon_length0": None,
    "eq_solref": 2,
    "eq_solimp": 5,
    "eq_data": 12,  # mujoco.mjNEQDATA
    "actuator_gear": 6,
    "actuator_dynprm": 10,
    "actuator_gainprm": 10,
    "actuator_biasprm": 10,
    "actuator_ctrlrange": 2,
    "actuator_forcerange": 2,
    "actuator_actrange": 2,
    "geom_pos": 3,
    "geom_quat": 4,
    "geom_size": 3,
    "geom_friction": 3,
    "geom_solref": 2,
    "geom_solimp": 5,
    "geom_solmix": None,
    "geom_margin": None,
    "geom_gap": None,
    "geom_rbound": None,
    "pair_friction": 5,
    "pair_solref": 2,
    "pair_solreffriction": 2,
    "pair_solimp": 5,
    "pair_margin": None,
    "pair_gap": None,
}
# parameters that a whole-tensor assignment (model.body_mass = ...) must keep >= 0, and the
# entries that must be > 0 (dt; the contact and limit smoothing widths, the friction slip velocity,
# which the friction law divides by)
NON_NEGATIVE = (
    "body_mass",
    "jnt_stiffness",
    "dof_damping",
    "dof_armature",
    "dof_invweight0",
    "dof_frictionloss",
    "geom_size",
    "geom_friction",
    "geom_solmix",
    "geom_margin",
    "geom_gap",
    "geom_rbound",
    "pair_friction",
    "pair_margin",
    "pair_gap",
    "tendon_stiffness",
    "tendon_damping",
    "density",
    "viscosity",
    "contact_params",
    "limit_params",
    "dt",
)
POSITIVE = {"contact_params": (2, 3), "limit_params": (2,), "dt": (0,)}

# Contact law defaults (see diffsim/kernels/contact.py): stiffness k [N/m], damping
# beta [s/m], smoothing width w [m], friction regularisation eps [m/s].
CONTACT_DEFAULTS = (2.0e3, 3.0, 2.0e-3, 0.05)

# Contacts an environment holds at most with MuJoCo's contacts, unless the model has fewer
# collision slots (model.contact_capacity sets it).
DEFAULT_CONTACT_CAPACITY = 128

# Integer topology copied to the device as int32 arrays.
TOPOLOGY = (
    "body_parent",
    "body_jntadr",
    "body_jntnum",
    "body_dofadr",
    "body_dofnum",
    "body_rootid",
    "body_subtree_end",
    "jnt_type",
    "jnt_qposadr",
    "jnt_dofadr",
    "jnt_limited",
    "dof_body",
    "dof_jnt",
    "jnt_actfrclimited",
    "jnt_actgravcomp",
    "dof_parent",
    "site_body",
    "eq_objtype",
    "eq_obj1id",
    "eq_obj2id",
    "tendon_adr",
    "tendon_num",
    "wrap_type",
    "wrap_objid",
    "actuator_trntype",
    "actuator_trnid",
    "actuator_dyntype",
    "actuator_gaintype",
    "actuator_biastype",
    "actuator_actadr",
    "actuator_actnum",
    "actuator_actearly",
    "actuator_actlimited",
    "actuator_ctrllimited",
    "actuator_forcelimited",
    "actuator_enabled",
    "geom_type",
    "geom_body",
    "geom_priority",
)

_WARP_SCALAR = {torch.float32: wp.float32, torch.float64: wp.float64}


def warp_type(scalar, length):
    """The Warp element type for a scalar type and a vector length (None: scalar, 9: 3x3)."""
    if length is None:
        return scalar
    if length == 9:
        return wp.types.matrix(shape=(3, 3), dtype=scalar)
    return wp.types.vector(length=length, dtype=scalar)


@dataclass(frozen=True)
class PhysicsFlags:
    """Which parts of the physics the model's ``<option><flag>`` leaves switched on, named
    as MuJoCo's disable flags. Fixed at load: change them in the MJCF, the ``MjSpec`` or
    the ``MjModel`` (``m.opt.disableflags``) before ``diffsim.load_mjcf``."""

    gravity: bool = True  # gravity in the bias forces and gravity compensation
    actuation: bool = True  # actuator forces (activations still follow their dynamics)
    spring: bool = True  # joint and tendon springs
    damper: bool = True  # joint and tendon dampers
    contact: bool = True  # contact (the smoothed contact while it is the contact model)
    limit: bool = True  # joint limits (the penalty limits while they are the limit model)
    clampctrl: bool = True  # ctrl clamped to ctrlrange
    eulerdamp: bool = True  # the Euler integrator treats joint damping implicitly
    frictionloss: bool = True  # dof friction loss (with MuJoCo's constraints)
    equality: bool = True  # equality constraints (with MuJoCo's constraints)
    refsafe: bool = True  # constraint time constants at least twice the time step

    @classmethod
    def from_spec(cls, spec) -> "PhysicsFlags":
        off = spec.disabled
        constraint = "constraint" not in off
        return cls(
            gravity="gravity" not in off,
            actuation="actuation" not in off,
            spring="spring" not in off,
            damper="damper" not in off,
            contact=constraint and "contact" not in off,
            limit=constraint and "limit" not in off,
            clampctrl="clampctrl" not in off,
            eulerdamp="eulerdamp" not in off,
            frictionloss=constraint and "frictionloss" not in off,
            equality=constraint and "equality" not in off,
            refsafe="refsafe" not in off,
        )


class ModelCaches:
    """What ``diffsim.autograd`` keeps for a model between calls, so that repeated rollouts
    reuse their recorded steps and buffers; ``diffsim.autograd.free_buffers(model)``
    empties it.

    Attributes:
        simulators: frozenset of parameter names whose gradients the adjoints accumulate
            -> ``Simulator``.
        buffers: batch size -> ``StepBuffers`` for forward-only work (mass matrix, bias forces).
        runners: (batch, frame_skip, ...) -> the recorded control step of a rollout.
        stored_steps: (batch, frame_skip, contact on) -> the pool of recorded steps whose
            intermediates a rollout keeps for its backward pass.
        warmstarts: batch size -> (batch, nv) the constraint solver's warm start, shared by
            every step buffer of that batch size (MuJoCo's ``qacc_warmstart``: the last
            step's solution); each ``step``/``rollout`` call starts it at zero.
        overflows: batch size -> (batch,) contacts dropped beyond ``contact_capacity`` in
            the current call, per environment.
    """

    def __init__(self):
        self.simulators, self.buffers, self.runners, self.stored_steps = {}, {}, {}, {}
        self.warmstarts, self.overflows = {}, {}

    def clear(self):
        for cache in (self.runners, self.stored_steps, self.buffers, self.simulators, self.warmstarts, self.overflows):
            cache.clear()


class Model:
    """A compiled model on ``device`` in ``dtype``; see ``diffsim.load_mjcf``.

    Attributes:
        nq, nv, nu, na, nbody, njnt, ngeom, nsite, ntendon: sizes, as in MuJoCo (``na``:
            activation states).
        dt: physics time step in seconds (``<option timestep>``).
        integrator: ``"Euler"``, ``"implicitfast"`` or ``"RK4"`` (``<option integrator>``).
        flags: which parts of the physics ``<option><flag>`` leaves on (``PhysicsFlags``).
        unsupported: what MuJoCo compiled that diffsim does not simulate yet,
            ``{feature: [elements]}``; also given in one warning at load.
        qpos0: (nq,) reference configuration.
        gravity: (3,) m/s^2.
        limit_stiffness, limit_damping, limit_width: the smooth joint-limit penalty
            (N m/rad, N m s/rad, rad for hinges; SI for slides). Set
            ``limit_stiffness = 0`` to switch limits off.
        contact_stiffness, contact_damping, contact_width, contact_slip: the contact law
            (see ``diffsim.kernels.contact``); ``enable_contact = False`` switches
            contact off. ``nslot`` is the number of potential contact points.
        body_mass, body_inertia, dof_damping, actuator_gear, ...: parameter tensors (see
            ``PARAMETERS``), shared with the kernels.
        tree_walks, contact_kinds: how the simulator launches the tree recursions (the
            whole tree per thread, or level by level) and the contact kernels (one per
            pair kind); index arrays in ``topology``.
        options: how the steps run (``diffsim.options.Options``: graph capture, tree
            layout, the budget of intermediates stored for backward).
        caches: what ``diffsim.autograd`` keeps between calls (``ModelCaches``).
    """

    def __init__(self, spec: ModelSpec, dtype=torch.float32, device="cpu", contact_model: str = "mujoco"):
        if dtype not in _WARP_SCALAR:
            raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
        self.spec = spec
        self.options = Options()
        self.caches = ModelCaches()
        self.dtype = dtype
        self.device = torch.device(device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device {device!r} requested but torch sees no CUDA device")
        if self.device.type == "cuda" and self.device.index is None:  # "cuda" means torch's current GPU
            self.device = torch.device("cuda", torch.cuda.current_device())
        self.wp_device = wp.device_from_torch(self.device)
        self.wp_scalar = _WARP_SCALAR[dtype]

        self.nq, self.nv, self.nu, self.na = spec.nq, spec.nv, spec.nu, spec.na
        self.nva = self.nv + self.na  # the state's second half inside diffsim: qvel, then act
        self.nbody, self.njnt, self.ngeom = spec.nbody, spec.njnt, spec.ngeom
        self.nsite, self.ntendon = spec.nsite, spec.ntendon
        self.integrator = spec.integrator
        self.flags = PhysicsFlags.from_spec(spec)

        def tensor(values, dtype=self.dtype):
            # a copy: editing a parameter in place must not change the spec it came from
            return torch.tensor(np.asarray(values), dtype=dtype, device=self.device).contiguous()

        # physical parameters: torch tensors with Warp views
        self.params = {}
        for name, length in PARAMETERS.items():
            values = np.asarray(getattr(spec, name), dtype=np.float64)
            if length is not None:
                values = values.reshape(-1, 3, 3) if length == 9 else values.reshape(-1, length)
            elif values.ndim == 0 or values.size == 0:
                values = values.reshape(-1)
            self.params[name] = tensor(values)
        self.params["gravity"] = tensor(np.asarray(spec.gravity).reshape(1, 3))
        self.params["density"] = tensor([spec.density])
        self.params["viscosity"] = tensor([spec.viscosity])
        self.params["wind"] = tensor(np.asarray(spec.wind).reshape(1, 3))
        self.params["dt"] = tensor([spec.timestep])
        self.params["limit_params"] = tensor([1000.0, 10.0, 0.01])
        self.params["contact_params"] = tensor(CONTACT_DEFAULTS)

        self.topology = {name: tensor(np.asarray(getattr(spec, name)), torch.int32) for name in TOPOLOGY}
        for name, values in _derived_topology(spec).items():
            self.topology[name] = tensor(values, torch.int32)
        slots = contact_slots(spec)
        for name, values in slots.items():
            self.topology[name] = tensor(values, torch.int32)
        self.nslot = len(slots["slot_kind"])
        arrays, self.tree_walks, self.contact_kinds = _launch_layouts(spec, slots["slot_kind"])
        for name, values in arrays.items():
            self.topology[name] = tensor(values, torch.int32)
        self.n_moment_actuators = int(self.topology["moment_actuators"].numel())
        for name, values in _constraint_rows(spec, self.flags).items():
            self.topology[name] = tensor(values, torch.int32)
        self.nrow_static = int(self.topology["row_id"].numel())
        # the equality rows come first (MuJoCo's order), then friction loss and limits
        from diffsim.kernels.constraints import ROW_FRICTION_DOF

        self.nrow_equality = int((self.topology["row_kind"] < ROW_FRICTION_DOF).sum())
        self.topology["dof_tree"] = tensor(dof_trees(spec), torch.int32)
        # MuJoCo's collision pairs (contact_model "mujoco"): candidates fixed at load
        pairs = candidate_pairs(spec, spec.disabled)
        for name in ("geom1", "geom2", "kind", "maxcon", "conadr", "explicit", "condim"):
            self.topology["collision_" + name] = tensor(pairs[name], torch.int32)
        self.ncollision = len(pairs["geom1"])
        self.nprecon = int(pairs["maxcon"].sum())  # the collision functions' slots per environment
        # a frictional contact's rows: a pyramidal cone's 2 (condim - 1) edges or an elliptic
        # cone's condim directions
        elliptic = spec.cone == "elliptic"
        self.rows_per_contact = max(
            [1 if d == 1 else int(d) if elliptic else 2 * (int(d) - 1) for d in pairs["condim"]], default=0
        )
        self._contact_capacity = min(self.nprecon, DEFAULT_CONTACT_CAPACITY)
        self._collision_unsupported = pairs["unsupported"]
        self.has_free_bodies = bool((self.topology["dof_free_body"] >= 0).any())
        # body forces beyond contact: MuJoCo skips all passive forces when springs and dampers are both off
        passive = self.flags.spring or self.flags.damper
        self.has_gravcomp = passive and self.flags.gravity and bool(np.any(np.asarray(spec.body_gravcomp) != 0))
        self.has_fluid = passive and (spec.density > 0 or spec.viscosity > 0)
        # forces not every model has, gathered by one more launch (dynamics.extra_forces)
        self.has_extra_forces = bool(self.n_moment_actuators or self.ntendon or self.has_gravcomp or self.has_fluid)
        self.enable_contact = self.flags.contact and (self.nslot > 0 or self.ncollision > 0)
        self._contact_model = "smooth"
        self.unsupported = dict(spec.unsupported)
        if self.flags.contact:
            pairs = unsupported_pairs(spec)
            if pairs:
                self.unsupported["geom pairs without a smoothed contact law"] = pairs
        self._unsupported_smooth = dict(self.unsupported)
        self.contact_model = contact_model  # what it leaves unsupported
        if self.unsupported:
            from diffsim.importer import describe_unsupported

            warnings.warn(describe_unsupported(self.unsupported, spec.model_name), stacklevel=3)

        self._warp = {}
        self._build_warp_views()

    def _build_warp_views(self):
        lengths = dict(
            PARAMETERS, gravity=3, density=None, viscosity=None, wind=3, dt=None, limit_params=None, contact_params=None
        )
        self.param_grads = {}
        self._warp_without_grad = {}
        for name, t in self.params.items():
            # Warp accumulates a taped backward pass into a buffer of its own (not
            # ``tensor.grad``): the torch bridge hands torch copies of it.
            self.param_grads[name] = torch.zeros_like(t)
            dtype = warp_type(self.wp_scalar, lengths[name])
            self._warp[name] = wp.from_torch(t, dtype=dtype, requires_grad=True, grad=self.param_grads[name])
            # the same memory without a gradient: an adjoint kernel launched with it adds
            # nothing for this parameter (every environment's atomic add into the same few
            # addresses is what costs, on a GPU)
            self._warp_without_grad[name] = wp.from_torch(t, dtype=dtype, requires_grad=False)
        for name, t in self.topology.items():
            self._warp[name] = wp.from_torch(t, dtype=wp.int32)
        # stand-ins the simulator passes where a flag switches a term off (no gradient)
        vec3 = warp_type(self.wp_scalar, 3)
        self._warp["zero_gravity"] = wp.zeros(1, dtype=vec3, device=self.wp_device)
        self._warp["zero_dof"] = wp.zeros(max(self.nv, 1), dtype=self.wp_scalar, device=self.wp_device)

    @property
    def contact_model(self) -> str:
        """What contacts and limits are: ``"smooth"``, diffsim's smoothed penalty contact and
        penalty limits (differentiable), or ``"mujoco"``, MuJoCo's soft constraints (contacts
        from MuJoCo's collision functions, joint and tendon limits, friction loss, equality
        constraints) solved by MuJoCo's Newton solver, differentiated implicitly."""
        return self._contact_model

    @contact_model.setter
    def contact_model(self, value: str):
        if value not in ("smooth", "mujoco"):
            raise ValueError(f"contact_model must be 'smooth' or 'mujoco', got {value!r}")
        self._contact_model = value
        self.unsupported = dict(self._unsupported_smooth)
        if value == "mujoco":
            # friction loss, fixed tendons' limits and equalities are MuJoCo's constraints; the
            # geom pairs are MuJoCo's collision functions'
            self.unsupported.pop("joint friction loss", None)
            self.unsupported.pop("geom pairs without a smoothed contact law", None)
            self.unsupported.pop("explicit contact pairs (<contact><pair>)", None)
            self.unsupported.pop("contact exclusions (<contact><exclude>)", None)
            if self.flags.contact and self._collision_unsupported:
                self.unsupported["geom pairs without a MuJoCo collision function in diffsim"] = list(
                    self._collision_unsupported
                )
            names = self.spec.tendon_name
            fixed = {f"tendon {names[t]!r}" if names[t] else f"tendon {t}" for t in fixed_tendons(self.spec)}
            equalities = self.spec.eq_name
            # every equality of a type diffsim simulates: the active ones have rows, the inactive
            # ones are inactive in MuJoCo too
            simulated = {
                f"equality {equalities[i]!r}" if equalities[i] else f"equality {i}"
                for i in range(len(equalities))
                if _equality_simulated(self.spec, i)
            }
            left = [element for element in self.unsupported.get("equality constraints", []) if element not in simulated]
            self.unsupported.pop("equality constraints", None)
            if left:
                self.unsupported["equality constraints"] = left
            for feature in ("tendon friction loss", "tendon limits"):
                left = [element for element in self.unsupported.get(feature, []) if element not in fixed]
                if left:
                    self.unsupported[feature] = left
                else:
                    self.unsupported.pop(feature, None)
        self.caches.clear()

    @property
    def contact_capacity(self) -> int:
        """Contacts each environment holds at most with MuJoCo's contacts (default: the
        collision functions' slots, at most ``DEFAULT_CONTACT_CAPACITY``); contacts beyond
        it are dropped, counted, and reported by a warning after the ``step`` or ``rollout`` call
        that dropped them."""
        return self._contact_capacity

    @contact_capacity.setter
    def contact_capacity(self, value: int):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"contact_capacity must be an int >= 0, got {value!r}")
        self._contact_capacity = int(value)
        self.caches.clear()

    @property
    def mujoco_contacts(self) -> bool:
        """True when steps detect contacts with MuJoCo's collision functions."""
        return self._contact_model == "mujoco" and self.enable_contact and self.ncollision > 0

    @property
    def nrow(self) -> int:
        """Constraint rows per environment with MuJoCo's constraints: the limits', friction
        losses' and equalities' candidate rows, then ``rows_per_contact`` per contact slot."""
        contacts = self._contact_capacity * self.rows_per_contact if self.mujoco_contacts else 0
        return self.nrow_static + contacts

    @property
    def constraint_rows(self) -> bool:
        """True when steps run MuJoCo's constraint solver (``contact_model == "mujoco"`` and
        the model has rows)."""
        return self._contact_model == "mujoco" and self.nrow > 0

    def warp(self, name: str, grad: bool = True):
        """The Warp array behind a parameter or topology tensor; a parameter's carries its
        gradient buffer (``param_grads[name]``) unless ``grad`` is False."""
        if not grad and name in self._warp_without_grad:
            return self._warp_without_grad[name]
        return self._warp[name]

    # --- convenient views ------------------------------------------------------------
    def __getattr__(self, name):
        params = self.__dict__.get("params", {})
        if name in params:
            return params[name]
        raise AttributeError(f"Model has no attribute {name!r}")

    def __setattr__(self, name, value):
        params = self.__dict__.get("params", {})
        if name in params and not isinstance(getattr(type(self), name, None), property):
            # the kernels hold this tensor's memory: assignment copies into it
            target = params[name]
            value = torch.as_tensor(value, dtype=target.dtype, device=target.device)
            if value.shape != target.shape:
                raise ValueError(f"model.{name} has shape {tuple(target.shape)}; got {tuple(value.shape)}")
            if not bool(torch.isfinite(value).all()):
                raise ValueError(f"model.{name} must be finite; got NaN or inf")
            if name in NON_NEGATIVE and bool((value < 0).any()):
                raise ValueError(f"model.{name} must be >= 0; got {value.min().item():g}")
            for index in POSITIVE.get(name, ()):
                if float(value.reshape(-1)[index]) <= 0:
                    raise ValueError(f"model.{name}[{index}] must be > 0; got {float(value.reshape(-1)[index]):g}")
            with torch.no_grad():
                target.copy_(value)
            return
        super().__setattr__(name, value)

    @property
    def dt(self) -> float:
        return float(self.params["dt"][0])

    @dt.setter
    def dt(self, value: float):
        self.params["dt"][0] = _checked("dt", value, positive=True)

    @property
    def gravity(self) -> torch.Tensor:
        return self.params["gravity"][0]

    @property
    def limit_stiffness(self) -> float:
        return float(self.params["limit_params"][0])

    @limit_stiffness.setter
    def limit_stiffness(self, value: float):
        self.params["limit_params"][0] = _checked("limit_stiffness", value)

    @property
    def limit_damping(self) -> float:
        return float(self.params["limit_params"][1])

    @limit_damping.setter
    def limit_damping(self, value: float):
        self.params["limit_params"][1] = _checked("limit_damping", value)

    @property
    def limit_width(self) -> float:
        return float(self.params["limit_params"][2])

    @limit_width.setter
    def limit_width(self, value: float):
        self.params["limit_params"][2] = _checked("limit_width", value, positive=True)

    # contact law (see diffsim/kernels/contact.py); each is differentiable through ``contact_params``
    def _contact_property(index, doc):
        def get(self):
            return float(self.params["contact_params"][index])

        def set(self, value):
            self.params["contact_params"][index] = _checked(
                doc.split(":")[0], value, positive=index in POSITIVE["contact_params"]
            )

        return property(get, set, doc=doc)

    contact_stiffness = _contact_property(0, "contact_stiffness: normal stiffness k, N/m")
    contact_damping = _contact_property(1, "contact_damping: Hunt-Crossley damping beta, s/m")
    contact_width = _contact_property(2, "contact_width: smoothing width w of the penetration, m")
    contact_slip = _contact_property(3, "contact_slip: friction regularisation velocity eps, m/s")

    def __repr__(self):
        return (
            f"Model(nq={self.nq}, nv={self.nv}, nu={self.nu}, nbody={self.nbody}, "
            f"dt={self.dt}, dtype={self.dtype}, device='{self.device}')"
        )


def _launch_layouts(spec: ModelSpec, slot_kind) -> tuple:
    """Index arrays that decide how the simulator launches some kernels: ``(arrays,
    tree_walks, contact_kinds)``.

    tree_walks: the index ranges each thread of the tree recursions walks (see
        kinematics.py), ``{"whole": (body ranges, dof ranges), "levels": [(body ranges,
        dof ranges) per depth]}`` by array name: the whole tree in one range, or one
        launch per tree level with a range per body.
    contact_kinds: ``[(kind, name of the array of its slot ids)]``, one contact kernel each.
    """
    arrays = {"body_ranges_whole": np.array([[0, spec.nbody]]), "dof_ranges_whole": np.array([[0, spec.nv]])}
    tree_walks = {"whole": ("body_ranges_whole", "dof_ranges_whole"), "levels": []}
    for depth, bodies in enumerate(body_levels(spec.body_parent)):
        first_dof = np.asarray(spec.body_dofadr)[bodies]
        names = (f"body_ranges_depth{depth}", f"dof_ranges_depth{depth}")
        arrays[names[0]] = np.stack([bodies, bodies + 1], axis=1)
        arrays[names[1]] = np.stack([first_dof, first_dof + np.asarray(spec.body_dofnum)[bodies]], axis=1)
        tree_walks["levels"].append(names)
    slot_kind = np.asarray(slot_kind)
    contact_kinds = []
    for kind in sorted(set(slot_kind.tolist())):
        contact_kinds.append((kind, f"slots_of_kind{kind}"))
        arrays[contact_kinds[-1][1]] = np.flatnonzero(slot_kind == kind)
    return arrays, tree_walks, contact_kinds


def body_levels(body_parent) -> list:
    """Body ids grouped by depth in the kinematic tree: ``[[0], [children of the world], ...]``."""
    depth = [0] * len(body_parent)
    for b in range(1, len(body_parent)):
        depth[b] = depth[body_parent[b]] + 1
    return [
        np.array([b for b in range(len(body_parent)) if depth[b] == d], dtype=np.int32) for d in range(max(depth) + 1)
    ]


def fixed_tendons(spec: ModelSpec) -> list:
    """The tendons whose every wrap is a joint: linear in qpos, diffsim simulates them."""
    return [
        t
        for t in range(spec.ntendon)
        if np.all(
            np.asarray(spec.wrap_type)[spec.tendon_adr[t] : spec.tendon_adr[t] + spec.tendon_num[t]] == WRAP_JOINT
        )
    ]


def _equality_simulated(spec: ModelSpec, i: int) -> bool:
    """Whether diffsim simulates equality ``i``'s type: connect, weld, joint, or tendon
    between fixed tendons."""
    kind = int(spec.eq_type[i])
    if kind == EQ_TENDON:
        fixed = fixed_tendons(spec)
        return all(t in fixed for t in (spec.eq_obj1id[i], spec.eq_obj2id[i]) if t >= 0)
    return kind in (EQ_CONNECT, EQ_WELD, EQ_JOINT)


def _constraint_rows(spec: ModelSpec, flags) -> dict:
    """The candidate constraint rows of MuJoCo's solver, in MuJoCo's order (active joint and
    tendon couplings, dof and tendon friction loss, joint and tendon limits): ``row_kind``
    (constraints.ROW_*), ``row_id`` (the equality, dof, joint or tendon) and, for limits,
    ``row_side`` (-1: lower end, +1: upper end of the range)."""
    from diffsim.kernels import constraints as c

    fixed = fixed_tendons(spec)
    rows = []
    if flags.equality:
        for i in np.flatnonzero(np.asarray(spec.eq_active0)):
            if spec.eq_type[i] == EQ_CONNECT:
                rows += [(c.ROW_EQUALITY_CONNECT, i, axis) for axis in range(3)]
            elif spec.eq_type[i] == EQ_WELD:
                rows += [(c.ROW_EQUALITY_WELD, i, axis) for axis in range(6)]
            elif spec.eq_type[i] == EQ_JOINT:
                rows.append((c.ROW_EQUALITY_JOINT, i, 0))
            elif spec.eq_type[i] == EQ_TENDON and all(
                t in fixed for t in (spec.eq_obj1id[i], spec.eq_obj2id[i]) if t >= 0
            ):
                rows.append((c.ROW_EQUALITY_TENDON, i, 0))
    if flags.frictionloss:
        rows += [(c.ROW_FRICTION_DOF, k, 0) for k in np.flatnonzero(np.asarray(spec.dof_frictionloss) > 0)]
        rows += [(c.ROW_FRICTION_TENDON, t, 0) for t in fixed if spec.tendon_frictionloss[t] > 0]
    if flags.limit:
        for j in range(spec.njnt):
            if spec.jnt_limited[j] and spec.jnt_type[j] in (JOINT_HINGE, JOINT_SLIDE):
                rows += [(c.ROW_LIMIT_JOINT, j, -1), (c.ROW_LIMIT_JOINT, j, 1)]
            elif spec.jnt_limited[j] and spec.jnt_type[j] == JOINT_BALL:
                rows.append((c.ROW_LIMIT_JOINT, j, 0))  # one cone on the rotation angle
        rows += [(c.ROW_LIMIT_TENDON, t, side) for t in fixed if spec.tendon_limited[t] for side in (-1, 1)]
    as_int = lambda values: np.asarray(values, dtype=np.int32).reshape(-1)  # noqa: E731
    return {name: as_int([row[i] for row in rows]) for i, name in enumerate(("row_kind", "row_id", "row_side"))}


def dof_trees(spec: ModelSpec) -> np.ndarray:
    """(nv,) the kinematic tree of each dof, named by its root body (the solver's islands)."""
    root = np.zeros(spec.nbody, dtype=np.int32)
    for b in range(1, spec.nbody):
        root[b] = b if spec.body_parent[b] == 0 else root[spec.body_parent[b]]
    return root[np.asarray(spec.dof_body, dtype=np.int64)]


def _derived_topology(spec: ModelSpec) -> dict:
    """Index arrays the kernels need beyond MuJoCo's own.

    body_lastdof[b]: the last dof on the path from the world to body ``b`` (-1: none);
        the body moves with that dof's accumulated velocity.
    dof_rate_src[k]: the dof whose incoming velocity MuJoCo uses for ``cdof_dot[k]``.
    dof_ancestor[k, j]: 1 when dof ``j`` is a strict ancestor of dof ``k``.
    dof_subtree_end[k]: one past the last descendant of dof ``k`` (they follow it).
    dof_ancestors[k]: the number of dof ``k``'s strict ancestors, then their indices,
    ascending (the rest of the row unused), so that kernels visit only those.
    jnt_actuator_adr, jnt_actuator_num, actuator_by_joint: the motors computed in each
        hinge or slide joint's own thread; moment_actuators: the other actuators.
    dof_free_body[k]: the first dof of the standalone free body ``k`` belongs to (one free
        joint, no other dofs or mass below it: MuJoCo's mj_isFreeBody), -1 for other dofs.
    """
    nv, nbody = spec.nv, spec.nbody
    lastdof = np.full(nbody, -1, dtype=np.int32)
    for b in range(1, nbody):
        if spec.body_dofnum[b] > 0:
            lastdof[b] = spec.body_dofadr[b] + spec.body_dofnum[b] - 1
        else:
            lastdof[b] = lastdof[spec.body_parent[b]]

    rate_src = np.arange(nv, dtype=np.int32)
    for j in range(spec.njnt):
        adr = spec.jnt_dofadr[j]
        if spec.jnt_type[j] == JOINT_BALL:
            rate_src[adr : adr + 3] = adr
        elif spec.jnt_type[j] == JOINT_FREE:
            rate_src[adr : adr + 3] = -1
            rate_src[adr + 3 : adr + 6] = adr + 3

    parents = np.asarray(spec.dof_parent, dtype=np.int64)
    late = np.flatnonzero(parents >= np.arange(nv))
    if len(late):  # also what keeps the ancestor walk below from cycling
        k = int(late[0])
        raise ValueError(f"dof {k}'s parent dof {parents[k]} comes after it: dofs must be in depth-first order")
    ancestor = np.zeros((max(nv, 1), max(nv, 1)), dtype=np.int32)
    for k in range(nv):
        j = spec.dof_parent[k]
        while j >= 0:
            ancestor[k, j] = 1
            j = spec.dof_parent[j]
    depth = ancestor[:nv].sum(axis=1) if nv else np.zeros(0, dtype=np.int64)
    ancestors = np.zeros((max(nv, 1), 1 + int(depth.max(initial=0))), dtype=np.int32)
    for k in range(nv):
        ancestors[k, 0] = depth[k]
        ancestors[k, 1 : 1 + depth[k]] = np.flatnonzero(ancestor[k])
    # the descendants of a dof are the dofs right after it, up to the end of its subtree: one
    # pass from the last dof up gives each subtree's end and size, and the two must agree
    subtree_end = np.arange(1, nv + 1, dtype=np.int32)
    size = np.ones(nv, dtype=np.int64)
    for k in range(nv - 1, -1, -1):
        j = spec.dof_parent[k]
        if j >= 0:
            subtree_end[j] = max(subtree_end[j], subtree_end[k])
            size[j] += size[k]
    broken = np.flatnonzero(subtree_end - np.arange(nv) != size)
    if len(broken):
        raise ValueError(f"the descendants of dof {broken[0]} are not contiguous: dofs must be in depth-first order")
    # motors (no activation, fixed gain, no bias) on one hinge or slide joint are computed in
    # that joint's thread (dynamics.smooth_forces); the other actuators through their moments
    # (actuation.transmission), as are all actuators of a joint with an actuatorfrcrange (the
    # clamp of their sum is in dynamics.extra_forces). implicitfast needs every moment, so
    # there all go the second way.
    on_joint = [
        u
        for u in range(spec.nu)
        if spec.integrator != "implicitfast"
        and spec.actuator_trntype[u] == TRN_JOINT
        and spec.jnt_type[spec.actuator_trnid[u, 0]] in (JOINT_HINGE, JOINT_SLIDE)
        and not spec.jnt_actfrclimited[spec.actuator_trnid[u, 0]]
        and spec.actuator_dyntype[u] == DYN_NONE
        and spec.actuator_gaintype[u] == GAIN_FIXED
        and spec.actuator_biastype[u] == BIAS_NONE
    ]
    moment_actuators = np.array([u for u in range(spec.nu) if u not in set(on_joint)], dtype=np.int32)
    joint_of = np.array([spec.actuator_trnid[u, 0] for u in on_joint], dtype=np.int64)
    by_joint = np.array(on_joint, dtype=np.int32)[np.argsort(joint_of, kind="stable")]
    num = np.bincount(joint_of, minlength=spec.njnt).astype(np.int32)
    first_actuator = (np.cumsum(num) - num).astype(np.int32)
    free_body = np.full(max(nv, 1), -1, dtype=np.int32)
    mass = np.asarray(spec.body_mass, dtype=np.float64)
    for b in range(1, nbody):
        end = spec.body_subtree_end[b]
        if spec.body_jntnum[b] != 1 or spec.jnt_type[spec.body_jntadr[b]] != JOINT_FREE:
            continue
        if np.sum(spec.body_dofnum[b:end]) == 6 and float(np.sum(mass[b:end])) == float(mass[b]):
            adr = spec.body_dofadr[b]
            free_body[adr : adr + 6] = adr
    return {
        "jnt_actuator_adr": first_actuator,
        "jnt_actuator_num": num,
        "actuator_by_joint": by_joint,
        "moment_actuators": moment_actuators,
        "dof_free_body": free_body,
        "body_lastdof": lastdof,
        "dof_rate_src": rate_src,
        "dof_ancestor": ancestor,
        "dof_ancestors": ancestors,
        "dof_subtree_end": subtree_end,
    }
