"""Actuators as MuJoCo computes them: transmissions, activation dynamics, gain and bias.

Follows MuJoCo's ``mj_transmission`` and ``mj_fwdActuation``:

* transmission (``actuator_length``, ``actuator_moment``): a joint (hinge and slide:
  ``gear[0] * q``; ball: the gear projected on the joint's rotation vector; free: no
  length, the 6-d gear as moment), a fixed tendon (``gear[0]`` times the tendon), or a
  site (the gear as a wrench in the site's frame, through the site's Jacobian; with a
  ``refsite``, the site's displacement and rotation in the reference site's frame);
* ``force = gain * (ctrl or act) + bias`` with fixed or affine gain and none or affine
  bias, ``gain = gainprm[0] + gainprm[1] length + gainprm[2] velocity`` (bias alike);
  ctrl clamped to ``ctrlrange``, the force to ``forcerange``;
* activation dynamics ``act_dot``: integrator (``ctrl``), filter and filterexact
  (``(ctrl - act) / tau``); with ``actearly`` the force uses the next step's activation.

The moment is stored dense, ``(batch, nu, nv)``, one row per actuator thread; the joint
forces ``qfrc_actuator = moment^T force`` are summed per dof in ``dynamics.smooth_forces``.
Activations live after the velocities in the state's second half (``qvel[:, nv + i]``).
"""

from typing import Any

import warp as wp

from diffsim.kernels.spatial import quat_to_rotvec, quat_wxyz
from diffsim.spec import (
    BIAS_AFFINE,
    DYN_FILTER,
    DYN_FILTEREXACT,
    DYN_INTEGRATOR,
    GAIN_AFFINE,
    GAIN_FIXED,
    JOINT_BALL,
    JOINT_FREE,
    TRN_JOINT,
    TRN_SITE,
    TRN_TENDON,
)

MINVAL = 1.0e-15  # MuJoCo's mjMINVAL


@wp.func
def in_chain(dof_ancestor: wp.array2d(dtype=int), last: int, k: int):
    """1 when dof ``k`` moves a body whose last dof on the path from the world is ``last``."""
    if last < 0:
        return 0
    if k == last:
        return 1
    return dof_ancestor[last, k]


@wp.func
def site_frame_pos(xpos: Any, xquat: Any, site_pos: Any):
    return xpos + wp.quat_rotate(xquat, site_pos)


@wp.func
def tendon_coefficient(
    t: int,
    k: int,
    tendon_adr: wp.array(dtype=int),
    tendon_num: wp.array(dtype=int),
    wrap_objid: wp.array(dtype=int),
    wrap_prm: wp.array(dtype=Any),
    jnt_dofadr: wp.array(dtype=int),
):
    """d length of fixed tendon ``t`` / d qvel[k]: the sum of its coefficients on dof ``k``."""
    total = wrap_prm.dtype(0.0)
    first = tendon_adr[t]
    for w in range(first, first + tendon_num[t]):
        if jnt_dofadr[wrap_objid[w]] == k:
            total = total + wrap_prm[w]
    return total


@wp.func
def tendon_sum(
    e: int,
    t: int,
    tendon_adr: wp.array(dtype=int),
    tendon_num: wp.array(dtype=int),
    wrap_objid: wp.array(dtype=int),
    wrap_prm: wp.array(dtype=Any),
    jnt_adr: wp.array(dtype=int),
    values: wp.array2d(dtype=Any),
):
    """``sum_w prm_w values[e, jnt_adr[joint_w]]`` over fixed tendon ``t``'s joints: its length
    with (``jnt_qposadr``, ``qpos``), its velocity with (``jnt_dofadr``, ``qvel``)."""
    total = wrap_prm.dtype(0.0)
    first = tendon_adr[t]
    for w in range(first, first + tendon_num[t]):
        total = total + wrap_prm[w] * values[e, jnt_adr[wrap_objid[w]]]
    return total


