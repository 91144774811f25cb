"""MuJoCo's own step as a torch op.

``MjStep`` (and its functional form ``mj_step``) is MuJoCo's own step as a torch autograd
op with diffsim's state layout and calling convention, so the same code can run on either
backend and diffsim's gradients can be checked against MuJoCo's::

    import mujoco, torch, diffsim
    from diffsim.mujoco_bridge import MjStep
    m = mujoco.MjModel.from_xml_path(diffsim.asset("ant.xml"))
    step = MjStep(m, n_steps=4)
    qpos = torch.tensor(m.qpos0)[None].requires_grad_()        # (B=1, nq)
    qvel = torch.zeros(1, m.nv, dtype=torch.float64)
    ctrl = torch.zeros(1, m.nu, dtype=torch.float64, requires_grad=True)
    qpos, qvel = step(qpos, qvel, ctrl)
    qpos[:, 2].sum().backward()                                 # d height / d (qpos, ctrl)
"""

from __future__ import annotations

import numpy as np
import torch

from diffsim.importer import require_mujoco, spec_from_mujoco

__all__ = ["MjStep", "mj_step", "require_mujoco", "spec_from_mujoco"]


# ----------------------------------------------------------------------------------------
# MjStep: torch autograd over MuJoCo's own step
# ----------------------------------------------------------------------------------------
#
# Forward runs ``mujoco.mj_step`` on the CPU, one environment at a time. Backward uses the
# transition Jacobians that MuJoCo finite-differences itself (``mjd_transitionFD``; for
# the RK4 integrator, which MuJoCo 4.0's transitionFD refuses, ``_transition_fd`` below
# computes the same matrices in Python from mj_integratePos / mj_step / mj_differentiatePos):
#
#     d x_next = A dx + B du,     x = (dqpos, qvel, act)
#
# where ``dqpos`` lives in MuJoCo's *tangent* space (nv entries): a hinge or slide moves
# by a scalar, a ball joint or a free joint's orientation by a rotation vector in the body
# frame, q' = q (x) exp(dtheta / 2) (this is what ``mj_integratePos`` does). torch sees
# ``qpos`` with nq entries (quaternions have 4), so the tangent Jacobian is wrapped by two
# maps, built by ``tangent_to_qpos_jacobian`` and ``qpos_to_tangent_jacobian`` below:
#
#     d qpos_next / d qpos = T(qpos_next) @ A_qq @ P(qpos),
#     T: (nq, nv), d qpos / d tangent   (output side),
#     P: (nv, nq), d tangent / d qpos   (input side).
#
# The Jacobians are computed during the forward pass, at every intermediate state of the
# n_steps (only when some input requires a gradient), chained into one (nq+nv)x(nq+nv)
# and one (nq+nv)x(nu) matrix per environment, and saved for backward; backward is then a
# batched vector-Jacobian product. Computing them in forward costs (2 (2nv+nu) + 1) mj_step
# calls per physics step with centred differences, but keeps backward cheap and avoids
# re-simulating.

_FREE, _BALL = 0, 1  # mujoco.mjtJoint.mjJNT_FREE, mjJNT_BALL


def _quat_basis(q):
    """(4, 3) matrix G with columns q (x) [0; e_i]: the tangent directions at unit q."""
    w, x, y, z = q
    return np.array(
        [
            [-x, -y, -z],
            [w, -z, y],
            [z, w, -x],
            [-y, x, w],
        ]
    )


