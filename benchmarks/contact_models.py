"""Figure: the two contact models against MuJoCo, on the bundled Ant.

    python -m benchmarks.contact_models [bench_forward.json]   # writes docs/results/contact_models.png

Left: the torso's height over 2 s without control, from the same initial state, in MuJoCo
and in diffsim with each contact model (float64). Middle: one step of diffsim from each of
MuJoCo's states along 1 s under random controls (the solver's warm start included),
against MuJoCo's next state (max |diff| / max(1, |state|)).
Right: speed at 1024 environments from a ``python -m diffsim.bench forward`` record
(default: docs/results/bench_forward_cpu_contact_models.json).
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mujoco  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import warp as wp  # noqa: E402

from benchmarks import RESULTS  # noqa: E402
import diffsim  # noqa: E402
from diffsim.simulator import Simulator, StepBuffers  # noqa: E402

MODELS = {"smooth": "tab:orange", "mujoco": "tab:blue"}


def torso_heights(seconds=2.0):
    m = mujoco.MjModel.from_xml_path(diffsim.asset("ant.xml"))
    d = mujoco.MjData(m)
    d.qpos[2] += 1e-3  # off the knife edge of the keyframe's feet at exactly zero distance
    steps = int(round(seconds / m.opt.timestep))
    start = d.qpos.copy()
    heights = {"MuJoCo": []}
    for _ in range(steps):
        mujoco.mj_step(m, d)
        heights["MuJoCo"].append(d.qpos[2])
    for name in MODELS:
        model = diffsim.load_mjcf(m, dtype=torch.float64, contact_model=name)
        with torch.no_grad():
            qpos, _ = diffsim.rollout(
                model,
                torch.tensor(start)[None],
                torch.zeros(1, m.nv, dtype=torch.float64),
                torch.zeros(1, steps, m.nu, dtype=torch.float64),
            )
        heights[f'diffsim "{name}"'] = qpos[0, :, 2].numpy()
    return np.arange(1, steps + 1) * m.opt.timestep, heights


def one_step_errors(seconds=1.0):
    """Each contact model's step from MuJoCo's whole state (the solver's warm start
    included) against MuJoCo's next state, along ``seconds`` of random controls."""
    m = mujoco.MjModel.from_xml_path(diffsim.asset("ant.xml"))
    steppers = {}
    for name in MODELS:
        model = diffsim.load_mjcf(m, dtype=torch.float64, contact_model=name)
        steppers[name] = (model, Simulator(model, grad_params=()), StepBuffers(model, 1))
    d = mujoco.MjData(m)
    d.qpos[2] += 1e-3
    rng = np.random.default_rng(0)
    errors = {name: [] for name in MODELS}
    state = [wp.zeros((1, n), dtype=wp.float64) for n in (m.nq, m.nv, m.nu, m.nq, m.nv)]
    for _ in range(int(round(seconds / m.opt.timestep))):
        d.ctrl[:] = rng.uniform(-1, 1, m.nu)
        inputs = (d.qpos.copy(), d.qvel.copy(), d.ctrl.copy())
        warmstart = d.qacc_warmstart.copy()
        mujoco.mj_step(m, d)
        for name, (model, sim, buf) in steppers.items():
            for array, value in zip(state, inputs):
                array.assign(value[None])
            if model.constraint_rows:
                buf.qacc_warmstart.assign(warmstart[None])
            sim.step(buf, *state)
            q, v = state[3].numpy()[0], state[4].numpy()[0]
            err = max(
                np.abs(q - d.qpos).max() / max(1.0, np.abs(d.qpos).max()),
                np.abs(v - d.qvel).max() / max(1.0, np.abs(d.qvel).max()),
            )
            errors[name].append(max(err, 1e-16))
    return np.arange(1, len(errors["smooth"]) + 1) * m.opt.timestep, errors


def main():
    record = sys.argv[1] if len(sys.argv) > 1 else RESULTS / "bench_forward_cpu_contact_models.json"
    bench = json.loads(open(record).read())
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    t, heights = torso_heights()
    for name, values in heights.items():
        style = (
            {"color": "black", "lw": 3, "alpha": 0.35} if name == "MuJoCo" else {"color": MODELS[name.split('"')[1]]}
        )
        axes[0].plot(t, values, label=name, **style)
    axes[0].set(xlabel="time (s)", ylabel="torso height (m)", title="Ant without control")
    axes[0].legend()
    t, errors = one_step_errors()
    for name, values in errors.items():
        axes[1].semilogy(t, values, color=MODELS[name], label=f'diffsim "{name}"')
    axes[1].set(xlabel="time (s)", ylabel="one step vs MuJoCo (relative)", title="One step from MuJoCo's states")
    axes[1].legend()
    row = next(r for r in bench["results"] if r["batch"] == 1024)
    labels = ['diffsim "smooth"', 'diffsim "mujoco"', "MuJoCo, 1 thread"]
    values = [row["diffsim_steps_per_s"], row["diffsim_mujoco_steps_per_s"], row["mujoco_1thread_steps_per_s"]]
    axes[2].bar(labels, values, color=[MODELS["smooth"], MODELS["mujoco"], "gray"])
    axes[2].set(ylabel="Ant steps per second", title="1024 environments, one CPU core")
    fig.suptitle("The smoothed contact (differentiable) and MuJoCo's constraints (MuJoCo's physics)")
    fig.tight_layout()
    out = RESULTS / "contact_models.png"
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