@wp.kernel
def transmission(
    moment_actuators: wp.array(dtype=int),
    actuator_trntype: wp.array(dtype=int),
    actuator_trnid: wp.array2d(dtype=int),
    actuator_gear: wp.array(dtype=Any),
    jnt_type: wp.array(dtype=int),
    jnt_qposadr: wp.array(dtype=int),
    jnt_dofadr: wp.array(dtype=int),
    site_body: wp.array(dtype=int),
    site_pos: wp.array(dtype=Any),
    site_quat: wp.array(dtype=Any),
    tendon_adr: wp.array(dtype=int),
    tendon_num: wp.array(dtype=int),
    wrap_objid: wp.array(dtype=int),
    wrap_prm: wp.array(dtype=Any),
    body_lastdof: wp.array(dtype=int),
    body_rootid: wp.array(dtype=int),
    dof_ancestor: wp.array2d(dtype=int),
    qpos: wp.array2d(dtype=Any),
    xpos: wp.array2d(dtype=Any),
    xquat: wp.array2d(dtype=Any),
    cdof: wp.array2d(dtype=Any),
    # outputs
    actuator_length: wp.array2d(dtype=Any),
    actuator_moment: wp.array3d(dtype=Any),
):
    """Length and moment row of each actuator in ``moment_actuators``; launch over (env, index)."""
    e, i = wp.tid()
    u = moment_actuators[i]
    gear = actuator_gear[u]
    zero = gear[0] * type(gear[0])(0.0)
    trn = actuator_trntype[u]
    id = actuator_trnid[u, 0]
    nv = actuator_moment.shape[2]
    if trn == TRN_JOINT:
        jtype = jnt_type[id]
        adr = jnt_dofadr[id]
        length = zero
        if jtype == JOINT_BALL:
            a = jnt_qposadr[id]
            q = wp.normalize(quat_wxyz(wp.vector(qpos[e, a], qpos[e, a + 1], qpos[e, a + 2], qpos[e, a + 3])))
            length = wp.dot(quat_to_rotvec(q), wp.vector(gear[0], gear[1], gear[2]))
        elif jtype != JOINT_FREE:
            length = qpos[e, jnt_qposadr[id]] * gear[0]
        actuator_length[e, u] = length
        count = 1
        if jtype == JOINT_FREE:
            count = 6
        elif jtype == JOINT_BALL:
            count = 3
        for k in range(nv):
            value = zero
            if k >= adr and k < adr + count:
                value = gear[k - adr]
            actuator_moment[e, u, k] = value
    elif trn == TRN_TENDON:
        actuator_length[e, u] = gear[0] * tendon_sum(
            e, id, tendon_adr, tendon_num, wrap_objid, wrap_prm, jnt_qposadr, qpos
        )
        for k in range(nv):
            actuator_moment[e, u, k] = gear[0] * tendon_coefficient(
                id, k, tendon_adr, tendon_num, wrap_objid, wrap_prm, jnt_dofadr
            )
    elif trn == TRN_SITE:
        ref = actuator_trnid[u, 1]
        b0 = site_body[id]
        q0 = xquat[e, b0] * quat_wxyz(site_quat[id])
        p0 = site_frame_pos(xpos[e, b0], xquat[e, b0], site_pos[id])
        origin0 = xpos[e, body_rootid[b0]]
        last0 = body_lastdof[b0]
        gear_lin = wp.vector(gear[0], gear[1], gear[2])
        gear_ang = wp.vector(gear[3], gear[4], gear[5])
        if ref < 0:
            # the gear is a wrench in the site's frame
            actuator_length[e, u] = zero
            f = wp.quat_rotate(q0, gear_lin)
            t = wp.quat_rotate(q0, gear_ang)
            for k in range(nv):
                value = zero
                if in_chain(dof_ancestor, last0, k) != 0:
                    c = cdof[e, k]
                    w = wp.vector(c[0], c[1], c[2])
                    v = wp.vector(c[3], c[4], c[5]) + wp.cross(w, p0 - origin0)
                    value = wp.dot(v, f) + wp.dot(w, t)
                actuator_moment[e, u, k] = value
        else:
            # the site's displacement and rotation in the reference site's frame; the dofs
            # that move both sites together do not count (MuJoCo clears their columns)
            b1 = site_body[ref]
            q1 = xquat[e, b1] * quat_wxyz(site_quat[ref])
            p1 = site_frame_pos(xpos[e, b1], xquat[e, b1], site_pos[ref])
            origin1 = xpos[e, body_rootid[b1]]
            last1 = body_lastdof[b1]
            rotation = quat_to_rotvec(wp.quat_inverse(q1) * q0)
            actuator_length[e, u] = wp.dot(wp.quat_rotate_inv(q1, p0 - p1), gear_lin) + wp.dot(rotation, gear_ang)
            f = wp.quat_rotate(q1, gear_lin)
            t = wp.quat_rotate(q1, gear_ang)
            for k in range(nv):
                value = zero
                own0 = in_chain(dof_ancestor, last0, k)
                own1 = in_chain(dof_ancestor, last1, k)
                if own0 != own1:
                    c = cdof[e, k]
                    w = wp.vector(c[0], c[1], c[2])
                    v = wp.vector(c[3], c[4], c[5])
                    if own0 != 0:
                        value = wp.dot(v + wp.cross(w, p0 - origin0), f) + wp.dot(w, t)
                    else:
                        value = -(wp.dot(v + wp.cross(w, p1 - origin1), f) + wp.dot(w, t))
                actuator_moment[e, u, k] = value