def tangent_to_qpos_jacobian(m, qpos) -> np.ndarray:
    """d qpos / d tangent at ``qpos``: an (nq, nv) matrix.

    The tangent perturbation ``v`` (nv) moves ``qpos`` to ``mj_integratePos(qpos, v, 1)``.
    Hinge, slide and a free joint's position: identity. A quaternion q = (w, x, y, z)
    rotated by a body-frame rotation vector v, q' = q (x) exp(v/2), moves by
    0.5 * q (x) [0; v] to first order: the (4, 3) block 0.5 * G(q). q is normalised first,
    as MuJoCo normalises the quaternions it writes.
    """
    qpos = np.asarray(qpos, dtype=np.float64)
    J = np.zeros((m.nq, m.nv))
    for j in range(m.njnt):
        qa, va, jt = m.jnt_qposadr[j], m.jnt_dofadr[j], m.jnt_type[j]
        if jt == _FREE:
            J[qa : qa + 3, va : va + 3] = np.eye(3)
            qa, va = qa + 3, va + 3
        if jt in (_FREE, _BALL):
            q = qpos[qa : qa + 4]
            J[qa : qa + 4, va : va + 3] = 0.5 * _quat_basis(q / np.linalg.norm(q))
        else:
            J[qa, va] = 1.0
    return J


def qpos_to_tangent_jacobian(m, qpos) -> np.ndarray:
    """d tangent / d qpos at ``qpos``: an (nv, nq) matrix.

    The tangent coordinate of a nearby ``qpos'`` is ``mj_differentiatePos(qpos, qpos', 1)``.
    For a quaternion that is the rotation vector of conj(q) (x) q', whose derivative at
    q' = q is 2 * vec(conj(q) (x) dq) = 2 G(q)^T dq for a unit q.

    Choice for quaternions that are not unit length (or perturbed off the unit sphere, as
    a finite difference on a raw component does): MuJoCo uses only q/|q| (kinematics
    normalises, ``mj_integratePos`` normalises what it writes), so the step's output does
    not change along q. We therefore differentiate through the normalisation:
    d(q/|q|)/dq = (I - q^ q^T)/|q|, and since G(q^)^T q^ = 0 the block is
    (2/|q|) G(q^)^T. The radial gradient is exactly zero, which matches finite
    differences of ``mj_step`` on raw qpos entries. For |q| = 1 it is the plain map above.
    """
    qpos = np.asarray(qpos, dtype=np.float64)
    J = np.zeros((m.nv, m.nq))
    for j in range(m.njnt):
        qa, va, jt = m.jnt_qposadr[j], m.jnt_dofadr[j], m.jnt_type[j]
        if jt == _FREE:
            J[va : va + 3, qa : qa + 3] = np.eye(3)
            qa, va = qa + 3, va + 3
        if jt in (_FREE, _BALL):
            q = qpos[qa : qa + 4]
            n = np.linalg.norm(q)
            J[va : va + 3, qa : qa + 4] = (2.0 / n) * _quat_basis(q / n).T
        else:
            J[va, qa] = 1.0
    return J


def _check_input(name, tensor, width, what, batch=None, dtype=None):
    """Validate one (B, width) input; raise ValueError naming what was expected."""
    if not isinstance(tensor, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(tensor).__name__}")
    expected = f"(B, {what})=(B, {width})"
    if tensor.dim() != 2 or tensor.shape[1] != width:
        hint = f"; add a batch dimension with {name}[None]" if tensor.dim() == 1 and tensor.shape[0] == width else ""
        raise ValueError(f"{name} must have shape {expected}, got {tuple(tensor.shape)}{hint}")
    if batch is not None and tensor.shape[0] != batch:
        raise ValueError(f"{name} has batch size {tensor.shape[0]}, but qpos has {batch}")
    if tensor.dtype not in (torch.float32, torch.float64):
        raise ValueError(f"{name} must be float32 or float64, got {tensor.dtype}")
    if dtype is not None and tensor.dtype != dtype:
        raise ValueError(f"{name} has dtype {tensor.dtype}, but qpos has {dtype}; use one dtype for all inputs")
    if tensor.device.type != "cpu":
        raise ValueError(
            f"{name} is on device {tensor.device}, but MuJoCo runs on the CPU: "
            f"pass {name}.cpu() and move the results back with .to('{tensor.device}')"
        )
    bad = ~torch.isfinite(tensor.detach())
    if bool(bad.any()):
        rows = torch.nonzero(bad.any(dim=1)).flatten().tolist()
        raise ValueError(f"{name} contains NaN or inf in environment(s) {rows[:10]}{' ...' if len(rows) > 10 else ''}")


