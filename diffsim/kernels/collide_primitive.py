"""MuJoCo's primitive narrowphase for plane, sphere, capsule, ellipsoid and cylinder pairs.

Each collision function reproduces one of MuJoCo's (``engine_collision_primitive.c``;
plane-ellipsoid is the ellipsoid case of ``mjc_PlaneConvex`` in
``engine_collision_convex.c``), operation for operation, so that its contacts agree with
MuJoCo's ``mjData.contact`` to rounding. All are generic over float32/float64 and share
one signature::

    f(pos1, mat1, size1, pos2, mat2, size2, margin, e, adr,
      con_dist, con_pos, con_normal, con_tangent) -> int

* ``pos``/``mat``/``size``: the geoms' ``geom_xpos``, ``geom_xmat`` (``mat[i, j] =
  xmat[3 i + j]``: column ``j`` is local axis ``j`` in the world) and ``geom_size``.
  geom1 is the geom of the smaller type, as MuJoCo orders a pair (for two geoms of the
  same type, the one MuJoCo lists first in ``mjContact.geom``).
* ``margin``: what MuJoCo (4.x) hands the collision function: the pair's margin plus its
  gap. A contact is made when its distance is within it (``dist <= margin``, up to how
  each function tests it). MuJoCo keeps the contacts with ``dist`` at or beyond the
  pair's margin (the argument less the gap) as excluded ones (``mjContact.exclude = 1``,
  ``includemargin`` = the pair's margin without the gap).
* the contacts go to ``[e, adr]``, ``[e, adr + 1]``, ...: signed distance, position
  (midway between the surfaces), normal (unit, from geom1 to geom2) and MuJoCo's
  ``mjPreContact.tangent`` (a first tangent direction, zero where MuJoCo leaves it to
  ``mju_makeFrame``), in the order MuJoCo lists them. The return value is how many were
  written (never more than MuJoCo's ``mj_maxContact`` for the pair: 2 for plane-capsule
  and capsule-capsule, 4 for plane-cylinder and plane-box, 1 otherwise); slots past it
  are left untouched.

The functions follow the MuJoCo 4.0.0 library that the tests compare against. Its
capsule-capsule differs from the MuJoCo 3.12 source (see ``capsule_capsule``); the others
agree with that source and reproduce MuJoCo 4.0.0's contacts to the last bit or nearly.

``make_frame`` completes a contact frame from the normal and tangent the way
``mju_makeFrame`` does when MuJoCo stores a contact.
"""

from typing import Any

import warp as wp

MINVAL = 1.0e-15
"""MuJoCo's ``mjMINVAL``."""


# ------------------------------------------------------------------------------- helpers


@wp.func
def normalize3(v: Any):
    """``mju_normalize3``: (unit vector, length); (1, 0, 0) when the length is below mjMINVAL."""
    norm = wp.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2])
    zero = type(norm)(0.0)
    if norm < type(norm)(MINVAL):
        return wp.vector(type(norm)(1.0), zero, zero), norm
    inv = type(norm)(1.0) / norm
    return wp.vector(v[0] * inv, v[1] * inv, v[2] * inv), norm


@wp.func
def dot3(a: Any, b: Any):
    """``mju_dot3``, summed left to right."""
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


@wp.func
def axis_of(mat: Any, j: int):
    """Column ``j`` of a geom's rotation: its local axis ``j`` in the world."""
    return wp.vector(mat[0, j], mat[1, j], mat[2, j])


@wp.func
def zero3(x: Any):
    """The zero vec3 of the scalar type of ``x``."""
    z = type(x)(0.0)
    return wp.vector(z, z, z)


@wp.func
def store_contact(
    e: int,
    slot: int,
    dist: Any,
    pos: Any,
    normal: Any,
    tangent: Any,
    con_dist: wp.array2d(dtype=Any),
    con_pos: wp.array2d(dtype=Any),
    con_normal: wp.array2d(dtype=Any),
    con_tangent: wp.array2d(dtype=Any),
):
    """Write one contact to slot ``[e, slot]``."""
    con_dist[e, slot] = dist
    con_pos[e, slot] = pos
    con_normal[e, slot] = normal
    con_tangent[e, slot] = tangent


