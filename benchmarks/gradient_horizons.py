"""How gradients through the Ant's contacts grow with the horizon, per contact setting.

For each setting, the norm of d(torso x after H control steps) / d(controls) (every
control of the H steps, 10 physics steps of 5 ms each), median over 8 Ant states (the
keyframe lifted 1 cm, joints and torso velocity perturbed) with random controls,
float64, for H = 8, 16 and 32. Beside it, what the setting costs in fidelity against
MuJoCo's defaults: how deep the feet sink when the Ant stands (the lowest foot-floor
distance after 1 s at zero control) and how far the torso ends from where it ends with
the defaults after 1 s under the same random controls.

Settings: diffsim's smoothed contact (its default) for reference; MuJoCo's constraints at
the model's defaults; and MuJoCo's constraints with softer ``solref`` (longer time
constant), a wider ``solimp`` transition and a contact ``margin``.

    python -m benchmarks.gradient_horizons --out docs/results/gradient_horizons.json

Also checks the analytic gradient against central differences at H = 8 (relative error
reported), so that the table's growth is the physics', not a wrong gradient's.
"""

from __future__ import annotations

import argparse
import json

import torch

import diffsim
from diffsim.bench import machine_info

FRAME_SKIP = 10
HORIZONS = (8, 16, 32)
SETTINGS = {
    "smooth (diffsim's default)": {"contact_model": "smooth"},
    "mujoco, the model's solref/solimp": {"contact_model": "mujoco"},
    "mujoco, solref 0.05 s": {"contact_model": "mujoco", "solref": (0.05, 1.0)},
    "mujoco, solref 0.05 s, solimp 0.5-0.95 over 5 cm, margin 1 cm": {
        "contact_model": "mujoco",
        "solref": (0.05, 1.0),
        "solimp": (0.5, 0.95, 0.05, 0.5, 2.0),
        "margin": 0.01,
    },
}


def ant(setting: dict) -> diffsim.Model:
    model = diffsim.load_mjcf(diffsim.asset("ant.xml"), dtype=torch.float64, contact_model=setting["contact_model"])
    with torch.no_grad():
        if "solref" in setting:
            model.geom_solref[:] = torch.tensor(setting["solref"], dtype=torch.float64)
        if "solimp" in setting:
            model.geom_solimp[:] = torch.tensor(setting["solimp"], dtype=torch.float64)
        if "margin" in setting:
            model.geom_margin[:] = setting["margin"]
    return model


def initial_states(model, count: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    qpos = model.qpos0[None].repeat(count, 1)
    qpos[:, 2] += 0.01
    qpos[:, 7:] += 0.1 * (2 * torch.rand(count, model.nq - 7, generator=g, dtype=torch.float64) - 1)
    qvel = torch.zeros(count, model.nv, dtype=torch.float64)
    qvel[:, :2] = 0.2 * (2 * torch.rand(count, 2, generator=g, dtype=torch.float64) - 1)
    return qpos, qvel


def random_controls(model, count: int, horizon: int, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    return 0.5 * (2 * torch.rand(count, horizon, model.nu, generator=g, dtype=torch.float64) - 1)


def gradient_norms(model, qpos, qvel, ctrls):
    ctrls = ctrls.clone().requires_grad_()
    qpos_traj, _ = diffsim.rollout(model, qpos, qvel, ctrls, FRAME_SKIP)
    qpos_traj[:, -1, 0].sum().backward()
    return ctrls.grad.flatten(1).norm(dim=1)


def finite_difference_error(model, qpos, qvel, ctrls, eps=1e-6):
    """Relative error of the analytic gradient of environment 0 against central differences."""
    ctrls = ctrls[:1].clone().requires_grad_()
    qpos_traj, _ = diffsim.rollout(model, qpos[:1], qvel[:1], ctrls, FRAME_SKIP)
    qpos_traj[:, -1, 0].sum().backward()
    analytic = ctrls.grad[0].flatten()
    n = analytic.numel()
    batch = ctrls.detach().repeat(2 * n, 1, 1).reshape(2 * n, n)
    batch[torch.arange(n), torch.arange(n)] += eps
    batch[n + torch.arange(n), torch.arange(n)] -= eps
    with torch.no_grad():
        ends = diffsim.rollout(
            model,
            qpos[:1].repeat(2 * n, 1),
            qvel[:1].repeat(2 * n, 1),
            batch.reshape(2 * n, *ctrls.shape[1:]),
            FRAME_SKIP,
        )[0][:, -1, 0]
    numeric = (ends[:n] - ends[n:]) / (2 * eps)
    return float((analytic - numeric).abs().max() / numeric.abs().max())


def fidelity(model, reference_end):
    """(deepest foot penetration standing, mm; torso's end distance from the defaults', mm)."""
    qpos, qvel = initial_states(model, 1)
    steps = int(round(1.0 / (model.dt * FRAME_SKIP)))
    with torch.no_grad():
        zeros = torch.zeros(1, steps, model.nu, dtype=torch.float64)
        rest, _ = diffsim.rollout(
            model, model.qpos0[None], torch.zeros(1, model.nv, dtype=torch.float64), zeros, FRAME_SKIP
        )
        moved, _ = diffsim.rollout(model, qpos, qvel, random_controls(model, 1, steps, seed=7), FRAME_SKIP)
    depth = foot_depth(model, rest[0, -1])
    end = moved[0, -1, :3]
    return depth, None if reference_end is None else 1000 * float((end - reference_end).norm()), end


def foot_depth(model, qpos):
    """The deepest penetration of a foot into the floor (mm, 0 when none), by MuJoCo's own
    collision at the final pose."""
    import mujoco

    m = mujoco.MjModel.from_xml_path(diffsim.asset("ant.xml"))
    d = mujoco.MjData(m)
    d.qpos[:] = qpos.numpy()
    mujoco.mj_forward(m, d)
    dist = [c.dist for c in d.contact[: d.ncon]]
    return 1000 * max(0.0, -min(dist)) if dist else 0.0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--states", type=int, default=8)
    parser.add_argument("--out", default="gradient_horizons.json")
    args = parser.parse_args(argv)
    results = []
    _, _, reference_end = fidelity(ant(SETTINGS["mujoco, the model's solref/solimp"]), None)
    for name, setting in SETTINGS.items():
        model = ant(setting)
        qpos, qvel = initial_states(model, args.states)
        entry = {"setting": name, **{k: v for k, v in setting.items()}}
        for horizon in HORIZONS:
            norms = gradient_norms(model, qpos, qvel, random_controls(model, args.states, horizon))
            entry[f"median_norm_H{horizon}"] = float(norms.median())
        entry["fd_relative_error_H8"] = finite_difference_error(model, qpos, qvel, random_controls(model, 1, 8))
        depth, drift, _ = fidelity(model, reference_end)
        entry["standing_penetration_mm"] = depth
        entry["torso_end_from_mujoco_defaults_mm"] = drift
        results.append(entry)
        print(
            f"{name}: "
            + ", ".join(f"H={h}: {entry[f'median_norm_H{h}']:.3g}" for h in HORIZONS)
            + f"; FD error at H=8 {entry['fd_relative_error_H8']:.1e}; standing penetration {depth:.2f} mm"
        )
    with open(args.out, "w") as f:
        json.dump({"benchmark": "gradient_horizons", "machine": machine_info(), "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
