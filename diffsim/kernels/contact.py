"""Smoothed, differentiable penalty contact with regularised Coulomb friction.

One thread per (environment, contact slot), one kernel per pair kind (``contact_kernels``);
see ``diffsim.collision`` for the slots.
For a contact with signed distance ``d`` (m, negative when the geoms overlap), normal
``n`` (from geom b to geom a), relative velocity ``v`` of a with respect to b at the
contact point, normal speed ``v_n = v . n`` and tangential velocity ``v_t``::

    depth  = w * softplus(-d / w)                  # smooth max(-d, 0)
    f_n    = k * depth * damping_factor(beta * v_n) # Hunt-Crossley-style damping, never pulls
    f_t    = -mu * f_n * v_t / sqrt(|v_t|^2 + eps^2)  # Coulomb, regularised at rest
    F      = f_n * n + f_t                          # on a at the contact point; -F on b

where ``damping_factor(x)`` is ``1 - x`` made smooth and kept within [0, 2]: it never
pulls, and damping can at most double the elastic force, because an explicit step
cannot follow the force spike of a fast impact (a foot landing at several m/s travels
centimetres into the ground in one step). ``contact_params = (k [N/m], beta [s/m], w [m], eps [m/s])``; ``mu`` is the larger
sliding friction of the two geoms, as in MuJoCo. The width ``w`` trades realism for
gradient quality: small ``w`` is a hard contact whose gradient switches on abruptly,
larger ``w`` starts pushing a little before touch and gives gradients that see the
contact coming. ``eps`` does the same for stick/slip.

Slots whose geoms are more than 40 widths apart (where softplus(-40) < 5e-18) skip the
force, and skip the exact geometry too when bounding spheres already show it; their
``contact_dist`` is then a lower bound. Which slots passed that test is kept
(``contact_near``), so that the backward pass skips the others at once (see
``contact_kernels``).

Forces are accumulated per body with ``wp.atomic_add`` as spatial forces about the
body's tree reference point (see ``spatial.py``), ready to be mapped to joint space.
"""

from typing import Any

import warp as wp

from diffsim.collision import (
    BOX_PLANE,
    CAPSULE_BOX,
    CAPSULE_CAPSULE,
    CAPSULE_PLANE,
    CAPSULE_SPHERE,
    SPHERE_BOX,
    SPHERE_PLANE,
)
from diffsim.kernels.dynamics import softplus
from diffsim.kernels.spatial import bottom, quat_wxyz, spatial, top


@wp.func
def safe_normalize(v: Any, fallback: Any):
    """Unit vector along ``v``; ``fallback`` when ``v`` is (nearly) zero."""
    length_sq = wp.dot(v, v)
    if length_sq > type(length_sq)(1.0e-24):
        return v / wp.sqrt(length_sq)
    return fallback


@wp.func
def segment_point_param(p: Any, q: Any, x: Any):
    """Parameter in [0, 1] of the point of segment p-q closest to x."""
    u = q - p
    denom = wp.dot(u, u)
    if denom < type(denom)(1.0e-24):
        return type(denom)(0.0)
    return wp.clamp(wp.dot(x - p, u) / denom, type(denom)(0.0), type(denom)(1.0))


@wp.func
def segment_segment_params(p1: Any, q1: Any, p2: Any, q2: Any):
    """Parameters (s, t) in [0, 1] of the closest points of segments p1-q1 and p2-q2."""
    d1 = q1 - p1
    d2 = q2 - p2
    r = p1 - p2
    a = wp.dot(d1, d1)
    e = wp.dot(d2, d2)
    f = wp.dot(d2, r)
    c = wp.dot(d1, r)
    b = wp.dot(d1, d2)
    zero = type(a)(0.0)
    one = type(a)(1.0)
    tiny = type(a)(1.0e-24)
    denom = a * e - b * b
    s = zero
    if denom > tiny * (a * e + tiny):
        s = wp.clamp((b * f - c * e) / denom, zero, one)
    t = zero
    if e > tiny:
        t = (b * s + f) / e
    if t < zero:
        t = zero
        if a > tiny:
            s = wp.clamp(-c / a, zero, one)
    elif t > one:
        t = one
        if a > tiny:
            s = wp.clamp((b - c) / a, zero, one)
    return wp.vector(s, t)


@wp.func
def relu_smooth(x: Any):
    """softplus(20 x) / 20: 1 at x = 1 to 4 ppm, 0 for x << 0."""
    return softplus(x * type(x)(20.0)) / type(x)(20.0)