@wp.func
def make_frame(normal: Any, tangent: Any):
    """``mju_makeFrame``: the contact frame from its normal and optional first tangent.

    The normal is normalised. A tangent shorter than 0.5 counts as not given and is
    replaced by the world y axis, or the world z axis when the normal's y component is
    0.5 or more in magnitude; the tangent is then made orthogonal to the normal and
    normalised, and the third axis is normal x tangent. Returns the frame with the
    axes as rows (``mjContact.frame`` read as a 3x3 matrix).
    """
    x, xlen = normalize3(normal)
    zero = type(xlen)(0.0)
    one = type(xlen)(1.0)
    half = type(xlen)(0.5)
    y = tangent
    if dot3(y, y) < type(xlen)(0.25):
        if x[1] < half and x[1] > -half:
            y = wp.vector(zero, one, zero)
        else:
            y = wp.vector(zero, zero, one)
    proj = dot3(x, y)
    y = wp.vector(y[0] - x[0] * proj, y[1] - x[1] * proj, y[2] - x[2] * proj)
    y, ylen = normalize3(y)
    z = wp.vector(x[1] * y[2] - x[2] * y[1], x[2] * y[0] - x[0] * y[2], x[0] * y[1] - x[1] * y[0])
    return wp.matrix_from_rows(x, y, z)


@wp.func
def plane_sphere_raw(pos1: Any, normal: Any, pos2: Any, radius: Any, margin: Any):
    """``mjraw_PlaneSphere`` with the plane given by its point and normal (its z axis).

    Returns (found, dist, pos); the contact normal is the plane's.
    """
    dif = pos2 - pos1
    cdist = dot3(dif, normal)
    if cdist > margin + radius:
        return 0, cdist, pos2
    dist = cdist - radius
    scl = -dist / type(dist)(2.0) - radius
    pos = wp.vector(pos2[0] + normal[0] * scl, pos2[1] + normal[1] * scl, pos2[2] + normal[2] * scl)
    return 1, dist, pos


@wp.func
def sphere_sphere_raw(pos1: Any, mat1: Any, radius1: Any, pos2: Any, mat2: Any, radius2: Any, margin: Any):
    """``mjraw_SphereSphere``: (found, dist, pos, normal).

    Coincident centres take the normal along z1 x z2 (x when the z axes are parallel).
    """
    dif = pos1 - pos2
    cdist_sqr = dot3(dif, dif)
    min_dist = margin + radius1 + radius2
    if cdist_sqr > min_dist * min_dist:
        return 0, cdist_sqr, pos1, dif
    dist = wp.sqrt(cdist_sqr) - radius1 - radius2
    normal, length = normalize3(pos2 - pos1)
    if length < type(length)(MINVAL):
        normal, length = normalize3(wp.cross(axis_of(mat1, 2), axis_of(mat2, 2)))
    scl = radius1 + dist / type(dist)(2.0)
    pos = wp.vector(normal[0] * scl + pos1[0], normal[1] * scl + pos1[1], normal[2] * scl + pos1[2])
    return 1, dist, pos, normal


# ------------------------------------------------------------------------ plane collisions


@wp.func
def plane_sphere(
    pos1: Any,
    mat1: Any,
    size1: Any,
    pos2: Any,
    mat2: Any,
    size2: Any,
    margin: Any,
    e: int,
    adr: int,
    con_dist: wp.array2d(dtype=Any),
    con_pos: wp.array2d(dtype=Any),
    con_normal: wp.array2d(dtype=Any),
    con_tangent: wp.array2d(dtype=Any),
) -> int:
    """``mjc_PlaneSphere``: one contact at the sphere's lowest point, normal = plane z axis."""
    normal = axis_of(mat1, 2)
    found, dist, pos = plane_sphere_raw(pos1, normal, pos2, size2[0], margin)
    if found == 0:
        return 0
    store_contact(e, adr, dist, pos, normal, zero3(margin), con_dist, con_pos, con_normal, con_tangent)
    return 1


