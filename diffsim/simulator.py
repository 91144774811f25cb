"""Runs the kernels of one physics step in order.

A step reads ``qpos, qvel, ctrl`` and writes ``qpos_next, qvel_next``; every
intermediate lives in a ``StepBuffers``. Recording steps on a ``wp.Tape`` is correct as
long as every recorded step writes into buffers of its own (Warp's adjoint needs the
forward values it reads to be unchanged), which is what ``Simulator.rollout`` does when
gradients are requested.

Stages (MuJoCo's names in brackets):
    kinematics        body frames, com-based inertias, dof motions   [mj_kinematics, mj_comPos]
    velocities        body velocities, dof motion rates              [mj_comVel]
    contact           smoothed penalty contact forces, to joint space (diffsim's own)
    mass matrix       composite rigid bodies                         [mj_crb]
    bias forces       recursive Newton-Euler at zero acceleration    [mj_rne]
    smooth forces     passive, actuator and limit forces minus bias  [mj_passive, mj_fwdActuation]
    solve             (M + dt D) qacc = f, Cholesky                  [mj_Euler]
    integrate         semi-implicit Euler, quaternions on the sphere [mj_integratePos]
"""
from __future__ import annotations

import warp as wp

from diffsim.kernels import contact, dynamics, integrate, kinematics, solve
from diffsim.model import Model


class StepBuffers:
    """Every intermediate array of one step for a batch of ``batch`` environments."""

    def __init__(self, model: Model, batch: int, requires_grad: bool = False):
        T = model.wp_scalar
        vec3 = wp.types.vector(length=3, dtype=T)
        quat = wp.types.quaternion(dtype=T)
        mat33 = wp.types.matrix(shape=(3, 3), dtype=T)
        vec6 = wp.types.vector(length=6, dtype=T)
        E, nb, nj, nv = batch, model.nbody, model.njnt, model.nv

        def zeros(shape, dtype):
            return wp.zeros(shape, dtype=dtype, device=model.wp_device, requires_grad=requires_grad)

        self.batch = batch
        # kinematics
        self.xpos = zeros((E, nb), vec3)
        self.xquat = zeros((E, nb), quat)
        self.jnt_xpos = zeros((E, nj), vec3)
        self.jnt_xquat = zeros((E, nj), quat)
        self.xanchor = zeros((E, nj), vec3)
        self.xaxis = zeros((E, nj), vec3)
        self.xipos = zeros((E, nb), vec3)
        self.cinert_h = zeros((E, nb), vec3)
        self.cinert_J = zeros((E, nb), mat33)
        self.cdof = zeros((E, nv), vec6)
        # velocities and bias
        self.dof_cvel = zeros((E, nv), vec6)
        self.cdof_dot = zeros((E, nv), vec6)
        self.dof_cacc = zeros((E, nv), vec6)
        self.cfrc_body = zeros((E, nb), vec6)
        self.cfrc = zeros((E, nb), vec6)
        self.qfrc_bias = zeros((E, nv), T)
        # mass matrix
        self.crb_m = zeros((E, nb), T)
        self.crb_h = zeros((E, nb), vec3)
        self.crb_J = zeros((E, nb), mat33)
        self.M = zeros((E, nv, nv), T)
        # contact (cfrc_ext is accumulated with atomics: zero it before reuse)
        ns = model.nslot
        self.contact_dist = zeros((E, ns), T)
        self.contact_pos = zeros((E, ns), vec3)
        self.contact_force = zeros((E, ns), vec3)
        self.cfrc_ext = zeros((E, nb), vec6)
        self.cfrc_ext_subtree = zeros((E, nb), vec6)
        self.qfrc_ext = zeros((E, nv), T)
        # forces, solve, integrate
        self.qfrc_smooth = zeros((E, nv), T)
        self.L = zeros((E, nv, nv), T)
        self.y = zeros((E, nv), T)
        self.qacc = zeros((E, nv), T)


def _launch(kernel, dim, inputs, device):
    if all(d > 0 for d in (dim if isinstance(dim, tuple) else (dim,))):
        wp.launch(kernel, dim=dim, inputs=inputs, device=device)