@wp.func
def moment_dot(moment: wp.array3d(dtype=Any), e: int, u: int, qvel: wp.array2d(dtype=Any)):
    """``actuator_velocity = moment[e, u] . qvel[e, :nv]``."""
    total = moment[e, u, 0] * qvel[e, 0]
    for k in range(1, moment.shape[2]):
        total = total + moment[e, u, k] * qvel[e, k]
    return total


@wp.func
def next_activation(act: Any, act_dot: Any, dyntype: int, tau: Any, dt: Any, limited: int, low: Any, high: Any):
    """MuJoCo's ``mj_nextActivation``: one step of the activation, clamped to its range."""
    result = act + act_dot * dt
    if dyntype == DYN_FILTEREXACT:
        result = act + act_dot * tau * (type(act)(1.0) - wp.exp(-dt / tau))
    if limited != 0:
        result = wp.clamp(result, low, high)
    return result


@wp.func
def wrapped_setpoint(u: Any, length: Any, period: Any):
    """MuJoCo's ``wrapSetpoint``: the representative of setpoint ``u`` nearest ``length``."""
    if period > type(u)(0.0):
        return u - period * wp.round((u - length) / period)
    return u


@wp.func
def servo_period(
    u: int,
    actuator_trntype: wp.array(dtype=int),
    actuator_trnid: wp.array2d(dtype=int),
    actuator_gear: wp.array(dtype=Any),
    actuator_dyntype: wp.array(dtype=int),
    actuator_gaintype: wp.array(dtype=int),
    actuator_biastype: wp.array(dtype=int),
    actuator_gainprm: wp.array(dtype=Any),
    actuator_biasprm: wp.array(dtype=Any),
    actuator_actadr: wp.array(dtype=int),
    jnt_type: wp.array(dtype=int),
):
    """MuJoCo's ``wrapPeriod``: a position servo on a ball joint, or on a site pair with a
    purely rotational gear, wraps its setpoint with this period (0: no wrapping)."""
    gear = actuator_gear[u]
    zero = gear[0] * type(gear[0])(0.0)
    dyntype = actuator_dyntype[u]
    servo = actuator_gaintype[u] == GAIN_FIXED and actuator_biastype[u] == BIAS_AFFINE
    servo = servo and actuator_gainprm[u][0] == -actuator_biasprm[u][1]
    servo = servo and (actuator_actadr[u] < 0 or dyntype == DYN_INTEGRATOR)
    period = zero
    if servo:
        trn = actuator_trntype[u]
        linear = wp.vector(gear[0], gear[1], gear[2])
        if trn == TRN_SITE and actuator_trnid[u, 1] >= 0 and wp.length_sq(linear) == zero:
            period = type(zero)(6.283185307179586) * wp.length(wp.vector(gear[3], gear[4], gear[5]))
        if trn == TRN_JOINT and jnt_type[actuator_trnid[u, 0]] == JOINT_BALL:
            period = type(zero)(6.283185307179586) * wp.length(linear)
    return period


