"""Which geoms can touch: contact pairs and their contact points ("slots"), built once per model.

Pairs are filtered as MuJoCo does by default: the geoms' ``contype``/``conaffinity``
bitmasks must match, the two geoms must be on different bodies, neither body may be the
other's parent (except the world: bodies touch the floor), and at least one of them must
be able to move. Each supported pair becomes one or more contact slots, each computing
one contact point in the contact kernel:

==================  ======  ==================================================
kind                slots   contact point(s)
==================  ======  ==================================================
sphere - plane      1       the sphere's lowest point
capsule - plane     2       the two end spheres
box - plane         8       the eight corners
sphere - sphere     1       along the line of centres
capsule - sphere    1       closest point of the segment
capsule - capsule   1       closest points of the two segments
sphere - box        1       closest point of the box
capsule - box       3       the end spheres and the mid sphere of the capsule
==================  ======  ==================================================

Other pairs (cylinders, ellipsoids, box-box, ...) are skipped; ``unsupported_pairs``
names them for the load's warning (``model.unsupported``).
"""

from __future__ import annotations

import numpy as np

from diffsim.spec import GEOM_BOX, GEOM_CAPSULE, GEOM_PLANE, GEOM_SPHERE, ModelSpec

# contact kinds, in the order of the table above
SPHERE_PLANE, CAPSULE_PLANE, BOX_PLANE, SPHERE_SPHERE, CAPSULE_SPHERE, CAPSULE_CAPSULE, SPHERE_BOX, CAPSULE_BOX = range(
    8
)

# (type of geom a, type of geom b) -> (kind, number of slots)
_KINDS = {
    (GEOM_SPHERE, GEOM_PLANE): (SPHERE_PLANE, 1),
    (GEOM_CAPSULE, GEOM_PLANE): (CAPSULE_PLANE, 2),
    (GEOM_BOX, GEOM_PLANE): (BOX_PLANE, 8),
    (GEOM_SPHERE, GEOM_SPHERE): (SPHERE_SPHERE, 1),
    (GEOM_CAPSULE, GEOM_SPHERE): (CAPSULE_SPHERE, 1),
    (GEOM_CAPSULE, GEOM_CAPSULE): (CAPSULE_CAPSULE, 1),
    (GEOM_SPHERE, GEOM_BOX): (SPHERE_BOX, 1),
    (GEOM_CAPSULE, GEOM_BOX): (CAPSULE_BOX, 3),
}

_TYPE_NAMES = {0: "plane", 1: "hfield", 2: "sphere", 3: "capsule", 4: "ellipsoid", 5: "cylinder", 6: "box", 7: "mesh"}


def _static_bodies(spec: ModelSpec) -> np.ndarray:
    """(nbody,) True where a body cannot move: the world, or welded to it through joint-less bodies."""
    static = np.zeros(len(spec.body_parent), dtype=bool)
    static[0] = True
    for body in range(1, len(static)):  # parents come before their children
        static[body] = spec.body_jntnum[body] == 0 and static[spec.body_parent[body]]
    return static


def _pair_arrays(spec: ModelSpec) -> tuple[np.ndarray, np.ndarray]:
    """``contact_pairs`` as two int arrays (g1, g2), sorted by g1, then g2."""
    n = spec.ngeom
    body = np.asarray(spec.geom_body, dtype=np.int64)
    parent = np.asarray(spec.body_parent, dtype=np.int64)
    contype = np.asarray(spec.geom_contype, dtype=np.int64)
    conaffinity = np.asarray(spec.geom_conaffinity, dtype=np.int64)
    moving = ~_static_bodies(spec)[body]
    index = np.arange(n)
    first, second = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
    for g in np.flatnonzero(moving):
        b = body[g]
        other = (~moving | (index > g)) & (body != b)  # each moving-moving pair once
        other &= ((contype[g] & conaffinity) != 0) | ((contype & conaffinity[g]) != 0)
        other &= ~(((parent == b) & (b != 0))[body] | ((parent[b] == body) & (body != 0)))  # parent and child
        partners = np.flatnonzero(other)
        first.append(np.minimum(g, partners))
        second.append(np.maximum(g, partners))
    g1, g2 = np.concatenate(first), np.concatenate(second)
    order = np.lexsort((g2, g1))
    return g1[order], g2[order]


