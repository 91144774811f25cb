"""MuJoCo's candidate geom pairs and their contact parameters, fixed at load [mj_collision].

MuJoCo finds, every step, the body pairs whose bounding volumes overlap (broad phase),
filters them, and runs the pair's collision function on each pair of their geoms. What
the filters keep does not depend on the state, so diffsim lists those pairs once; the
bounding volumes are a shortcut that never changes the contacts (a contact needs the
geoms within the pair's margin), and the collision kernel checks each pair's bounding
spheres before its collision function.

A body pair is dropped [filterBodyPair] when both bodies are welded to the same body,
when neither welded body has dofs, when one's welded body is the other's welded parent
(unless ``<flag filterparent="disable">``; the world is never a parent here), or when
``<contact><exclude>`` names it. A geom pair is kept when the geoms' ``contype`` and
``conaffinity`` bitmasks match [filterBitmask] and no ``<contact><pair>`` names the
same two geoms; every ``<pair>`` is kept, with its own parameters. The geom with the
smaller type comes first; contact normals point from it to the other.

The contact parameters of a pair are mixed from its geoms' at every step, as the
parameters may change (``kernels/collision_driver.py``).
"""

from __future__ import annotations

import numpy as np

from diffsim.spec import (
    GEOM_BOX,
    GEOM_CAPSULE,
    GEOM_CYLINDER,
    GEOM_ELLIPSOID,
    GEOM_PLANE,
    GEOM_SPHERE,
    ModelSpec,
)

# collision functions diffsim has, by (smaller geom type, larger geom type): (kind, most contacts)
(
    PLANE_SPHERE,
    PLANE_CAPSULE,
    PLANE_ELLIPSOID,
    PLANE_CYLINDER,
    PLANE_BOX,
    SPHERE_SPHERE,
    SPHERE_CAPSULE,
    SPHERE_CYLINDER,
    SPHERE_BOX,
    CAPSULE_CAPSULE,
    CAPSULE_BOX,
    BOX_BOX,
) = range(12)

COLLISION_KINDS = {
    (GEOM_PLANE, GEOM_SPHERE): (PLANE_SPHERE, 1),
    (GEOM_PLANE, GEOM_CAPSULE): (PLANE_CAPSULE, 2),
    (GEOM_PLANE, GEOM_ELLIPSOID): (PLANE_ELLIPSOID, 1),
    (GEOM_PLANE, GEOM_CYLINDER): (PLANE_CYLINDER, 4),
    (GEOM_PLANE, GEOM_BOX): (PLANE_BOX, 4),
    (GEOM_SPHERE, GEOM_SPHERE): (SPHERE_SPHERE, 1),
    (GEOM_SPHERE, GEOM_CAPSULE): (SPHERE_CAPSULE, 1),
    (GEOM_SPHERE, GEOM_CYLINDER): (SPHERE_CYLINDER, 1),
    (GEOM_SPHERE, GEOM_BOX): (SPHERE_BOX, 1),
    (GEOM_CAPSULE, GEOM_CAPSULE): (CAPSULE_CAPSULE, 2),
    (GEOM_CAPSULE, GEOM_BOX): (CAPSULE_BOX, 4),
    (GEOM_BOX, GEOM_BOX): (BOX_BOX, 8),
}

TYPE_NAMES = {0: "plane", 1: "hfield", 2: "sphere", 3: "capsule", 4: "ellipsoid", 5: "cylinder", 6: "box", 7: "mesh"}


