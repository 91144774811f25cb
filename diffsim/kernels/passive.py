"""Passive forces beyond the joints' own springs and dampers (MuJoCo's ``mj_passive``).

Fixed tendons: a fixed tendon's length is linear in the joint positions, ``L = sum_w prm_w q_w``; its
spring pulls it back into ``[lengthspring[0], lengthspring[1]]`` with stiffness ``k``, its
damper resists ``dL/dt``. The tendon force reaches the dofs through the same
coefficients; ``dynamics.smooth_forces`` adds it there.

Bodies: gravity compensation cancels ``gravcomp`` times the body's weight at its centre of
mass; the fluid force is MuJoCo's inertia-box model (the medium's ``density``,
``viscosity`` and ``wind`` acting on the box with the body's mass and principal inertia).
Both are spatial body forces, mapped to the dofs as contact forces are.
"""

from typing import Any

import warp as wp

from diffsim.kernels.actuation import tendon_sum
from diffsim.kernels.spatial import quat_wxyz, spatial


@wp.kernel
def tendon_forces(
    tendon_adr: wp.array(dtype=int),
    tendon_num: wp.array(dtype=int),
    tendon_stiffness: wp.array(dtype=Any),
    tendon_damping: wp.array(dtype=Any),
    tendon_lengthspring: wp.array(dtype=Any),
    wrap_objid: wp.array(dtype=int),
    wrap_prm: wp.array(dtype=Any),
    jnt_qposadr: wp.array(dtype=int),
    jnt_dofadr: wp.array(dtype=int),
    spring: int,
    damper: int,
    qpos: wp.array2d(dtype=Any),
    qvel: wp.array2d(dtype=Any),
    # output
    tendon_force: wp.array2d(dtype=Any),
):
    """Spring and damper force along each tendon, N; launch over (env, tendon)."""
    e, t = wp.tid()
    zero = tendon_stiffness.dtype(0.0)
    force = zero
    if spring != 0:
        length = tendon_sum(e, t, tendon_adr, tendon_num, wrap_objid, wrap_prm, jnt_qposadr, qpos)
        lower = tendon_lengthspring[t][0]
        upper = tendon_lengthspring[t][1]
        x = zero
        if length > upper:
            x = length - upper
        elif length < lower:
            x = length - lower
        force = -tendon_stiffness[t] * x
    if damper != 0:
        v = tendon_sum(e, t, tendon_adr, tendon_num, wrap_objid, wrap_prm, jnt_dofadr, qvel)
        force = force - tendon_damping[t] * v
    tendon_force[e, t] = force


# --- gravity compensation and fluid forces: body forces, mapped to the dofs like contact ---------


@wp.func
def inertia_box(body_principal_inertia: wp.array(dtype=Any), body_mass: wp.array(dtype=Any), b: int):
    """Side lengths of the uniform box with the body's mass and principal inertia [MuJoCo's fluid model]."""
    I = body_principal_inertia[b]
    m = body_mass[b]
    tiny = type(m)(1.0e-15)
    six = type(m)(6.0)
    return wp.vector(
        wp.sqrt(wp.max(tiny, I[1] + I[2] - I[0]) / m * six),
        wp.sqrt(wp.max(tiny, I[0] + I[2] - I[1]) / m * six),
        wp.sqrt(wp.max(tiny, I[0] + I[1] - I[2]) / m * six),
    )


@wp.func
def inertial_frame(xquat: Any, body_iquat: wp.array(dtype=Any), b: int):
    """World orientation of body ``b``'s principal axes."""
    return xquat * quat_wxyz(body_iquat[b])


@wp.func
def local_velocity(
    e: int,
    b: int,
    frame: Any,
    body_lastdof: wp.array(dtype=int),
    body_rootid: wp.array(dtype=int),
    wind: wp.array(dtype=Any),
    xpos: wp.array2d(dtype=Any),
    xipos: wp.array2d(dtype=Any),
    dof_cvel: wp.array2d(dtype=Any),
):
    """(angular, linear) velocity of body ``b`` at its centre of mass relative to the wind,
    in its principal axes [mj_objectVelocity, local]."""
    zero = xipos[e, b] * type(xipos[e, b][0])(0.0)
    angular = zero
    linear = zero
    last = body_lastdof[b]
    if last >= 0:
        c = dof_cvel[e, last]
        angular = wp.vector(c[0], c[1], c[2])
        linear = wp.vector(c[3], c[4], c[5]) + wp.cross(angular, xipos[e, b] - xpos[e, body_rootid[b]])
    return wp.quat_rotate_inv(frame, angular), wp.quat_rotate_inv(frame, linear - wind[0])


