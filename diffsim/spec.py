"""ModelSpec: a compiled model as plain numpy arrays (no Warp, no torch).

``diffsim.importer`` fills one from the ``mujoco.MjModel`` that MuJoCo's compiler makes
of an MJCF or URDF file, so every field below is MuJoCo's field of the same name (with
the exceptions noted), and indices and conventions carry over one to one:

* bodies are numbered in depth-first (document) order, body 0 is the world, and the
  subtree of body ``b`` is the contiguous range ``b .. body_subtree_end[b] - 1``;
* joints are numbered in document order, and each joint's ``qpos``/``qvel`` entries
  start at ``jnt_qposadr``/``jnt_dofadr``;
* quaternions are ``(w, x, y, z)``; every pose is relative to the parent body's frame;
* lengths in metres, masses in kilograms, angles in radians.

``model.Model`` moves a ModelSpec onto a device.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Joint types, numbered as MuJoCo's mjtJoint.
JOINT_FREE, JOINT_BALL, JOINT_SLIDE, JOINT_HINGE = 0, 1, 2, 3
JOINT_NQ = {JOINT_FREE: 7, JOINT_BALL: 4, JOINT_SLIDE: 1, JOINT_HINGE: 1}
JOINT_NV = {JOINT_FREE: 6, JOINT_BALL: 3, JOINT_SLIDE: 1, JOINT_HINGE: 1}

# Geom types, numbered as MuJoCo's mjtGeom.
GEOM_PLANE, GEOM_HFIELD, GEOM_SPHERE, GEOM_CAPSULE, GEOM_ELLIPSOID, GEOM_CYLINDER, GEOM_BOX = range(7)

# Actuator transmission, dynamics, gain and bias types: the ones diffsim simulates,
# numbered as MuJoCo's mjtTrn, mjtDyn, mjtGain and mjtBias.
TRN_JOINT, TRN_TENDON, TRN_SITE = 0, 3, 4
DYN_NONE, DYN_INTEGRATOR, DYN_FILTER, DYN_FILTEREXACT = 0, 1, 2, 3
GAIN_FIXED, GAIN_AFFINE = 0, 1
BIAS_NONE, BIAS_AFFINE = 0, 1

# Equality types diffsim simulates (MuJoCo's mjtEq).
EQ_CONNECT, EQ_WELD, EQ_JOINT, EQ_TENDON = 0, 1, 2, 3
OBJ_SITE = 6  # mjtObj's mjOBJ_SITE: an equality between sites (else between bodies)

# Tendon wrap type of a fixed tendon's joint (mjtWrap's mjWRAP_JOINT).
WRAP_JOINT = 1

# Integrators, by MuJoCo's name (<option integrator>).
INTEGRATORS = ("Euler", "RK4", "implicit", "implicitfast")


@dataclass
class ModelSpec:
    """Arrays of a compiled model. Shapes use ``nbody``, ``njnt``, ``nq``, ``nv``, ``nu``,
    ``ngeom``, ``nsite``, ``ntendon`` and ``nwrap``, as in MuJoCo."""

    # --- options -----------------------------------------------------------------------
    timestep: float = 0.002  # s, <option timestep>
    gravity: np.ndarray = field(default_factory=lambda: np.array([0.0, 0.0, -9.81]))  # (3,) m/s^2
    integrator: str = "Euler"  # one of INTEGRATORS
    disabled: frozenset = frozenset()  # MuJoCo's disable flags that are set, by name ("gravity", "contact", ...)
    enabled: frozenset = frozenset()  # MuJoCo's enable flags that are set, by name ("energy", ...)
    density: float = 0.0  # kg/m^3, of the medium (fluid forces)
    viscosity: float = 0.0  # Pa s, of the medium
    wind: np.ndarray = field(default_factory=lambda: np.zeros(3))  # (3,) m/s, velocity of the medium
    iterations: int = 100  # <option iterations>: the constraint solver's Newton iterations at most
    tolerance: float = 1e-8  # <option tolerance>: its stopping tolerance (scaled improvement or gradient)
    ls_iterations: int = 50  # <option ls_iterations>: its line search's iterations at most
    ls_tolerance: float = 0.01  # <option ls_tolerance>: its line search's tolerance, relative to tolerance
    cone: str = "pyramidal"  # <option cone>: "pyramidal" or "elliptic" friction cones (MuJoCo's contacts)
    impratio: float = 1.0  # <option impratio>: frictional-to-normal constraint impedance ratio

    # --- bodies (nbody, body 0 = world) ------------------------------------------------
    body_name: list = field(default_factory=list)  # nbody str ("world" for 0)
    body_parent: np.ndarray = None  # (nbody,) int, parent body index (-1 for world; MuJoCo: body_parentid)
    body_pos: np.ndarray = None  # (nbody, 3) frame origin in parent frame
    body_quat: np.ndarray = None  # (nbody, 4) frame orientation in parent frame (w,x,y,z)
    body_mass: np.ndarray = None  # (nbody,) kg
    body_ipos: np.ndarray = None  # (nbody, 3) centre of mass in body frame
    body_inertia: np.ndarray = (
        None  # (nbody, 3, 3) inertia about the COM in body axes, kg m^2 (MuJoCo: principal + iquat)
    )
    body_principal_inertia: np.ndarray = (
        None  # (nbody, 3) kg m^2, principal moments (MuJoCo: body_inertia); fluid model
    )
    body_iquat: np.ndarray = None  # (nbody, 4) principal axes in body frame (w,x,y,z); fluid model
    body_invweight0: np.ndarray = None  # (nbody, 2) MuJoCo's translational and rotational inverse weights at qpos0
    body_gravcomp: np.ndarray = None  # (nbody,) fraction of the body's weight cancelled by gravity compensation
    body_jntadr: np.ndarray = None  # (nbody,) first joint (-1 if none)
    body_jntnum: np.ndarray = None  # (nbody,)
    body_dofadr: np.ndarray = None  # (nbody,) first dof (-1 if none)
    body_dofnum: np.ndarray = None  # (nbody,)
    body_rootid: np.ndarray = None  # (nbody,) the world child at the top of this body's tree (0 for world)
    body_subtree_end: np.ndarray = None  # (nbody,) one past the last body of the subtree (DFS order; diffsim's)
    body_weldid: np.ndarray = None  # (nbody,) the body this one is welded to (no joints between them)

    # --- joints (njnt) -----------------------------------------------------------------
    jnt_name: list = field(default_factory=list)
    jnt_type: np.ndarray = None  # (njnt,) JOINT_* constants
    jnt_body: np.ndarray = None  # (njnt,) (MuJoCo: jnt_bodyid)
    jnt_qposadr: np.ndarray = None  # (njnt,)
    jnt_dofadr: np.ndarray = None  # (njnt,)
    jnt_pos: np.ndarray = None  # (njnt, 3) anchor in body frame
    jnt_axis: np.ndarray = None  # (njnt, 3) unit axis in body frame (hinge, slide)
    jnt_limited: np.ndarray = None  # (njnt,) bool
    jnt_range: np.ndarray = None  # (njnt, 2) rad or m (ball: [0, max angle])
    jnt_stiffness: np.ndarray = None  # (njnt,) N m/rad or N/m
    jnt_margin: np.ndarray = None  # (njnt,) rad or m: a limit row exists within this distance of the range
    jnt_solref: np.ndarray = None  # (njnt, 2) the limit's reference (timeconst, dampratio) or (-stiffness, -damping)
    jnt_solimp: np.ndarray = None  # (njnt, 5) the limit's impedance (d0, dwidth, width, midpoint, power)
    jnt_actfrclimited: np.ndarray = None  # (njnt,) bool: the actuators' total force on the joint is clamped
    jnt_actfrcrange: np.ndarray = None  # (njnt, 2) N m or N
    jnt_actgravcomp: np.ndarray = None  # (njnt,) bool: gravity compensation counts as actuator force

    # --- dofs (nv) ---------------------------------------------------------------------
    dof_body: np.ndarray = None  # (nv,) (MuJoCo: dof_bodyid)
    dof_jnt: np.ndarray = None  # (nv,) (MuJoCo: dof_jntid)
    dof_parent: np.ndarray = None  # (nv,) previous dof on the path to the root (-1 if none)
    dof_damping: np.ndarray = None  # (nv,) N m s/rad or N s/m
    dof_armature: np.ndarray = None  # (nv,) kg m^2 or kg
    dof_frictionloss: np.ndarray = None  # (nv,) N m or N; MuJoCo's constraints only
    dof_solref: np.ndarray = None  # (nv, 2) friction loss's reference
    dof_solimp: np.ndarray = None  # (nv, 5) friction loss's impedance
    dof_invweight0: np.ndarray = None  # (nv,) MuJoCo's inverse weight at qpos0: the rows' diagApprox

    # --- generalised positions (nq) ----------------------------------------------------
    qpos0: np.ndarray = None  # (nq,) reference configuration
    qpos_spring: np.ndarray = None  # (nq,) spring rest position (springref)

    # --- sites (nsite): frames actuators can pull on ------------------------------------
    site_name: list = field(default_factory=list)
    site_body: np.ndarray = None  # (nsite,) (MuJoCo: site_bodyid)
    site_pos: np.ndarray = None  # (nsite, 3) in body frame
    site_quat: np.ndarray = None  # (nsite, 4) in body frame (w,x,y,z)

    # --- tendons (ntendon, nwrap): fixed tendons, linear in the joint positions --------
    tendon_name: list = field(default_factory=list)
    tendon_adr: np.ndarray = None  # (ntendon,) first wrap
    tendon_num: np.ndarray = None  # (ntendon,) number of wraps
    tendon_stiffness: np.ndarray = None  # (ntendon,) N/m
    tendon_damping: np.ndarray = None  # (ntendon,) N s/m
    tendon_lengthspring: np.ndarray = None  # (ntendon, 2) m, spring rest length (a dead band when the two differ)
    tendon_limited: np.ndarray = None  # (ntendon,) bool; limits are MuJoCo's constraints only
    tendon_range: np.ndarray = None  # (ntendon, 2) m
    tendon_margin: np.ndarray = None  # (ntendon,) m
    tendon_frictionloss: np.ndarray = None  # (ntendon,) N; MuJoCo's constraints only
    tendon_solref_lim: np.ndarray = None  # (ntendon, 2)
    tendon_solimp_lim: np.ndarray = None  # (ntendon, 5)
    tendon_solref_fri: np.ndarray = None  # (ntendon, 2)
    tendon_solimp_fri: np.ndarray = None  # (ntendon, 5)
    tendon_invweight0: np.ndarray = None  # (ntendon,) MuJoCo's inverse weight at qpos0: the rows' diagApprox
    wrap_type: np.ndarray = None  # (nwrap,) WRAP_JOINT for a fixed tendon's joint
    wrap_objid: np.ndarray = None  # (nwrap,) joint index
    wrap_prm: np.ndarray = None  # (nwrap,) the joint's coefficient in the tendon's length

    # --- equality constraints (neq): MuJoCo's constraints only ---------------------------
    eq_name: list = field(default_factory=list)
    eq_type: np.ndarray = None  # (neq,) MuJoCo's mjtEq: EQ_CONNECT, EQ_JOINT and EQ_TENDON are simulated
    eq_objtype: np.ndarray = None  # (neq,) mjtObj of the two objects (bodies or sites for connect)
    eq_obj1id: np.ndarray = None  # (neq,) first body, site, joint or tendon
    eq_obj2id: np.ndarray = None  # (neq,) second body, site, joint or tendon (-1: none)
    eq_active0: np.ndarray = None  # (neq,) bool: active at the start
    eq_solref: np.ndarray = None  # (neq, 2)
    eq_solimp: np.ndarray = None  # (neq, 5)
    eq_data: np.ndarray = (
        None  # (neq, 12) couplings: polynomial coefficients 0..4; connect: the anchors in the bodies' frames
    )
    tendon_length0: np.ndarray = None  # (ntendon,) m, tendon length at qpos0: the couplings' reference

    # --- actuators (nu), as MuJoCo's: force = gain * (act or ctrl) + bias, through a transmission
    actuator_name: list = field(default_factory=list)
    actuator_trntype: np.ndarray = None  # (nu,) TRN_* constants
    actuator_trnid: np.ndarray = None  # (nu, 2) joint, tendon or site index; refsite (-1: none)
    actuator_gear: np.ndarray = None  # (nu, 6) transmission gear
    actuator_dyntype: np.ndarray = None  # (nu,) DYN_* constants
    actuator_gaintype: np.ndarray = None  # (nu,) GAIN_* constants
    actuator_biastype: np.ndarray = None  # (nu,) BIAS_* constants
    actuator_dynprm: np.ndarray = None  # (nu, 10) dynamics parameters (dynprm[0]: filter time constant, s)
    actuator_gainprm: np.ndarray = None  # (nu, 10) gain = gainprm[0] + gainprm[1] length + gainprm[2] velocity
    actuator_biasprm: np.ndarray = None  # (nu, 10) bias = biasprm[0] + biasprm[1] length + biasprm[2] velocity
    actuator_actadr: np.ndarray = None  # (nu,) first activation state (-1: none)
    actuator_actnum: np.ndarray = None  # (nu,) number of activation states (0 or 1)
    actuator_actearly: np.ndarray = None  # (nu,) bool: the force uses the next step's activation
    actuator_actlimited: np.ndarray = None  # (nu,) bool
    actuator_actrange: np.ndarray = None  # (nu, 2)
    actuator_ctrllimited: np.ndarray = None  # (nu,) bool
    actuator_ctrlrange: np.ndarray = None  # (nu, 2)
    actuator_forcelimited: np.ndarray = None  # (nu,) bool
    actuator_forcerange: np.ndarray = None  # (nu, 2) N or N m
    actuator_enabled: np.ndarray = None  # (nu,) bool: False for actuators in a group <option actuatorgroupdisable>

    # --- geoms (ngeom): for contact and rendering --------------------------------------
    geom_name: list = field(default_factory=list)
    geom_type: np.ndarray = None  # (ngeom,) GEOM_* constants
    geom_body: np.ndarray = None  # (ngeom,) (MuJoCo: geom_bodyid)
    geom_pos: np.ndarray = None  # (ngeom, 3) in body frame
    geom_quat: np.ndarray = None  # (ngeom, 4) in body frame (w,x,y,z)
    geom_size: np.ndarray = None  # (ngeom, 3) MuJoCo's size convention (radius, half-length, ...)
    geom_friction: np.ndarray = None  # (ngeom, 3) sliding, torsional, rolling
    geom_contype: np.ndarray = None  # (ngeom,) int bitmask
    geom_conaffinity: np.ndarray = None  # (ngeom,) int bitmask
    geom_rgba: np.ndarray = None  # (ngeom, 4)
    geom_condim: np.ndarray = None  # (ngeom,) contact dimensionality: 1, 3, 4 or 6
    geom_priority: np.ndarray = None  # (ngeom,) the higher priority's contact parameters win
    geom_solmix: np.ndarray = None  # (ngeom,) weight of this geom's solref/solimp in a mixed pair
    geom_solref: np.ndarray = None  # (ngeom, 2) contact solref
    geom_solimp: np.ndarray = None  # (ngeom, 5) contact solimp
    geom_margin: np.ndarray = None  # (ngeom,) m, contacts are made within this distance
    geom_gap: np.ndarray = None  # (ngeom,) m, of the margin, the part where contacts make no force
    geom_rbound: np.ndarray = None  # (ngeom,) m, radius of the bounding sphere (0: a plane)
    geom_adhesion: np.ndarray = None  # (ngeom,) adhesion (not simulated; reported when nonzero)

    # --- explicit contact pairs (npair, <contact><pair>) and body exclusions (nexclude)
    pair_geom1: np.ndarray = None  # (npair,)
    pair_geom2: np.ndarray = None  # (npair,)
    pair_dim: np.ndarray = None  # (npair,) condim
    pair_friction: np.ndarray = None  # (npair, 5) tangent1, tangent2, spin, roll1, roll2
    pair_solref: np.ndarray = None  # (npair, 2)
    pair_solreffriction: np.ndarray = None  # (npair, 2) (0, 0): solref
    pair_solimp: np.ndarray = None  # (npair, 5)
    pair_margin: np.ndarray = None  # (npair,) m
    pair_gap: np.ndarray = None  # (npair,) m
    exclude_signature: np.ndarray = None  # (nexclude,) (body1 << 16) + body2, body1 < body2

    # --- what MuJoCo compiled that diffsim does not simulate yet -------------------------
    unsupported: dict = field(default_factory=dict)  # feature -> list of the elements that use it
    model_name: str = ""

    @property
    def nbody(self) -> int:
        return len(self.body_parent)

    @property
    def njnt(self) -> int:
        return len(self.jnt_type)

    @property
    def nq(self) -> int:
        return len(self.qpos0)

    @property
    def nv(self) -> int:
        return len(self.dof_body)

    @property
    def nu(self) -> int:
        return len(self.actuator_trntype)

    @property
    def na(self) -> int:
        return int(np.sum(self.actuator_actnum)) if self.nu else 0

    @property
    def ngeom(self) -> int:
        return len(self.geom_type)

    @property
    def nsite(self) -> int:
        return len(self.site_body)

    @property
    def ntendon(self) -> int:
        return len(self.tendon_adr)

    @property
    def nwrap(self) -> int:
        return len(self.wrap_type)
