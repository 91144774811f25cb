"""Integrators, as MuJoCo computes them: ``Euler`` (semi-implicit) and ``RK4``.

Euler (and implicitfast, whose ``qacc`` comes from a different solve):
``qvel' = qvel + dt * qacc`` first, then positions advance with the new velocity: hinge
and slide add ``dt * qvel'``; ball and free joints rotate their quaternion by the
body-frame angular velocity (free joints also translate by the world-frame linear one).
Activations advance in ``actuation.advance_activations``.
"""

from typing import Any

import warp as wp

from diffsim.kernels.spatial import quat_integrate
from diffsim.spec import JOINT_BALL, JOINT_FREE


# --- RK4 (MuJoCo's mj_RungeKutta with N = 4) ---------------------------------------------
#
# Tableau: stage i+1 starts from the initial state advanced by a_i h times stage i's
# derivative, a = (1/2, 1/2, 1); the step is the average with weights (1, 2, 2, 1) / 6.
# Velocities and activations advance linearly. Positions advance on the manifold from the
# initial ``qpos`` (mj_integratePos); for ball joints and free joints' rotations, MuJoCo
# 4 integrates the stages' angular velocities as Runge-Kutta-Munthe-Kaas: stage j's
# velocity for positions is ``K_j = dexpinv(theta_j, w_j)`` with ``theta_j = a h K_(j-1)``.


@wp.func
def rk4_a(stage: int):
    """Weight of stage ``stage`` (0-based) in the start of the next one."""
    if stage == 2:
        return 1.0
    return 0.5


@wp.func
def dexpinv(theta: Any, w: Any):
    """``w + theta x w / 2 + c(t) theta x (theta x w)``, ``c = (1 - (t/2) cot(t/2)) / t^2``, t = |theta|."""
    t_sq = wp.dot(theta, theta)
    one = type(t_sq)(1.0)
    c = one / type(t_sq)(12.0) + t_sq / type(t_sq)(720.0)
    if t_sq > type(t_sq)(1.0e-6):
        t = wp.sqrt(t_sq)
        half = t * type(t_sq)(0.5)
        c = (one - half * wp.cos(half) / wp.sin(half)) / t_sq
    cross = wp.cross(theta, w)
    return w + cross * type(t_sq)(0.5) + wp.cross(theta, cross) * c


@wp.func
def joint_dof_count(jtype: int):
    count = 1
    if jtype == JOINT_FREE:
        count = 6
    elif jtype == JOINT_BALL:
        count = 3
    return count


@wp.func
def integrate_joint_position(
    e: int,
    qposadr: int,
    dofadr: int,
    jtype: int,
    h: Any,
    qpos: wp.array2d(dtype=Any),
    vel: wp.array2d(dtype=Any),
    qpos_next: wp.array2d(dtype=Any),
):
    """MuJoCo's mj_integratePos for one joint: ``qpos_next = qpos (+) h vel``."""
    a = qposadr
    d = dofadr
    if jtype == JOINT_FREE or jtype == JOINT_BALL:
        if jtype == JOINT_FREE:
            for i in range(3):
                qpos_next[e, a + i] = qpos[e, a + i] + h * vel[e, d + i]
            a = a + 3
            d = d + 3
        q = wp.normalize(wp.quaternion(qpos[e, a + 1], qpos[e, a + 2], qpos[e, a + 3], qpos[e, a]))
        w = wp.vector(vel[e, d], vel[e, d + 1], vel[e, d + 2])
        q = quat_integrate(q, w, h)
        qpos_next[e, a] = q[3]
        qpos_next[e, a + 1] = q[0]
        qpos_next[e, a + 2] = q[1]
        qpos_next[e, a + 3] = q[2]
    else:
        qpos_next[e, a] = qpos[e, a] + h * vel[e, d]


