"""Check gradients of a rollout against central finite differences.

``compare_gradients`` differentiates any per-environment loss of a rollout analytically
(through ``diffsim.rollout``'s backward pass) and numerically, and reports the error.
All +/- perturbations run as one batch of environments, so a check costs one rollout of
``2 * n`` environments (plus the analytic backward), not ``2 * n`` rollouts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from diffsim.autograd import rollout


@dataclass
class GradientReport:
    """Analytic against numeric gradients, per input (``qpos``, ``qvel``, ``ctrls``)."""

    analytic: dict = field(default_factory=dict)
    numeric: dict = field(default_factory=dict)
    eps: float = 1e-6

    def relative_error(self, name: str | None = None) -> float:
        """``max |analytic - numeric| / max |numeric|``, for one input or over all of them."""
        names = [name] if name else list(self.analytic)
        diff = max(float((self.analytic[n] - self.numeric[n]).abs().max()) for n in names)
        scale = max(float(self.numeric[n].abs().max()) for n in names)
        return diff / max(scale, 1e-300)

    def __str__(self):
        rows = [
            f"{n:6s} max|grad| {float(self.numeric[n].abs().max()):.3e}  rel. error {self.relative_error(n):.2e}"
            for n in self.analytic
        ]
        return "\n".join(rows)


def compare_gradients(
    model, loss_fn, qpos, qvel, ctrls, frame_skip: int = 1, wrt=("qpos", "qvel", "ctrls"), eps: float = 1e-6
) -> GradientReport:
    """Analytic and central-difference gradients of ``loss_fn`` for ONE environment.

    Args:
        model: a float64 model (finite differences need the precision).
        loss_fn: ``(qpos_traj (B, T, nq), qvel_traj (B, T, nv)) -> (B,)`` loss per environment.
        qpos: (1, nq), qvel: (1, nv), ctrls: (1, T, nu): the point to differentiate at.
        wrt: which inputs to differentiate.
        eps: finite-difference step.
    Returns:
        a ``GradientReport``; ``report.relative_error()`` is the headline number.
    """
    if model.dtype != torch.float64:
        raise ValueError("compare_gradients needs a float64 model: finite differences in float32 are too noisy")
    if qpos.shape[0] != 1:
        raise ValueError(f"compare_gradients checks one environment at a time; got a batch of {qpos.shape[0]}")
    inputs = {"qpos": qpos.detach(), "qvel": qvel.detach(), "ctrls": ctrls.detach()}
    unknown = set(wrt) - set(inputs)
    if unknown:
        raise ValueError(f"wrt may name qpos, qvel and ctrls; got {sorted(unknown)}")

    # analytic
    leaves = {name: value.clone().requires_grad_(name in wrt) for name, value in inputs.items()}
    loss = loss_fn(*rollout(model, leaves["qpos"], leaves["qvel"], leaves["ctrls"], frame_skip)).sum()
    loss.backward()
    report = GradientReport(eps=eps)
    for name in wrt:
        report.analytic[name] = leaves[name].grad[0].detach()

    # numeric: one batch holding every +eps and -eps perturbation
    for name in wrt:
        n = inputs[name][0].numel()
        batch = {k: v.expand(2 * n, *v.shape[1:]).clone() for k, v in inputs.items()}
        flat = batch[name].reshape(2 * n, n)
        index = torch.arange(n)
        flat[index, index] += eps
        flat[n + index, index] -= eps
        batch[name] = flat.reshape(batch[name].shape)
        with torch.no_grad():
            losses = loss_fn(*rollout(model, batch["qpos"], batch["qvel"], batch["ctrls"], frame_skip))
        report.numeric[name] = ((losses[:n] - losses[n:]) / (2 * eps)).reshape(inputs[name].shape[1:])
    return report
