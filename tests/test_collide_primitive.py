"""The primitive collision functions (``diffsim.kernels.collide_primitive``) against MuJoCo.

For each geom pair a one-pair MJCF model is posed in many random states (touching,
penetrating, within the margin and gap, separated, plus special orientations: flat,
on the side, parallel capsules); MuJoCo's ``mj_collision`` gives the reference contacts,
and the Warp functions, launched over all states at once, must reproduce them in
float64 to 1e-9: the same number of contacts in the same order, with the same distance,
position and frame (the frame from ``make_frame`` of the function's normal and tangent).
Float32 must agree with float64 on the generic states.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import warp as wp

from diffsim.kernels import collide_primitive as cp

DEVICE = "cpu"
SLOTS = 6  # slots per state; contacts are written from ADR on
ADR = 1
SENTINEL = 7.25

KINDS = (
    "plane_sphere",
    "plane_capsule",
    "plane_ellipsoid",
    "plane_cylinder",
    "plane_box",
    "sphere_sphere",
    "sphere_capsule",
    "sphere_cylinder",
    "capsule_capsule",
)
MAXCON = {"plane_capsule": 2, "plane_cylinder": 4, "plane_box": 4, "capsule_capsule": 2}

SIZES = {
    "sphere": "0.3",
    "capsule": "0.1 0.3",
    "ellipsoid": "0.3 0.2 0.15",
    "cylinder": "0.25 0.2",
    "box": "0.3 0.2 0.1",
}
SIZES2 = {"sphere": "0.2", "capsule": "0.15 0.25"}  # geom2 when both geoms have the same type

# (margin, gap) of geom1 and geom2; MuJoCo adds the two geoms' values
MARGIN_GAPS = (((0.0, 0.0), (0.0, 0.0)), ((0.01, 0.005), (0.02, 0.015)))


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
    con_frame: wp.array2d(dtype=Any),
):
    e = wp.tid()
    p1 = pos1[e]
    m1 = mat1[e]
    s1 = size1[e]
    p2 = pos2[e]
    m2 = mat2[e]
    s2 = size2[e]
    mg = margin[e]
    n = int(0)
    if kind == 0:
        n = cp.plane_sphere(p1, m1, s1, p2, m2, s2, mg, e, 1, con_dist, con_pos, con_normal, con_tangent)
    elif kind == 1:
        n = cp.plane_capsule(p1, m1, s1, p2, m2, s2, mg, e, 1, con_dist, con_pos, con_normal, con_tangent)
    elif kind == 2:
        n = cp.plane_ellipsoid(p1, m1, s1, p2, m2, s2, mg, e, 1, con_dist, con_pos, con_normal, con_tangent)
    elif kind == 3:
        n = cp.plane_cylinder(p1, m1, s1, p2, m2, s2, mg, e, 1, con_dist, con_pos, con_normal, con_tangent)
    elif kind == 4:
        n = cp.plane_box(p1, m1, s1, p2, m2, s2, mg, e, 1, con_dist, con_pos, con_normal, con_tangent)
    elif kind == 5:
        n = cp.sphere_sphere(p1, m1, s1, p2, m2, s2, mg, e, 1, con_dist, con_pos, con_normal, con_tangent)
    elif kind == 6:
        n = cp.sphere_capsule(p1, m1, s1, p2, m2, s2, mg, e, 1, con_dist, con_pos, con_normal, con_tangent)
    elif kind == 7:
        n = cp.sphere_cylinder(p1, m1, s1, p2, m2, s2, mg, e, 1, con_dist, con_pos, con_normal, con_tangent)
    elif kind == 8:
        n = cp.capsule_capsule(p1, m1, s1, p2, m2, s2, mg, e, 1, con_dist, con_pos, con_normal, con_tangent)
    count[e] = n
    for i in range(n):
        con_frame[e, 1 + i] = cp.make_frame(con_normal[e, 1 + i], con_tangent[e, 1 + i])


# ------------------------------------------------------------------------- random states


def quat_mul(a, b):
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        axis=-1,
    )


def quat_axis_angle(axis, angle):
    axis = np.asarray(axis, dtype=float)
    axis = axis / np.linalg.norm(axis, axis=-1, keepdims=True)
    angle = np.asarray(angle, dtype=float)[..., None]
    return np.concatenate([np.cos(angle / 2), axis * np.sin(angle / 2)], axis=-1)


def quat_mat(q):
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
        ],
        -2,
    )


def random_quat(rng, n):
    q = rng.normal(size=(n, 4))
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def orientations(rng, n, special):
    """(quats, generic): random orientations, a share of them special ones.

    ``special`` names which: "flat" (z axis along +-z: identity, turns about z, upside
    down), "tilt" (flat tilted by 1e-3 .. 0.3 rad), "side" (z axis horizontal, 90 degrees
    about x then about z).
    """
    q = random_quat(rng, n)
    generic = np.ones(n, bool)
    pick = rng.integers(0, len(special) + 2, size=n)  # two shares random
    for k, name in enumerate(special):
        idx = np.flatnonzero(pick == k)
        if not len(idx):
            continue
        generic[idx] = False
        yaw = quat_axis_angle([0, 0, 1], rng.uniform(-np.pi, np.pi, len(idx)))
        if name == "flat":
            flip = rng.integers(0, 3, len(idx))
            base = np.tile([1.0, 0, 0, 0], (len(idx), 1))
            base[flip == 1] = [0.0, 1, 0, 0]  # upside down
            # the identity exactly for a third of them, turned about z for the rest
            q[idx] = np.where((flip == 2)[:, None], base, quat_mul(yaw, base))
        elif name == "tilt":
            angle = rng.choice([1e-3, 0.05, 0.3], len(idx)) * rng.choice([-1, 1], len(idx))
            axis = np.concatenate([rng.normal(size=(len(idx), 2)), np.zeros((len(idx), 1))], -1)
            q[idx] = quat_mul(yaw, quat_axis_angle(axis, angle))
        elif name == "side":
            side = quat_axis_angle([1, 0, 0], np.full(len(idx), np.pi / 2))
            q[idx] = quat_mul(yaw, side)
        else:
            raise ValueError(name)
    return q, generic


def extent(kind2, size, mat):
    """Half extent of geom2 along the plane normal (local z), given its rotation ``mat``."""
    zrow = mat[:, 2, :]  # components of the geom's axes along z
    if kind2 == "sphere":
        return np.full(len(mat), size[0])
    if kind2 == "capsule":
        return size[0] + size[1] * np.abs(zrow[:, 2])
    if kind2 == "ellipsoid":
        return np.sqrt(((size * zrow) ** 2).sum(-1))
    if kind2 == "cylinder":
        return size[1] * np.abs(zrow[:, 2]) + size[0] * np.sqrt(np.clip(1 - zrow[:, 2] ** 2, 0, 1))
    if kind2 == "box":
        return (size * np.abs(zrow)).sum(-1)
    raise ValueError(kind2)


PLANE_SPECIAL = {
    "sphere": (),
    "capsule": ("flat", "tilt", "side"),
    "ellipsoid": ("flat", "tilt", "side"),
    "cylinder": ("flat", "tilt", "side"),
    "box": ("flat", "tilt", "side"),
}


def plane_states(rng, n, kind2, size, plane_quat, plane_pos):
    """qpos of geom2's free body: placed relative to the plane's frame, then to the world."""
    q_local, generic = orientations(rng, n, PLANE_SPECIAL[kind2])
    # touching, within the margin and gap, apart; a fifth deeply (plane-cylinder's 4 contacts)
    depth = np.where(rng.random(n) < 0.2, rng.uniform(-0.5, -0.2, n), rng.uniform(-0.2, 0.12, n))
    height = extent(kind2, size, quat_mat(q_local)) + depth
    p_local = np.stack([rng.uniform(-1, 1, n), rng.uniform(-1, 1, n), height], -1)
    rot = quat_mat(plane_quat[None])[0]
    pos = plane_pos + p_local @ rot.T
    quat = quat_mul(np.tile(plane_quat, (n, 1)), q_local)
    return np.concatenate([pos, quat], -1), generic


def local_point(rng, n, half_height, reach):
    """Points around a segment/cylinder along local z: sides, caps, rims and inside."""
    z = rng.uniform(-(half_height + reach), half_height + reach, n)
    rho = rng.uniform(0, reach, n)
    phi = rng.uniform(-np.pi, np.pi, n)
    return np.stack([rho * np.cos(phi), rho * np.sin(phi), z], -1)


def pair_states(rng, n, kind, size1, size2):
    """qpos of the two free bodies (geom1's first) of a two-geom pair."""
    q2 = random_quat(rng, n)
    p2 = rng.uniform(-0.5, 0.5, (n, 3))
    q1 = random_quat(rng, n)
    generic = np.ones(n, bool)
    if kind == "sphere_sphere":
        d = rng.normal(size=(n, 3))
        d /= np.linalg.norm(d, axis=-1, keepdims=True)
        r = rng.uniform(0, size1[0] + size2[0] + 0.12, n)
        same = rng.random(n) < 0.05  # coincident centres: normal from the z axes
        r[same] = 0.0
        generic[same] = False
        p1 = p2 + d * r[:, None]
    else:
        if kind == "sphere_capsule":
            local = local_point(rng, n, size2[1], size2[0] + size1[0] + 0.12)
        elif kind == "sphere_cylinder":
            local = local_point(rng, n, size2[1], size2[0] + size1[0] + 0.12)
            # some on the axis and some on the rim's circle exactly
            on_axis = rng.random(n) < 0.03
            local[on_axis, :2] = 0.0
            generic[on_axis] = False
        else:  # capsule_capsule: geom1 around geom2
            local = local_point(rng, n, size2[1] + size1[1], size1[0] + size2[0] + 0.12)
            # axes tilted by these angles (0: parallel, pi: antiparallel; MuJoCo 4 treats
            # sin < 1e-4 as parallel), or random (crossing) for the last share
            tilts = np.array([0.0, np.pi, 1e-6, 3e-5, np.pi - 5e-5, 2e-4, 1e-3, 0.01, 0.1])
            pick = rng.integers(0, len(tilts) + 3, n)
            tilted = pick < len(tilts)
            tilt_axis = np.concatenate([rng.normal(size=(n, 2)), np.zeros((n, 1))], -1)
            tilt = quat_axis_angle(tilt_axis, tilts[np.minimum(pick, len(tilts) - 1)])
            q1 = np.where(tilted[:, None], quat_mul(q2, tilt), q1)
            # float32 cannot follow the branch or the ill-conditioned nearest points there
            generic[tilted & (pick < len(tilts) - 1)] = False
        p1 = p2 + np.einsum("nij,nj->ni", quat_mat(q2), local)
    return np.concatenate([p1, q1, p2, q2], -1), generic


def model_xml(kind, margins_gaps, plane_quat, plane_pos):
    (m1, g1), (m2, g2) = margins_gaps
    t1, t2 = kind.split("_")
    if t1 == "plane":
        quat = " ".join(str(x) for x in plane_quat)
        pos = " ".join(str(x) for x in plane_pos)
        geom1 = f'<geom name="g1" type="plane" size="5 5 0.1" pos="{pos}" quat="{quat}" margin="{m1}" gap="{g1}"/>'
    else:
        geom1 = f'<body><freejoint/><geom name="g1" type="{t1}" size="{SIZES[t1]}" margin="{m1}" gap="{g1}"/></body>'
    size2 = SIZES2[t2] if t1 == t2 else SIZES[t2]
    geom2 = f'<body><freejoint/><geom name="g2" type="{t2}" size="{size2}" margin="{m2}" gap="{g2}"/></body>'
    return f"<mujoco><option gravity='0 0 0'/><worldbody>{geom1}{geom2}</worldbody></mujoco>"


# ---------------------------------------------------------------------------- reference


def mujoco_reference(mujoco, kind, margins_gaps, n, seed, plane_quat, plane_pos):
    """States, geom data, MuJoCo's contacts (lists per state) and the generic flags."""
    m = mujoco.MjModel.from_xml_string(model_xml(kind, margins_gaps, plane_quat, plane_pos))
    d = mujoco.MjData(m)
    g1 = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, "g1")
    g2 = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, "g2")
    assert m.geom_type[g1] <= m.geom_type[g2]
    rng = np.random.default_rng(seed)
    t1, t2 = kind.split("_")
    if t1 == "plane":
        qpos, generic = plane_states(rng, n, t2, m.geom_size[g2], plane_quat, plane_pos)
    else:
        qpos, generic = pair_states(rng, n, kind, m.geom_size[g1], m.geom_size[g2])
    assert qpos.shape[1] == m.nq
    margin = m.geom_margin[g1] + m.geom_margin[g2] + m.geom_gap[g1] + m.geom_gap[g2]
    includemargin = m.geom_margin[g1] + m.geom_margin[g2]
    data = {k: np.zeros((n, 3)) for k in ("pos1", "size1", "pos2", "size2")}
    data["mat1"] = np.zeros((n, 3, 3))
    data["mat2"] = np.zeros((n, 3, 3))
    contacts = []
    for i in range(n):
        d.qpos[:] = qpos[i]
        mujoco.mj_kinematics(m, d)
        mujoco.mj_collision(m, d)
        data["pos1"][i] = d.geom_xpos[g1]
        data["pos2"][i] = d.geom_xpos[g2]
        data["mat1"][i] = d.geom_xmat[g1].reshape(3, 3)
        data["mat2"][i] = d.geom_xmat[g2].reshape(3, 3)
        cons = []
        for c in d.contact[: d.ncon]:
            assert (c.geom[0], c.geom[1]) == (g1, g2)
            # MuJoCo 4: the function detects within margin + gap; forces only within the margin
            assert c.includemargin == pytest.approx(includemargin, abs=1e-15)
            assert c.exclude == (1 if c.dist >= includemargin else 0)
            cons.append((c.dist, c.pos.copy(), c.frame.reshape(3, 3).copy()))
        contacts.append(cons)
    data["size1"][:] = m.geom_size[g1]
    data["size2"][:] = m.geom_size[g2]
    data["margin"] = np.full(n, margin)
    return data, contacts, generic