@wp.func
def actuator_law(
    e: int,
    u: int,
    length: Any,
    velocity: Any,
    actuator_trntype: wp.array(dtype=int),
    actuator_trnid: wp.array2d(dtype=int),
    actuator_gear: wp.array(dtype=Any),
    actuator_dyntype: wp.array(dtype=int),
    actuator_gaintype: wp.array(dtype=int),
    actuator_biastype: wp.array(dtype=int),
    actuator_dynprm: wp.array(dtype=Any),
    actuator_gainprm: wp.array(dtype=Any),
    actuator_biasprm: wp.array(dtype=Any),
    actuator_actadr: wp.array(dtype=int),
    actuator_actearly: wp.array(dtype=int),
    actuator_actlimited: wp.array(dtype=int),
    actuator_actrange: wp.array(dtype=Any),
    actuator_ctrllimited: wp.array(dtype=int),
    actuator_ctrlrange: wp.array(dtype=Any),
    actuator_forcelimited: wp.array(dtype=int),
    actuator_forcerange: wp.array(dtype=Any),
    actuator_enabled: wp.array(dtype=int),
    jnt_type: wp.array(dtype=int),
    dt: wp.array(dtype=Any),
    clampctrl: int,
    actuation: int,
    nv: int,
    ctrl: wp.array2d(dtype=Any),
    qvel: wp.array2d(dtype=Any),
    act_dot: wp.array2d(dtype=Any),
):
    """MuJoCo's actuator force for actuator ``u`` of environment ``e`` at its transmission's
    ``length`` and ``velocity`` [mj_fwdActuation]: writes the activation's rate
    ``act_dot[e, actadr]`` and returns ``(force, d force / d velocity)``, the slope zero where
    the force is saturated at its range [mjd_actuator_vel].

    ``qvel`` is the state's second half: velocities (nv), then activations (na).
    """
    c = ctrl[e, u]
    if clampctrl != 0 and actuator_ctrllimited[u] != 0:
        c = wp.clamp(c, actuator_ctrlrange[u][0], actuator_ctrlrange[u][1])
    dynprm = actuator_dynprm[u]
    dyntype = actuator_dyntype[u]
    adr = actuator_actadr[u]
    zero = c * type(c)(0.0)

    # activation dynamics
    input = c
    if adr >= 0:
        act = qvel[e, nv + adr]
        tau = wp.max(type(c)(MINVAL), dynprm[0])
        rate = zero
        if actuation != 0:
            if dyntype == DYN_INTEGRATOR:
                rate = c
            elif dyntype == DYN_FILTER or dyntype == DYN_FILTEREXACT:
                rate = (c - act) / tau
        act_dot[e, adr] = rate
        input = act
        if actuator_actearly[u] != 0:
            input = next_activation(
                act,
                rate,
                dyntype,
                tau,
                dt[0],
                actuator_actlimited[u],
                actuator_actrange[u][0],
                actuator_actrange[u][1],
            )

    # force = gain * input + bias
    gainprm = actuator_gainprm[u]
    biasprm = actuator_biasprm[u]
    gain = gainprm[0]
    if actuator_gaintype[u] == GAIN_AFFINE:
        gain = gainprm[0] + gainprm[1] * length + gainprm[2] * velocity
    period = servo_period(
        u,
        actuator_trntype,
        actuator_trnid,
        actuator_gear,
        actuator_dyntype,
        actuator_gaintype,
        actuator_biastype,
        actuator_gainprm,
        actuator_biasprm,
        actuator_actadr,
        jnt_type,
    )
    force = gain * wrapped_setpoint(input, length, period)
    if actuator_biastype[u] == BIAS_AFFINE:
        force = force + biasprm[0] + biasprm[1] * length + biasprm[2] * velocity
    if actuator_forcelimited[u] != 0:
        force = wp.clamp(force, actuator_forcerange[u][0], actuator_forcerange[u][1])
    slope = zero
    if actuator_biastype[u] == BIAS_AFFINE:
        slope = biasprm[2]
    if actuator_gaintype[u] == GAIN_AFFINE:
        slope = slope + gainprm[2] * input
    if actuator_forcelimited[u] != 0:
        if force <= actuator_forcerange[u][0] or force >= actuator_forcerange[u][1]:
            slope = zero
    if actuation == 0 or actuator_enabled[u] == 0:
        force = zero
        slope = zero
    return force, slope