class Simulator:
    """Launches the stages of a step for one model. All arrays are Warp arrays of shape
    (B, nq), (B, nv) or (B, nu) in the model's precision and on its device."""

    def __init__(self, model: Model):
        self.model = model

    def kinematics(self, buf: StepBuffers, qpos):
        m, w, dev, E = self.model, self.model.warp, self.model.wp_device, buf.batch
        _launch(kinematics.forward_kinematics, E, [
            w("body_parent"), w("body_jntadr"), w("body_jntnum"), w("body_pos"), w("body_quat"),
            w("jnt_type"), w("jnt_qposadr"), w("jnt_pos"), w("jnt_axis"), w("qpos0"), qpos,
            buf.xpos, buf.xquat, buf.jnt_xpos, buf.jnt_xquat, buf.xanchor, buf.xaxis], dev)
        _launch(kinematics.com_inertia, (E, m.nbody), [
            w("body_rootid"), w("body_mass"), w("body_ipos"), w("body_inertia"), buf.xpos, buf.xquat,
            buf.xipos, buf.cinert_h, buf.cinert_J], dev)
        _launch(kinematics.motion_subspace, (E, m.nv), [
            w("body_rootid"), w("dof_body"), w("dof_jnt"), w("jnt_type"), w("jnt_dofadr"),
            buf.xpos, buf.xquat, buf.xanchor, buf.xaxis, buf.cdof], dev)

    def mass_matrix(self, buf: StepBuffers):
        """Needs ``kinematics`` first. Fills ``buf.M``."""
        m, w, dev, E = self.model, self.model.warp, self.model.wp_device, buf.batch
        _launch(dynamics.composite_inertia, (E, m.nbody), [
            w("body_subtree_end"), w("body_mass"), buf.cinert_h, buf.cinert_J,
            buf.crb_m, buf.crb_h, buf.crb_J], dev)
        _launch(dynamics.mass_matrix_rows, (E, m.nv), [
            w("dof_body"), w("dof_ancestor"), w("dof_armature"), buf.cdof,
            buf.crb_m, buf.crb_h, buf.crb_J, buf.M], dev)

    def bias_forces(self, buf: StepBuffers, qvel):
        """Needs ``kinematics`` first. Fills ``buf.qfrc_bias``."""
        m, w, dev, E = self.model, self.model.warp, self.model.wp_device, buf.batch
        _launch(kinematics.dof_velocities, E, [w("dof_parent"), buf.cdof, qvel, buf.dof_cvel], dev)
        _launch(kinematics.dof_motion_rate, (E, m.nv), [
            w("dof_parent"), w("dof_rate_src"), buf.cdof, buf.dof_cvel, buf.cdof_dot], dev)
        _launch(dynamics.bias_acceleration, E, [
            w("dof_parent"), w("gravity"), buf.cdof_dot, qvel, buf.dof_cacc], dev)
        _launch(dynamics.body_forces, (E, m.nbody), [
            w("body_lastdof"), w("body_mass"), w("gravity"), buf.cinert_h, buf.cinert_J,
            buf.dof_cvel, buf.dof_cacc, buf.cfrc_body], dev)
        _launch(dynamics.subtree_forces, (E, m.nbody), [w("body_subtree_end"), buf.cfrc_body, buf.cfrc], dev)
        _launch(dynamics.bias_forces_from_cfrc, (E, m.nv), [w("dof_body"), buf.cdof, buf.cfrc, buf.qfrc_bias], dev)

    def contact_forces(self, buf: StepBuffers):
        """Needs ``kinematics`` and ``bias_forces`` (velocities) first. Fills ``buf.qfrc_ext``."""
        m, w, dev, E = self.model, self.model.warp, self.model.wp_device, buf.batch
        buf.cfrc_ext.zero_()
        _launch(contact.contact_forces, (E, m.nslot), [
            w("slot_geom_a"), w("slot_geom_b"), w("slot_kind"), w("slot_sub"),
            w("geom_body"), w("geom_pos"), w("geom_quat"), w("geom_size"), w("geom_friction"),
            w("body_rootid"), w("body_lastdof"), w("contact_params"), buf.xpos, buf.xquat, buf.dof_cvel,
            buf.contact_dist, buf.contact_pos, buf.contact_force, buf.cfrc_ext], dev)
        _launch(dynamics.subtree_forces, (E, m.nbody), [w("body_subtree_end"), buf.cfrc_ext, buf.cfrc_ext_subtree], dev)
        _launch(dynamics.bias_forces_from_cfrc, (E, m.nv), [w("dof_body"), buf.cdof, buf.cfrc_ext_subtree, buf.qfrc_ext], dev)

    def step(self, buf: StepBuffers, qpos, qvel, ctrl, qpos_next, qvel_next):
        """One physics step of ``model.dt``: writes ``qpos_next``, ``qvel_next``."""
        m, w, dev, E = self.model, self.model.warp, self.model.wp_device, buf.batch
        self.kinematics(buf, qpos)
        self.mass_matrix(buf)
        self.bias_forces(buf, qvel)
        if m.enable_contact:
            self.contact_forces(buf)
        else:
            buf.qfrc_ext.zero_()
        _launch(dynamics.smooth_forces, (E, m.nv), [
            w("dof_jnt"), w("dof_damping"), w("jnt_type"), w("jnt_qposadr"), w("jnt_dofadr"), w("jnt_stiffness"),
            w("jnt_limited"), w("jnt_range"), w("qpos_spring"),
            w("actuator_trnid"), w("actuator_gear"), w("actuator_ctrllimited"), w("actuator_ctrlrange"),
            w("actuator_forcelimited"), w("actuator_forcerange"), w("limit_params"),
            qpos, qvel, ctrl, buf.qfrc_bias, buf.qfrc_ext, buf.qfrc_smooth], dev)
        _launch(solve.cholesky_factor, E, [buf.M, w("dof_damping"), w("dt"), buf.L], dev)
        _launch(solve.cholesky_solve, E, [buf.L, buf.qfrc_smooth, buf.y, buf.qacc], dev)
        _launch(integrate.integrate_velocity, (E, m.nv), [w("dt"), qvel, buf.qacc, qvel_next], dev)
        _launch(integrate.integrate_position, (E, m.njnt), [
            w("jnt_type"), w("jnt_qposadr"), w("jnt_dofadr"), w("dt"), qpos, qvel_next, qpos_next], dev)
