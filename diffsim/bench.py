"""Benchmarks: ``python -m diffsim.bench {forward,grad,memory} [options]``.

Every subcommand prints a table and writes JSON (``--out``, default
``bench_<name>.json``) recording the machine, the library versions and the settings,
so that a figure can always be traced to where and how it was measured. Speed is
compared side by side in one run; this is the only place speed and memory are measured
(the test suite asserts correctness only).

    forward Ant with contact, batch sizes 1, 64, 1024 (and 4096, 16384 on a GPU):
            environment steps per second and simulated seconds per wall-clock second,
            diffsim with each contact model (the smoothed contact; MuJoCo's constraints)
            beside MuJoCo (mujoco.rollout, the same model, on one thread and on
            every core) and, with --device cuda where ``mujoco_warp`` is installed, beside
            MuJoCo Warp on the same GPU (its step captured as a CUDA graph)
    grad    gradient of a T-step Ant rollout loss w.r.t. all controls: diffsim's analytic
            backward pass against MjStep (MuJoCo's finite-difference Jacobians)
    memory  peak memory of forward + backward over horizons 100..1000, with diffsim's
            backward and with one tape kept over the whole rollout: resident memory on
            the CPU, device memory (torch's and Warp's allocators) on a GPU

Training agents side by side over seeds is a research harness beside the package:
``python -m benchmarks.train_agents`` from the repository root.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np
import torch

from diffsim.bench_report import machine_info, table as _table, write_json as _write  # noqa: F401 (machine_info: public here too)


def _settings(args) -> dict:
    return {k: v for k, v in vars(args).items() if k != "run"}


# --- grad ------------------------------------------------------------------------------------


def _ant_mjmodel(cone=None):
    """The Ant as MuJoCo compiles it, with its friction cones switched to ``cone``
    ("pyramidal" or "elliptic") when given."""
    import mujoco

    import diffsim

    m = mujoco.MjModel.from_xml_path(diffsim.asset("ant.xml"))
    if cone is not None:
        m.opt.cone = mujoco.mjtCone.mjCONE_ELLIPTIC if cone == "elliptic" else mujoco.mjtCone.mjCONE_PYRAMIDAL
    return m


def _ant_problem(batch, horizon, dtype, device="cpu", seed=0, options=None, contact_model="smooth", cone=None):
    """The Ant, a batch of its initial states and random controls; ``options``: the model's
    simulation options to set (``diffsim.options.Options`` field -> value); ``cone``: its
    friction cones (MuJoCo's constraints), as in ``_ant_mjmodel``."""
    import diffsim

    model = diffsim.load_mjcf(_ant_mjmodel(cone), dtype=dtype, device=device)
    model.contact_model = contact_model
    for name, value in (options or {}).items():
        setattr(model.options, name, value)
    g = torch.Generator().manual_seed(seed)
    qpos = model.qpos0[None].repeat(batch, 1).to(device)
    qvel = torch.zeros(batch, model.nv, dtype=dtype, device=device)
    ctrls = (0.5 * (2 * torch.rand(batch, horizon, model.nu, generator=g, dtype=dtype) - 1)).to(device)
    return model, qpos, qvel, ctrls


def _loss(qpos_traj, qvel_traj):
    """Forward progress of the torso, minus a small velocity penalty: touches every state."""
    return qpos_traj[:, -1, 0].sum() - 1e-3 * (qvel_traj**2).sum()


def _time_diffsim(
    batch, horizon, frame_skip, dtype, device, repeats, every_param=False, options=None, contact_model="smooth"
):
    """Best forward and backward seconds of the gradient w.r.t. the controls (and, with
    ``every_param``, w.r.t. every physical parameter of the model as well)."""
    import diffsim

    model, qpos, qvel, ctrls = _ant_problem(batch, horizon, dtype, device, options=options, contact_model=contact_model)
    ctrls.requires_grad_()
    if every_param:
        for tensor in model.params.values():
            tensor.requires_grad_()
    _loss(*diffsim.rollout(model, qpos, qvel, ctrls, frame_skip)).backward()  # warm-up: compile kernels
    forward, backward = [], []
    for _ in range(repeats):
        ctrls.grad = None
        t0 = time.perf_counter()
        loss = _loss(*diffsim.rollout(model, qpos, qvel, ctrls, frame_skip))
        t1 = time.perf_counter()
        loss.backward()
        if device != "cpu":
            torch.cuda.synchronize()
        t2 = time.perf_counter()
        forward.append(t1 - t0)
        backward.append(t2 - t1)
    return min(forward), min(backward), ctrls.grad


def _time_mjstep(batch, horizon, frame_skip, repeats):
    import mujoco

    import diffsim
    from diffsim.mujoco_bridge import MjStep

    model, qpos, qvel, ctrls = _ant_problem(batch, horizon, torch.float64)
    step = MjStep(mujoco.MjModel.from_xml_path(diffsim.asset("ant.xml")), n_steps=frame_skip)
    forward, backward = [], []
    for _ in range(repeats):
        c = ctrls.clone().requires_grad_()
        t0 = time.perf_counter()
        q, v, qs, vs = qpos, qvel, [], []
        for t in range(horizon):
            q, v = step(q, v, c[:, t])
            qs.append(q)
            vs.append(v)
        loss = _loss(torch.stack(qs, 1), torch.stack(vs, 1))
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        forward.append(t1 - t0)
        backward.append(t2 - t1)
    return min(forward), min(backward), c.grad


_STORED_HELP = (
    "MiB of intermediates a rollout keeps for its backward pass (model.options.max_stored_bytes; "
    "default: 256 on a CPU, a quarter of the GPU's memory on CUDA)"
)


_CONTACT_HELP = "the Ant's contact model: 'smooth' (smoothed penalty contact) or 'mujoco' (MuJoCo's constraints)"


def _stored_bytes(mib):
    """``--max-stored-mib`` in bytes, or None for diffsim's device default."""
    return None if mib is None else int(mib * 2**20)


def _stored_budget(device, mib) -> int:
    """The budget a model on ``device`` gets with ``--max-stored-mib mib``, in bytes."""
    from types import SimpleNamespace

    from diffsim.autograd import stored_bytes_budget
    from diffsim.options import Options

    return stored_bytes_budget(
        SimpleNamespace(options=Options(max_stored_bytes=_stored_bytes(mib)), device=torch.device(device))
    )


def bench_grad(args):

    dtype = torch.float64 if args.dtype == "float64" else torch.float32
    rows, results = [], []
    for batch in args.batch:
        problem = (batch, args.horizon, args.frame_skip, dtype, args.device, args.repeats)
        settings = {
            "options": {"max_stored_bytes": _stored_bytes(args.max_stored_mib)},
            "contact_model": args.contact_model,
        }
        f, b, _ = _time_diffsim(*problem, **settings)
        budget = _stored_budget(args.device, args.max_stored_mib)
        if args.every_param:
            fp, bp, _ = _time_diffsim(*problem, every_param=True, **settings)
        entry = {
            "batch": batch,
            "diffsim_forward_s": f,
            "diffsim_backward_s": b,
            "diffsim_total_s": f + b,
            "backward_over_forward": b / f,
            "stored_budget_mib": budget / 2**20,
        }
        every_param = []
        if args.every_param:
            entry.update(
                {
                    "every_param_forward_s": fp,
                    "every_param_backward_s": bp,
                    "every_param_backward_over_forward": bp / fp,
                }
            )
            every_param = [f"{bp:.3f}", f"{bp / fp:.2f}"]
        if not args.skip_mjstep:
            mf, mb, _ = _time_mjstep(batch, args.horizon, args.frame_skip, max(1, args.repeats // 2))
            entry.update(
                {
                    "mjstep_forward_s": mf,
                    "mjstep_backward_s": mb,
                    "mjstep_total_s": mf + mb,
                    "speedup": (mf + mb) / (f + b),
                }
            )
        results.append(entry)
        mjstep = (
            [f"{entry['mjstep_total_s']:.3f}", f"{entry['speedup']:.1f}x"] if "speedup" in entry else ["skipped", "-"]
        )
        rows.append([batch, f"{f:.3f}", f"{b:.3f}", f"{b / f:.2f}", *every_param, *mjstep])
        print(f"batch {batch}: done", file=sys.stderr)
    print(
        f"\nGradient of a {args.horizon}-step Ant rollout loss w.r.t. all controls "
        f"(frame_skip {args.frame_skip}, {args.dtype}, {args.device}, contact model {args.contact_model!r})"
    )
    every_param = ["bwd s, + every parameter", "bwd/fwd, + every parameter"] if args.every_param else []
    print(
        _table(
            ["envs", "diffsim fwd s", "diffsim bwd s", "bwd/fwd", *every_param, "MjStep fwd+bwd s", "diffsim speed-up"],
            rows,
        )
    )
    _write(
        args.out or "bench_grad.json",
        {"benchmark": "grad", "machine": machine_info(), "settings": _settings(args), "results": results},
    )


# --- forward ---------------------------------------------------------------------------------


def _time_mujoco_forward(batch, steps, threads, repeats, cone=None):
    import mujoco
    from mujoco import rollout as mj_rollout

    m = _ant_mjmodel(cone)
    spec = mujoco.mjtState.mjSTATE_FULLPHYSICS
    d = mujoco.MjData(m)
    state = np.zeros(mujoco.mj_stateSize(m, spec))
    mujoco.mj_getState(m, d, state, spec)
    initial = np.tile(state, (batch, 1))
    g = np.random.default_rng(0)
    control = g.uniform(-1, 1, size=(batch, steps, m.nu))
    datas = [mujoco.MjData(m) for _ in range(threads)]
    best = float("inf")
    with mj_rollout.Rollout(nthread=threads) as runner:
        runner.rollout(m, datas, initial, control)  # warm-up
        for _ in range(repeats):
            t0 = time.perf_counter()
            runner.rollout(m, datas, initial, control)
            best = min(best, time.perf_counter() - t0)
    return best


def _time_mujoco_warp_forward(batch, steps, device, repeats, cone=None):
    """MuJoCo Warp (``mujoco_warp``) stepping ``batch`` Ant worlds ``steps`` times from the
    same initial state under fixed random controls, its step captured as a graph the way
    its own benchmarks run it. Returns the best wall time in seconds, or None when
    ``mujoco_warp`` is not installed."""
    try:
        import mujoco_warp as mjw
    except ImportError:
        return None
    import mujoco
    import warp as wp

    m = _ant_mjmodel(cone)
    d = mujoco.MjData(m)
    with wp.ScopedDevice(device):
        model = mjw.put_model(m)
        # contact and constraint capacity per world: the Ant touches the floor with a few geoms
        data = mjw.put_data(m, d, nworld=batch, nconmax=32, njmax=128)
        initial_qpos, initial_qvel = wp.clone(data.qpos), wp.clone(data.qvel)
        g = np.random.default_rng(0)
        data.ctrl.assign(g.uniform(-1, 1, size=(batch, m.nu)).astype(np.float32))
        mjw.step(model, data)  # warm-up: compile kernels
        with wp.ScopedCapture() as capture:
            mjw.step(model, data)
        best = float("inf")
        for _ in range(repeats):
            wp.copy(data.qpos, initial_qpos)
            wp.copy(data.qvel, initial_qvel)
            wp.synchronize_device()
            t0 = time.perf_counter()
            for _ in range(steps):
                wp.capture_launch(capture.graph)
            wp.synchronize_device()
            best = min(best, time.perf_counter() - t0)
    return best


def _time_diffsim_forward(batch, steps, dtype, device, repeats, options=None, contact_model="smooth", cone=None):
    import diffsim

    model, qpos, qvel, _ = _ant_problem(
        batch, 1, dtype, device, options=options, contact_model=contact_model, cone=cone
    )
    g = torch.Generator().manual_seed(0)
    ctrls = (2 * torch.rand(batch, steps, model.nu, generator=g, dtype=torch.float64) - 1).to(dtype).to(device)
    with torch.no_grad():
        diffsim.rollout(model, qpos, qvel, ctrls)  # warm-up: compile, record launches
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            diffsim.rollout(model, qpos, qvel, ctrls)
            if device != "cpu":
                torch.cuda.synchronize()
            best = min(best, time.perf_counter() - t0)
    return best, model.dt


def bench_forward(args):
    dtype = torch.float64 if args.dtype == "float64" else torch.float32
    threads = args.threads or os.cpu_count()
    on_gpu = args.device != "cpu"
    args.batch = batches = args.batch or ([1, 64, 1024, 4096, 16384] if on_gpu else [1, 64, 1024])
    mujoco_warp = args.mujoco_warp if args.mujoco_warp is not None else on_gpu
    with_mujoco_constraints = not args.skip_mujoco_constraints
    rows, results = [], []
    # the tree recursions' launch layout that is not this device's default (see diffsim.options)
    other_walk = "tree per env" if on_gpu else "tree per level"
    for batch in batches:
        seconds, dt = _time_diffsim_forward(batch, args.steps, dtype, args.device, args.repeats)
        entry = {
            "batch": batch,
            "steps": args.steps,
            "diffsim_s": seconds,
            "diffsim_steps_per_s": batch * args.steps / seconds,
            "diffsim_sim_s_per_s": batch * args.steps * dt / seconds,
        }
        row = [batch, f"{entry['diffsim_steps_per_s']:.0f}", f"{entry['diffsim_sim_s_per_s']:.1f}"]
        if args.compare_launches:
            seconds_launched, _ = _time_diffsim_forward(
                batch, args.steps, dtype, args.device, args.repeats, options={"capture_graphs": False}
            )
            entry["diffsim_launch_by_launch_steps_per_s"] = batch * args.steps / seconds_launched
            row += [f"{entry['diffsim_launch_by_launch_steps_per_s']:.0f}"]
        if args.compare_tree_walks:
            seconds_other, _ = _time_diffsim_forward(
                batch, args.steps, dtype, args.device, args.repeats, options={"tree_parallel": not on_gpu}
            )
            steps_per_s = batch * args.steps / seconds_other
            entry[f"diffsim_{other_walk.replace(' ', '_')}_steps_per_s"] = steps_per_s
            row += [f"{steps_per_s:.0f}"]
        if with_mujoco_constraints:
            seconds_mj, _ = _time_diffsim_forward(
                batch, args.steps, dtype, args.device, args.repeats, contact_model="mujoco", cone=args.cone
            )
            entry["diffsim_mujoco_steps_per_s"] = batch * args.steps / seconds_mj
            entry["diffsim_mujoco_sim_s_per_s"] = batch * args.steps * dt / seconds_mj
            row += [f"{entry['diffsim_mujoco_steps_per_s']:.0f}", f"{entry['diffsim_mujoco_sim_s_per_s']:.1f}"]
        if not args.skip_mujoco:
            for n in sorted({1, threads}):
                t = _time_mujoco_forward(batch, args.steps, n, args.repeats, cone=args.cone)
                entry[f"mujoco_{n}thread_steps_per_s"] = batch * args.steps / t
            one = entry["mujoco_1thread_steps_per_s"]
            many = entry[f"mujoco_{threads}thread_steps_per_s"]
            entry["diffsim_over_mujoco_1thread"] = entry["diffsim_steps_per_s"] / one
            row += [f"{one:.0f}", f"{many:.0f}", f"{entry['diffsim_over_mujoco_1thread']:.2f}x"]
            if with_mujoco_constraints:
                entry["diffsim_mujoco_over_mujoco_1thread"] = entry["diffsim_mujoco_steps_per_s"] / one
                row += [f"{entry['diffsim_mujoco_over_mujoco_1thread']:.2f}x"]
        if mujoco_warp:
            t = _time_mujoco_warp_forward(batch, args.steps, args.device, args.repeats, cone=args.cone)
            if t is None:
                print("mujoco_warp is not installed (pip install mujoco-warp): no MuJoCo Warp column", file=sys.stderr)
                mujoco_warp = False
            else:
                entry["mujoco_warp_steps_per_s"] = batch * args.steps / t
                entry["diffsim_over_mujoco_warp"] = entry["diffsim_steps_per_s"] / entry["mujoco_warp_steps_per_s"]
                if with_mujoco_constraints:
                    entry["diffsim_mujoco_over_mujoco_warp"] = (
                        entry["diffsim_mujoco_steps_per_s"] / entry["mujoco_warp_steps_per_s"]
                    )
                row += [f"{entry['mujoco_warp_steps_per_s']:.0f}", f"{entry['diffsim_over_mujoco_warp']:.2f}x"]
        results.append(entry)
        rows.append(row)
        print(f"batch {batch}: done", file=sys.stderr)
    headers = ["envs", "diffsim smooth steps/s", "diffsim smooth sim-s/s"]
    if args.compare_launches:
        headers += ["diffsim launch by launch steps/s"]
    if args.compare_tree_walks:
        headers += [f"diffsim {other_walk} steps/s"]
    if with_mujoco_constraints:
        headers += ["diffsim mujoco steps/s", "diffsim mujoco sim-s/s"]
    if not args.skip_mujoco:
        headers += ["MuJoCo 1 thread steps/s", f"MuJoCo {threads} threads steps/s", "smooth / MuJoCo 1 thread"]
        if with_mujoco_constraints:
            headers += ["mujoco / MuJoCo 1 thread"]
    if mujoco_warp:
        headers += [f"MuJoCo Warp ({args.device}) steps/s", "diffsim / MuJoCo Warp"]
    rows = [r + [""] * (len(headers) - len(r)) for r in rows]
    where = "Warp's CPU kernels use one core" if not on_gpu else machine_info()["cuda"]
    print(
        f"\nAnt with contact, {args.steps} physics steps of {dt:.4g} s, diffsim in {args.dtype} on {args.device} "
        f"({where}); MuJoCo in float64 on the CPU; {args.cone or 'pyramidal'} friction cones"
    )
    print(_table(headers, rows))
    _write(
        args.out or "bench_forward.json",
        {"benchmark": "forward", "machine": machine_info(), "settings": _settings(args), "results": results},
    )


# --- memory -----------------------------------------------------------------------------------


def _peak_mib(device) -> float:
    """Peak memory so far: resident memory of the process on the CPU; on a GPU the
    high-water marks of torch's and Warp's allocators, added (an upper bound)."""
    if device == "cpu":
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    import warp as wp

    return (torch.cuda.max_memory_allocated(device) + wp.get_mempool_used_mem_high(device)) / 2**20


def _memory_child(mode, batch, horizon, frame_skip, device="cpu", max_stored_mib=None, contact_model="smooth"):
    """Run in a fresh process: peak memory (MiB) of one forward + backward."""
    import warp as wp

    import diffsim
    from diffsim.simulator import Simulator, StepBuffers

    model, qpos, qvel, ctrls = _ant_problem(
        batch,
        horizon,
        torch.float32,
        device,
        options={"max_stored_bytes": _stored_bytes(max_stored_mib)},
        contact_model=contact_model,
    )
    base = _peak_mib(device)
    if mode == "diffsim":
        ctrls.requires_grad_()
        _loss(*diffsim.rollout(model, qpos, qvel, ctrls, frame_skip)).backward()
    else:
        # one wp.Tape over the whole rollout: every step's buffers stay alive until backward
        sim = Simulator(model)
        q = wp.from_torch(qpos.clone(), requires_grad=True)
        v = wp.from_torch(qvel.clone(), requires_grad=True)
        c = [wp.from_torch(ctrls[:, t].contiguous(), requires_grad=True) for t in range(horizon)]
        tape = wp.Tape()
        with tape:
            for t in range(horizon):
                for _ in range(frame_skip):
                    q_next, v_next = wp.empty_like(q, requires_grad=True), wp.empty_like(v, requires_grad=True)
                    sim.step(StepBuffers(model, batch, requires_grad=True), q, v, c[t], q_next, v_next)
                    q, v = q_next, v_next
        tape.backward(grads={q: wp.ones_like(q), v: wp.ones_like(v)})
    if device != "cpu":
        torch.cuda.synchronize(device)
    print(
        json.dumps(
            {
                "peak_mib": _peak_mib(device),
                "baseline_mib": base,
                "stored_budget_mib": diffsim.autograd.stored_bytes_budget(model) / 2**20,
            }
        )
    )


def bench_memory(args):
    rows, results = [], []
    for horizon in args.horizons:
        entry = {"horizon": horizon, "batch": args.batch[0]}
        for mode in ("diffsim", "full_tape"):
            if mode == "full_tape" and horizon > args.full_tape_max:
                continue
            cmd = [
                sys.executable,
                "-m",
                "diffsim.bench",
                "_memory_child",
                mode,
                str(args.batch[0]),
                str(horizon),
                str(args.frame_skip),
                args.device,
                str(args.max_stored_mib),
                args.contact_model,
            ]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
            measured = json.loads(out)
            entry[f"{mode}_peak_mib"] = measured["peak_mib"]
            # each process has its own baseline: "baseline_mib" is the diffsim process's,
            # the one its peak is compared with
            if mode == "diffsim":
                entry["baseline_mib"] = measured["baseline_mib"]
                entry["stored_budget_mib"] = measured["stored_budget_mib"]
            else:
                entry["full_tape_baseline_mib"] = measured["baseline_mib"]
        results.append(entry)
        rows.append(
            [
                horizon,
                f"{entry['baseline_mib']:.0f}",
                f"{entry['diffsim_peak_mib']:.0f}",
                f"{entry.get('full_tape_peak_mib', float('nan')):.0f}",
            ]
        )
        print(f"horizon {horizon}: done", file=sys.stderr)
    what = "Peak RSS" if args.device == "cpu" else f"Peak {args.device} memory"
    print(f"\n{what} (MiB) of forward + backward, Ant, {args.batch[0]} envs, frame_skip {args.frame_skip}, float32")
    print(_table(["horizon", "after setup", "diffsim", "one tape over the rollout"], rows))
    _write(
        args.out or "bench_memory.json",
        {"benchmark": "memory", "machine": machine_info(), "settings": _settings(args), "results": results},
    )


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "_memory_child":
        _memory_child(
            argv[1],
            int(argv[2]),
            int(argv[3]),
            int(argv[4]),
            argv[5],
            None if argv[6] == "None" else float(argv[6]),
            argv[7],
        )
        return
    parser = argparse.ArgumentParser(
        prog="python -m diffsim.bench",
        description=__doc__.replace("``", ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    grad = sub.add_parser("grad", help="gradient of an Ant rollout: diffsim vs MjStep")
    grad.add_argument("--batch", type=int, nargs="+", default=[1, 64])
    grad.add_argument("--horizon", type=int, default=100)
    grad.add_argument("--frame-skip", type=int, default=1)
    grad.add_argument(
        "--dtype",
        choices=["float32", "float64"],
        default="float32",
        help="diffsim's precision (MuJoCo is float64 either way)",
    )
    grad.add_argument("--device", default="cpu")
    grad.add_argument("--repeats", type=int, default=3)
    grad.add_argument("--skip-mjstep", action="store_true")
    grad.add_argument(
        "--every-param",
        action="store_true",
        help="also time the gradient w.r.t. every physical parameter of the model as well as the controls",
    )
    grad.add_argument("--max-stored-mib", type=float, help=_STORED_HELP)
    grad.add_argument("--contact-model", choices=["smooth", "mujoco"], default="smooth", help=_CONTACT_HELP)
    grad.add_argument("--out")
    grad.set_defaults(run=bench_grad)
    forward = sub.add_parser("forward", help="forward simulation throughput: diffsim vs MuJoCo")
    forward.add_argument("--batch", type=int, nargs="+", help="default: 1 64 1024; on a GPU also 4096 16384")
    forward.add_argument("--steps", type=int, default=200, help="physics steps per rollout")
    forward.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    forward.add_argument("--device", default="cpu")
    forward.add_argument("--threads", type=int, default=0, help="MuJoCo threads besides 1 (default: all cores)")
    forward.add_argument("--repeats", type=int, default=3)
    forward.add_argument("--skip-mujoco", action="store_true")
    forward.add_argument(
        "--cone",
        choices=["pyramidal", "elliptic"],
        help="the Ant's friction cones for MuJoCo's constraints, in diffsim and in MuJoCo "
        "(default: the model's own, pyramidal); the smoothed contact has none",
    )
    forward.add_argument(
        "--skip-mujoco-constraints",
        action="store_true",
        help="time diffsim with the smoothed contact only (not also with contact_model='mujoco')",
    )
    forward.add_argument(
        "--compare-launches",
        action="store_true",
        help="also time diffsim without graph capture (each kernel launched from Python)",
    )
    forward.add_argument(
        "--compare-tree-walks",
        action="store_true",
        help="also time diffsim with the tree recursions launched the other way: a thread per "
        "(env, body), level by level (the GPU's default), on a CPU; a thread per env on a GPU",
    )
    forward.add_argument(
        "--mujoco-warp",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also time MuJoCo Warp on --device (default: on a GPU, when mujoco_warp is installed)",
    )
    forward.add_argument("--out")
    forward.set_defaults(run=bench_forward)
    memory = sub.add_parser("memory", help="peak memory of forward + backward over long horizons")
    memory.add_argument("--batch", type=int, nargs=1, default=[64])
    memory.add_argument("--horizons", type=int, nargs="+", default=[100, 250, 500, 1000])
    memory.add_argument("--frame-skip", type=int, default=1)
    memory.add_argument("--full-tape-max", type=int, default=1000, help="longest horizon to try with one full tape")
    memory.add_argument("--device", default="cpu")
    memory.add_argument("--max-stored-mib", type=float, help=_STORED_HELP)
    memory.add_argument("--contact-model", choices=["smooth", "mujoco"], default="smooth", help=_CONTACT_HELP)
    memory.add_argument("--out")
    memory.set_defaults(run=bench_memory)
    args = parser.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
