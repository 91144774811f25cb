"""MuJoCo's box narrowphase (``src/engine/engine_collision_box.c``) as Warp functions.

Three pairs, with MuJoCo's geom order (geom1 has the smaller geom type):

* ``sphere_box``  -- ``mjc_SphereBox`` / ``mjraw_SphereBox``, at most 1 contact;
* ``capsule_box`` -- ``mjc_CapsuleBox`` / ``mjraw_CapsuleBox``, at most 2 contacts
  (``mj_maxContact`` reserves 4);
* ``box_box``     -- ``mjc_BoxBox`` (the separating-axis collider with face clipping),
  at most 8 contacts (``mj_maxContact``).

All three share one signature::

    n = f(pos1, mat1, size1, pos2, mat2, size2, margin, e, adr,
          con_dist, con_pos, con_normal, con_tangent)

``pos`` is ``geom_xpos`` (vec3), ``mat`` is ``geom_xmat`` as a mat33 (``mat[i][j] =
xmat[3*i+j]``, so column ``j`` is the geom's local axis ``j`` in world), ``size`` is
``geom_size`` and ``margin`` is what MuJoCo's narrowphase passes, the pair's margin plus
gap. Contacts are written to ``[e, adr]``, ``[e, adr + 1]``, ... of the output arrays,
as MuJoCo's ``mjPreContact``: signed distance, position, unit normal from geom1 to
geom2, and first tangent (always zero for these pairs; ``mju_makeFrame`` completes the
frame). The return value is the number written; slots past it are left untouched.

Everything is generic over float32/float64 (``Any``). The operations follow MuJoCo's
order of evaluation, so in float64 the results agree with MuJoCo's to rounding. The
float32 versions use the tolerances MuJoCo's single-precision build (``mjUSESINGLE``)
uses for the box-box collider.
"""

from typing import Any

import warp as wp

from diffsim.kernels.collide_primitive import MINVAL, dot3, normalize3, store_contact, zero3

MAXVAL = 1.0e10  # MuJoCo's mjMAXVAL

# capacity of the box-box clipping polygons (MuJoCo's mjBOXBOX_MAXVERT); a face manifold
# is cut to BOXBOX_MAXCON contacts, the count mj_maxContact reserves for a box pair
BOXBOX_MAXVERT = 12
BOXBOX_MAXCON = 8


# --------------------------------------------------------------------------- helpers


@wp.func
def mul_mat_vec3(m: Any, v: Any):
    """``m @ v`` summed in MuJoCo's order (``mji_mulMatVec3``)."""
    return wp.vector(
        m[0, 0] * v[0] + m[0, 1] * v[1] + m[0, 2] * v[2],
        m[1, 0] * v[0] + m[1, 1] * v[1] + m[1, 2] * v[2],
        m[2, 0] * v[0] + m[2, 1] * v[1] + m[2, 2] * v[2],
    )


@wp.func
def mul_mat_t_vec3(m: Any, v: Any):
    """``m^T @ v`` summed in MuJoCo's order (``mji_mulMatTVec3``)."""
    return wp.vector(
        m[0, 0] * v[0] + m[1, 0] * v[1] + m[2, 0] * v[2],
        m[0, 1] * v[0] + m[1, 1] * v[1] + m[2, 1] * v[2],
        m[0, 2] * v[0] + m[1, 2] * v[1] + m[2, 2] * v[2],
    )


@wp.func
def column_dot(a: Any, b: Any, i: int, j: int):
    """Column ``i`` of ``a`` dot column ``j`` of ``b``, summed in MuJoCo's order."""
    return a[0, i] * b[0, j] + a[1, i] * b[1, j] + a[2, i] * b[2, j]


@wp.func
def mul_mat_t_mat3(a: Any, b: Any):
    """``a^T @ b`` summed in MuJoCo's order (``mju_mulMatTMat3``)."""
    return wp.matrix_from_rows(
        wp.vector(column_dot(a, b, 0, 0), column_dot(a, b, 0, 1), column_dot(a, b, 0, 2)),
        wp.vector(column_dot(a, b, 1, 0), column_dot(a, b, 1, 1), column_dot(a, b, 1, 2)),
        wp.vector(column_dot(a, b, 2, 0), column_dot(a, b, 2, 1), column_dot(a, b, 2, 2)),
    )


@wp.func
def with_component(v: Any, i: int, x: Any):
    """``v`` with component ``i`` replaced by ``x``, as a new vector: Warp differentiates
    this, not an in-place ``v[i] = x``."""
    if i == 0:
        return wp.vector(x, v[1], v[2])
    if i == 1:
        return wp.vector(v[0], x, v[2])
    return wp.vector(v[0], v[1], x)