def run_warp(kind, data, dtype):
    vec, mat = (wp.vec3d, wp.mat33d) if dtype == np.float64 else (wp.vec3f, wp.mat33f)
    n = len(data["margin"])

    def arr(x, t):
        return wp.array(np.asarray(x, dtype=dtype), dtype=t, device=DEVICE)

    def filled(t, shape):
        return wp.array(np.full(shape, SENTINEL, dtype=dtype), dtype=t, device=DEVICE)

    out = {
        "count": wp.zeros(n, dtype=int, device=DEVICE),
        "dist": filled(wp.float64 if dtype == np.float64 else wp.float32, (n, SLOTS)),
        "pos": filled(vec, (n, SLOTS, 3)),
        "normal": filled(vec, (n, SLOTS, 3)),
        "tangent": filled(vec, (n, SLOTS, 3)),
        "frame": filled(mat, (n, SLOTS, 3, 3)),
    }
    wp.launch(
        collide_kernel,
        dim=n,
        inputs=[
            KINDS.index(kind),
            arr(data["pos1"], vec),
            arr(data["mat1"], mat),
            arr(data["size1"], vec),
            arr(data["pos2"], vec),
            arr(data["mat2"], mat),
            arr(data["size2"], vec),
            arr(data["margin"], wp.float64 if dtype == np.float64 else wp.float32),
            out["count"],
            out["dist"],
            out["pos"],
            out["normal"],
            out["tangent"],
            out["frame"],
        ],
        device=DEVICE,
    )
    return {k: v.numpy() for k, v in out.items()}


