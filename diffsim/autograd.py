"""The torch face of the simulator: ``mass_matrix``, ``bias_forces``, ``step``, ``rollout``.

Inputs and outputs are torch tensors with a leading batch dimension, in the model's
dtype and on its device; Warp reads and writes them in place through ``wp.from_torch``
(no copies through numpy).
"""
from __future__ import annotations

import torch
import warp as wp

from diffsim.model import Model
from diffsim.simulator import Simulator, StepBuffers
from diffsim.validation import check_finite, check_frame_skip, check_state


def _warp(tensor: torch.Tensor):
    return wp.from_torch(tensor)


def _simulator(model: Model) -> Simulator:
    sim = model.__dict__.get("_simulator")
    if sim is None:
        sim = model.__dict__["_simulator"] = Simulator(model)
    return sim


def _buffers(model: Model, batch: int) -> StepBuffers:
    """Reusable buffers for forward-only work, one set per batch size."""
    cache = model.__dict__.setdefault("_buffers", {})
    if batch not in cache:
        cache[batch] = StepBuffers(model, batch)
    return cache[batch]


def mass_matrix(model: Model, qpos: torch.Tensor) -> torch.Tensor:
    """Joint-space inertia matrix, armature included (MuJoCo's ``mj_fullM``).

    Args:
        qpos: (B, nq) generalised positions.
    Returns:
        (B, nv, nv) symmetric positive definite matrices, kg m^2 / kg.
    """
    qpos = check_state(model, "qpos", qpos, model.nq)
    buf = _buffers(model, qpos.shape[0])
    sim = _simulator(model)
    with torch.no_grad():
        sim.kinematics(buf, _warp(qpos))
        sim.mass_matrix(buf)
    return wp.to_torch(buf.M).clone()


def bias_forces(model: Model, qpos: torch.Tensor, qvel: torch.Tensor) -> torch.Tensor:
    """Coriolis, centrifugal and gravity forces (MuJoCo's ``qfrc_bias``).

    Args:
        qpos: (B, nq) generalised positions.
        qvel: (B, nv) generalised velocities.
    Returns:
        (B, nv) generalised forces, N m or N.
    """
    qpos = check_state(model, "qpos", qpos, model.nq)
    qvel = check_state(model, "qvel", qvel, model.nv, batch=qpos.shape[0])
    buf = _buffers(model, qpos.shape[0])
    sim = _simulator(model)
    with torch.no_grad():
        sim.kinematics(buf, _warp(qpos))
        sim.bias_forces(buf, _warp(qvel))
    return wp.to_torch(buf.qfrc_bias).clone()


def _check_step_inputs(model, qpos, qvel, ctrl, ctrl_time=None):
    qpos = check_state(model, "qpos", qpos, model.nq)
    B = qpos.shape[0]
    qvel = check_state(model, "qvel", qvel, model.nv, batch=B)
    name = "ctrl" if ctrl_time is None else "ctrls"
    ctrl = check_state(model, name, ctrl, model.nu, batch=B, time=ctrl_time)
    for n, t in (("qpos", qpos), ("qvel", qvel), (name, ctrl)):
        check_finite(n, t)
    return qpos, qvel, ctrl


def _advance(model: Model, qpos, qvel, ctrl, frame_skip: int):
    """``frame_skip`` physics steps with ``ctrl`` held, forward only; returns new tensors."""
    sim = _simulator(model)
    buf = _buffers(model, qpos.shape[0])
    ctrl_wp = _warp(ctrl)
    for _ in range(frame_skip):
        qpos_next = torch.empty_like(qpos)
        qvel_next = torch.empty_like(qvel)
        sim.step(buf, _warp(qpos), _warp(qvel), ctrl_wp, _warp(qpos_next), _warp(qvel_next))
        qpos, qvel = qpos_next, qvel_next
    return qpos, qvel


def step(model: Model, qpos: torch.Tensor, qvel: torch.Tensor, ctrl: torch.Tensor, frame_skip: int = 1):
    """Advance ``frame_skip`` physics steps of ``model.dt`` with ``ctrl`` held.

    Args:
        qpos: (B, nq) positions, MuJoCo's layout (free joint: xyz + quaternion wxyz).
        qvel: (B, nv) velocities (free joint: world linear, body-frame angular).
        ctrl: (B, nu) actuator controls (clamped to ``ctrlrange`` where limited).
        frame_skip: physics steps per call.
    Returns:
        (qpos, qvel) after the steps, new tensors of the same shapes.
    """
    check_frame_skip(frame_skip)
    qpos, qvel, ctrl = _check_step_inputs(model, qpos, qvel, ctrl)
    with torch.no_grad():
        return _advance(model, qpos, qvel, ctrl, frame_skip)


def rollout(model: Model, qpos: torch.Tensor, qvel: torch.Tensor, ctrls: torch.Tensor, frame_skip: int = 1):
    """Apply a sequence of controls, each held for ``frame_skip`` physics steps.

    Args:
        qpos: (B, nq), qvel: (B, nv): the initial state.
        ctrls: (B, T, nu) controls.
    Returns:
        (qpos_traj (B, T, nq), qvel_traj (B, T, nv)): the state after each control step.
    """
    check_frame_skip(frame_skip)
    qpos, qvel, ctrls = _check_step_inputs(model, qpos, qvel, ctrls, ctrl_time=-1)
    qpos_traj, qvel_traj = [], []
    with torch.no_grad():
        for t in range(ctrls.shape[1]):
            qpos, qvel = _advance(model, qpos, qvel, ctrls[:, t].contiguous(), frame_skip)
            qpos_traj.append(qpos)
            qvel_traj.append(qvel)
    return torch.stack(qpos_traj, dim=1), torch.stack(qvel_traj, dim=1)
