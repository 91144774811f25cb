"""MuJoCo's collision detection, batched: every candidate pair's collision function, then
the contacts gathered into fixed-capacity buffers with their mixed parameters
[mj_collision, mj_narrowphase, mj_contactParam, mj_setContact].

``collide`` runs over (environment, candidate pair) (pairs from ``collision_pairs.py``):
the pair's bounding spheres first [mj_filterSphere], then its collision function
(``collide_primitive.py``, ``collide_box.py``), which writes up to ``maxcon`` contacts
into the pair's own slots of a per-environment scratch. ``gather_contacts`` runs over
environments: it lists the contacts, pair by pair, in the first ``capacity`` entries of
the contact buffers and adds the ones that did not fit to ``contact_overflow``;
``contact_parameters`` runs over (environment, contact): it copies each contact's geometry,
completes its frame [mju_makeFrame] and gives it the pair's parameters:

* a ``<pair>``'s own ``condim``, ``friction``, ``solref``, ``solreffriction``, ``solimp``,
  ``margin`` and ``gap``;
* else mixed from the two geoms': the higher ``priority``'s values; at equal priority the
  larger ``condim`` and frictions, ``solimp`` and (time-constant form) ``solref`` averaged
  with the weights ``solmix1 / (solmix1 + solmix2)``, a direct-form ``solref`` the
  smaller of the two; ``margin`` and ``gap`` summed.

Frictions are at least ``mjMINMU``; a contact makes force only while its distance is below
``includemargin = margin`` (the collision functions look as far as ``margin + gap``).
"""

from typing import Any

import warp as wp

from diffsim.collision_pairs import (
    BOX_BOX,
    CAPSULE_BOX,
    CAPSULE_CAPSULE,
    PLANE_BOX,
    PLANE_CAPSULE,
    PLANE_CYLINDER,
    PLANE_ELLIPSOID,
    PLANE_SPHERE,
    SPHERE_BOX,
    SPHERE_CAPSULE,
    SPHERE_CYLINDER,
    SPHERE_SPHERE,
)
from diffsim.kernels.collide_box import box_box, capsule_box, sphere_box
from diffsim.kernels.collide_primitive import (
    capsule_capsule,
    make_frame,
    plane_box,
    plane_capsule,
    plane_cylinder,
    plane_ellipsoid,
    plane_sphere,
    sphere_capsule,
    sphere_cylinder,
    sphere_sphere,
)
from diffsim.kernels.spatial import quat_wxyz
from diffsim.spec import GEOM_PLANE

MINMU = 1.0e-5  # MuJoCo's mjMINMU: the smallest friction coefficient
MINVAL = 1.0e-15  # mjMINVAL


@wp.func
def geom_frame(
    e: int,
    g: int,
    geom_body: wp.array(dtype=int),
    geom_pos: wp.array(dtype=Any),
    geom_quat: wp.array(dtype=Any),
    xpos: wp.array2d(dtype=Any),
    xquat: wp.array2d(dtype=Any),
):
    """World position and rotation matrix (columns: the geom's axes) of geom ``g``."""
    b = geom_body[g]
    q = xquat[e, b] * quat_wxyz(geom_quat[g])
    return xpos[e, b] + wp.quat_rotate(xquat[e, b], geom_pos[g]), wp.quat_to_matrix(q)