@wp.kernel
def integrate(
    njnt: int,
    per_block: int,
    jnt_type: wp.array(dtype=int),
    jnt_qposadr: wp.array(dtype=int),
    jnt_dofadr: wp.array(dtype=int),
    dt: wp.array(dtype=Any),
    qpos: wp.array2d(dtype=Any),
    qvel: wp.array2d(dtype=Any),
    qacc: wp.array2d(dtype=Any),
    # outputs
    qpos_next: wp.array2d(dtype=Any),
    qvel_next: wp.array2d(dtype=Any),
):
    """The joint's velocities, then its position with them; launch over (env, block of
    ``per_block`` joints, ``Simulator.row_blocks``).

    The same update as ``integrate_joint_position`` with the new velocity, written out
    inline because this kernel runs every Euler step and its inlined adjoint is cheaper
    (measured: docs/results/cpu_benchmarks.md, "MuJoCo's actuators cost the Ant nothing")."""
    e, block = wp.tid()
    for j in range(block * per_block, wp.min((block + 1) * per_block, njnt)):
        h = dt[0]
        a = jnt_qposadr[j]
        d = jnt_dofadr[j]
        jtype = jnt_type[j]
        count = 1
        if jtype == JOINT_FREE:
            count = 6
        elif jtype == JOINT_BALL:
            count = 3
        for i in range(count):
            qvel_next[e, d + i] = qvel[e, d + i] + h * qacc[e, d + i]
        if jtype == JOINT_FREE or jtype == JOINT_BALL:
            if jtype == JOINT_FREE:
                for i in range(3):
                    qpos_next[e, a + i] = qpos[e, a + i] + h * qvel_next[e, d + i]
                a = a + 3
                d = d + 3
            q = wp.normalize(wp.quaternion(qpos[e, a + 1], qpos[e, a + 2], qpos[e, a + 3], qpos[e, a]))
            w = wp.vector(qvel_next[e, d], qvel_next[e, d + 1], qvel_next[e, d + 2])
            q = quat_integrate(q, w, h)
            qpos_next[e, a] = q[3]
            qpos_next[e, a + 1] = q[0]
            qpos_next[e, a + 2] = q[1]
            qpos_next[e, a + 3] = q[2]
        else:
            qpos_next[e, a] = qpos[e, a] + h * qvel_next[e, d]


@wp.kernel
def rk4_stage_state(
    jnt_type: wp.array(dtype=int),
    jnt_qposadr: wp.array(dtype=int),
    jnt_dofadr: wp.array(dtype=int),
    dt: wp.array(dtype=Any),
    stage: int,
    qpos: wp.array2d(dtype=Any),
    qvel: wp.array2d(dtype=Any),
    position_velocity: wp.array2d(dtype=Any),
    qacc: wp.array2d(dtype=Any),
    # outputs
    qpos_stage: wp.array2d(dtype=Any),
    qvel_stage: wp.array2d(dtype=Any),
):
    """The state stage ``stage + 1`` starts from: the initial state advanced by ``a h``
    times stage ``stage``'s derivative; launch over (env, joint)."""
    e, j = wp.tid()
    h = dt[0] * type(dt[0])(rk4_a(stage))
    d = jnt_dofadr[j]
    jtype = jnt_type[j]
    for i in range(joint_dof_count(jtype)):
        qvel_stage[e, d + i] = qvel[e, d + i] + h * qacc[e, d + i]
    integrate_joint_position(e, jnt_qposadr[j], d, jtype, h, qpos, position_velocity, qpos_stage)


@wp.kernel
def rk4_stage_activation(
    dt: wp.array(dtype=Any),
    stage: int,
    nv: int,
    qvel: wp.array2d(dtype=Any),
    act_dot: wp.array2d(dtype=Any),
    # output
    qvel_stage: wp.array2d(dtype=Any),
):
    """Activations of the next stage, plain Euler (no clamp, as MuJoCo); launch over (env, act)."""
    e, i = wp.tid()
    h = dt[0] * type(dt[0])(rk4_a(stage))
    qvel_stage[e, nv + i] = qvel[e, nv + i] + h * act_dot[e, i]


