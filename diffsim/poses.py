"""Forward kinematics in numpy, one configuration at a time: the body and geom poses of a
state, as MuJoCo's ``xpos``/``xmat`` and ``geom_xpos``/``geom_xmat``. For drawing
(``diffsim.viz``) and for setting up environments; the simulator's own kinematics run
in Warp (``diffsim.kernels.kinematics``).
"""

from __future__ import annotations

import numpy as np

from diffsim.spec import JOINT_BALL, JOINT_FREE, JOINT_HINGE, JOINT_SLIDE, ModelSpec

__all__ = ["body_poses", "geom_poses"]


def as_spec(model) -> ModelSpec:
    """The ModelSpec of a diffsim ``Model`` (or a ModelSpec itself)."""
    if isinstance(model, ModelSpec):
        return model
    spec = getattr(model, "spec", None)
    if isinstance(spec, ModelSpec):
        return spec
    raise ValueError(f"expected a diffsim Model or ModelSpec, got {type(model).__name__}")


def as_numpy(x) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor, on any device
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def qpos_vector(spec: ModelSpec, qpos) -> np.ndarray:
    """qpos as a float64 (nq,) array; (1, nq) is accepted (one environment of a batch)."""
    q = as_numpy(qpos)
    if q.ndim == 2 and q.shape[0] == 1:
        q = q[0]
    if q.shape != (spec.nq,):
        raise ValueError(
            f"qpos must have shape (nq,)=({spec.nq},) for this model (or (1, {spec.nq})), got {tuple(q.shape)}"
        )
    return q


def qpos_trajectory(spec: ModelSpec, qpos_traj) -> np.ndarray:
    """A trajectory as a float64 (T, nq) array; (1, T, nq) (one environment of a rollout) is accepted."""
    q = as_numpy(qpos_traj)
    if q.ndim == 3 and q.shape[0] == 1:
        q = q[0]
    if q.ndim != 2 or q.shape[1] != spec.nq or q.shape[0] < 1:
        hint = "; pick one environment of a batch with qpos_traj[b]" if q.ndim == 3 else ""
        raise ValueError(f"qpos_traj must have shape (T, nq)=(T, {spec.nq}) for this model, got {tuple(q.shape)}{hint}")
    return q


def quat_to_mat(q) -> np.ndarray:
    """Rotation matrix of a quaternion (w, x, y, z), normalised first."""
    w, x, y, z = np.asarray(q, dtype=np.float64) / np.linalg.norm(q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def axis_angle_to_mat(axis, angle) -> np.ndarray:
    """Rotation by ``angle`` (rad) about the unit ``axis`` (Rodrigues)."""
    a = np.asarray(axis, dtype=np.float64)
    a = a / np.linalg.norm(a)
    K = np.array([[0.0, -a[2], a[1]], [a[2], 0.0, -a[0]], [-a[1], a[0], 0.0]])
    return np.eye(3) + np.sin(angle) * K + (1.0 - np.cos(angle)) * (K @ K)


def body_poses(model, qpos) -> tuple[np.ndarray, np.ndarray]:
    """Forward kinematics of one configuration, like MuJoCo's ``d.xpos`` and ``d.xmat``.

    Args:
        model: a diffsim ``Model`` (or its ``ModelSpec``).
        qpos: (nq,) generalised positions in MuJoCo's layout (tensor or array; (1, nq) is
            also accepted).
    Returns:
        xpos (nbody, 3): each body frame's origin in the world, m;
        xmat (nbody, 3, 3): each body frame's rotation, body axes as columns.
        Row 0 is the world body.
    Raises:
        ValueError: qpos of the wrong shape.

    Joints act in document order on the body's frame: a free joint sets the pose; a ball
    or hinge joint rotates the frame about the joint's anchor (``jnt_pos``, body frame);
    a slide joint translates it along the axis. Hinge and slide values are measured from
    ``qpos0`` (the joint's ``ref``), quaternions are normalised.
    """
    spec = as_spec(model)
    q = qpos_vector(spec, qpos)
    nbody = spec.nbody
    xpos = np.zeros((nbody, 3))
    xmat = np.zeros((nbody, 3, 3))
    xmat[0] = np.eye(3)
    joints_of = [[] for _ in range(nbody)]
    for j, b in enumerate(np.asarray(spec.jnt_body)):
        joints_of[int(b)].append(j)
    for b in range(1, nbody):
        p = int(spec.body_parent[b])
        R = xmat[p] @ quat_to_mat(spec.body_quat[b])
        pos = xpos[p] + xmat[p] @ spec.body_pos[b]
        for j in joints_of[b]:
            adr = int(spec.jnt_qposadr[j])
            jtype = int(spec.jnt_type[j])
            if jtype == JOINT_FREE:
                pos = q[adr : adr + 3].copy()
                R = quat_to_mat(q[adr + 3 : adr + 7])
            elif jtype == JOINT_SLIDE:
                pos = pos + (R @ spec.jnt_axis[j]) * (q[adr] - spec.qpos0[adr])
            elif jtype in (JOINT_HINGE, JOINT_BALL):
                anchor = pos + R @ spec.jnt_pos[j]
                if jtype == JOINT_HINGE:
                    R = R @ axis_angle_to_mat(spec.jnt_axis[j], q[adr] - spec.qpos0[adr])
                else:
                    R = R @ quat_to_mat(q[adr : adr + 4])
                pos = anchor - R @ spec.jnt_pos[j]  # the rotation is about the anchor
            else:
                raise ValueError(f"joint {j} has unsupported type {jtype}")
        xpos[b], xmat[b] = pos, R
    return xpos, xmat


def geom_poses(model, qpos) -> tuple[np.ndarray, np.ndarray]:
    """World poses of all geoms, like MuJoCo's ``d.geom_xpos`` and ``d.geom_xmat``.

    Args:
        model: a diffsim ``Model`` (or its ``ModelSpec``).
        qpos: (nq,) generalised positions.
    Returns:
        geom_xpos (ngeom, 3), m, and geom_xmat (ngeom, 3, 3), geom axes as columns.
    """
    spec = as_spec(model)
    xpos, xmat = body_poses(spec, qpos)
    body = np.asarray(spec.geom_body, dtype=int)
    gpos = xpos[body] + np.einsum("gij,gj->gi", xmat[body], spec.geom_pos)
    local = np.stack([quat_to_mat(qg) for qg in spec.geom_quat]) if spec.ngeom else np.zeros((0, 3, 3))
    gmat = xmat[body] @ local
    return gpos, gmat