@wp.func
def plane_capsule(
    pos1: Any,
    mat1: Any,
    size1: Any,
    pos2: Any,
    mat2: Any,
    size2: Any,
    margin: Any,
    e: int,
    adr: int,
    con_dist: wp.array2d(dtype=Any),
    con_pos: wp.array2d(dtype=Any),
    con_normal: wp.array2d(dtype=Any),
    con_tangent: wp.array2d(dtype=Any),
) -> int:
    """``mjc_PlaneCapsule``: plane-sphere at the end +axis, then at the end -axis (up to 2
    contacts); each contact's tangent is the capsule axis."""
    normal = axis_of(mat1, 2)
    axis = axis_of(mat2, 2)
    segment = wp.vector(size2[1] * axis[0], size2[1] * axis[1], size2[1] * axis[2])
    n = int(0)
    found1, dist1, p1 = plane_sphere_raw(pos1, normal, pos2 + segment, size2[0], margin)
    if found1 != 0:
        store_contact(e, adr, dist1, p1, normal, axis, con_dist, con_pos, con_normal, con_tangent)
        n = 1
    found2, dist2, p2 = plane_sphere_raw(pos1, normal, pos2 - segment, size2[0], margin)
    if found2 != 0:
        store_contact(e, adr + n, dist2, p2, normal, axis, con_dist, con_pos, con_normal, con_tangent)
        n = n + 1
    return n


@wp.func
def plane_cylinder(
    pos1: Any,
    mat1: Any,
    size1: Any,
    pos2: Any,
    mat2: Any,
    size2: Any,
    margin: Any,
    e: int,
    adr: int,
    con_dist: wp.array2d(dtype=Any),
    con_pos: wp.array2d(dtype=Any),
    con_normal: wp.array2d(dtype=Any),
    con_tangent: wp.array2d(dtype=Any),
) -> int:
    """``mjc_PlaneCylinder``: up to 4 contacts on the rim of the cylinder.

    In order: the rim point nearest the plane on the cap nearer the plane (none at all
    when it is beyond the margin), the corresponding point on the other cap, and two
    points of the nearer cap's rim at +-120 degrees from the first (together they make
    an equilateral triangle), added as a pair when within the margin.
    """
    half = type(margin)(0.5)
    normal = axis_of(mat1, 2)
    axis = axis_of(mat2, 2)
    radius = size2[0]
    height = size2[1]

    # axis pointing towards the plane
    prjaxis = dot3(normal, axis)
    if prjaxis > type(margin)(0.0):
        axis = -axis
        prjaxis = -prjaxis

    dif = pos2 - pos1
    dist0 = dot3(dif, normal)

    # direction in the cap plane towards the plane: -normal without its component along the axis
    vec = wp.vector(axis[0] * prjaxis - normal[0], axis[1] * prjaxis - normal[1], axis[2] * prjaxis - normal[2])
    len_sqr = dot3(vec, vec)
    if len_sqr >= type(margin)(MINVAL) * type(margin)(MINVAL):
        scl = radius / wp.sqrt(len_sqr)
        vec = wp.vector(vec[0] * scl, vec[1] * scl, vec[2] * scl)
    else:
        # cap parallel to the plane: any rim point, take the cylinder's x axis
        vec = wp.vector(mat2[0, 0] * radius, mat2[1, 0] * radius, mat2[2, 0] * radius)
    prjvec = dot3(vec, normal)

    axis = wp.vector(axis[0] * height, axis[1] * height, axis[2] * height)
    prjaxis = prjaxis * height

    zero_tangent = zero3(margin)
    dist = dist0 + prjaxis + prjvec
    if dist > margin:
        return 0
    pos = pos2 + vec + axis + normal * (-dist * half)
    store_contact(e, adr, dist, pos, normal, zero_tangent, con_dist, con_pos, con_normal, con_tangent)
    n = int(1)

    dist = dist0 - prjaxis + prjvec
    if dist <= margin:
        pos = pos2 + vec - axis + normal * (-dist * half)
        store_contact(e, adr + n, dist, pos, normal, zero_tangent, con_dist, con_pos, con_normal, con_tangent)
        n = n + 1

    prjvec1 = -prjvec * half
    dist = dist0 + prjaxis + prjvec1
    if dist <= margin:
        # sideways rim direction, scaled to the half side of the inscribed triangle
        side, side_len = normalize3(wp.cross(vec, axis))
        scl = radius * wp.sqrt(type(margin)(3.0)) / type(margin)(2.0)
        side = wp.vector(side[0] * scl, side[1] * scl, side[2] * scl)
        pos = pos2 + side + axis + vec * (-half) + normal * (-dist * half)
        store_contact(e, adr + n, dist, pos, normal, zero_tangent, con_dist, con_pos, con_normal, con_tangent)
        pos = pos2 - side + axis + vec * (-half) + normal * (-dist * half)
        store_contact(e, adr + n + 1, dist, pos, normal, zero_tangent, con_dist, con_pos, con_normal, con_tangent)
        n = n + 2
    return n


