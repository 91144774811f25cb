"""MuJoCo's box narrowphase in Warp (diffsim/kernels/collide_box.py), against ``mujoco``.

For each pair (sphere-box, capsule-box, box-box) a few two-body MJCF models (free
joints; some geoms with margin and gap) are put in many states: random poses at a target
signed distance (deep, shallow, within the margin band, just beyond it), plus the
configurations each collider treats specially (box-box: face-face, resting stacks,
edge-edge, vertex-face; capsule-box: parallel to a face, across an edge, end cap into a
face; sphere-box: centre inside the box). ``mujoco.mj_fwdPosition`` gives the contacts;
the Warp functions, run by one kernel over all states with MuJoCo's ``geom_xpos`` /
``geom_xmat`` and margin + gap, must give the same contacts in the same order: count,
distance, position, normal and the completed frame (``mju_makeFrame`` of normal and
tangent) to 1e-9 in float64. The float32 versions must agree with float64 where both
make the same decisions.
"""

from __future__ import annotations

from typing import Any

import mujoco
import numpy as np
import pytest
import warp as wp

from diffsim.kernels.collide_box import box_box, capsule_box, sphere_box

MAXCON = 8
KIND = {"sphere_box": 0, "capsule_box": 1, "box_box": 2}
TOL64 = 1e-9

# (geom1, geom2) of each model, as MJCF geom attributes; the second geom is always a box
MODELS = {
    "sphere_box": [
        ('type="sphere" size="0.15"', 'type="box" size="0.3 0.2 0.1"'),
        ('type="sphere" size="0.05" margin="0.02" gap="0.01"', 'type="box" size="0.1 0.4 0.25" margin="0.01"'),
    ],
    "capsule_box": [
        ('type="capsule" size="0.05 0.2"', 'type="box" size="0.3 0.2 0.1"'),
        ('type="capsule" size="0.08 0.35" margin="0.02" gap="0.01"', 'type="box" size="0.15 0.25 0.1" gap="0.005"'),
        ('type="capsule" size="0.03 0.1" margin="0.01"', 'type="box" size="0.5 0.4 0.03" margin="0.01"'),
    ],
    "box_box": [
        ('type="box" size="0.2 0.15 0.1"', 'type="box" size="0.3 0.25 0.05"'),
        ('type="box" size="0.1 0.1 0.1" margin="0.01" gap="0.005"', 'type="box" size="0.1 0.1 0.1" margin="0.01"'),
        ('type="box" size="0.4 0.3 0.02" margin="0.02"', 'type="box" size="0.25 0.35 0.03" gap="0.01"'),
    ],
}


def compile_pair(geom1: str, geom2: str) -> mujoco.MjModel:
    xml = f"""
    <mujoco>
      <worldbody>
        <body name="a"><freejoint/><geom {geom1}/></body>
        <body name="b"><freejoint/><geom {geom2}/></body>
      </worldbody>
    </mujoco>"""
    return mujoco.MjModel.from_xml_string(xml)


# --------------------------------------------------------------------------- poses


def quat_axis_angle(axis, angle) -> np.ndarray:
    axis = np.asarray(axis, dtype=float)
    axis = axis / np.linalg.norm(axis)
    return np.concatenate([[np.cos(angle / 2)], np.sin(angle / 2) * axis])


def quat_mul(a, b) -> np.ndarray:
    q = np.empty(4)
    mujoco.mju_mulQuat(q, np.asarray(a, dtype=float), np.asarray(b, dtype=float))
    return q


def random_quat(rng) -> np.ndarray:
    q = rng.normal(size=4)
    return q / np.linalg.norm(q)


def random_unit(rng) -> np.ndarray:
    v = rng.normal(size=3)
    return v / np.linalg.norm(v)


def yaw(rng) -> np.ndarray:
    return quat_axis_angle([0, 0, 1], rng.uniform(-np.pi, np.pi))


def tilt(rng, scale: float) -> np.ndarray:
    """A small random rotation (angle up to ``scale`` radians)."""
    return quat_axis_angle(random_unit(rng), rng.uniform(0, scale))