def _excluded_bodies(spec: ModelSpec, b1: int, b2: int, filterparent: bool) -> bool:
    """MuJoCo's body-pair filter (weld, dof-less, parent) and ``<exclude>``."""
    weld = np.asarray(spec.body_weldid)
    w1, w2 = weld[b1], weld[b2]
    if w1 == w2:
        return True
    if spec.body_dofnum[w1] == 0 and spec.body_dofnum[w2] == 0:
        return True
    parent_of = lambda w: weld[max(int(spec.body_parent[w]), 0)]  # noqa: E731 (the world's parent: itself)
    if filterparent and w1 != 0 and w2 != 0 and (w1 == parent_of(w2) or w2 == parent_of(w1)):
        return True
    signature = (min(b1, b2) << 16) + max(b1, b2)
    return bool(np.isin(signature, np.asarray(spec.exclude_signature, dtype=np.int64)))


def candidate_pairs(spec: ModelSpec, disabled: frozenset = frozenset()) -> dict:
    """MuJoCo's candidate geom pairs that diffsim has a collision function for, as int
    arrays over pairs: ``geom1``, ``geom2`` (smaller type first), ``kind`` (a collision
    function above), ``maxcon`` (its most contacts), ``conadr`` (the first of the pair's
    slots in a per-environment scratch of ``sum(maxcon)`` slots), ``explicit`` (the
    ``<pair>``, or -1 for a pair of geoms whose parameters are mixed), ``condim``; and
    ``unsupported``: the pairs MuJoCo collides that diffsim has no collision function for."""
    types = np.asarray(spec.geom_type)
    body = np.asarray(spec.geom_body)
    contype = np.asarray(spec.geom_contype, dtype=np.int64)
    conaffinity = np.asarray(spec.geom_conaffinity, dtype=np.int64)
    explicit = {(int(a), int(b)) for a, b in zip(spec.pair_geom1, spec.pair_geom2)}
    explicit |= {(b, a) for a, b in explicit}
    filterparent = "filterparent" not in disabled
    rows = [
        (int(g1), int(g2), i, int(dim))
        for i, (g1, g2, dim) in enumerate(zip(spec.pair_geom1, spec.pair_geom2, spec.pair_dim))
    ]
    collides = (contype != 0) | (conaffinity != 0)
    for g1 in range(len(types)):
        for g2 in range(g1 + 1, len(types)):
            if not (collides[g1] and collides[g2]) or (g1, g2) in explicit:
                continue
            if not ((contype[g1] & conaffinity[g2]) or (contype[g2] & conaffinity[g1])):
                continue
            if _excluded_bodies(spec, int(body[g1]), int(body[g2]), filterparent):
                continue
            p1, p2 = spec.geom_priority[g1], spec.geom_priority[g2]
            condim = (
                spec.geom_condim[g1]
                if p1 > p2
                else spec.geom_condim[g2]
                if p2 > p1
                else max(spec.geom_condim[g1], spec.geom_condim[g2])
            )
            rows.append((g1, g2, -1, int(condim)))
    kept, unsupported = [], []
    names = spec.geom_name
    label = lambda g: f"geom {names[g]!r}" if g < len(names) and names[g] else f"geom {g}"  # noqa: E731
    for g1, g2, pair, condim in rows:
        if types[g1] > types[g2]:
            g1, g2 = g2, g1
        key = (int(types[g1]), int(types[g2]))
        if key in COLLISION_KINDS:
            kept.append((g1, g2, *COLLISION_KINDS[key], pair, condim))
        elif key != (GEOM_PLANE, GEOM_PLANE):  # MuJoCo has no plane-plane collision either
            unsupported.append(f"{TYPE_NAMES[key[0]]}-{TYPE_NAMES[key[1]]} ({label(g1)}, {label(g2)})")
    columns = np.array(kept, dtype=np.int32).reshape(len(kept), 6)
    maxcon = columns[:, 3]
    return {
        "geom1": columns[:, 0].copy(),
        "geom2": columns[:, 1].copy(),
        "kind": columns[:, 2].copy(),
        "maxcon": maxcon.copy(),
        "conadr": (np.cumsum(maxcon) - maxcon).astype(np.int32),
        "explicit": columns[:, 4].copy(),
        "condim": columns[:, 5].copy(),
        "unsupported": unsupported,
    }