@wp.func
def plane_box(
    pos1: Any,
    mat1: Any,
    size1: Any,
    pos2: Any,
    mat2: Any,
    size2: Any,
    margin: Any,
    e: int,
    adr: int,
    con_dist: wp.array2d(dtype=Any),
    con_pos: wp.array2d(dtype=Any),
    con_normal: wp.array2d(dtype=Any),
    con_tangent: wp.array2d(dtype=Any),
) -> int:
    """``mjc_PlaneBox``: the box's corners within the margin, up to 4.

    Corners are visited in MuJoCo's order (corner ``i`` has local coordinate ``k`` at
    ``+size[k]`` when bit ``k`` of ``i`` is set, else ``-size[k]``); corners on the far
    side of the box's centre from the plane are skipped, and the first 4 found are kept.
    """
    normal = axis_of(mat1, 2)
    dif = pos2 - pos1
    dist = dot3(dif, normal)
    zero = type(margin)(0.0)
    half = type(margin)(0.5)
    zero_tangent = zero3(margin)
    n = int(0)
    for i in range(8):
        sx = size2[0]
        if (i & 1) == 0:
            sx = -sx
        sy = size2[1]
        if (i & 2) == 0:
            sy = -sy
        sz = size2[2]
        if (i & 4) == 0:
            sz = -sz
        corner = mat2 * wp.vector(sx, sy, sz)
        ldist = dot3(normal, corner)
        if n < 4 and dist + ldist <= margin and ldist <= zero:
            cdist = dist + ldist
            pos = corner + pos2 + normal * (-cdist * half)
            store_contact(e, adr + n, cdist, pos, normal, zero_tangent, con_dist, con_pos, con_normal, con_tangent)
            n = n + 1
    return n


@wp.func
def plane_ellipsoid(
    pos1: Any,
    mat1: Any,
    size1: Any,
    pos2: Any,
    mat2: Any,
    size2: Any,
    margin: Any,
    e: int,
    adr: int,
    con_dist: wp.array2d(dtype=Any),
    con_pos: wp.array2d(dtype=Any),
    con_normal: wp.array2d(dtype=Any),
    con_tangent: wp.array2d(dtype=Any),
) -> int:
    """``mjc_PlaneConvex`` for an ellipsoid: one contact at the ellipsoid's support point
    along -normal (``mjccd_support``), normal = plane z axis.

    The support point of an ellipsoid with semi-axes ``s`` along the local direction
    ``d`` is ``s * normalize(s * d)`` (componentwise products).
    """
    normal = axis_of(mat1, 2)
    # -normal in the ellipsoid's frame: mat2^T (-normal)
    down = -normal
    local = wp.vector(
        mat2[0, 0] * down[0] + mat2[1, 0] * down[1] + mat2[2, 0] * down[2],
        mat2[0, 1] * down[0] + mat2[1, 1] * down[1] + mat2[2, 1] * down[2],
        mat2[0, 2] * down[0] + mat2[1, 2] * down[1] + mat2[2, 2] * down[2],
    )
    scaled, slen = normalize3(wp.vector(local[0] * size2[0], local[1] * size2[1], local[2] * size2[2]))
    supp_local = wp.vector(scaled[0] * size2[0], scaled[1] * size2[1], scaled[2] * size2[2])
    supp = mat2 * supp_local + pos2
    dist = dot3(normal, supp - pos1)
    if dist > margin:
        return 0
    pos = supp + normal * (-type(margin)(0.5) * dist)
    store_contact(e, adr, dist, pos, normal, zero3(margin), con_dist, con_pos, con_normal, con_tangent)
    return 1