@wp.kernel
def collide(
    collision_geom1: wp.array(dtype=int),
    collision_geom2: wp.array(dtype=int),
    collision_kind: wp.array(dtype=int),
    collision_conadr: wp.array(dtype=int),
    collision_explicit: wp.array(dtype=int),
    geom_type: wp.array(dtype=int),
    geom_body: wp.array(dtype=int),
    geom_pos: wp.array(dtype=Any),
    geom_quat: wp.array(dtype=Any),
    geom_size: wp.array(dtype=Any),
    geom_rbound: wp.array(dtype=Any),
    geom_margin: wp.array(dtype=Any),
    geom_gap: wp.array(dtype=Any),
    pair_margin: wp.array(dtype=Any),
    pair_gap: wp.array(dtype=Any),
    xpos: wp.array2d(dtype=Any),
    xquat: wp.array2d(dtype=Any),
    # outputs
    precon_count: wp.array2d(dtype=int),
    precon_dist: wp.array2d(dtype=Any),
    precon_pos: wp.array2d(dtype=Any),
    precon_normal: wp.array2d(dtype=Any),
    precon_tangent: wp.array2d(dtype=Any),
):
    """The contacts of candidate pair ``p`` in environment ``e``; launch over (env, pair)."""
    e, p = wp.tid()
    g1 = collision_geom1[p]
    g2 = collision_geom2[p]
    explicit = collision_explicit[p]
    margin = geom_margin[g1] + geom_margin[g2] + geom_gap[g1] + geom_gap[g2]
    if explicit >= 0:
        margin = pair_margin[explicit] + pair_gap[explicit]
    pos1, mat1 = geom_frame(e, g1, geom_body, geom_pos, geom_quat, xpos, xquat)
    pos2, mat2 = geom_frame(e, g2, geom_body, geom_pos, geom_quat, xpos, xquat)
    # bounding spheres [mj_filterSphere]: a plane's is its half-space
    near = True
    if geom_type[g1] == GEOM_PLANE:
        normal = wp.vector(mat1[0, 2], mat1[1, 2], mat1[2, 2])
        near = wp.dot(pos2 - pos1, normal) <= margin + geom_rbound[g2]
    else:
        bound = geom_rbound[g1] + geom_rbound[g2] + margin
        near = wp.length_sq(pos1 - pos2) <= bound * bound
    n = int(0)
    if near:
        kind = collision_kind[p]
        s1 = geom_size[g1]
        s2 = geom_size[g2]
        a = collision_conadr[p]
        d = precon_dist
        x = precon_pos
        nm = precon_normal
        t = precon_tangent
        if kind == PLANE_SPHERE:
            n = plane_sphere(pos1, mat1, s1, pos2, mat2, s2, margin, e, a, d, x, nm, t)
        elif kind == PLANE_CAPSULE:
            n = plane_capsule(pos1, mat1, s1, pos2, mat2, s2, margin, e, a, d, x, nm, t)
        elif kind == PLANE_ELLIPSOID:
            n = plane_ellipsoid(pos1, mat1, s1, pos2, mat2, s2, margin, e, a, d, x, nm, t)
        elif kind == PLANE_CYLINDER:
            n = plane_cylinder(pos1, mat1, s1, pos2, mat2, s2, margin, e, a, d, x, nm, t)
        elif kind == PLANE_BOX:
            n = plane_box(pos1, mat1, s1, pos2, mat2, s2, margin, e, a, d, x, nm, t)
        elif kind == SPHERE_SPHERE:
            n = sphere_sphere(pos1, mat1, s1, pos2, mat2, s2, margin, e, a, d, x, nm, t)
        elif kind == SPHERE_CAPSULE:
            n = sphere_capsule(pos1, mat1, s1, pos2, mat2, s2, margin, e, a, d, x, nm, t)
        elif kind == SPHERE_CYLINDER:
            n = sphere_cylinder(pos1, mat1, s1, pos2, mat2, s2, margin, e, a, d, x, nm, t)
        elif kind == SPHERE_BOX:
            n = sphere_box(pos1, mat1, s1, pos2, mat2, s2, margin, e, a, d, x, nm, t)
        elif kind == CAPSULE_CAPSULE:
            n = capsule_capsule(pos1, mat1, s1, pos2, mat2, s2, margin, e, a, d, x, nm, t)
        elif kind == CAPSULE_BOX:
            n = capsule_box(pos1, mat1, s1, pos2, mat2, s2, margin, e, a, d, x, nm, t)
        elif kind == BOX_BOX:
            n = box_box(pos1, mat1, s1, pos2, mat2, s2, margin, e, a, d, x, nm, t)
    precon_count[e, p] = n


@wp.func
def solmix_weight(s1: Any, s2: Any):
    """The first geom's weight in a mixed ``solref``/``solimp`` [mj_contactParam]."""
    tiny = type(s1)(MINVAL)
    if s1 >= tiny and s2 >= tiny:
        return s1 / (s1 + s2)
    if s1 < tiny and s2 < tiny:
        return type(s1)(0.5)
    if s1 < tiny:
        return type(s1)(0.0)
    return type(s1)(1.0)


