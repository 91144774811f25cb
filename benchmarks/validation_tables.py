"""The numbers of the validation page (docs/results/validation.md), measured as the tests
measure them (they assert the thresholds; this prints the values):

    python -m benchmarks.validation_tables

writes docs/results/validation_tables.json with the machine and versions.
"""

import sys
import warnings

import mujoco
import numpy as np
import torch

import diffsim
from benchmarks import ROOT, RESULTS
from diffsim.bench_report import machine_info, write_json

sys.path.insert(0, str(ROOT / "tests"))
import test_dynamics as td  # noqa: E402
import test_mujoco_physics as tp  # noqa: E402


def main():
    warnings.simplefilter("ignore")  # ball_chain's unsupported friction loss is switched off with its constraints
    assets, physics = [], []
    print("| model | mass matrix f64 | bias f64 | mass matrix f32 | bias f32 | 200-step Euler trajectory f64 |")
    for name in td.MODELS:
        row = []
        for dtype in (torch.float64, torch.float32):
            m = td.mujoco_model(name)
            d = mujoco.MjData(m)
            model = diffsim.load_mjcf(m, dtype=dtype)
            qpos, qvel = td.random_states(m, 64, seed=1)
            M = diffsim.mass_matrix(model, torch.tensor(qpos, dtype=dtype)).double().numpy()
            bias = (
                diffsim.bias_forces(model, torch.tensor(qpos, dtype=dtype), torch.tensor(qvel, dtype=dtype))
                .double()
                .numpy()
            )
            wm = wb = 0
            for i in range(64):
                d.qpos[:], d.qvel[:] = qpos[i], qvel[i]
                mujoco.mj_forward(m, d)
                ref = np.zeros((m.nv, m.nv))
                mujoco.mj_fullM(m, d, ref)
                wm = max(wm, td.relative_error(M[i], ref))
                wb = max(wb, td.relative_error(bias[i], d.qfrc_bias))
            row += [wm, wb]
        m = td.mujoco_model(name, constraints=False)
        d = mujoco.MjData(m)
        model = diffsim.load_mjcf(m, dtype=torch.float64)
        qpos, qvel = td.random_states(m, 3, seed=2, spread=0.3)
        ctrls = np.random.default_rng(3).uniform(-1, 1, size=(3, 200, m.nu))
        qt, vt = diffsim.rollout(model, torch.tensor(qpos), torch.tensor(qvel), torch.tensor(ctrls))
        worst = 0
        for i in range(3):
            d.qpos[:], d.qvel[:] = qpos[i], qvel[i]
            for t in range(200):
                d.ctrl[:] = ctrls[i, t]
                mujoco.mj_step(m, d)
                worst = max(
                    worst,
                    np.abs(qt[i, t].numpy() - d.qpos).max() / max(1, np.abs(d.qpos).max()),
                    np.abs(vt[i, t].numpy() - d.qvel).max() / max(1, np.abs(d.qvel).max()),
                )
        row.append(worst)
        assets.append(dict(zip(["model", "M_f64", "bias_f64", "M_f32", "bias_f32", "euler_200_f64"], [name, *row])))
        print(f"| {name} | " + " | ".join(f"{x:.1e}" for x in row) + " |")
    print()
    print("| model | Euler | implicitfast | RK4 |")
    for name in ("actuators.xml", "passive.xml"):
        cells = [tp.diffsim_errors(tp.compile_model(name, integ), 200) for integ in tp.INTEGRATORS]
        physics.append({"model": name, **dict(zip(tp.INTEGRATORS, cells))})
        print(f"| {name} | " + " | ".join(f"{x:.1e}" for x in cells) + " |")
    write_json(
        RESULTS / "validation_tables.json",
        {"benchmark": "validation_tables", "machine": machine_info(), "assets": assets, "mujoco_physics": physics},
    )


if __name__ == "__main__":
    main()