def target_distance(rng, margin: float, depth: float) -> float:
    """A signed distance: deep, shallow, touching, within the margin band or just beyond."""
    band = max(margin, 1e-3)
    kind = rng.integers(6)
    if kind == 0:
        return -rng.uniform(0.2, 0.9) * depth
    if kind == 1:
        return -rng.uniform(0, 0.05) * depth
    if kind == 2:
        return -(10.0 ** rng.uniform(-9, -4))
    if kind == 3:
        return rng.uniform(0, 1) * margin
    if kind == 4:
        return margin + rng.uniform(0, 0.5) * band
    return rng.uniform(0, 1.2) * band


class Poser:
    """Sets the two free bodies' poses and finds offsets at a given signed distance."""

    def __init__(self, m: mujoco.MjModel):
        self.m = m
        self.d = mujoco.MjData(m)

    def set(self, p1, q1, p2, q2) -> None:
        self.d.qpos[:] = np.concatenate([p1, q1, p2, q2])

    def distance(self, p1, q1, p2, q2) -> float:
        self.set(p1, q1, p2, q2)
        mujoco.mj_kinematics(self.m, self.d)
        return mujoco.mj_geomDistance(self.m, self.d, 0, 1, 10.0, None)

    def along(self, q1, p2, q2, direction, target: float, base=None) -> np.ndarray:
        """Position of body a on the ray base + t * direction (base: p2) at signed distance ``target``."""
        base = p2 if base is None else base
        lo, hi = 0.0, 4.0
        for _ in range(40):
            mid = 0.5 * (lo + hi)
            if self.distance(base + mid * direction, q1, p2, q2) < target:
                lo = mid
            else:
                hi = mid
        return base + 0.5 * (lo + hi) * direction


def structured_states(kind: str, m: mujoco.MjModel, rng, count: int) -> list[np.ndarray]:
    """``count`` qpos vectors: random poses at target distances and each pair's special cases."""
    poser = Poser(m)
    size1, size2 = m.geom_size[0].copy(), m.geom_size[1].copy()
    margin = m.geom_margin.sum() + m.geom_gap.sum()
    depth = min(size1.min() if kind == "box_box" else size1[0], size2.min())
    states = []
    for n in range(count):
        p2 = rng.uniform(-0.5, 0.5, 3)
        q2 = random_quat(rng)
        target = target_distance(rng, margin, depth)
        case = n % 4
        if case == 0:
            # random poses
            q1 = random_quat(rng)
            p1 = poser.along(q1, p2, q2, random_unit(rng), target)
        elif kind == "sphere_box":
            q1 = random_quat(rng)
            if case == 1:
                # centre inside the box (sometimes exactly at a symmetric point)
                local = rng.uniform(-1, 1, 3) * size2
                if rng.random() < 0.2:
                    local = local * rng.integers(0, 2, 3)
                p1 = p2 + rotate(q2, local)
            else:
                # over a face, an edge or a corner of the box, in box coordinates
                local = rng.uniform(-1, 1, 3) * size2
                axes = rng.permutation(3)[:case]
                for a in axes:
                    local[a] = np.sign(rng.uniform(-1, 1)) * size2[a]
                p1 = poser.along(q1, p2, q2, rotate(q2, unit(local)), target)
        elif kind == "capsule_box":
            radius, half = size1[:2]
            if case == 1:
                # axis parallel to the top face, over it or overhanging an edge
                q1 = quat_mul(q2, quat_mul(yaw(rng), quat_axis_angle([1, 0, 0], np.pi / 2)))
                if rng.random() < 0.5:
                    q1 = quat_mul(q1, tilt(rng, 1e-3))
                local = np.array([rng.uniform(-1.2, 1.2) * size2[0], rng.uniform(-1.2, 1.2) * size2[1], 0.0])
                local[2] = size2[2] + radius + target
                p1 = p2 + rotate(q2, local)
            elif case == 2:
                # across a top edge of the box (the edge along x at y = +size, z = +size)
                angle = rng.uniform(-1.2, 1.2)
                q1 = quat_mul(q2, quat_mul(quat_axis_angle([0, 0, 1], angle), quat_axis_angle([1, 0, 0], np.pi / 2)))
                q1 = quat_mul(q1, tilt(rng, 0.3))
                edge = np.array([rng.uniform(-1.1, 1.1) * size2[0], size2[1], size2[2]])
                out = unit(np.array([0.0, rng.uniform(0.2, 1.0), rng.uniform(0.2, 1.0)]))
                p1 = poser.along(q1, p2, q2, rotate(q2, out), target, base=p2 + rotate(q2, edge))
            else:
                # an end cap into the top face
                q1 = quat_mul(q2, tilt(rng, 0.6))
                local = np.array([rng.uniform(-1, 1) * size2[0], rng.uniform(-1, 1) * size2[1], 0.0])
                axis = rotate(q1, np.array([0.0, 0.0, 1.0]))
                axis_local = rotate(quat_conj(q2), axis)
                local[2] = size2[2] + radius + half * abs(axis_local[2]) + target
                p1 = p2 + rotate(q2, local)
        else:  # box_box
            if case == 1:
                # face-face: yaw-only relative orientation, box1 over box2 (resting stack when aligned)
                aligned = rng.random() < 0.3
                rel = quat_axis_angle([0, 0, 1], 0.0) if aligned else yaw(rng)
                q1 = quat_mul(q2, rel)
                local = np.array([rng.uniform(-1, 1) * size2[0], rng.uniform(-1, 1) * size2[1], 0.0])
                if aligned and rng.random() < 0.5:
                    local[:2] = 0.0
                    target = -(10.0 ** rng.uniform(-6, -3)) if rng.random() < 0.7 else 0.0
                local[2] = size2[2] + size1[2] + target
                p1 = p2 + rotate(q2, local)
            elif case == 2:
                # edge-edge: crossed edges, roughly
                q1 = quat_mul(
                    q2, quat_mul(quat_axis_angle([1, 0, 0], np.pi / 4), quat_axis_angle([0, 0, 1], np.pi / 2))
                )
                q1 = quat_mul(q1, tilt(rng, 0.2))
                qb = quat_mul(q2, tilt(rng, 0.2))
                local = np.array([rng.uniform(-0.5, 0.5) * size2[0], rng.uniform(-0.5, 0.5) * size2[1], 1.0])
                p1 = poser.along(q1, p2, qb, rotate(q2, unit(local)), target)
                q2 = qb
            else:
                # vertex-face: a corner of box1 pointing into the top face of box2
                corner = quat_axis_angle(np.cross([1.0, 1.0, 1.0], [0.0, 0.0, -1.0]), np.arccos(-1 / np.sqrt(3)))
                q1 = quat_mul(q2, quat_mul(tilt(rng, 0.1), corner))
                local = np.array([rng.uniform(-0.8, 0.8) * size2[0], rng.uniform(-0.8, 0.8) * size2[1], 1.0])
                p1 = poser.along(q1, p2, q2, rotate(q2, unit(local)), target)
        states.append(np.concatenate([p1, q1, p2, q2]))
    return states


