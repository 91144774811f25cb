"""Bridges to MuJoCo (optional dependency ``mujoco``).

``spec_from_mujoco`` turns a compiled ``mujoco.MjModel`` into a ``ModelSpec``, so any
model MuJoCo compiles can be simulated by diffsim with identical indices; it also gives
the tests an import path that does not go through diffsim's own MJCF parser.
"""
from __future__ import annotations

import numpy as np

from diffsim.spec import ModelSpec


def require_mujoco():
    """Import and return ``mujoco``, with a clear error when it is missing."""
    try:
        import mujoco
    except ImportError as err:  # pragma: no cover - exercised only without mujoco
        raise ImportError("this feature needs MuJoCo: pip install 'diffsim[dev]' or pip install mujoco") from err
    return mujoco


def _quat_to_matrix(q):
    w, x, y, z = q
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])


def spec_from_mujoco(m) -> ModelSpec:
    """A ``ModelSpec`` holding the physics of a compiled ``mujoco.MjModel``.

    Motors are read from the first column of ``actuator_gear`` and the joint
    transmission; only joint-transmission actuators are supported.
    """
    mujoco = require_mujoco()

    def names(objtype, count):
        return [mujoco.mj_id2name(m, objtype, i) or "" for i in range(count)]

    nbody = m.nbody
    subtree_end = np.arange(1, nbody + 1, dtype=np.int32)
    for b in range(nbody - 1, 0, -1):
        parent = m.body_parentid[b]
        subtree_end[parent] = max(subtree_end[parent], subtree_end[b])
    inertia = np.stack([
        _quat_to_matrix(m.body_iquat[b]) @ np.diag(m.body_inertia[b]) @ _quat_to_matrix(m.body_iquat[b]).T
        for b in range(nbody)])
    parent = m.body_parentid.astype(np.int32).copy()
    parent[0] = -1
    if m.nu and np.any(m.actuator_trntype != mujoco.mjtTrn.mjTRN_JOINT):
        raise ValueError("spec_from_mujoco supports joint-transmission actuators only")

    return ModelSpec(
        timestep=float(m.opt.timestep),
        gravity=np.array(m.opt.gravity, dtype=np.float64),
        integrator="Euler",
        body_name=names(mujoco.mjtObj.mjOBJ_BODY, nbody),
        body_parent=parent,
        body_pos=m.body_pos.copy(), body_quat=m.body_quat.copy(),
        body_mass=m.body_mass.copy(), body_ipos=m.body_ipos.copy(), body_inertia=inertia,
        body_jntadr=m.body_jntadr.astype(np.int32), body_jntnum=m.body_jntnum.astype(np.int32),
        body_dofadr=m.body_dofadr.astype(np.int32), body_dofnum=m.body_dofnum.astype(np.int32),
        body_rootid=m.body_rootid.astype(np.int32), body_subtree_end=subtree_end,
        jnt_name=names(mujoco.mjtObj.mjOBJ_JOINT, m.njnt),
        jnt_type=m.jnt_type.astype(np.int32), jnt_body=m.jnt_bodyid.astype(np.int32),
        jnt_qposadr=m.jnt_qposadr.astype(np.int32), jnt_dofadr=m.jnt_dofadr.astype(np.int32),
        jnt_pos=m.jnt_pos.copy(), jnt_axis=m.jnt_axis.copy(),
        jnt_limited=m.jnt_limited.astype(np.int32), jnt_range=m.jnt_range.copy(),
        jnt_stiffness=m.jnt_stiffness.copy(),
        dof_body=m.dof_bodyid.astype(np.int32), dof_jnt=m.dof_jntid.astype(np.int32),
        dof_parent=m.dof_parentid.astype(np.int32), dof_damping=m.dof_damping.copy(),
        dof_armature=m.dof_armature.copy(), dof_frictionloss=m.dof_frictionloss.copy(),
        qpos0=m.qpos0.copy(), qpos_spring=m.qpos_spring.copy(),
        actuator_name=names(mujoco.mjtObj.mjOBJ_ACTUATOR, m.nu),
        actuator_trnid=m.actuator_trnid[:, 0].astype(np.int32),
        actuator_gear=m.actuator_gear[:, 0].copy(),
        actuator_ctrllimited=m.actuator_ctrllimited.astype(np.int32),
        actuator_ctrlrange=m.actuator_ctrlrange.copy(),
        actuator_forcelimited=m.actuator_forcelimited.astype(np.int32),
        actuator_forcerange=m.actuator_forcerange.copy(),
        geom_name=names(mujoco.mjtObj.mjOBJ_GEOM, m.ngeom),
        geom_type=m.geom_type.astype(np.int32), geom_body=m.geom_bodyid.astype(np.int32),
        geom_pos=m.geom_pos.copy(), geom_quat=m.geom_quat.copy(), geom_size=m.geom_size.copy(),
        geom_friction=m.geom_friction.copy(), geom_contype=m.geom_contype.astype(np.int32),
        geom_conaffinity=m.geom_conaffinity.astype(np.int32), geom_rgba=m.geom_rgba.copy(),
    )
