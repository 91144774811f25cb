"""Spatial-algebra helpers shared by the kernels (``wp.func``, generic over float32/float64).

Conventions (the same as MuJoCo's "com-based" quantities):

* A spatial motion vector is ``[angular (3), linear (3)]``; a spatial force is
  ``[torque (3), force (3)]``. Both are expressed in world orientation about one
  reference point per kinematic tree (here: the origin of the tree's root body), so
  vectors of bodies in the same tree add without any transform.
* A spatial inertia about that point is stored as three parts that add linearly over
  bodies: mass ``m``, first moment ``h = m * (com - p)`` and the rotational inertia
  ``J`` about the point.
* Quaternions are stored ``(w, x, y, z)`` as 4-vectors, as MuJoCo does; ``quat_wxyz``
  turns one into a Warp quaternion (which is ``x, y, z, w`` inside).

Writing generic code: scalar constants are made with ``arr.dtype(value)`` and vectors
with ``wp.vector(...)`` so that their precision follows the arrays'.
"""

from typing import Any

import warp as wp


@wp.func
def spatial(w: Any, v: Any):
    """Spatial vector from angular part ``w`` and linear part ``v`` (both vec3)."""
    return wp.vector(w[0], w[1], w[2], v[0], v[1], v[2])


@wp.func
def top(s: Any):
    """Angular part of a spatial vector."""
    return wp.vector(s[0], s[1], s[2])


@wp.func
def bottom(s: Any):
    """Linear part of a spatial vector."""
    return wp.vector(s[3], s[4], s[5])


@wp.func
def cross_motion(v: Any, s: Any):
    """Spatial cross product for motion vectors, ``v x s`` (MuJoCo's mju_crossMotion)."""
    w = top(v)
    u = bottom(v)
    return spatial(wp.cross(w, top(s)), wp.cross(w, bottom(s)) + wp.cross(u, top(s)))


@wp.func
def cross_force(v: Any, f: Any):
    """Spatial cross product for force vectors, ``v x* f`` (MuJoCo's mju_crossForce)."""
    w = top(v)
    u = bottom(v)
    return spatial(wp.cross(w, top(f)) + wp.cross(u, bottom(f)), wp.cross(w, bottom(f)))


@wp.func
def inertia_mul(m: Any, h: Any, J: Any, v: Any):
    """Spatial inertia ``(m, h, J)`` times motion vector ``v``: the spatial momentum."""
    w = top(v)
    u = bottom(v)
    return spatial(J * w + wp.cross(h, u), u * m - wp.cross(h, w))


@wp.func
def quat_wxyz(q: Any):
    """Warp quaternion from a MuJoCo-ordered 4-vector ``(w, x, y, z)``."""
    return wp.quaternion(q[1], q[2], q[3], q[0])


@wp.func
def quat_axis_angle(axis: Any, angle: Any):
    """Rotation by ``angle`` (rad) about the unit vector ``axis``."""
    half = angle * type(angle)(0.5)
    s = wp.sin(half)
    return wp.quaternion(axis[0] * s, axis[1] * s, axis[2] * s, wp.cos(half))


@wp.func
def quat_integrate(q: Any, w: Any, dt: Any):
    """Rotate unit quaternion ``q`` by the body-frame angular velocity ``w`` over ``dt``.

    The same map as MuJoCo's mju_quatIntegrate, ``q * exp(w dt / 2)``, with
    ``cos(|x|/2)`` and ``sin(|x|/2)/|x|`` replaced by their Taylor series near
    ``|x| = 0`` so that value and gradient stay finite at rest.
    """
    x = w * dt
    theta_sq = wp.dot(x, x)
    c = type(dt)(1.0)
    k = type(dt)(0.5)
    if theta_sq < type(dt)(1.0e-8):
        c = type(dt)(1.0) - theta_sq * type(dt)(0.125)
        k = type(dt)(0.5) - theta_sq / type(dt)(48.0)
    else:
        theta = wp.sqrt(theta_sq)
        c = wp.cos(theta * type(dt)(0.5))
        k = wp.sin(theta * type(dt)(0.5)) / theta
    dq = wp.quaternion(x[0] * k, x[1] * k, x[2] * k, c)
    return wp.normalize(q * dq)


@wp.func
def quat_to_rotvec(q: Any):
    """Rotation vector (axis * angle, angle in (-pi, pi]) of a unit Warp quaternion.

    MuJoCo's mju_quat2Vel with dt = 1. Near the identity ``angle / sin(angle/2)`` is
    taken from its series so that the gradient is finite there.
    """
    v = wp.vector(q[0], q[1], q[2])
    w = q[3]
    s_sq = wp.dot(v, v)
    one = type(w)(1.0)
    factor = type(w)(2.0) / w
    if s_sq > type(w)(1.0e-12):
        s = wp.sqrt(s_sq)
        angle = type(w)(2.0) * wp.atan2(s, w)
        if angle > type(w)(3.141592653589793):
            angle = angle - type(w)(6.283185307179586)
        factor = angle / s
    else:
        # atan2(s, w) ~ s / w (1 - s^2 / (3 w^2)) for small s
        factor = factor * (one - s_sq / (type(w)(3.0) * w * w))
    return v * factor