def generic_states(kind: str, m: mujoco.MjModel, rng, count: int) -> list[np.ndarray]:
    """Random poses at signed distances away from every decision boundary of the collider
    (contact or not, margin band, touching): where float32 and float64 should decide alike."""
    poser = Poser(m)
    size1, size2 = m.geom_size[0], m.geom_size[1]
    margin = m.geom_margin.sum() + m.geom_gap.sum()
    depth = min(size1.min() if kind == "box_box" else size1[0], size2.min())
    states = []
    while len(states) < count:
        p2, q1, q2 = rng.uniform(-0.5, 0.5, 3), random_quat(rng), random_quat(rng)
        kind_of_target = len(states) % 4
        if kind_of_target == 0:
            target = -rng.uniform(0.2, 0.9) * depth
        elif kind_of_target == 1:
            target = -rng.uniform(0.02, 0.2) * depth
        elif kind_of_target == 2 and margin > 0:
            target = rng.uniform(0.1, 0.9) * margin
        else:
            target = margin + rng.uniform(0.01, 0.1)
        p1 = poser.along(q1, p2, q2, random_unit(rng), target)
        # skip the rare draws where no offset along the ray reaches the target
        if abs(poser.distance(p1, q1, p2, q2) - target) < 1e-6:
            states.append(np.concatenate([p1, q1, p2, q2]))
    return states