# ---------------------------------------------------------- sphere and capsule collisions


@wp.func
def sphere_sphere(
    pos1: Any,
    mat1: Any,
    size1: Any,
    pos2: Any,
    mat2: Any,
    size2: Any,
    margin: Any,
    e: int,
    adr: int,
    con_dist: wp.array2d(dtype=Any),
    con_pos: wp.array2d(dtype=Any),
    con_normal: wp.array2d(dtype=Any),
    con_tangent: wp.array2d(dtype=Any),
) -> int:
    """``mjc_SphereSphere``: one contact along the line of centres."""
    found, dist, pos, normal = sphere_sphere_raw(pos1, mat1, size1[0], pos2, mat2, size2[0], margin)
    if found == 0:
        return 0
    store_contact(e, adr, dist, pos, normal, zero3(margin), con_dist, con_pos, con_normal, con_tangent)
    return 1


@wp.func
def sphere_capsule(
    pos1: Any,
    mat1: Any,
    size1: Any,
    pos2: Any,
    mat2: Any,
    size2: Any,
    margin: Any,
    e: int,
    adr: int,
    con_dist: wp.array2d(dtype=Any),
    con_pos: wp.array2d(dtype=Any),
    con_normal: wp.array2d(dtype=Any),
    con_tangent: wp.array2d(dtype=Any),
) -> int:
    """``mjc_SphereCapsule``: sphere-sphere with the point of the capsule's segment
    nearest the sphere's centre."""
    length = size2[1]
    axis = axis_of(mat2, 2)
    x = wp.clamp(dot3(axis, pos1 - pos2), -length, length)
    center = wp.vector(axis[0] * x + pos2[0], axis[1] * x + pos2[1], axis[2] * x + pos2[2])
    found, dist, pos, normal = sphere_sphere_raw(pos1, mat1, size1[0], center, mat2, size2[0], margin)
    if found == 0:
        return 0
    store_contact(e, adr, dist, pos, normal, zero3(margin), con_dist, con_pos, con_normal, con_tangent)
    return 1