def check_untouched(kind, res):
    """Slots before ADR and from ADR + count on keep the sentinel."""
    n = res["count"]
    assert n.min() >= 0 and n.max() <= MAXCON.get(kind, 1)
    slot = np.arange(SLOTS)[None, :]
    free = (slot < ADR) | (slot >= ADR + n[:, None])
    assert np.all(res["dist"][free] == SENTINEL)
    for key in ("pos", "normal", "tangent", "frame"):
        assert np.all(res[key][free] == SENTINEL), key


PLANE_FRAMES = {
    "flat": (np.array([1.0, 0.0, 0.0, 0.0]), np.zeros(3)),
    "tilted": (quat_axis_angle([1.0, 2.0, 0.5], 0.3), np.array([0.1, -0.2, 0.05])),
}


def cases():
    out = []
    for kind in KINDS:
        planes = ("flat", "tilted") if kind.startswith("plane") else ("flat",)
        for mg in range(len(MARGIN_GAPS)):
            for plane in planes:
                out.append(pytest.param(kind, mg, plane, id=f"{kind}-mg{mg}-{plane}"))
    return out


N_STATES = 400


@pytest.mark.parametrize("kind, mg, plane", cases())
def test_matches_mujoco(mujoco, kind, mg, plane):
    plane_quat, plane_pos = PLANE_FRAMES[plane]
    seed = 1000 * KINDS.index(kind) + 10 * mg + len(plane)
    data, contacts, generic = mujoco_reference(mujoco, kind, MARGIN_GAPS[mg], N_STATES, seed, plane_quat, plane_pos)
    ncon_mj = np.array([len(c) for c in contacts])
    # the states cover separations and every number of contacts
    np.testing.assert_array_equal(np.unique(ncon_mj), np.arange(MAXCON.get(kind, 1) + 1))
    if kind == "sphere_cylinder":
        # side, cap, rim, and centre inside nearer the side or nearer a cap
        local = np.einsum("nji,nj->ni", data["mat2"], data["pos1"] - data["pos2"])
        radius, height = data["size2"][0, :2]
        rho, z = np.linalg.norm(local[:, :2], axis=-1), np.abs(local[:, 2])
        side, cap = z < height, rho < radius
        inside = side & cap
        regions = [
            side & ~cap,
            cap & ~side,
            ~side & ~cap,
            inside & (height - z >= radius - rho),
            inside & (height - z < radius - rho),
        ]
        for region in regions:
            assert (region & (ncon_mj > 0)).sum() >= 5
    (m1, g1), (m2, g2) = MARGIN_GAPS[mg]
    if m1 + m2 + g1 + g2 > 0:
        # contacts apart but within the margin, and in the gap beyond it
        dists = np.concatenate([[c[0] for c in cons] for cons in contacts if cons])
        assert ((dists > 0) & (dists < m1 + m2)).any()
        assert ((dists >= m1 + m2) & (dists <= m1 + m2 + g1 + g2)).any()

    res = run_warp(kind, data, np.float64)
    check_untouched(kind, res)
    np.testing.assert_array_equal(res["count"], ncon_mj)
    err = {"dist": 0.0, "pos": 0.0, "frame": 0.0}
    for i, cons in enumerate(contacts):
        for j, (dist, pos, frame) in enumerate(cons):
            err["dist"] = max(err["dist"], abs(res["dist"][i, ADR + j] - dist))
            err["pos"] = max(err["pos"], np.abs(res["pos"][i, ADR + j] - pos).max())
            err["frame"] = max(err["frame"], np.abs(res["frame"][i, ADR + j] - frame).max())
    assert max(err.values()) < 1e-9, err

    # float32 against float64, on the generic states where both find the same contacts
    res32 = run_warp(kind, data, np.float32)
    check_untouched(kind, res32)
    same = res32["count"] == res["count"]
    if not kind.startswith("plane"):
        # well separated only: the normal joins two points (centres, nearest points of the
        # segments) which float32 cannot place apart when they are nearly coincident
        core = res["dist"][:, ADR:] + data["size1"][:, :1] + data["size2"][:, :1]
        used = np.arange(SLOTS - ADR)[None, :] < res["count"][:, None]
        generic = generic & ~(used & (core < 0.01)).any(-1)
    assert same[generic].mean() > 0.97
    err32 = {"dist": 0.0, "pos": 0.0, "frame": 0.0}
    for i in np.flatnonzero(same & generic):
        s = slice(ADR, ADR + res["count"][i])
        err32["dist"] = max(err32["dist"], np.abs(res32["dist"][i, s] - res["dist"][i, s]).max(initial=0))
        err32["pos"] = max(err32["pos"], np.abs(res32["pos"][i, s] - res["pos"][i, s]).max(initial=0))
        err32["frame"] = max(err32["frame"], np.abs(res32["frame"][i, s] - res["frame"][i, s]).max(initial=0))
    assert max(err32.values()) < 1e-4, err32
    print(f"\n{kind} mg{mg} {plane}: ncon {np.bincount(ncon_mj)} f64 {err} f32 {err32}")