def exact_states(kind: str, m: mujoco.MjModel) -> list[np.ndarray]:
    """Exactly degenerate poses (ties decided by rounding): aligned axes, parallel edges,
    points exactly on faces, edges and corners, distances exactly 0 or at the margin."""
    size1, size2 = m.geom_size[0].copy(), m.geom_size[1].copy()
    margin = m.geom_margin.sum() + m.geom_gap.sum()
    ident = np.array([1.0, 0.0, 0.0, 0.0])
    c8, s8 = np.cos(np.pi / 8), np.sin(np.pi / 8)
    rots = [
        ident,
        np.array([np.sqrt(0.5), 0.0, 0.0, np.sqrt(0.5)]),  # 90 deg about z
        np.array([np.sqrt(0.5), 0.0, np.sqrt(0.5), 0.0]),  # 90 deg about y: local z along x
        np.array([np.sqrt(0.5), np.sqrt(0.5), 0.0, 0.0]),  # 90 deg about x: local z along -y
        np.array([c8, s8, 0.0, 0.0]),  # 45 deg about x
        np.array([c8, 0.0, s8, 0.0]),  # 45 deg about y
        np.array([c8, 0.0, 0.0, s8]),  # 45 deg about z
    ]
    gaps = [0.0, -1e-3, -0.02, 0.5 * margin, margin]
    states = []
    zero = np.zeros(3)
    if kind == "sphere_box":
        r = size1[0]
        for q2 in rots[:2] + rots[4:5]:
            for sx in (-1, 0, 1):
                for sy in (-1, 0, 1):
                    for sz in (-1, 0, 1):
                        local = np.array([sx, sy, sz]) * size2
                        states.append(np.concatenate([rotate(q2, local), ident, zero, q2]))  # on the box
                        direction = unit(np.array([sx, sy, sz])) if sx or sy or sz else np.array([0.0, 0.0, 1.0])
                        for gap in gaps:
                            p1 = local + direction * (r + gap)
                            states.append(np.concatenate([rotate(q2, p1), ident, zero, q2]))
    elif kind == "capsule_box":
        r, h = size1[:2]
        for q1 in rots:
            axis = rotate(q1, np.array([0.0, 0.0, 1.0]))
            for q2 in rots[:2]:
                for ox in (0.0, 0.5, 1.0):
                    for oy in (0.0, 1.0):
                        for gap in gaps:
                            local = np.array([ox * size2[0], oy * size2[1], 0.0])
                            local[2] = size2[2] + r + h * abs(rotate(quat_conj(q2), axis)[2]) + gap
                            p1 = rotate(q2, local)
                            states.append(np.concatenate([p1, quat_mul(q2, q1), zero, q2]))
    else:
        for q1 in rots:
            for q2 in rots[:1] + rots[4:]:
                for ox in (0.0, 0.5, 1.0):
                    for oy in (0.0, 1.0):
                        for gap in gaps:
                            # heights from the SAT distance along world z of the two boxes
                            r1 = np.abs(rotmat(q1))[2] @ size1
                            r2 = np.abs(rotmat(q2))[2] @ size2
                            p1 = np.array([ox * size2[0], oy * size2[1], r1 + r2 + gap])
                            states.append(np.concatenate([p1, q1, zero, q2]))
    return states


def rotmat(q) -> np.ndarray:
    res = np.empty(9)
    mujoco.mju_quat2Mat(res, np.asarray(q, dtype=float))
    return res.reshape(3, 3)


def unit(v) -> np.ndarray:
    return np.asarray(v, dtype=float) / np.linalg.norm(v)


def quat_conj(q) -> np.ndarray:
    return np.array([q[0], -q[1], -q[2], -q[3]])


def rotate(q, v) -> np.ndarray:
    res = np.empty(3)
    mujoco.mju_rotVecQuat(res, np.asarray(v, dtype=float), np.asarray(q, dtype=float))
    return res


# --------------------------------------------------------------------------- MuJoCo side


def make_frame(normal, tangent) -> np.ndarray:
    """MuJoCo's ``mju_makeFrame`` (the contact frame from normal and, if set, tangent)."""
    f = np.concatenate([normal, tangent, np.zeros(3)]).astype(np.float64)
    x = f[0:3]
    norm = np.sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2])
    f[0:3] = x * (1.0 / norm) if norm >= 1e-15 else (1.0, 0.0, 0.0)
    y = f[3:6]
    if y[0] * y[0] + y[1] * y[1] + y[2] * y[2] < 0.25:
        y[:] = 0.0
        if -0.5 < f[1] < 0.5:
            y[1] = 1.0
        else:
            y[2] = 1.0
    x = f[0:3]
    s = x[0] * y[0] + x[1] * y[1] + x[2] * y[2]
    y -= x * s
    norm = np.sqrt(y[0] * y[0] + y[1] * y[1] + y[2] * y[2])
    f[3:6] = y * (1.0 / norm) if norm >= 1e-15 else (1.0, 0.0, 0.0)
    f[6:9] = np.cross(f[0:3], f[3:6])
    return f