@wp.func
def sphere_cylinder(
    pos1: Any,
    mat1: Any,
    size1: Any,
    pos2: Any,
    mat2: Any,
    size2: Any,
    margin: Any,
    e: int,
    adr: int,
    con_dist: wp.array2d(dtype=Any),
    con_pos: wp.array2d(dtype=Any),
    con_normal: wp.array2d(dtype=Any),
    con_tangent: wp.array2d(dtype=Any),
) -> int:
    """``mjc_SphereCylinder``: one contact with the side, a cap or the rim.

    With the sphere's centre beside the cylinder (within its height) the side is hit
    (sphere-sphere with the centre's projection on the axis); above or below a cap
    (within the radius) the cap (plane-sphere against the cap, normal reversed); with
    the centre inside the cylinder the nearer of the two; otherwise the rim (sphere-sphere
    with a zero-radius sphere at the nearest rim point).
    """
    radius = size2[0]
    height = size2[1]
    axis = axis_of(mat2, 2)
    vec = pos1 - pos2
    x = dot3(axis, vec)
    a_proj = wp.vector(axis[0] * x, axis[1] * x, axis[2] * x)
    p_proj = vec - a_proj
    p_proj_sqr = dot3(p_proj, p_proj)

    side = wp.abs(x) < height
    cap = p_proj_sqr < radius * radius
    if side and cap:
        # centre inside: keep the nearer surface
        if height - wp.abs(x) < radius - wp.sqrt(p_proj_sqr):
            side = False
        else:
            cap = False

    zero_tangent = zero3(margin)
    if side:
        found, dist, pos, normal = sphere_sphere_raw(pos1, mat1, size1[0], a_proj + pos2, mat2, size2[0], margin)
        if found == 0:
            return 0
        store_contact(e, adr, dist, pos, normal, zero_tangent, con_dist, con_pos, con_normal, con_tangent)
        return 1

    if cap:
        cap_normal = axis
        offset = height
        if not (x > type(x)(0.0)):
            cap_normal = -axis
            offset = -height
        cap_pos = wp.vector(pos2[0] + axis[0] * offset, pos2[1] + axis[1] * offset, pos2[2] + axis[2] * offset)
        found, dist, pos = plane_sphere_raw(cap_pos, cap_normal, pos1, size1[0], margin)
        if found == 0:
            return 0
        store_contact(e, adr, dist, pos, -cap_normal, zero_tangent, con_dist, con_pos, con_normal, con_tangent)
        return 1

    # rim: nearest point of the cap's circle
    scl = radius / wp.sqrt(p_proj_sqr)
    offset = height
    if not (x > type(x)(0.0)):
        offset = -height
    rim = wp.vector(
        axis[0] * offset + p_proj[0] * scl + pos2[0],
        axis[1] * offset + p_proj[1] * scl + pos2[1],
        axis[2] * offset + p_proj[2] * scl + pos2[2],
    )
    found, dist, pos, normal = sphere_sphere_raw(pos1, mat1, size1[0], rim, mat2, type(x)(0.0), margin)
    if found == 0:
        return 0
    store_contact(e, adr, dist, pos, normal, zero_tangent, con_dist, con_pos, con_normal, con_tangent)
    return 1


@wp.func
def capsule_parallel_end(
    end1: Any,
    pos1: Any,
    axis1: Any,
    mat1: Any,
    r1: Any,
    pos2: Any,
    axis2: Any,
    mat2: Any,
    r2: Any,
    ma: Any,
    mb: Any,
    mc: Any,
    u: Any,
    v: Any,
    margin: Any,
):
    """One contact of parallel capsules (MuJoCo 4.0.0's ``mjraw_CapsuleCapsule``).

    The end ``x1 = end1`` of segment 1 is projected on segment 2; when the projection
    falls beyond an end of segment 2, that end is projected back on segment 1 (clipped).
    Returns sphere-sphere's (found, dist, pos, normal) for the two points.
    """
    one = type(margin)(1.0)
    x1 = end1
    x2 = (v - x1 * mb) / mc
    if x2 > one or x2 < -one:
        x2 = wp.clamp(x2, -one, one)
        x1 = wp.clamp((u - x2 * mb) / ma, -one, one)
    c1 = wp.vector(axis1[0] * x1 + pos1[0], axis1[1] * x1 + pos1[1], axis1[2] * x1 + pos1[2])
    c2 = wp.vector(axis2[0] * x2 + pos2[0], axis2[1] * x2 + pos2[1], axis2[2] * x2 + pos2[2])
    return sphere_sphere_raw(c1, mat1, r1, c2, mat2, r2, margin)