@wp.func
def damping_factor(x: Any):
    """``1 - x`` smoothly limited to [0, 2]."""
    two = type(x)(2.0)
    return two - relu_smooth(two - relu_smooth(type(x)(1.0) - x))


@wp.func
def point_velocity(
    body: int,
    e: int,
    x: Any,
    body_rootid: wp.array(dtype=int),
    body_lastdof: wp.array(dtype=int),
    xpos: wp.array2d(dtype=Any),
    dof_cvel: wp.array2d(dtype=Any),
):
    """World velocity of the point ``x`` fixed to ``body``."""
    last = body_lastdof[body]
    velocity = x * type(x[0])(0.0)
    if last >= 0:
        cvel = dof_cvel[e, last]
        velocity = bottom(cvel) + wp.cross(top(cvel), x - xpos[e, body_rootid[body]])
    return velocity


# which geom kinds each contact kind pairs (geom a first, see diffsim.collision)
A_IS_CAPSULE = (CAPSULE_PLANE, CAPSULE_SPHERE, CAPSULE_CAPSULE, CAPSULE_BOX)
B_IS_PLANE = (SPHERE_PLANE, CAPSULE_PLANE, BOX_PLANE)
B_IS_BOX = (SPHERE_BOX, CAPSULE_BOX)

_contact_kernels = {}

# kernel -> the kernel whose adjoint diffsim's backward pass launches in its place
ADJOINT_SOURCE = {}


# Two functions rather than one returning (position, orientation): with Warp 1.19, the
# adjoint through a wp.func that returns a tuple came out wrong here (O(1) errors in the
# contact gradients), while the forward was exact.
@wp.func
def geom_world_position(
    e: int,
    g: int,
    geom_body: wp.array(dtype=int),
    geom_pos: wp.array(dtype=Any),
    xpos: wp.array2d(dtype=Any),
    xquat: wp.array2d(dtype=Any),
):
    """World position of geom ``g``'s centre in environment ``e``."""
    body = geom_body[g]
    return xpos[e, body] + wp.quat_rotate(xquat[e, body], geom_pos[g])


@wp.func
def geom_world_quat(
    e: int, g: int, geom_body: wp.array(dtype=int), geom_quat: wp.array(dtype=Any), xquat: wp.array2d(dtype=Any)
):
    """World orientation of geom ``g`` in environment ``e``."""
    return xquat[e, geom_body[g]] * quat_wxyz(geom_quat[g])