def mujoco_contacts(m: mujoco.MjModel, states):
    """Inputs of the pair function and MuJoCo's contacts, per state."""
    d = mujoco.MjData(m)
    inputs, contacts = [], []
    margin = m.geom_margin.sum() + m.geom_gap.sum()
    for qpos in states:
        d.qpos[:] = qpos
        mujoco.mj_fwdPosition(m, d)
        cons = [d.contact[i] for i in range(d.ncon)]
        for c in cons:
            assert tuple(c.geom) == (0, 1), "MuJoCo orders these pairs as (geom 0, geom 1)"
        inputs.append(
            (
                d.geom_xpos[0].copy(),
                d.geom_xmat[0].reshape(3, 3).copy(),
                m.geom_size[0].copy(),
                d.geom_xpos[1].copy(),
                d.geom_xmat[1].reshape(3, 3).copy(),
                m.geom_size[1].copy(),
                margin,
            )
        )
        contacts.append([(c.dist, c.pos.copy(), c.frame.copy()) for c in cons])
    return inputs, contacts


# --------------------------------------------------------------------------- Warp side


@wp.kernel
def collide_kernel(
    kind: int,
    pos1: wp.array(dtype=Any),
    mat1: wp.array(dtype=Any),
    size1: wp.array(dtype=Any),
    pos2: wp.array(dtype=Any),
    mat2: wp.array(dtype=Any),
    size2: wp.array(dtype=Any),
    margin: wp.array(dtype=Any),
    count: wp.array(dtype=int),
    con_dist: wp.array2d(dtype=Any),
    con_pos: wp.array2d(dtype=Any),
    con_normal: wp.array2d(dtype=Any),
    con_tangent: wp.array2d(dtype=Any),
):
    e = wp.tid()
    n = int(0)
    if kind == 0:
        n = sphere_box(
            pos1[e], mat1[e], size1[e], pos2[e], mat2[e], size2[e], margin[e], e, 0,
            con_dist, con_pos, con_normal, con_tangent,
        )  # fmt: skip
    elif kind == 1:
        n = capsule_box(
            pos1[e], mat1[e], size1[e], pos2[e], mat2[e], size2[e], margin[e], e, 0,
            con_dist, con_pos, con_normal, con_tangent,
        )  # fmt: skip
    else:
        n = box_box(
            pos1[e], mat1[e], size1[e], pos2[e], mat2[e], size2[e], margin[e], e, 0,
            con_dist, con_pos, con_normal, con_tangent,
        )  # fmt: skip
    count[e] = n


SENTINEL = 12345.0


def warp_contacts(kind: str, inputs, dtype) -> list[list[tuple]]:
    """Run the pair function over all states at once; contacts per state as numpy."""
    vec3, mat33 = (wp.vec3d, wp.mat33d) if dtype == wp.float64 else (wp.vec3f, wp.mat33f)
    npdt = np.float64 if dtype == wp.float64 else np.float32
    cols = list(zip(*inputs))
    n = len(inputs)
    args = [
        wp.array(np.array(cols[0], dtype=npdt), dtype=vec3),
        wp.array(np.array(cols[1], dtype=npdt), dtype=mat33),
        wp.array(np.array(cols[2], dtype=npdt), dtype=vec3),
        wp.array(np.array(cols[3], dtype=npdt), dtype=vec3),
        wp.array(np.array(cols[4], dtype=npdt), dtype=mat33),
        wp.array(np.array(cols[5], dtype=npdt), dtype=vec3),
        wp.array(np.array(cols[6], dtype=npdt), dtype=dtype),
    ]
    count = wp.zeros(n, dtype=int)
    # slots past the returned count must stay untouched: fill them with a sentinel
    con_dist = wp.array(np.full((n, MAXCON), SENTINEL, dtype=npdt), dtype=dtype)
    con_pos = wp.array(np.full((n, MAXCON, 3), SENTINEL, dtype=npdt), dtype=vec3)
    con_normal = wp.array(np.full((n, MAXCON, 3), SENTINEL, dtype=npdt), dtype=vec3)
    con_tangent = wp.array(np.full((n, MAXCON, 3), SENTINEL, dtype=npdt), dtype=vec3)
    wp.launch(
        collide_kernel,
        dim=n,
        inputs=[KIND[kind], *args, count, con_dist, con_pos, con_normal, con_tangent],
        device="cpu",
    )
    count = count.numpy()
    dist, pos, normal, tangent = (a.numpy().astype(np.float64) for a in (con_dist, con_pos, con_normal, con_tangent))
    assert np.all(dist[np.arange(MAXCON)[None, :] >= count[:, None]] == SENTINEL), "wrote past the returned count"
    return [[(dist[e, k], pos[e, k], normal[e, k], tangent[e, k]) for k in range(count[e])] for e in range(n)]