@wp.func
def fluid_drag_coefficients(box: Any, density: Any, viscosity: Any, angular: Any, linear: Any):
    """The inertia-box model's per-axis drag, local force ``= coef * velocity`` for the
    (angular, linear) velocity: viscous (Stokes) plus quadratic; and the slopes
    ``d force / d velocity`` (the quadratic term counts twice) for implicit integration."""
    pi = type(density)(3.141592653589793)
    diameter = (box[0] + box[1] + box[2]) / type(density)(3.0)
    viscous_rot = -pi * diameter * diameter * diameter * viscosity
    viscous_lin = -type(density)(3.0) * pi * diameter * viscosity
    q = wp.cw_mul(wp.cw_mul(box, box), wp.cw_mul(box, box))  # box^4
    per64 = density / type(density)(64.0)
    half = type(density)(0.5) * density
    quad_rot = wp.vector(
        per64 * box[0] * (q[1] + q[2]) * wp.abs(angular[0]),
        per64 * box[1] * (q[0] + q[2]) * wp.abs(angular[1]),
        per64 * box[2] * (q[0] + q[1]) * wp.abs(angular[2]),
    )
    quad_lin = wp.vector(
        half * box[1] * box[2] * wp.abs(linear[0]),
        half * box[0] * box[2] * wp.abs(linear[1]),
        half * box[0] * box[1] * wp.abs(linear[2]),
    )
    ones = wp.vector(type(density)(1.0), type(density)(1.0), type(density)(1.0))
    two = type(density)(2.0)
    return (
        ones * viscous_rot - quad_rot,
        ones * viscous_lin - quad_lin,
        ones * viscous_rot - quad_rot * two,
        ones * viscous_lin - quad_lin * two,
    )


@wp.kernel
def body_passive_forces(
    body_mass: wp.array(dtype=Any),
    body_gravcomp: wp.array(dtype=Any),
    body_principal_inertia: wp.array(dtype=Any),
    body_iquat: wp.array(dtype=Any),
    body_rootid: wp.array(dtype=int),
    body_lastdof: wp.array(dtype=int),
    gravity: wp.array(dtype=Any),
    density: wp.array(dtype=Any),
    viscosity: wp.array(dtype=Any),
    wind: wp.array(dtype=Any),
    fluid: int,
    xpos: wp.array2d(dtype=Any),
    xquat: wp.array2d(dtype=Any),
    xipos: wp.array2d(dtype=Any),
    dof_cvel: wp.array2d(dtype=Any),
    # outputs
    cfrc_gravcomp: wp.array2d(dtype=Any),
    cfrc_fluid: wp.array2d(dtype=Any),
):
    """Gravity compensation ``-g m gravcomp`` at the centre of mass [mj_gravcomp] and the
    inertia-box fluid force [mj_inertiaBoxFluidModel], as spatial forces about the tree's
    reference point; launch over (env, body)."""
    e, b = wp.tid()
    m = body_mass[b]
    arm = xipos[e, b] - xpos[e, body_rootid[b]]
    force = gravity[0] * (-m * body_gravcomp[b])
    cfrc_gravcomp[e, b] = spatial(wp.cross(arm, force), force)
    zero3 = force * type(m)(0.0)
    torque = zero3
    drag = zero3
    if fluid != 0 and m >= type(m)(1.0e-15) and body_lastdof[b] >= 0:
        frame = inertial_frame(xquat[e, b], body_iquat, b)
        angular, linear = local_velocity(e, b, frame, body_lastdof, body_rootid, wind, xpos, xipos, dof_cvel)
        box = inertia_box(body_principal_inertia, body_mass, b)
        coef_rot, coef_lin, slope_rot, slope_lin = fluid_drag_coefficients(
            box, density[0], viscosity[0], angular, linear
        )
        torque = wp.quat_rotate(frame, wp.cw_mul(coef_rot, angular))
        drag = wp.quat_rotate(frame, wp.cw_mul(coef_lin, linear))
    cfrc_fluid[e, b] = spatial(wp.cross(arm, drag) + torque, drag)