@wp.kernel
def gather_contacts(
    capacity: int,
    collision_conadr: wp.array(dtype=int),
    collision_condim: wp.array(dtype=int),
    precon_count: wp.array2d(dtype=int),
    # outputs
    ncon: wp.array(dtype=int),
    contact_overflow: wp.array(dtype=int),
    con_pair: wp.array2d(dtype=int),
    con_slot: wp.array2d(dtype=int),
    con_dim: wp.array2d(dtype=int),
):
    """Environment ``e``'s contacts, pair by pair, into its first ``capacity`` entries: each
    contact's pair, its slot in the collision functions' scratch and its ``condim``
    (integers only: ``contact_parameters`` copies the values, with an exact adjoint)."""
    e = wp.tid()
    count = int(0)
    overflow = int(0)
    for p in range(collision_conadr.shape[0]):
        n = precon_count[e, p]
        for j in range(n):
            if count >= capacity:
                overflow += 1
                continue
            con_pair[e, count] = p
            con_slot[e, count] = collision_conadr[p] + j
            con_dim[e, count] = collision_condim[p]
            count += 1
    ncon[e] = count
    contact_overflow[e] = contact_overflow[e] + overflow  # summed over a call's steps


@wp.func(inline=True)  # inlined: no copy of its many arguments per item
def contact_parameters_of(
    e: int,
    c: int,
    collision_geom1: wp.array(dtype=int),
    collision_geom2: wp.array(dtype=int),
    collision_explicit: wp.array(dtype=int),
    geom_priority: wp.array(dtype=int),
    geom_solmix: wp.array(dtype=Any),
    geom_friction: wp.array(dtype=Any),
    geom_solref: wp.array(dtype=Any),
    geom_solimp: wp.array(dtype=Any),
    geom_margin: wp.array(dtype=Any),
    pair_friction: wp.array(dtype=Any),
    pair_solref: wp.array(dtype=Any),
    pair_solreffriction: wp.array(dtype=Any),
    pair_solimp: wp.array(dtype=Any),
    pair_margin: wp.array(dtype=Any),
    precon_dist: wp.array2d(dtype=Any),
    precon_pos: wp.array2d(dtype=Any),
    precon_normal: wp.array2d(dtype=Any),
    precon_tangent: wp.array2d(dtype=Any),
    ncon: wp.array(dtype=int),
    con_pair: wp.array2d(dtype=int),
    con_slot: wp.array2d(dtype=int),
    # outputs
    con_dist: wp.array2d(dtype=Any),
    con_pos: wp.array2d(dtype=Any),
    con_frame: wp.array2d(dtype=Any),
    con_includemargin: wp.array2d(dtype=Any),
    con_friction: wp.array2d(dtype=Any),
    con_solref: wp.array2d(dtype=Any),
    con_solreffriction: wp.array2d(dtype=Any),
    con_solimp: wp.array2d(dtype=Any),
):
    """Contact ``c`` of environment ``e``: its geometry from its slot, its frame completed
    [mju_makeFrame] and its pair's parameters [mj_contactParam]."""
    if c >= ncon[e]:
        return
    p = con_pair[e, c]
    slot = con_slot[e, c]
    g1 = collision_geom1[p]
    g2 = collision_geom2[p]
    explicit = collision_explicit[p]
    zero = geom_margin[g1] * type(geom_margin[g1])(0.0)
    one = zero + type(zero)(1.0)
    tiny = zero + type(zero)(MINMU)
    margin = geom_margin[g1] + geom_margin[g2]
    solref = geom_solref[g1]
    solreffriction = wp.vector(zero, zero)
    solimp = geom_solimp[g1]
    f1 = geom_friction[g1]
    f2 = geom_friction[g2]
    sliding = wp.max(f1[0], f2[0])
    spin = wp.max(f1[1], f2[1])
    roll = wp.max(f1[2], f2[2])
    friction = wp.vector(sliding, sliding, spin, roll, roll)
    if explicit >= 0:
        margin = pair_margin[explicit]
        solref = pair_solref[explicit]
        solreffriction = pair_solreffriction[explicit]
        solimp = pair_solimp[explicit]
        friction = pair_friction[explicit]
    elif geom_priority[g1] != geom_priority[g2]:
        winner = g1
        if geom_priority[g2] > geom_priority[g1]:
            winner = g2
        solref = geom_solref[winner]
        solimp = geom_solimp[winner]
        f = geom_friction[winner]
        friction = wp.vector(f[0], f[0], f[1], f[2], f[2])
    else:
        mix = solmix_weight(geom_solmix[g1], geom_solmix[g2])
        r1 = geom_solref[g1]
        r2 = geom_solref[g2]
        if r1[0] > zero and r2[0] > zero:
            solref = mix * r1 + (one - mix) * r2
        else:
            solref = wp.vector(wp.min(r1[0], r2[0]), wp.min(r1[1], r2[1]))
        solimp = mix * geom_solimp[g1] + (one - mix) * geom_solimp[g2]
    friction = wp.vector(
        wp.max(friction[0], tiny),
        wp.max(friction[1], tiny),
        wp.max(friction[2], tiny),
        wp.max(friction[3], tiny),
        wp.max(friction[4], tiny),
    )
    con_dist[e, c] = precon_dist[e, slot]
    con_pos[e, c] = precon_pos[e, slot]
    con_frame[e, c] = make_frame(precon_normal[e, slot], precon_tangent[e, slot])
    con_includemargin[e, c] = margin
    con_friction[e, c] = friction
    con_solref[e, c] = solref
    con_solreffriction[e, c] = solreffriction
    con_solimp[e, c] = solimp