def _transition_fd(mujoco, m, d, eps, centered, A, Bm):
    """Tangent-space transition Jacobians by finite differences, written into A and Bm.

    The same quantity as ``mjd_transitionFD`` (rows and columns ordered
    (dqpos (nv), qvel (nv), act (na))), for the integrators it refuses (RK4 in MuJoCo 4.0). Positions are perturbed with ``mj_integratePos`` and next positions
    compared with ``mj_differentiatePos`` against the unperturbed next state. Controls are
    perturbed inside ``ctrlrange`` only (one-sided at a bound, zero column outside it),
    because MuJoCo clamps them. ``d`` holds the state to linearise about; it is left in a
    stepped state, and the caller restores it.
    """
    nv, nu, na = m.nv, m.nu, m.na
    sig = mujoco.mjtState.mjSTATE_INTEGRATION
    state0 = np.zeros(mujoco.mj_stateSize(m, sig))
    mujoco.mj_getState(m, d, state0, sig)
    qpos0, qvel0, ctrl0, act0 = d.qpos.copy(), d.qvel.copy(), d.ctrl.copy(), d.act.copy()

    def next_state(qpos=qpos0, qvel=qvel0, ctrl=ctrl0, act=act0):
        mujoco.mj_setState(m, d, state0, sig)
        d.qpos[:], d.qvel[:], d.ctrl[:], d.act[:] = qpos, qvel, ctrl, act
        mujoco.mj_step(m, d)
        return d.qpos.copy(), np.concatenate([d.qvel, d.act])

    q_nom, v_nom = next_state()
    dq = np.zeros(nv)

    def column(plus, minus, width):
        """d(next tangent state) from two next states, divided by the input change ``width``."""
        col = np.empty(2 * nv + na)
        mujoco.mj_differentiatePos(m, dq, 1.0, q_nom, plus[0])
        col[:nv] = dq
        mujoco.mj_differentiatePos(m, dq, 1.0, q_nom, minus[0])
        col[:nv] -= dq
        col[nv:] = plus[1] - minus[1]
        return col / width

    nominal = (q_nom, v_nom)
    for i in range(nv):
        e = np.zeros(nv)
        e[i] = eps
        qp = qpos0.copy()
        mujoco.mj_integratePos(m, qp, e, 1.0)
        plus = next_state(qpos=qp)
        if centered:
            qm = qpos0.copy()
            mujoco.mj_integratePos(m, qm, -e, 1.0)
            A[:, i] = column(plus, next_state(qpos=qm), 2 * eps)
        else:
            A[:, i] = column(plus, nominal, eps)
    for base, values, name in ((nv, qvel0, "qvel"), (2 * nv, act0, "act")):
        for i in range(len(values)):
            up, down = values.copy(), values.copy()
            up[i] += eps
            down[i] -= eps
            plus = next_state(**{name: up})
            A[:, base + i] = (
                column(plus, next_state(**{name: down}), 2 * eps) if centered else column(plus, nominal, eps)
            )
    clamp = m.actuator_ctrllimited.astype(bool) & ~(m.opt.disableflags & mujoco.mjtDisableBit.mjDSBL_CLAMPCTRL)
    for i in range(nu):
        c = ctrl0[i]
        lb, ub = m.actuator_ctrlrange[i]
        hi, lo = c + eps, (c - eps if centered else c)
        if clamp[i]:
            if not lb <= c <= ub:  # saturated: MuJoCo's clamp makes the step flat in it
                hi = lo
            elif centered:  # one-sided at a bound
                hi, lo = min(hi, ub), max(lo, lb)
            elif hi > ub:  # forward differences at the upper bound: go backward instead
                hi, lo = c, max(c - eps, lb)
        if hi <= lo:
            Bm[:, i] = 0.0
            continue
        up, down = ctrl0.copy(), ctrl0.copy()
        up[i], down[i] = hi, lo
        Bm[:, i] = column(next_state(ctrl=up), next_state(ctrl=down), hi - lo)