@wp.func
def clip(x: Any, lo: Any, hi: Any):
    """MuJoCo's ``mju_clip``."""
    if x < lo:
        return lo
    if x > hi:
        return hi
    return x


# Box-box rounding tolerances of MuJoCo's double and single builds (mjBOXBOX_SEPEPS,
# mjBOXBOX_PAREPS, mjBOXBOX_SGNEPS, mjBOXBOX_DUPEPS), as overloads on the scalar type.


@wp.func
def boxbox_eps(x: wp.float64):
    """(separation slack, parallel-edge sin^2, ambiguous-sign threshold, duplicate radius^2), float64."""
    return wp.float64(1.0e-13), wp.float64(1.0e-16), wp.float64(1.0e-9), wp.float64(1.0e-14)


@wp.func
def boxbox_eps(x: wp.float32):  # noqa: F811 (a Warp overload, chosen by argument type)
    """(separation slack, parallel-edge sin^2, ambiguous-sign threshold, duplicate radius^2), float32."""
    return wp.float32(1.0e-6), wp.float32(1.0e-7), wp.float32(1.0e-5), wp.float32(1.0e-10)


# --------------------------------------------------------------------------- sphere : box


@wp.func
def sphere_box_raw(
    pos1: Any,
    radius: Any,
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
    """MuJoCo's ``mjraw_SphereBox``: a sphere (centre ``pos1``, ``radius``) against a box.

    The sphere centre is taken to the box frame and clamped to the box. Outside the box
    the normal runs from the centre to the clamped point; inside, it is the axis of the
    nearest face (first in the order -x, +x, -y, +y, -z, +z on ties). Writes at most one
    contact at ``[e, adr]`` and returns the count.
    """
    zero = type(radius)(0.0)
    one = type(radius)(1.0)
    half = type(radius)(0.5)

    center = mul_mat_t_vec3(mat2, pos1 - pos2)

    # clamp to the box (mju_clampVec: only positive limits are active)
    clamped = center
    for i in range(3):
        if size2[i] > zero:
            clamped = with_component(clamped, i, clip(center[i], -size2[i], size2[i]))

    tmp, dist = normalize3(clamped - center)

    if dist - radius > margin:
        return 0

    pos = center
    normal = wp.vector(zero, zero, zero)
    if dist <= type(radius)(MINVAL):
        # centre inside the box: push out through the nearest face
        closest = (size2[0] + size2[1] + size2[2]) * type(radius)(2.0)
        k = int(0)
        for i in range(6):
            face = size2[i // 2]
            if i % 2 == 0:
                face = -face
            gap = wp.abs(face - center[i // 2])
            if closest > gap:
                closest = gap
                k = i
        nearest = wp.vector(zero, zero, zero)
        if k % 2 == 1:
            nearest[k // 2] = -one
        else:
            nearest[k // 2] = one
        pos = center + nearest * ((radius - closest) / type(radius)(2.0))
        normal = mul_mat_vec3(mat2, nearest)
        dist = -closest
    else:
        deepest = center + tmp * radius
        pos = wp.vector(zero, zero, zero) + clamped * half
        pos = pos + deepest * half
        normal = mul_mat_vec3(mat2, tmp)

    store_contact(
        e, adr, dist - radius, mul_mat_vec3(mat2, pos) + pos2, normal, zero3(dist), con_dist, con_pos, con_normal,
        con_tangent,
    )  # fmt: skip
    return 1


@wp.func
def sphere_box(
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
    """MuJoCo's ``mjc_SphereBox``: sphere (geom1) against box (geom2), at most 1 contact."""
    return sphere_box_raw(pos1, size1[0], pos2, mat2, size2, margin, e, adr, con_dist, con_pos, con_normal, con_tangent)


# --------------------------------------------------------------------------- capsule : box


@wp.func
def capsule_box(
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
    """MuJoCo's ``mjc_CapsuleBox`` / ``mjraw_CapsuleBox``: capsule (geom1) against box (geom2).

    In the box frame, the point of the capsule segment closest to the box is searched
    among the two segment ends clamped onto the box (when at most one coordinate clamps)
    and the closest points between the segment and the 12 box edges. Depending on
    whether that closest feature is a box corner, the middle of an edge or a face, and on
    how the segment is oriented relative to it, a second segment point is chosen (the
    far end of the part of the segment that lies over the box). A sphere of the
    capsule's radius at each of these points is collided with the box
    (``mjraw_SphereBox``): at most 2 contacts, segment point order.
    """
    zero = type(margin)(0.0)
    one = type(margin)(1.0)
    two = type(margin)(2.0)
    minval = type(margin)(MINVAL)

    halflength = size1[1]
    secondpos = type(margin)(-4.0)  # no second point unless set below (valid values are in [-2, 2])

    # capsule centre and axis in the box frame
    pos = mul_mat_t_vec3(mat2, pos1 - pos2)
    axis = mul_mat_t_vec3(mat2, wp.vector(mat1[0, 2], mat1[1, 2], mat1[2, 2]))
    halfaxis = axis * halflength

    # octant of the axis direction, bit k set when component k is positive
    axisdir = int(0)
    if halfaxis[0] > zero:
        axisdir += 1
    if halfaxis[1] > zero:
        axisdir += 2
    if halfaxis[2] > zero:
        axisdir += 4

    bestdistmax = margin + two * (size1[0] + halflength + size2[0] + size2[1] + size2[2])
    bestdist = bestdistmax
    bestsegmentpos = zero
    bestboxpos = zero
    cltype = int(-4)  # -3/-1: a segment end is closest to a face; 0..8: an edge (s1*3 + s2)
    clface = int(-1)
    clcorner = int(0)
    cledge = int(0)

    # segment ends clamped onto the box, when at most one coordinate needs clamping
    for end in range(2):
        side = 2 * end - 1
        point = pos + halfaxis * type(margin)(side)
        clamped = point
        nclamp = int(0)
        lastclamp = int(-1)
        for j in range(3):
            if clamped[j] < -size2[j]:
                nclamp += 1
                lastclamp = j
                clamped = with_component(clamped, j, -size2[j])
            elif clamped[j] > size2[j]:
                nclamp += 1
                lastclamp = j
                clamped = with_component(clamped, j, size2[j])
        if nclamp > 1:
            continue
        dif = clamped - point
        dist = dot3(dif, dif)
        if dist < bestdist:
            bestdist = dist
            bestsegmentpos = type(margin)(side)
            cltype = -2 + side
            clface = lastclamp

    # closest points between the segment and each box edge
    for j in range(3):
        for i in range(8):
            if (i & (1 << j)) == 0:
                # edge along axis j through the corner selected by the bits of i
                start = wp.vector(size2[0], size2[1], size2[2])
                if (i & 1) == 0:
                    start = with_component(start, 0, -size2[0])
                if (i & 2) == 0:
                    start = with_component(start, 1, -size2[1])
                if (i & 4) == 0:
                    start = with_component(start, 2, -size2[2])
                start = with_component(start, j, zero)

                dif = start - pos
                ma = size2[j] * size2[j]
                mb = -size2[j] * halfaxis[j]
                mc = size1[1] * size1[1]
                u = -size2[j] * dif[j]
                v = dot3(halfaxis, dif)

                det = ma * mc - mb * mb
                if wp.abs(det) < minval:
                    continue
                idet = one / det

                # x1: position along the edge, x2: along the segment, both in [-1, 1];
                # s1, s2: 0 / 2 when clamped to the lower / upper end, 1 inside
                x1 = (mc * u - mb * v) * idet
                x2 = (ma * v - mb * u) * idet
                s1 = int(1)
                s2 = int(1)

                if x1 > one:
                    x1 = one
                    s1 = 2
                    x2 = (v - mb) * (one / mc)
                elif x1 < -one:
                    x1 = -one
                    s1 = 0
                    x2 = (v + mb) * (one / mc)

                if x2 > one:
                    x2 = one
                    s2 = 2
                    x1 = (u - mb) * (one / ma)
                    if x1 > one:
                        x1 = one
                        s1 = 2
                    elif x1 < -one:
                        x1 = -one
                        s1 = 0
                elif x2 < -one:
                    x2 = -one
                    s2 = 0
                    x1 = (u + mb) * (one / ma)
                    if x1 > one:
                        x1 = one
                        s1 = 2
                    elif x1 < -one:
                        x1 = -one
                        s1 = 0

                dif = start - pos
                dif = dif + halfaxis * (-x2)
                dif = with_component(dif, j, dif[j] + size2[j] * x1)
                dist = dot3(dif, dif)

                # the mjMINVAL slack keeps an axis parallel to the box from switching edges
                if dist < bestdist - minval:
                    bestdist = dist
                    bestsegmentpos = x2
                    bestboxpos = x1
                    cltype = s1 * 3 + s2
                    clcorner = i + (1 << j) * (cltype // 6)
                    cledge = j

    if cltype == -4:
        return 0

    ax = int(0)
    ax1 = int(0)
    ax2 = int(0)
    mul = one

    if cltype >= 0 and cltype // 3 != 1:
        # a box corner is closest to the segment
        c1 = axisdir ^ clcorner
        if c1 != 0 and c1 != 7:  # otherwise the segment points at the corner: one contact
            de = zero
            dp = zero
            if c1 == 1 or c1 == 2 or c1 == 4:
                mul = one
                de = one - bestsegmentpos
                dp = one + bestsegmentpos
            if c1 == 3 or c1 == 5 or c1 == 6:
                mul = -one
                c1 = 7 - c1
                dp = one - bestsegmentpos
                de = one + bestsegmentpos

            if c1 == 1:
                ax = 0
                ax1 = 1
                ax2 = 2
            if c1 == 2:
                ax = 1
                ax1 = 2
                ax2 = 0
            if c1 == 4:
                ax = 2
                ax1 = 0
                ax2 = 1

            if axis[ax] * axis[ax] > type(margin)(0.5):
                # second point along the box edge, up to the edge's other end
                secondpos = de
                e1 = two * size2[ax] / wp.abs(halfaxis[ax])
                if e1 < secondpos:
                    secondpos = e1
                secondpos = secondpos * mul
            else:
                # second point across a box face, up to the face's boundary
                secondpos = dp
                e1 = two * size2[ax1] / wp.abs(halfaxis[ax1])
                if e1 < secondpos:
                    secondpos = e1
                e1 = two * size2[ax2] / wp.abs(halfaxis[ax2])
                if e1 < secondpos:
                    secondpos = e1
                secondpos = secondpos * (-mul)

    elif cltype >= 0:
        # the middle of a box edge is closest to the segment
        c1 = axisdir ^ clcorner
        c1 = c1 & (7 - (1 << cledge))
        if c1 == 1 or c1 == 2 or c1 == 4:  # crossing configuration, otherwise a T: one contact
            ax = cledge
            if cledge == 0:
                ax1 = 1
                ax2 = 2
            if cledge == 1:
                ax1 = 2
                ax2 = 0
            if cledge == 2:
                ax1 = 0
                ax2 = 1

            # the face the segment is flatter to
            if wp.abs(axis[ax1]) > wp.abs(axis[ax2]):
                ax1 = ax2
            ax2 = 3 - ax - ax1

            if (c1 & (1 << ax2)) != 0:
                mul = one
                secondpos = one - bestsegmentpos
            else:
                mul = -one
                secondpos = one + bestsegmentpos

            e1 = two * size2[ax2] / wp.abs(halfaxis[ax2])
            if e1 < secondpos:
                secondpos = e1

            e2 = zero
            if ((axisdir & (1 << ax)) != 0) == ((c1 & (1 << ax2)) != 0):
                e2 = one - bestboxpos
            else:
                e2 = one + bestboxpos
            e1 = size2[ax] * e2 / wp.abs(halfaxis[ax])
            if e1 < secondpos:
                secondpos = e1

            secondpos = secondpos * mul

    else:
        # a segment end is closest to a face (clface == -1: the end is inside the box)
        if clface != -1:
            if cltype == -3:
                mul = one
            else:
                mul = -one
            secondpos = two
            other = pos + halfaxis * (-mul)
            for i in range(3):
                if i != clface:
                    e1 = (size2[i] - other[i]) / halfaxis[i] * mul
                    if e1 > zero:
                        if e1 < secondpos:
                            secondpos = e1
                    e1 = (-size2[i] - other[i]) / halfaxis[i] * mul
                    if e1 > zero:
                        if e1 < secondpos:
                            secondpos = e1
            secondpos = secondpos * mul

    # spheres of the capsule's radius at the chosen segment points, through world frame
    point = pos + halfaxis * bestsegmentpos
    center = mul_mat_vec3(mat2, point) + pos2
    n = sphere_box_raw(center, size1[0], pos2, mat2, size2, margin, e, adr, con_dist, con_pos, con_normal, con_tangent)

    if secondpos > type(margin)(-3.0):
        point = pos + halfaxis * (secondpos + bestsegmentpos)
        center = mul_mat_vec3(mat2, point) + pos2
        n += sphere_box_raw(
            center, size1[0], pos2, mat2, size2, margin, e, adr + n, con_dist, con_pos, con_normal, con_tangent
        )

    return n


# --------------------------------------------------------------------------- box : box


# The lines a clipped incident-face vertex lies on: 0..3 the incident face's edges (edge k
# from corner k to corner k + 1, corners at (su, sv) = (1, 1), (-1, 1), (-1, -1), (1, -1)
# of ``cx + su du + sv dv``), 4..7 the reference face's sides in clipping order (x <= sx,
# -x <= sx, y <= sy, -y <= sy).
FACE_LINES = 8
LabelVector = wp.types.vector(length=BOXBOX_MAXVERT, dtype=wp.int32)


@wp.func
def boxbox_clip(poly: Any, lines: Any, nin: int, coord: int, sign: Any, limit: Any, clip_line: int):
    """One Sutherland-Hodgman pass of MuJoCo's ``clipHalfPlane``.

    Keeps the part of polygon ``poly`` (rows 0..nin-1, (x, y, z) with z carried along as
    an attribute) where ``sign * p[coord] <= limit``; returns (polygon, lines, vertex
    count), ``lines[k]`` the line of the edge from vertex k to vertex k + 1 (the clip
    line ``clip_line`` where the polygon runs along it).
    """
    zero = type(limit)(0.0)
    out = poly
    out_lines = lines
    nout = int(0)
    for k in range(nin):
        k1 = k + 1
        if k1 == nin:
            k1 = 0
        dp = sign * poly[k, coord] - limit
        dq = sign * poly[k1, coord] - limit
        if dp <= zero and nout < BOXBOX_MAXVERT:
            out[nout, 0] = poly[k, 0]
            out[nout, 1] = poly[k, 1]
            out[nout, 2] = poly[k, 2]
            out_lines[nout] = lines[k]
            if dp == zero and dq > zero:
                out_lines[nout] = clip_line
            nout += 1
        if ((dp < zero and dq > zero) or (dp > zero and dq < zero)) and nout < BOXBOX_MAXVERT:
            t = dp / (dp - dq)
            out[nout, 0] = poly[k, 0] + t * (poly[k1, 0] - poly[k, 0])
            out[nout, 1] = poly[k, 1] + t * (poly[k1, 1] - poly[k, 1])
            out[nout, 2] = poly[k, 2] + t * (poly[k1, 2] - poly[k, 2])
            out_lines[nout] = lines[k]
            if dp < zero:
                out_lines[nout] = clip_line
            nout += 1
    return out, out_lines, nout


@wp.func
def boxbox_face_features(cx: Any, du: Any, dv: Any, sx: Any, sy: Any, margin: Any, dupe2: Any):
    """The incident face (``cx + su du + sv dv``, (x, y, height)) clipped to the reference
    face (``|x| <= sx``, ``|y| <= sy``), its vertices within the margin with near duplicates
    dropped, as MuJoCo keeps them: (count, lines ``8 * l_in + l_out`` of each, the
    vertices as clipped). Only integers leave it for gradients: the contacts are
    recomputed from their lines (``face_vertex``)."""
    one = type(margin)(1.0)
    poly = wp.matrix(shape=(BOXBOX_MAXVERT, 3), dtype=type(margin))
    lines = LabelVector()
    for k in range(4):
        su = one
        if k == 1 or k == 2:
            su = -one
        sv = one
        if k >= 2:
            sv = -one
        for r in range(3):
            poly[k, r] = cx[r] + su * du[r] + sv * dv[r]
        lines[k] = k
    nvert = int(4)
    poly, lines, nvert = boxbox_clip(poly, lines, nvert, 0, one, sx, 4)
    poly, lines, nvert = boxbox_clip(poly, lines, nvert, 0, -one, sx, 5)
    poly, lines, nvert = boxbox_clip(poly, lines, nvert, 1, one, sy, 6)
    poly, lines, nvert = boxbox_clip(poly, lines, nvert, 1, -one, sy, 7)

    accepted = wp.matrix(shape=(BOXBOX_MAXVERT, 3), dtype=type(margin))
    accepted_lines = LabelVector()
    naccept = int(0)
    for k in range(nvert):
        if poly[k, 2] > margin:
            continue
        dupe = int(0)
        for q in range(naccept):
            dx = accepted[q, 0] - poly[k, 0]
            dy = accepted[q, 1] - poly[k, 1]
            if dx * dx + dy * dy < dupe2:
                dupe = 1
                break
        if dupe == 0:
            accepted[naccept, 0] = poly[k, 0]
            accepted[naccept, 1] = poly[k, 1]
            accepted[naccept, 2] = poly[k, 2]
            previous = k - 1
            if previous < 0:
                previous = nvert - 1
            accepted_lines[naccept] = FACE_LINES * lines[previous] + lines[k]
            naccept += 1
    return naccept, accepted_lines, accepted


@wp.func
def face_line(line: int, cx: Any, du: Any, dv: Any, sx: Any, sy: Any):
    """Line ``line`` in the incident face's coordinates: ``(alpha, beta, gamma)`` with
    ``alpha su + beta sv = gamma``."""
    zero = sx * type(sx)(0.0)
    one = zero + type(sx)(1.0)
    if line == 0:
        return wp.vector(zero, one, one)
    if line == 1:
        return wp.vector(one, zero, -one)
    if line == 2:
        return wp.vector(zero, one, -one)
    if line == 3:
        return wp.vector(one, zero, one)
    sign = one
    if line == 5 or line == 7:
        sign = -one
    if line < 6:
        return wp.vector(sign * du[0], sign * dv[0], sx - sign * cx[0])
    return wp.vector(sign * du[1], sign * dv[1], sy - sign * cx[1])


@wp.func
def face_vertex(lines: int, cx: Any, du: Any, dv: Any, sx: Any, sy: Any, clipped: Any):
    """The (x, y, height) of the clipped-face vertex on the two lines ``lines`` (``8 *
    l_in + l_out``); ``clipped``, the vertex as clipping computed it, where the lines are
    parallel (a degenerate polygon)."""
    first = face_line(lines // FACE_LINES, cx, du, dv, sx, sy)
    second = face_line(lines % FACE_LINES, cx, du, dv, sx, sy)
    det = first[0] * second[1] - second[0] * first[1]
    scale = wp.abs(first[0]) + wp.abs(first[1]) + wp.abs(second[0]) + wp.abs(second[1])
    if wp.abs(det) <= type(sx)(1.0e-9) * scale * scale:
        return wp.vector(clipped[0], clipped[1], clipped[2])
    su = (first[2] * second[1] - second[2] * first[1]) / det
    sv = (first[0] * second[2] - second[0] * first[2]) / det
    return cx + du * su + dv * sv


@wp.func
def incident_face_coordinate(posoi: Any, offset: Any, rinc: Any, c: int, binc: int):
    """Coordinate ``c`` (in the reference frame) of the incident face's centre."""
    return posoi[c] + offset * rinc[c, binc]


@wp.func
def box_box(
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
    """MuJoCo's ``mjc_BoxBox``: box (geom1) against box (geom2), at most 8 contacts.

    Stage 1 is a separating-axis test over the 3 + 3 face normals and the 9 edge-pair
    cross products (edge axes need sin^2 of the edge angle above a rounding threshold,
    must beat the best face axis by a relative bias, and give way to a nearly parallel
    face axis that is within 5% of their depth). Stage 2 either returns one contact at
    the midpoint of the closest points of the two supporting edges (edge axis), or clips
    the most anti-parallel face of the incident box against the side planes of the
    reference face and returns every clipped vertex within the margin, dropping near
    duplicates (face axis). Contact positions of a face manifold lie midway between the
    reference face plane and the incident surface.
    """
    zero = type(margin)(0.0)
    one = type(margin)(1.0)
    half = type(margin)(0.5)
    minval = type(margin)(MINVAL)
    sepeps, pareps, sgneps, dupeps = boxbox_eps(margin)

    pos21 = mul_mat_t_vec3(mat1, pos2 - pos1)
    pos12 = mul_mat_t_vec3(mat2, pos1 - pos2)
    rot = mul_mat_t_mat3(mat1, mat2)  # column j: axis j of box2 in box1's frame
    rotabs = rot
    for i in range(3):
        for j in range(3):
            rotabs[i, j] = wp.abs(rot[i, j])

    # ---- stage 1: separating axes
    septol = margin + sepeps * (size1[0] + size1[1] + size1[2] + size2[0] + size2[1] + size2[2])
    sep_best = type(margin)(-MAXVAL)
    code = int(-1)  # 0..2: face of box1, 3..5: face of box2, 6 + 3*i + j: edge pair (i, j)

    for i in range(3):
        radius2 = rotabs[i, 0] * size2[0] + rotabs[i, 1] * size2[1] + rotabs[i, 2] * size2[2]
        sep = wp.abs(pos21[i]) - size1[i] - radius2
        if sep > septol:
            return 0
        if sep > sep_best:
            sep_best = sep
            code = i

    for j in range(3):
        radius1 = rotabs[0, j] * size1[0] + rotabs[1, j] * size1[1] + rotabs[2, j] * size1[2]
        sep = wp.abs(pos12[j]) - size2[j] - radius1
        if sep > septol:
            return 0
        if sep > sep_best:
            sep_best = sep
            code = 3 + j

    sep_face = sep_best
    code_face = code
    edgebias = type(margin)(1.0e-6)

    for i in range(3):
        for j in range(3):
            i1 = (i + 1) % 3
            i2 = (i + 2) % 3
            # e_i x (axis j of box2), in box1's frame; component i is zero
            a1 = -rot[i2, j]
            a2 = rot[i1, j]
            norm2 = a1 * a1 + a2 * a2
            if norm2 < pareps:
                continue
            inv = one / wp.sqrt(norm2)
            a1 = a1 * inv
            a2 = a2 * inv
            radius1 = size1[i1] * wp.abs(a1) + size1[i2] * wp.abs(a2)
            j1 = (j + 1) % 3
            j2 = (j + 2) % 3
            b1 = a1 * rot[i1, j1] + a2 * rot[i2, j1]
            b2 = a1 * rot[i1, j2] + a2 * rot[i2, j2]
            radius2 = size2[j1] * wp.abs(b1) + size2[j2] * wp.abs(b2)
            sep = wp.abs(a1 * pos21[i1] + a2 * pos21[i2]) - radius1 - radius2
            if sep > septol:
                return 0
            if sep - edgebias * wp.abs(sep) > sep_best and sep > sep_face:
                sep_best = sep
                code = 6 + 3 * i + j

    if code < 0:
        return 0

    # an edge axis nearly parallel to the best face axis yields to it unless 5% deeper
    if code >= 6:
        i = (code - 6) // 3
        j = (code - 6) % 3
        i1 = (i + 1) % 3
        i2 = (i + 2) % 3
        axis = with_component(with_component(zero3(margin), i1, -rot[i2, j]), i2, rot[i1, j])
        axis, _norm = normalize3(axis)
        face_dot = zero
        if code_face < 3:
            face_dot = wp.abs(axis[code_face])
        else:
            f = code_face - 3
            face_dot = wp.abs(axis[0] * rot[0, f] + axis[1] * rot[1, f] + axis[2] * rot[2, f])
        if face_dot > type(margin)(0.99) and sep_best < sep_face + type(margin)(0.05) * wp.abs(sep_face) + minval:
            code = code_face
            sep_best = sep_face

    # ---- stage 2a: edge-edge contact
    if code >= 6:
        i = (code - 6) // 3
        j = (code - 6) % 3
        i1 = (i + 1) % 3
        i2 = (i + 2) % 3
        j1 = (j + 1) % 3
        j2 = (j + 2) % 3

        # unit axis in box1's frame, from box1 towards box2
        axis = with_component(with_component(zero3(margin), i1, -rot[i2, j]), i2, rot[i1, j])
        axis, _norm = normalize3(axis)
        if dot3(axis, pos21) < zero:
            axis = -axis

        # the axis in box2's frame
        aa = mul_mat_t_vec3(rot, axis)

        # a near-zero axis component leaves the supporting edge ambiguous: try both
        amb1 = int(-1)
        amb2 = int(-1)
        if wp.abs(axis[i1]) < sgneps:
            amb1 = i1
        elif wp.abs(axis[i2]) < sgneps:
            amb1 = i2
        if wp.abs(aa[j1]) < sgneps:
            amb2 = j1
        elif wp.abs(aa[j2]) < sgneps:
            amb2 = j2
        n1 = 1
        if amb1 >= 0:
            n1 = 2
        n2 = 1
        if amb2 >= 0:
            n2 = 2

        d2 = wp.vector(rot[0, j], rot[1, j], rot[2, j])
        b = d2[i]
        denom = one - b * b

        w1 = wp.vector(zero, zero, zero)
        w2 = wp.vector(zero, zero, zero)
        best_d2 = type(margin)(MAXVAL)
        # (constant ranges: Warp unrolls them, which keeps its adjoint exact)
        for v1 in range(2):
            for v2 in range(2):
                if v1 >= n1 or v2 >= n2:
                    continue
                # box1 edge along e_i at the corner supporting +axis
                c1 = zero3(margin)
                if axis[i1] < zero:
                    c1 = with_component(c1, i1, -size1[i1])
                else:
                    c1 = with_component(c1, i1, size1[i1])
                if axis[i2] < zero:
                    c1 = with_component(c1, i2, -size1[i2])
                else:
                    c1 = with_component(c1, i2, size1[i2])
                if amb1 >= 0 and v1 == 1:
                    c1 = with_component(c1, amb1, -c1[amb1])

                # box2 edge along its axis j at the corner supporting -axis
                cc = zero3(margin)
                if aa[j1] >= zero:
                    cc = with_component(cc, j1, -size2[j1])
                else:
                    cc = with_component(cc, j1, size2[j1])
                if aa[j2] >= zero:
                    cc = with_component(cc, j2, -size2[j2])
                else:
                    cc = with_component(cc, j2, size2[j2])
                if amb2 >= 0 and v2 == 1:
                    cc = with_component(cc, amb2, -cc[amb2])
                c2 = mul_mat_vec3(rot, cc) + pos21

                # closest points of the two edge segments
                ev = c2 - c1
                d1e = ev[i]
                d2e = dot3(d2, ev)
                s = zero
                if denom >= minval:
                    s = (d1e - b * d2e) / denom
                s = clip(s, -size1[i], size1[i])
                t = clip(b * s - d2e, -size2[j], size2[j])
                s = clip(d1e + b * t, -size1[i], size1[i])

                p1 = with_component(c1, i, c1[i] + s)
                p2 = c2 + d2 * t
                gap = p2 - p1
                gap2 = dot3(gap, gap)
                if gap2 < best_d2:
                    best_d2 = gap2
                    w1 = p1
                    w2 = p2

        dist = dot3(w2 - w1, axis)
        if dist > septol:
            return 0

        mid = wp.vector(half * (w1[0] + w2[0]), half * (w1[1] + w2[1]), half * (w1[2] + w2[2]))
        store_contact(
            e,
            adr,
            dist,
            mul_mat_vec3(mat1, mid) + pos1,
            mul_mat_vec3(mat1, axis),
            zero3(dist),
            con_dist,
            con_pos,
            con_normal,
            con_tangent,
        )
        return 1

    # ---- stage 2b: face contact
    ref1 = code < 3  # box1 owns the reference face
    a = code
    sizeref = size1
    sizeinc = size2
    posref = pos1
    matref = mat1
    posoi = pos21  # incident box centre in the reference frame
    rinc = rot  # column c: incident axis c in the reference frame
    if not ref1:
        a = code - 3
        sizeref = size2
        sizeinc = size1
        posref = pos2
        matref = mat2
        posoi = pos12
        rinc = wp.transpose(rot)

    sgn = one
    if posoi[a] < zero:
        sgn = -one

    # incident face: the incident axis most aligned with the reference normal, on the side
    # facing the reference box
    binc = int(0)
    for k in range(1, 3):
        if wp.abs(rinc[a, k]) > wp.abs(rinc[a, binc]):
            binc = k
    tinc = one
    if sgn * rinc[a, binc] > zero:
        tinc = -one

    # incident face centre and half-edges in (x, y, z) = (axis a+1, axis a+2, height above
    # the reference face)
    ax = (a + 1) % 3
    ay = (a + 2) % 3
    bu = (binc + 1) % 3
    bv = (binc + 2) % 3
    cx = wp.vector(
        incident_face_coordinate(posoi, tinc * sizeinc[binc], rinc, ax, binc),
        incident_face_coordinate(posoi, tinc * sizeinc[binc], rinc, ay, binc),
        sgn * incident_face_coordinate(posoi, tinc * sizeinc[binc], rinc, a, binc) - sizeref[a],
    )
    du = wp.vector(sizeinc[bu] * rinc[ax, bu], sizeinc[bu] * rinc[ay, bu], sizeinc[bu] * rinc[a, bu] * sgn)
    dv = wp.vector(sizeinc[bv] * rinc[ax, bv], sizeinc[bv] * rinc[ay, bv], sizeinc[bv] * rinc[a, bv] * sgn)

    # which vertices of the clipped incident face make contacts, each as the two lines it
    # lies on; each contact is then recomputed from its lines, a smooth function of the
    # poses (Warp's adjoint cannot follow the clipping's dynamic loops)
    dupe2 = dupeps * (sizeref[ax] * sizeref[ax] + sizeref[ay] * sizeref[ay])
    naccept, lines, clipped = boxbox_face_features(cx, du, dv, sizeref[ax], sizeref[ay], margin, dupe2)

    # normal from geom1 to geom2: +sgn along reference axis a when box1 is the reference
    nsign = sgn
    if not ref1:
        nsign = -sgn
    normal = wp.vector(nsign * matref[0, a], nsign * matref[1, a], nsign * matref[2, a])

    ncon = wp.min(naccept, BOXBOX_MAXCON)
    for k in range(ncon):
        vertex = face_vertex(lines[k], cx, du, dv, sizeref[ax], sizeref[ay], clipped[k])
        posc = with_component(zero3(margin), ax, vertex[0])
        posc = with_component(posc, ay, vertex[1])
        posc = with_component(posc, a, sgn * (sizeref[a] + half * vertex[2]))
        store_contact(
            e,
            adr + k,
            vertex[2],
            mul_mat_vec3(matref, posc) + posref,
            normal,
            zero3(normal[0]),
            con_dist,
            con_pos,
            con_normal,
            con_tangent,
        )
    return ncon