def contact_kernels(kind: int):
    """``(forces, forces_of_near_slots)``: the contact kernel for one pair kind
    (``diffsim.collision``'s ``SPHERE_PLANE``, ...), launched over (env, slot of that
    kind), ``slots`` holding the slot ids, and the kernel whose adjoint diffsim's
    backward pass runs in its place (``ADJOINT_SOURCE``).

    ``forces`` first compares bounding spheres: slots whose geoms are more than 40
    contact widths apart (``softplus(-40) < 5e-18``: no force, no gradient) skip the exact
    geometry, and it records which did in ``contact_near``. ``forces_of_near_slots`` is
    the same code reading ``contact_near`` instead of testing, so its adjoint returns at
    once for far slots instead of replaying their poses and bounding test, which most of
    an Ant's slots are (docs/results/cpu_benchmarks.md). Both give the same gradients bit
    for bit; a ``wp.Tape``
    over ``forces`` differentiates it as it is.

    A pair of kernels per kind, its kind a compile-time constant (``wp.static``), holds
    only that pair's geometry, so its adjoint declares, zeroes and carries half the
    adjoint variables of one kernel for every kind; on a GPU it also
    has no divergent branches and needs fewer registers.
    """
    if kind in _contact_kernels:
        return _contact_kernels[kind]
    KIND = kind

    def make(FUSED: bool):
        @wp.kernel(module="unique")
        def contact_forces(
            slots: wp.array(dtype=int),
            contact_near: wp.array2d(dtype=int),
            slot_geom_a: wp.array(dtype=int),
            slot_geom_b: wp.array(dtype=int),
            slot_sub: wp.array(dtype=int),
            geom_body: wp.array(dtype=int),
            geom_pos: wp.array(dtype=Any),
            geom_quat: wp.array(dtype=Any),
            geom_size: wp.array(dtype=Any),
            geom_friction: wp.array(dtype=Any),
            body_rootid: wp.array(dtype=int),
            body_lastdof: wp.array(dtype=int),
            contact_params: wp.array(dtype=Any),
            xpos: wp.array2d(dtype=Any),
            xquat: wp.array2d(dtype=Any),
            dof_cvel: wp.array2d(dtype=Any),
            # outputs (contact_near: an input where not FUSED)
            contact_dist: wp.array2d(dtype=Any),
            contact_pos: wp.array2d(dtype=Any),
            contact_force: wp.array2d(dtype=Any),
            cfrc_ext: wp.array2d(dtype=Any),
        ):
            """Each slot's distance, point and force (on geom a), the force and its opposite
            added to the two bodies' ``cfrc_ext``; ``contact_near[e, c]`` says whether the
            slot got past the bounding-sphere test (written when ``FUSED``, read otherwise)."""
            e, i = wp.tid()
            c = slots[i]
            ga = slot_geom_a[c]
            gb = slot_geom_b[c]
            if wp.static(FUSED):
                # far apart? a bounding-sphere test skips the exact geometry (distances are then lower bounds)
                pos_a = geom_world_position(e, ga, geom_body, geom_pos, xpos, xquat)
                pos_b = geom_world_position(e, gb, geom_body, geom_pos, xpos, xquat)
                size_a = geom_size[ga]
                size_b = geom_size[gb]
                zero = size_a[0] * type(size_a[0])(0.0)
                reach_a = size_a[0]
                if wp.static(KIND in A_IS_CAPSULE):
                    reach_a = size_a[0] + size_a[1]
                elif wp.static(KIND == BOX_PLANE):
                    reach_a = wp.length(size_a)
                clearance = zero
                if wp.static(KIND in B_IS_PLANE):
                    quat_b = geom_world_quat(e, gb, geom_body, geom_quat, xquat)
                    axis_b = wp.quat_rotate(quat_b, wp.vector(zero, zero, type(zero)(1.0)))
                    clearance = wp.dot(pos_a - pos_b, axis_b) - reach_a
                else:
                    reach_b = size_b[0]
                    if wp.static(KIND == CAPSULE_CAPSULE):
                        reach_b = size_b[0] + size_b[1]
                    elif wp.static(KIND in B_IS_BOX):
                        reach_b = wp.length(size_b)
                    clearance = wp.length(pos_a - pos_b) - reach_a - reach_b
                if clearance > contact_params[2] * type(zero)(40.0):
                    contact_near[e, c] = 0
                    contact_dist[e, c] = clearance
                    contact_pos[e, c] = pos_a
                    contact_force[e, c] = wp.vector(zero, zero, zero)
                    return
                contact_near[e, c] = 1
            elif contact_near[e, c] == 0:
                return
            sub = slot_sub[c]
            body_a = geom_body[ga]
            body_b = geom_body[gb]

            # world poses of the two geoms (FUSED computed the positions above too: the twin
            # must compute them only after its check, and the two share this code)
            quat_a = geom_world_quat(e, ga, geom_body, geom_quat, xquat)
            quat_b = geom_world_quat(e, gb, geom_body, geom_quat, xquat)
            pos_a = geom_world_position(e, ga, geom_body, geom_pos, xpos, xquat)
            pos_b = geom_world_position(e, gb, geom_body, geom_pos, xpos, xquat)
            size_a = geom_size[ga]
            size_b = geom_size[gb]
            zero = size_a[0] * type(size_a[0])(0.0)
            one = type(zero)(1.0)
            half = type(zero)(0.5)
            up = wp.vector(zero, zero, one)
            axis_a = wp.quat_rotate(quat_a, up)
            axis_b = wp.quat_rotate(quat_b, up)
            width = contact_params[2]

            # centre and radius of the sphere that stands for geom a at this slot (a box corner:
            # radius 0), and the centre of geom b's sphere where b is a sphere or a capsule
            centre_a = pos_a
            radius_a = size_a[0]
            centre_b = pos_b
            if wp.static(KIND in A_IS_CAPSULE):
                end_lo = pos_a - axis_a * size_a[1]
                end_hi = pos_a + axis_a * size_a[1]
                if wp.static(KIND in (CAPSULE_PLANE, CAPSULE_BOX)):
                    # fixed points along the segment: 0 -> lower end, 1 -> upper end, 2 -> middle
                    s = zero
                    if sub == 1:
                        s = one
                    elif sub == 2:
                        s = half
                    centre_a = end_lo + (end_hi - end_lo) * s
                elif wp.static(KIND == CAPSULE_SPHERE):
                    centre_a = end_lo + (end_hi - end_lo) * segment_point_param(end_lo, end_hi, pos_b)
                else:
                    # CAPSULE_CAPSULE: the closest points of the two segments
                    st = segment_segment_params(end_lo, end_hi, pos_b - axis_b * size_b[1], pos_b + axis_b * size_b[1])
                    centre_a = end_lo + (end_hi - end_lo) * st[0]
                    centre_b = pos_b - axis_b * size_b[1] + axis_b * (size_b[1] * type(zero)(2.0) * st[1])
            if wp.static(KIND == BOX_PLANE):
                corner = wp.vector(size_a[0], size_a[1], size_a[2])
                if sub % 2 == 1:
                    corner[0] = -corner[0]
                if (sub // 2) % 2 == 1:
                    corner[1] = -corner[1]
                if sub >= 4:
                    corner[2] = -corner[2]
                centre_a = pos_a + wp.quat_rotate(quat_a, corner)
                radius_a = zero

            # distance, normal (from b to a) and contact point (midway between the surfaces)
            normal = up
            dist = zero
            point = centre_a
            if wp.static(KIND in B_IS_PLANE):
                normal = axis_b
                dist = wp.dot(centre_a - pos_b, normal) - radius_a
            elif wp.static(KIND in B_IS_BOX):
                local = wp.quat_rotate_inv(quat_b, centre_a - pos_b)
                closest = wp.vector(
                    wp.clamp(local[0], -size_b[0], size_b[0]),
                    wp.clamp(local[1], -size_b[1], size_b[1]),
                    wp.clamp(local[2], -size_b[2], size_b[2]),
                )
                gap = local - closest
                gap_sq = wp.dot(gap, gap)
                if gap_sq > type(zero)(1.0e-24):
                    gap_len = wp.sqrt(gap_sq)
                    normal = wp.quat_rotate(quat_b, gap / gap_len)
                    dist = gap_len - radius_a
                else:
                    # centre inside the box: push out through the nearest face
                    depth = size_b - wp.vector(wp.abs(local[0]), wp.abs(local[1]), wp.abs(local[2]))
                    face = 0
                    if depth[1] < depth[face]:
                        face = 1
                    if depth[2] < depth[face]:
                        face = 2
                    local_normal = wp.vector(zero, zero, zero)
                    local_normal[face] = wp.sign(local[face])
                    normal = wp.quat_rotate(quat_b, local_normal)
                    dist = -depth[face] - radius_a
            else:
                # SPHERE_SPHERE, CAPSULE_SPHERE, CAPSULE_CAPSULE: sphere against sphere (centre_b above)
                normal = safe_normalize(centre_a - centre_b, up)
                dist = wp.length(centre_a - centre_b) - radius_a - size_b[0]
            point = centre_a - normal * (radius_a + half * dist)

            # the force law
            stiffness = contact_params[0]
            damping = contact_params[1]
            slip = contact_params[3]
            contact_dist[e, c] = dist
            contact_pos[e, c] = point
            if dist > width * type(width)(40.0):
                # softplus(-40) < 5e-18: the force (and its gradient) is zero to machine precision
                contact_force[e, c] = normal * zero
                return
            v_rel = point_velocity(body_a, e, point, body_rootid, body_lastdof, xpos, dof_cvel) - point_velocity(
                body_b, e, point, body_rootid, body_lastdof, xpos, dof_cvel
            )
            v_n = wp.dot(v_rel, normal)
            v_t = v_rel - normal * v_n
            f_n = stiffness * width * softplus(-dist / width) * damping_factor(damping * v_n)
            mu = wp.max(geom_friction[ga][0], geom_friction[gb][0])
            force = normal * f_n - v_t * (mu * f_n / wp.sqrt(wp.dot(v_t, v_t) + slip * slip))

            contact_force[e, c] = force
            arm_a = point - xpos[e, body_rootid[body_a]]
            arm_b = point - xpos[e, body_rootid[body_b]]
            wp.atomic_add(cfrc_ext, e, body_a, spatial(wp.cross(arm_a, force), force))
            wp.atomic_add(cfrc_ext, e, body_b, -spatial(wp.cross(arm_b, force), force))

        return contact_forces

    forces, forces_of_near_slots = make(True), make(False)
    ADJOINT_SOURCE[forces] = forces_of_near_slots
    _contact_kernels[kind] = (forces, forces_of_near_slots)
    return _contact_kernels[kind]