@wp.func
def capsule_capsule(
    pos1: Any,
    mat1: Any,
    size1: Any,
    pos2: Any,
    mat2: Any,
    size2: Any,
    margin: Any,
    e: int,
    adr: int,
    con_dist: wp.array2d(dtype=Any),
    con_pos: wp.array2d(dtype=Any),
    con_normal: wp.array2d(dtype=Any),
    con_tangent: wp.array2d(dtype=Any),
) -> int:
    """``mjc_CapsuleCapsule`` as MuJoCo 4.0.0 computes it: sphere-sphere between the nearest
    points of the two segments.

    Segment points are ``pos + x * size[1] * axis`` with ``x`` in [-1, 1]. The axes count
    as parallel when the sine of their angle is below 1e-4 (``|a1 x a2|^2 < 1e-8 |a1|^2
    |a2|^2`` for the scaled axes). Otherwise one contact, between the nearest points of the
    lines clipped to the segments, computed with cross products (free of the cancellation
    of ``|a1|^2 |a2|^2 - (a1.a2)^2``). Parallel axes give up to 2 contacts, for the ends
    ``x1 = -1`` then ``x1 = +1`` of segment 1 (see ``capsule_parallel_end``): the two ends
    of the stretch where the segments overlap, or twice the same contact when they do not
    overlap.

    MuJoCo 3.12 (the source this was first read from) tested ``|det| >= mjMINVAL`` with
    ``det = ma mc - mb^2`` and tried the ends x1 = +1, x1 = -1, x2 = +1, x2 = -1 in turn
    without projecting back; MuJoCo 3.16 changed this ("fixed floating-point cancellation
    in capsule-capsule collision detection for parallel and near-parallel axes"). The
    behaviour here was measured against MuJoCo 4.0.0.
    """
    one = type(margin)(1.0)
    r1 = size1[0]
    r2 = size2[0]
    axis1 = wp.vector(mat1[0, 2] * size1[1], mat1[1, 2] * size1[1], mat1[2, 2] * size1[1])
    axis2 = wp.vector(mat2[0, 2] * size2[1], mat2[1, 2] * size2[1], mat2[2, 2] * size2[1])
    dif = pos1 - pos2

    ma = dot3(axis1, axis1)
    mb = -dot3(axis1, axis2)
    mc = dot3(axis2, axis2)
    u = -dot3(axis1, dif)
    v = dot3(axis2, dif)
    normal12 = wp.cross(axis1, axis2)
    det = dot3(normal12, normal12)

    zero_tangent = zero3(margin)
    if det >= type(margin)(1.0e-8) * ma * mc:
        # nearest points of the lines: (a1 x a2).(a2 x dif) / det and (a1 x a2).(a1 x dif) / det
        x1 = dot3(normal12, wp.cross(axis2, dif)) / det
        x2 = dot3(normal12, wp.cross(axis1, dif)) / det
        if x1 > one:
            x1 = one
            x2 = (v - mb) / mc
        elif x1 < -one:
            x1 = -one
            x2 = (v + mb) / mc
        if x2 > one:
            x2 = one
            x1 = wp.clamp((u - mb) / ma, -one, one)
        elif x2 < -one:
            x2 = -one
            x1 = wp.clamp((u + mb) / ma, -one, one)
        c1 = wp.vector(axis1[0] * x1 + pos1[0], axis1[1] * x1 + pos1[1], axis1[2] * x1 + pos1[2])
        c2 = wp.vector(axis2[0] * x2 + pos2[0], axis2[1] * x2 + pos2[1], axis2[2] * x2 + pos2[2])
        found, dist, pos, normal = sphere_sphere_raw(c1, mat1, r1, c2, mat2, r2, margin)
        if found == 0:
            return 0
        store_contact(e, adr, dist, pos, normal, zero_tangent, con_dist, con_pos, con_normal, con_tangent)
        return 1

    # parallel axes
    n = int(0)
    found, dist, pos, normal = capsule_parallel_end(
        -one, pos1, axis1, mat1, r1, pos2, axis2, mat2, r2, ma, mb, mc, u, v, margin
    )
    if found != 0:
        store_contact(e, adr, dist, pos, normal, zero_tangent, con_dist, con_pos, con_normal, con_tangent)
        n = 1
    found, dist, pos, normal = capsule_parallel_end(
        one, pos1, axis1, mat1, r1, pos2, axis2, mat2, r2, ma, mb, mc, u, v, margin
    )
    if found != 0:
        store_contact(e, adr + n, dist, pos, normal, zero_tangent, con_dist, con_pos, con_normal, con_tangent)
        n = n + 1
    return n