@wp.kernel
def actuator_forces(
    moment_actuators: wp.array(dtype=int),
    actuator_trntype: wp.array(dtype=int),
    actuator_trnid: wp.array2d(dtype=int),
    actuator_gear: wp.array(dtype=Any),
    actuator_dyntype: wp.array(dtype=int),
    actuator_gaintype: wp.array(dtype=int),
    actuator_biastype: wp.array(dtype=int),
    actuator_dynprm: wp.array(dtype=Any),
    actuator_gainprm: wp.array(dtype=Any),
    actuator_biasprm: wp.array(dtype=Any),
    actuator_actadr: wp.array(dtype=int),
    actuator_actearly: wp.array(dtype=int),
    actuator_actlimited: wp.array(dtype=int),
    actuator_actrange: wp.array(dtype=Any),
    actuator_ctrllimited: wp.array(dtype=int),
    actuator_ctrlrange: wp.array(dtype=Any),
    actuator_forcelimited: wp.array(dtype=int),
    actuator_forcerange: wp.array(dtype=Any),
    actuator_enabled: wp.array(dtype=int),
    jnt_type: wp.array(dtype=int),
    dt: wp.array(dtype=Any),
    clampctrl: int,
    actuation: int,
    nv: int,
    ctrl: wp.array2d(dtype=Any),
    qvel: wp.array2d(dtype=Any),
    actuator_length: wp.array2d(dtype=Any),
    actuator_moment: wp.array3d(dtype=Any),
    # outputs
    actuator_force: wp.array2d(dtype=Any),
    act_dot: wp.array2d(dtype=Any),
    actuator_force_velocity: wp.array2d(dtype=Any),
):
    """Force of each actuator in ``moment_actuators`` (those whose moments ``transmission``
    computes), and its activation's rate; launch over (env, index into moment_actuators)."""
    e, i = wp.tid()
    u = moment_actuators[i]
    force, slope = actuator_law(
        e,
        u,
        actuator_length[e, u],
        moment_dot(actuator_moment, e, u, qvel),
        actuator_trntype,
        actuator_trnid,
        actuator_gear,
        actuator_dyntype,
        actuator_gaintype,
        actuator_biastype,
        actuator_dynprm,
        actuator_gainprm,
        actuator_biasprm,
        actuator_actadr,
        actuator_actearly,
        actuator_actlimited,
        actuator_actrange,
        actuator_ctrllimited,
        actuator_ctrlrange,
        actuator_forcelimited,
        actuator_forcerange,
        actuator_enabled,
        jnt_type,
        dt,
        clampctrl,
        actuation,
        nv,
        ctrl,
        qvel,
        act_dot,
    )
    actuator_force[e, u] = force
    actuator_force_velocity[e, u] = slope