# --------------------------------------------------------------------------- tests

STATES = 1200  # per model, plus the exact cases
GENERIC_STATES = 800  # per model, for float32
TOL32 = 1e-4


def all_cases(kind: str, generic: bool = False):
    """Warp inputs and MuJoCo's contacts over all models of a pair."""
    rng = np.random.default_rng(KIND[kind] + 10 * generic)
    inputs, contacts = [], []
    for geom1, geom2 in MODELS[kind]:
        m = compile_pair(geom1, geom2)
        if generic:
            states = generic_states(kind, m, rng, GENERIC_STATES)
        else:
            states = structured_states(kind, m, rng, STATES) + exact_states(kind, m)
        i, c = mujoco_contacts(m, states)
        inputs += i
        contacts += c
    return inputs, contacts


def contact_error(ours, ref) -> float:
    """Largest difference of dist, pos and normal between two contact lists; inf if the counts differ."""
    if len(ours) != len(ref):
        return np.inf
    err = 0.0
    for (dist, pos, normal, _), (rdist, rpos, rnormal, _) in zip(ours, ref):
        err = max(err, abs(dist - rdist), np.abs(pos - rpos).max(), np.abs(normal - rnormal).max())
    return err


@pytest.mark.parametrize("kind", list(KIND))
def test_float64_matches_mujoco(kind):
    inputs, contacts = all_cases(kind)
    ours = warp_contacts(kind, inputs, wp.float64)

    counts = np.array([len(c) for c in contacts])
    bad = np.nonzero(counts != np.array([len(c) for c in ours]))[0]
    assert bad.size == 0, f"{kind}: contact counts differ from MuJoCo's in {bad.size} states, e.g. {bad[:5]}"

    # every kind of outcome occurs: no contact, contacts in the margin band, penetration, manifolds
    dists = np.array([c[0] for cs in contacts for c in cs])
    assert (counts == 0).sum() > len(counts) // 20
    assert (dists > 0).sum() > 100 and (dists < -1e-3).sum() > 100
    if kind != "sphere_box":
        assert (counts > 1).sum() > 100
    if kind == "box_box":
        assert (counts == 8).sum() > 10

    err = {"dist": 0.0, "pos": 0.0, "normal": 0.0, "frame": 0.0}
    for mine, ref in zip(ours, contacts):
        for (dist, pos, normal, tangent), (rdist, rpos, rframe) in zip(mine, ref):
            assert np.all(tangent == 0.0)  # MuJoCo leaves the tangent of these pairs zero
            err["dist"] = max(err["dist"], abs(dist - rdist))
            err["pos"] = max(err["pos"], np.abs(pos - rpos).max())
            err["normal"] = max(err["normal"], np.abs(normal - rframe[:3]).max())
            err["frame"] = max(err["frame"], np.abs(make_frame(normal, tangent) - rframe).max())
    assert max(err.values()) < TOL64, f"{kind}: {err}"


@pytest.mark.parametrize("kind", list(KIND))
def test_float32_agrees_with_float64(kind):
    inputs, contacts = all_cases(kind, generic=True)
    f64 = warp_contacts(kind, inputs, wp.float64)
    f32 = warp_contacts(kind, inputs, wp.float32)
    assert sum(len(c) > 1 for c in contacts) > 50 or kind == "sphere_box"
    err = np.array([contact_error(a, b) for a, b in zip(f32, f64)])
    # away from decision boundaries both precisions decide alike; allow a rare near tie
    # (a clipped vertex at the margin, nearly equal separating axes) on other hardware
    assert np.mean(err > TOL32) <= 0.002, f"{kind}: {np.sort(err)[-10:]}"