class _MjStepFunction(torch.autograd.Function):
    """The autograd op behind ``MjStep``; see the module comment for the maths."""

    @staticmethod
    def forward(ctx, stepper, qpos, qvel, ctrl):
        need = any(ctx.needs_input_grad[1:])
        qpos_next, qvel_next, jac_x, jac_u = stepper._run(
            qpos.detach().to(torch.float64).numpy(),
            qvel.detach().to(torch.float64).numpy(),
            ctrl.detach().to(torch.float64).numpy(),
            jacobians=need,
        )
        if need:
            ctx.save_for_backward(torch.from_numpy(jac_x), torch.from_numpy(jac_u))
        ctx.nq = qpos.shape[1]
        ctx.dtypes = (qpos.dtype, qvel.dtype, ctrl.dtype)
        return (torch.from_numpy(qpos_next).to(qpos.dtype), torch.from_numpy(qvel_next).to(qvel.dtype))

    @staticmethod
    def backward(ctx, grad_qpos, grad_qvel):
        jac_x, jac_u = ctx.saved_tensors
        # row vector g = [dL/dqpos_next, dL/dqvel_next]; dL/d(input) = g @ J
        g = torch.cat([grad_qpos, grad_qvel], dim=1).to(torch.float64)
        gx = torch.einsum("bi,bij->bj", g, jac_x)
        gu = torch.einsum("bi,bij->bj", g, jac_u)
        nq = ctx.nq
        dq, dv, du = ctx.dtypes
        return (
            None,
            gx[:, :nq].to(dq) if ctx.needs_input_grad[1] else None,
            gx[:, nq:].to(dv) if ctx.needs_input_grad[2] else None,
            gu.to(du) if ctx.needs_input_grad[3] else None,
        )


