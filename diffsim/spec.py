"""ModelSpec: a compiled MJCF model as plain numpy arrays (no Warp, no torch).

The layout follows MuJoCo's compiled ``mjModel`` so that indices, ``qpos``/``qvel``
addresses and conventions carry over one to one:

* bodies are numbered in depth-first (document) order, body 0 is the world, and the
  subtree of body ``b`` is the contiguous range ``b .. body_subtree_end[b] - 1``;
* joints are numbered in document order, and each joint's ``qpos``/``qvel`` entries
  start at ``jnt_qposadr``/``jnt_dofadr``;
* quaternions are ``(w, x, y, z)``; every pose is relative to the parent body's frame;
* lengths in metres, masses in kilograms, angles in radians (``angle="degree"`` is
  converted at import).

``mjcf.parse_mjcf`` produces a ModelSpec; ``model.Model`` moves one onto a device.
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


@dataclass
class ModelSpec:
    """Arrays of a compiled model. Shapes use ``nbody``, ``njnt``, ``nq``, ``nv``, ``nu``, ``ngeom``."""

    # --- options ---------------------------------------------------------------
    timestep: float = 0.002  # s, <option timestep>
    gravity: np.ndarray = field(default_factory=lambda: np.array([0.0, 0.0, -9.81]))  # (3,) m/s^2
    integrator: str = "Euler"  # <option integrator>; diffsim always steps Euler

    # --- bodies (nbody, body 0 = world) ------------------------------------------
    body_name: list = field(default_factory=list)  # nbody str ("world" for 0)
    body_parent: np.ndarray = None  # (nbody,) int, parent body index (-1 for world)
    body_pos: np.ndarray = None  # (nbody, 3) frame origin in parent frame
    body_quat: np.ndarray = None  # (nbody, 4) frame orientation in parent frame (w,x,y,z)
    body_mass: np.ndarray = None  # (nbody,) kg
    body_ipos: np.ndarray = None  # (nbody, 3) centre of mass in body frame
    body_inertia: np.ndarray = None  # (nbody, 3, 3) inertia tensor about the COM, body frame axes, kg m^2
    body_jntadr: np.ndarray = None  # (nbody,) first joint (-1 if none)
    body_jntnum: np.ndarray = None  # (nbody,)
    body_dofadr: np.ndarray = None  # (nbody,) first dof (-1 if none)
    body_dofnum: np.ndarray = None  # (nbody,)
    body_rootid: np.ndarray = None  # (nbody,) the world child at the top of this body's tree (0 for world)
    body_subtree_end: np.ndarray = None  # (nbody,) one past the last body of the subtree (DFS order)

    # --- joints (njnt) -----------------------------------------------------------
    jnt_name: list = field(default_factory=list)
    jnt_type: np.ndarray = None  # (njnt,) JOINT_* constants
    jnt_body: np.ndarray = None  # (njnt,)
    jnt_qposadr: np.ndarray = None  # (njnt,)
    jnt_dofadr: np.ndarray = None  # (njnt,)
    jnt_pos: np.ndarray = None  # (njnt, 3) anchor in body frame
    jnt_axis: np.ndarray = None  # (njnt, 3) unit axis in body frame (hinge, slide)
    jnt_limited: np.ndarray = None  # (njnt,) bool
    jnt_range: np.ndarray = None  # (njnt, 2) rad or m (ball: [0, max angle])
    jnt_stiffness: np.ndarray = None  # (njnt,) N m/rad or N/m

    # --- dofs (nv) ---------------------------------------------------------------
    dof_body: np.ndarray = None  # (nv,)
    dof_jnt: np.ndarray = None  # (nv,)
    dof_parent: np.ndarray = None  # (nv,) previous dof on the path to the root (-1 if none)
    dof_damping: np.ndarray = None  # (nv,) N m s/rad or N s/m
    dof_armature: np.ndarray = None  # (nv,) kg m^2 or kg
    dof_frictionloss: np.ndarray = None  # (nv,) parsed, not simulated

    # --- generalised positions (nq) --------------------------------------------------
    qpos0: np.ndarray = None  # (nq,) reference configuration (hinge/slide: ref; quats: body orientation identity)
    qpos_spring: np.ndarray = None  # (nq,) spring rest position (springref)

    # --- actuators (nu): motors on hinge/slide joints ----------------------------------
    actuator_name: list = field(default_factory=list)
    actuator_trnid: np.ndarray = None  # (nu,) joint index
    actuator_gear: np.ndarray = None  # (nu,) scalar gear (first entry of MJCF gear)
    actuator_ctrllimited: np.ndarray = None  # (nu,) bool
    actuator_ctrlrange: np.ndarray = None  # (nu, 2)
    actuator_forcelimited: np.ndarray = None  # (nu,) bool
    actuator_forcerange: np.ndarray = None  # (nu, 2) N or N m

    # --- geoms (ngeom): for contact and rendering -------------------------------------
    geom_name: list = field(default_factory=list)
    geom_type: np.ndarray = None  # (ngeom,) GEOM_* constants
    geom_body: np.ndarray = None  # (ngeom,)
    geom_pos: np.ndarray = None  # (ngeom, 3) in body frame
    geom_quat: np.ndarray = None  # (ngeom, 4) in body frame (w,x,y,z)
    geom_size: np.ndarray = None  # (ngeom, 3) MuJoCo's size convention (radius, half-length, ...)
    geom_friction: np.ndarray = None  # (ngeom, 3) sliding, torsional, rolling
    geom_contype: np.ndarray = None  # (ngeom,) int bitmask
    geom_conaffinity: np.ndarray = None  # (ngeom,) int bitmask
    geom_rgba: np.ndarray = None  # (ngeom, 4)

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
        return len(self.actuator_trnid)

    @property
    def ngeom(self) -> int:
        return len(self.geom_type)
