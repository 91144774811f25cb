"""``python -m diffsim.bench forward|grad|memory``: each prints its table and writes JSON
with the machine, versions and settings. Speed itself is never asserted here (this
machine is shared); the figures come from running the benchmark."""

import importlib.util
import json

import pytest

from diffsim import bench


def _run(capsys, tmp_path, *argv):
    out = tmp_path / "bench.json"
    bench.main([*argv, "--out", str(out)])
    report = json.loads(out.read_text())
    assert report["machine"]["cores"] >= 1 and report["machine"]["warp"] and report["machine"]["mujoco"]
    assert report["settings"]["command"] == argv[0]
    return report, capsys.readouterr().out


def test_forward_puts_diffsim_beside_mujoco(capsys, tmp_path):
    report, table = _run(
        capsys,
        tmp_path,
        "forward",
        "--batch",
        "1",
        "3",
        "--steps",
        "4",
        "--repeats",
        "1",
        "--compare-launches",
        "--compare-tree-walks",
    )
    assert [r["batch"] for r in report["results"]] == [1, 3]
    for r in report["results"]:
        assert r["diffsim_steps_per_s"] > 0 and r["mujoco_1thread_steps_per_s"] > 0
        assert r["diffsim_launch_by_launch_steps_per_s"] > 0 and r["diffsim_tree_per_level_steps_per_s"] > 0
        assert r["diffsim_sim_s_per_s"] == pytest.approx(r["diffsim_steps_per_s"] * 0.005)  # the Ant's dt
        assert r["diffsim_over_mujoco_1thread"] == pytest.approx(
            r["diffsim_steps_per_s"] / r["mujoco_1thread_steps_per_s"]
        )
        # the same Ant with MuJoCo's constraints (contact_model="mujoco")
        assert r["diffsim_mujoco_sim_s_per_s"] == pytest.approx(r["diffsim_mujoco_steps_per_s"] * 0.005)
        assert r["diffsim_mujoco_over_mujoco_1thread"] == pytest.approx(
            r["diffsim_mujoco_steps_per_s"] / r["mujoco_1thread_steps_per_s"]
        )
    assert "smooth / MuJoCo 1 thread" in table and "mujoco / MuJoCo 1 thread" in table
    assert "tree per level" in table and "MuJoCo Warp" not in table


@pytest.mark.skipif(importlib.util.find_spec("mujoco_warp") is None, reason="mujoco_warp is not installed")
def test_forward_puts_diffsim_beside_mujoco_warp(capsys, tmp_path):
    report, table = _run(
        capsys, tmp_path, "forward", "--batch", "2", "--steps", "3", "--repeats", "1", "--skip-mujoco", "--mujoco-warp"
    )
    r = report["results"][0]
    assert r["mujoco_warp_steps_per_s"] > 0
    assert r["diffsim_over_mujoco_warp"] == pytest.approx(r["diffsim_steps_per_s"] / r["mujoco_warp_steps_per_s"])
    assert r["diffsim_mujoco_over_mujoco_warp"] == pytest.approx(
        r["diffsim_mujoco_steps_per_s"] / r["mujoco_warp_steps_per_s"]
    )
    assert "diffsim / MuJoCo Warp" in table


def test_grad_times_forward_and_backward_beside_mjstep(capsys, tmp_path):
    report, table = _run(
        capsys, tmp_path, "grad", "--batch", "2", "--horizon", "3", "--repeats", "1", "--max-stored-mib", "0"
    )
    r = report["results"][0]
    assert r["stored_budget_mib"] == 0
    assert r["diffsim_backward_s"] > 0 and r["mjstep_total_s"] > 0
    assert r["backward_over_forward"] == pytest.approx(r["diffsim_backward_s"] / r["diffsim_forward_s"])
    assert "MjStep" in table


def test_memory_measures_both_backward_passes_in_fresh_processes(capsys, tmp_path):
    report, table = _run(
        capsys,
        tmp_path,
        "memory",
        "--batch",
        "2",
        "--horizons",
        "3",
        "6",
        "--full-tape-max",
        "3",
        "--max-stored-mib",
        "1.5",
    )
    first, second = report["results"]
    assert first["stored_budget_mib"] == second["stored_budget_mib"] == 1.5  # reached the fresh processes
    assert first["diffsim_peak_mib"] >= first["baseline_mib"] > 0
    assert first["full_tape_peak_mib"] >= first["full_tape_baseline_mib"] > 0
    assert "full_tape_peak_mib" not in second  # beyond --full-tape-max
    assert "Peak RSS" in table