class MjStep:
    """MuJoCo's step as a differentiable torch op: ``(qpos, qvel, ctrl) -> (qpos, qvel)``.

    Same state layout and calling convention as ``diffsim.step``: advances ``n_steps``
    physics steps of ``m.opt.timestep`` seconds with ``ctrl`` held, for a batch of
    environments, using MuJoCo's own integrator and options as set in ``m`` (read at every
    call, so later changes to ``m.opt`` apply).

    Args:
        mj_model: a compiled ``mujoco.MjModel`` (or a path to an MJCF file).
        n_steps: physics steps per call (``frame_skip`` is accepted as an alias).
        eps: finite-difference step of ``mjd_transitionFD``, in tangent units
            (m, rad, m/s, rad/s, ctrl units).
        centered: centred (True, O(eps^2)) or forward (False, half the cost) differences.

    Call: ``qpos, qvel = MjStep(m)(qpos, qvel, ctrl)`` with
        qpos (B, nq), qvel (B, nv), ctrl (B, nu) (or None when nu == 0): CPU tensors,
        float32 or float64 (all the same); MuJoCo computes in float64 and the results
        come back in the inputs' dtype.

    Every call starts each environment from a reset ``MjData`` (time 0, zero warm start,
    no applied forces), so the op is a pure function of its inputs: with constraints
    (contacts, limits) the result can differ in the last digits from a long-lived MjData
    whose solver is warm-started from the previous step.

    Gradients w.r.t. qpos, qvel and ctrl come from ``mjd_transitionFD`` at each of the
    ``n_steps`` intermediate states, chained, and mapped between MuJoCo's tangent space
    (nv) and qpos (nq) as described in ``qpos_to_tangent_jacobian`` and
    ``tangent_to_qpos_jacobian``. Controls outside ``ctrlrange`` are clamped by MuJoCo
    and get zero gradient. The Jacobians are finite differences: expect agreement with
    analytic gradients to ~1e-6 relative in float64, and gradients across contact events
    to be as rough as the contact model.

    Models with actuator activations (na > 0) carry them as ``diffsim.step`` does:
    ``qpos, qvel, act = MjStep(m)(qpos, qvel, ctrl, act=act)``, act (B, na), with
    gradients through it too.

    Not thread-safe (one MjData is reused).
    """

    def __init__(
        self, mj_model, n_steps: int = 1, eps: float = 1e-6, centered: bool = True, frame_skip: int | None = None
    ):
        mujoco = require_mujoco()
        self._mujoco = mujoco
        if isinstance(mj_model, (str, bytes)) or hasattr(mj_model, "__fspath__"):
            mj_model = mujoco.MjModel.from_xml_path(str(mj_model))
        if not isinstance(mj_model, mujoco.MjModel):
            raise ValueError(f"mj_model must be a mujoco.MjModel or a path, got {type(mj_model).__name__}")
        if frame_skip is not None:
            if n_steps not in (1, frame_skip):
                raise ValueError(f"n_steps={n_steps} and frame_skip={frame_skip} disagree; give one")
            n_steps = frame_skip
        if not isinstance(n_steps, int) or isinstance(n_steps, bool) or n_steps < 1:
            raise ValueError(f"n_steps must be a positive int, got {n_steps!r}")
        if not (float(eps) > 0 and np.isfinite(eps)):
            raise ValueError(f"eps must be a positive finite float, got {eps!r}")
        self.model = mj_model
        self.n_steps = n_steps
        self.eps = float(eps)
        self.centered = bool(centered)
        self._data = mujoco.MjData(mj_model)

    @property
    def nq(self):
        return self.model.nq

    @property
    def nv(self):
        return self.model.nv

    @property
    def nu(self):
        return self.model.nu

    @property
    def dt(self):
        """Time advanced by one call, seconds."""
        return self.n_steps * float(self.model.opt.timestep)

    def __repr__(self):
        return (
            f"MjStep(nq={self.nq}, nv={self.nv}, nu={self.nu}, n_steps={self.n_steps}, "
            f"eps={self.eps}, centered={self.centered})"
        )

    def __call__(
        self, qpos: torch.Tensor, qvel: torch.Tensor, ctrl: torch.Tensor | None = None, act: torch.Tensor | None = None
    ):
        """Step a batch: qpos (B, nq), qvel (B, nv), ctrl (B, nu) -> (qpos (B, nq), qvel (B, nv));
        with ``act`` (B, na) given (required when na > 0), also act (B, na)."""
        m = self.model
        _check_input("qpos", qpos, m.nq, "nq")
        B = qpos.shape[0]
        _check_input("qvel", qvel, m.nv, "nv", batch=B, dtype=qpos.dtype)
        if ctrl is None:
            if m.nu:
                raise ValueError(f"ctrl must have shape (B, nu)=(B, {m.nu}), got None")
            ctrl = qpos.new_zeros((B, 0))
        _check_input("ctrl", ctrl, m.nu, "nu", batch=B, dtype=qpos.dtype)
        if act is None and m.na:
            raise ValueError(
                f"this model has {m.na} actuator activation state(s) (na = {m.na}): pass act=, a "
                f"({B}, {m.na}) tensor (zeros is MuJoCo's initial state), and receive it back"
            )
        if act is not None:
            _check_input("act", act, m.na, "na", batch=B, dtype=qpos.dtype)
            qvel = torch.cat([qvel, act], dim=1)
        qpos_next, qvel_next = _MjStepFunction.apply(self, qpos, qvel, ctrl)
        if act is None:
            return qpos_next, qvel_next
        return qpos_next, qvel_next[:, : m.nv], qvel_next[:, m.nv :]

    forward = __call__

    def _run(self, qpos, qvel, ctrl, jacobians: bool):
        """numpy float64 batch step; ``qvel`` (B, nv + na) holds the velocities, then the
        activations; with ``jacobians``, also (B, nq+nv+na, nq+nv+na) and (B, nq+nv+na, nu)."""
        mujoco, m, d = self._mujoco, self.model, self._data
        B, nq, nv, nu = qpos.shape[0], m.nq, m.nv, m.nu
        nx = 2 * nv + m.na
        nvx = qvel.shape[1]  # nv, or nv + na
        qpos_out = np.empty((B, nq))
        qvel_out = np.empty((B, nvx))
        jac_x = np.zeros((B, nq + nvx, nq + nvx)) if jacobians else None
        jac_u = np.zeros((B, nq + nvx, nu)) if jacobians else None
        if jacobians:
            A = np.zeros((nx, nx))
            Bm = np.zeros((nx, nu))
            sig = mujoco.mjtState.mjSTATE_INTEGRATION
            saved = np.zeros(mujoco.mj_stateSize(m, sig))
        for b in range(B):
            mujoco.mj_resetData(m, d)
            d.qpos[:] = qpos[b]
            d.qvel[:] = qvel[b, :nv]
            d.act[:] = qvel[b, nv:]
            d.ctrl[:] = ctrl[b]
            if jacobians:
                A_tot = np.eye(nx)
                B_tot = np.zeros((nx, nu))
            for _ in range(self.n_steps):
                if jacobians:
                    # transitionFD restores the state itself; saving and restoring the whole
                    # integration state (warm start included) makes sure the forward result
                    # is bit-identical with or without gradients.
                    mujoco.mj_getState(m, d, saved, sig)
                    if m.opt.integrator == mujoco.mjtIntegrator.mjINT_RK4:
                        # MuJoCo 4.0's mjd_transitionFD raises "RK4 integrator is not supported"
                        _transition_fd(mujoco, m, d, self.eps, self.centered, A, Bm)
                    else:
                        mujoco.mjd_transitionFD(m, d, self.eps, self.centered, A, Bm, None, None)
                    mujoco.mj_setState(m, d, saved, sig)
                    # chain rule over steps: x_n = f(x_{n-1}, u), u held for all steps
                    B_tot = A @ B_tot + Bm
                    A_tot = A @ A_tot
                mujoco.mj_step(m, d)
            qpos_out[b] = d.qpos
            qvel_out[b, :nv] = d.qvel
            qvel_out[b, nv:] = d.act[: nvx - nv]
            if jacobians:
                T_out = tangent_to_qpos_jacobian(m, qpos_out[b])  # (nq, nv)
                P_in = qpos_to_tangent_jacobian(m, qpos[b])  # (nv, nq)
                # rows: (qpos_next, qvel_next, act_next); columns: (qpos, qvel, act)
                end = nv + nvx
                jac_x[b, :nq, :nq] = T_out @ A_tot[:nv, :nv] @ P_in
                jac_x[b, :nq, nq:] = T_out @ A_tot[:nv, nv:end]
                jac_x[b, nq:, :nq] = A_tot[nv:end, :nv] @ P_in
                jac_x[b, nq:, nq:] = A_tot[nv:end, nv:end]
                jac_u[b, :nq] = T_out @ B_tot[:nv]
                jac_u[b, nq:] = B_tot[nv:end]
        return qpos_out, qvel_out, jac_x, jac_u


def mj_step(
    mj_model,
    qpos: torch.Tensor,
    qvel: torch.Tensor,
    ctrl: torch.Tensor | None = None,
    n_steps: int = 1,
    eps: float = 1e-6,
    centered: bool = True,
    frame_skip: int | None = None,
    act: torch.Tensor | None = None,
):
    """Functional form of ``MjStep``: ``MjStep(mj_model, n_steps, eps, centered)(qpos, qvel, ctrl, act)``.

    Shapes: qpos (B, nq), qvel (B, nv), ctrl (B, nu) -> (qpos (B, nq), qvel (B, nv)); with
    act (B, na), also act. Builds a fresh MjData per call; keep an ``MjStep`` to reuse one.
    """
    stepper = MjStep(mj_model, n_steps=n_steps, eps=eps, centered=centered, frame_skip=frame_skip)
    return stepper(qpos, qvel, ctrl, act=act)