@wp.func
def joint_motor_forces(
    e: int,
    j: int,
    jnt_actuator_adr: wp.array(dtype=int),
    jnt_actuator_num: wp.array(dtype=int),
    actuator_by_joint: wp.array(dtype=int),
    actuator_gear: wp.array(dtype=Any),
    actuator_gainprm: wp.array(dtype=Any),
    actuator_ctrllimited: wp.array(dtype=int),
    actuator_ctrlrange: wp.array(dtype=Any),
    actuator_forcelimited: wp.array(dtype=int),
    actuator_forcerange: wp.array(dtype=Any),
    actuator_enabled: wp.array(dtype=int),
    clampctrl: int,
    actuation: int,
    ctrl: wp.array2d(dtype=Any),
):
    """The generalised force of the motors on hinge or slide joint ``j``, computed in the
    joint's own thread (``dynamics.smooth_forces``). A motor (no activation, fixed gain, no
    bias) reduces MuJoCo's actuator law (``actuator_law``) to ``gain * ctrl``, ctrl and force
    clamped to their ranges; its moment is ``gear[0]``."""
    total = ctrl.dtype(0.0)
    first = jnt_actuator_adr[j]
    for a in range(first, first + jnt_actuator_num[j]):
        u = actuator_by_joint[a]
        c = ctrl[e, u]
        if clampctrl != 0 and actuator_ctrllimited[u] != 0:
            c = wp.clamp(c, actuator_ctrlrange[u][0], actuator_ctrlrange[u][1])
        force = actuator_gainprm[u][0] * c
        if actuator_forcelimited[u] != 0:
            force = wp.clamp(force, actuator_forcerange[u][0], actuator_forcerange[u][1])
        if actuation == 0 or actuator_enabled[u] == 0:
            force = force * type(force)(0.0)
        total = total + actuator_gear[u][0] * force
    return total


@wp.kernel
def advance_activations(
    actuator_trntype: wp.array(dtype=int),
    actuator_trnid: wp.array2d(dtype=int),
    actuator_gear: wp.array(dtype=Any),
    actuator_dyntype: wp.array(dtype=int),
    actuator_gaintype: wp.array(dtype=int),
    actuator_biastype: wp.array(dtype=int),
    actuator_dynprm: wp.array(dtype=Any),
    actuator_gainprm: wp.array(dtype=Any),
    actuator_biasprm: wp.array(dtype=Any),
    actuator_actadr: wp.array(dtype=int),
    actuator_actlimited: wp.array(dtype=int),
    actuator_actrange: wp.array(dtype=Any),
    actuator_enabled: wp.array(dtype=int),
    jnt_type: wp.array(dtype=int),
    dt: wp.array(dtype=Any),
    actuation: int,
    nv: int,
    qvel: wp.array2d(dtype=Any),
    act_dot: wp.array2d(dtype=Any),
    actuator_length: wp.array2d(dtype=Any),
    # output
    qvel_next: wp.array2d(dtype=Any),
):
    """``act_next`` from ``act`` and ``act_dot`` (MuJoCo's mj_advance); launch over (env, actuator).

    A disabled actuator's activation holds; with actuation switched off all of them do.
    An integrating servo that wraps its setpoint moves it next to the actuator's length.
    """
    e, u = wp.tid()
    adr = actuator_actadr[u]
    if adr >= 0:
        act = qvel[e, nv + adr]
        if actuation != 0:
            rate = act_dot[e, adr]
            if actuator_enabled[u] == 0:
                rate = rate * type(rate)(0.0)
            tau = wp.max(dt.dtype(MINVAL), actuator_dynprm[u][0])
            act = next_activation(
                act,
                rate,
                actuator_dyntype[u],
                tau,
                dt[0],
                actuator_actlimited[u],
                actuator_actrange[u][0],
                actuator_actrange[u][1],
            )
            if actuator_dyntype[u] == DYN_INTEGRATOR:
                period = servo_period(
                    u,
                    actuator_trntype,
                    actuator_trnid,
                    actuator_gear,
                    actuator_dyntype,
                    actuator_gaintype,
                    actuator_biastype,
                    actuator_gainprm,
                    actuator_biasprm,
                    actuator_actadr,
                    jnt_type,
                )
                act = wrapped_setpoint(act, actuator_length[e, u], period)
        qvel_next[e, nv + adr] = act