@wp.kernel
def rk4_position_velocity(
    jnt_type: wp.array(dtype=int),
    jnt_dofadr: wp.array(dtype=int),
    dt: wp.array(dtype=Any),
    stage: int,
    previous: wp.array2d(dtype=Any),
    qvel_stage: wp.array2d(dtype=Any),
    # output
    position_velocity: wp.array2d(dtype=Any),
):
    """Stage ``stage + 1``'s velocity for positions: its velocity, with the rotations'
    ``dexpinv(a h K_previous, w)``; launch over (env, joint)."""
    e, j = wp.tid()
    d = jnt_dofadr[j]
    jtype = jnt_type[j]
    first = 0
    if jtype == JOINT_FREE:
        first = 3
        for i in range(3):
            position_velocity[e, d + i] = qvel_stage[e, d + i]
    if jtype == JOINT_FREE or jtype == JOINT_BALL:
        r = d + first
        h = dt[0] * type(dt[0])(rk4_a(stage))
        theta = wp.vector(previous[e, r], previous[e, r + 1], previous[e, r + 2]) * h
        k = dexpinv(theta, wp.vector(qvel_stage[e, r], qvel_stage[e, r + 1], qvel_stage[e, r + 2]))
        for i in range(3):
            position_velocity[e, r + i] = k[i]
    else:
        position_velocity[e, d] = qvel_stage[e, d]


@wp.kernel
def rk4_combine(
    jnt_type: wp.array(dtype=int),
    jnt_qposadr: wp.array(dtype=int),
    jnt_dofadr: wp.array(dtype=int),
    dt: wp.array(dtype=Any),
    qpos: wp.array2d(dtype=Any),
    qvel: wp.array2d(dtype=Any),
    k1: wp.array2d(dtype=Any),
    k2: wp.array2d(dtype=Any),
    k3: wp.array2d(dtype=Any),
    k4: wp.array2d(dtype=Any),
    a1: wp.array2d(dtype=Any),
    a2: wp.array2d(dtype=Any),
    a3: wp.array2d(dtype=Any),
    a4: wp.array2d(dtype=Any),
    # outputs
    velocity: wp.array2d(dtype=Any),
    qpos_next: wp.array2d(dtype=Any),
    qvel_next: wp.array2d(dtype=Any),
):
    """The step: velocities by the weighted stage accelerations, positions by the weighted
    stage velocities (``velocity``, kept for the adjoint); launch over (env, joint)."""
    e, j = wp.tid()
    h = dt[0]
    d = jnt_dofadr[j]
    jtype = jnt_type[j]
    third = type(h)(1.0) / type(h)(3.0)  # a literal quotient would be float32
    sixth = type(h)(1.0) / type(h)(6.0)
    for i in range(joint_dof_count(jtype)):
        k = d + i
        acc = sixth * (a1[e, k] + a4[e, k]) + third * (a2[e, k] + a3[e, k])
        qvel_next[e, k] = qvel[e, k] + h * acc
        velocity[e, k] = sixth * (k1[e, k] + k4[e, k]) + third * (k2[e, k] + k3[e, k])
    integrate_joint_position(e, jnt_qposadr[j], d, jtype, h, qpos, velocity, qpos_next)


@wp.kernel
def rk4_activation_rate(
    r1: wp.array2d(dtype=Any),
    r2: wp.array2d(dtype=Any),
    r3: wp.array2d(dtype=Any),
    r4: wp.array2d(dtype=Any),
    # output
    act_dot: wp.array2d(dtype=Any),
):
    """The weighted average of the stages' activation rates; launch over (env, act)."""
    e, i = wp.tid()
    third = type(r1[e, i])(1.0) / type(r1[e, i])(3.0)
    sixth = type(r1[e, i])(1.0) / type(r1[e, i])(6.0)
    act_dot[e, i] = sixth * (r1[e, i] + r4[e, i]) + third * (r2[e, i] + r3[e, i])