@wp.kernel
def contact_parameters(
    capacity: int,
    per_block: int,
    collision_geom1: wp.array(dtype=int),
    collision_geom2: wp.array(dtype=int),
    collision_explicit: wp.array(dtype=int),
    geom_priority: wp.array(dtype=int),
    geom_solmix: wp.array(dtype=Any),
    geom_friction: wp.array(dtype=Any),
    geom_solref: wp.array(dtype=Any),
    geom_solimp: wp.array(dtype=Any),
    geom_margin: wp.array(dtype=Any),
    pair_friction: wp.array(dtype=Any),
    pair_solref: wp.array(dtype=Any),
    pair_solreffriction: wp.array(dtype=Any),
    pair_solimp: wp.array(dtype=Any),
    pair_margin: wp.array(dtype=Any),
    precon_dist: wp.array2d(dtype=Any),
    precon_pos: wp.array2d(dtype=Any),
    precon_normal: wp.array2d(dtype=Any),
    precon_tangent: wp.array2d(dtype=Any),
    ncon: wp.array(dtype=int),
    con_pair: wp.array2d(dtype=int),
    con_slot: wp.array2d(dtype=int),
    # outputs
    con_dist: wp.array2d(dtype=Any),
    con_pos: wp.array2d(dtype=Any),
    con_frame: wp.array2d(dtype=Any),
    con_includemargin: wp.array2d(dtype=Any),
    con_friction: wp.array2d(dtype=Any),
    con_solref: wp.array2d(dtype=Any),
    con_solreffriction: wp.array2d(dtype=Any),
    con_solimp: wp.array2d(dtype=Any),
):
    """``contact_parameters_of`` for the contact slots of every environment; launch over (env, block of
    ``per_block``, ``Simulator.row_blocks``)."""
    e, block = wp.tid()
    for c in range(block * per_block, wp.min((block + 1) * per_block, capacity)):
        contact_parameters_of(
            e,
            c,
            collision_geom1,
            collision_geom2,
            collision_explicit,
            geom_priority,
            geom_solmix,
            geom_friction,
            geom_solref,
            geom_solimp,
            geom_margin,
            pair_friction,
            pair_solref,
            pair_solreffriction,
            pair_solimp,
            pair_margin,
            precon_dist,
            precon_pos,
            precon_normal,
            precon_tangent,
            ncon,
            con_pair,
            con_slot,
            con_dist,
            con_pos,
            con_frame,
            con_includemargin,
            con_friction,
            con_solref,
            con_solreffriction,
            con_solimp,
        )