def contact_pairs(spec: ModelSpec) -> list[tuple[int, int]]:
    """Geom pairs ``(g1, g2)``, ``g1 < g2``, that MuJoCo's default filtering lets collide, sorted.

    Two static geoms never collide, so every pair has a geom that moves: the pairs are
    found moving geom by moving geom, each against all geoms at once, in time that grows
    linearly with the number of geoms for a fixed number of moving ones (a robot on a
    terrain of thousands of static geoms).
    """
    g1, g2 = _pair_arrays(spec)
    return list(zip(g1.tolist(), g2.tolist()))


def _kind_table(types) -> tuple:
    size = max(max(_TYPE_NAMES), int(np.max(types, initial=0))) + 1
    kind_of = np.full((size, size), -1, dtype=np.int64)
    count_of = np.zeros((size, size), dtype=np.int64)
    for (ta, tb), (k, count) in _KINDS.items():
        kind_of[ta, tb], count_of[ta, tb] = k, count
    return kind_of, count_of


def _geom_label(spec: ModelSpec, g: int) -> str:
    return repr(spec.geom_name[g]) if spec.geom_name[g] else f"geom {g}"


def unsupported_pairs(spec: ModelSpec) -> list[str]:
    """``["cylinder-plane: geoms 'a'-'b', ...", ...]``: the colliding pairs of geom types the
    smoothed contact has no law for (they pass through each other), one entry per kind."""
    g1, g2 = _pair_arrays(spec)
    types = np.asarray(spec.geom_type, dtype=np.int64)
    kind_of, _ = _kind_table(types)
    t1, t2 = types[g1], types[g2]
    unknown = (kind_of[t1, t2] < 0) & (kind_of[t2, t1] < 0)
    by_kind = {}
    for a, b in zip(g1[unknown].tolist(), g2[unknown].tolist()):
        key = "-".join(sorted((_TYPE_NAMES.get(int(types[a]), "?"), _TYPE_NAMES.get(int(types[b]), "?"))))
        by_kind.setdefault(key, []).append(f"{_geom_label(spec, a)}/{_geom_label(spec, b)}")
    return [
        f"{key} ({len(pairs)} pairs: {', '.join(pairs[:3])}{', ...' if len(pairs) > 3 else ''})"
        for key, pairs in sorted(by_kind.items())
    ]


def contact_slots(spec: ModelSpec) -> dict[str, np.ndarray]:
    """Arrays describing every contact slot: ``geom_a``, ``geom_b``, ``kind``, ``sub`` (int32, one entry per slot).

    Slots come pair by pair in ``contact_pairs`` order, each pair's ``count`` slots in turn.
    """
    g1, g2 = _pair_arrays(spec)
    types = np.asarray(spec.geom_type, dtype=np.int64)
    kind_of, count_of = _kind_table(types)
    t1, t2 = types[g1], types[g2]
    direct = kind_of[t1, t2] >= 0
    known = direct | (kind_of[t2, t1] >= 0)
    a = np.where(direct, g1, g2)[known]
    b = np.where(direct, g2, g1)[known]
    kind, count = kind_of[types[a], types[b]], count_of[types[a], types[b]]
    first_slot = np.repeat(np.cumsum(count) - count, count)
    as_int = lambda values: np.asarray(values, dtype=np.int32)  # noqa: E731
    return {
        "slot_geom_a": as_int(np.repeat(a, count)),
        "slot_geom_b": as_int(np.repeat(b, count)),
        "slot_kind": as_int(np.repeat(kind, count)),
        "slot_sub": as_int(np.arange(len(first_slot)) - first_slot),
    }
