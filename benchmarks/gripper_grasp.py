"""Figure: a gripper policy trained in diffsim, replayed in diffsim and in MuJoCo.

    python -m diffsim.train --config gripper --logdir runs/gripper
    python -m benchmarks.gripper_grasp runs/gripper/checkpoint.pt   # writes docs/results/gripper_grasp.png

One episode from the same initial state, stepped by diffsim (smoothed penalty contact)
and by MuJoCo (its own constraint solver) on the same MJCF, the policy reading each
simulator's ``qpos``/``qvel`` directly, since the layouts are the same. Top: three frames
of the diffsim episode. Bottom: the box's height and the fingers' closing distance in
both simulators (MuJoCo's harder contact grips the box at its width, diffsim's squeeze
sinks in), and the box height reached in each of 16 episodes per simulator.
"""

import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mujoco  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from benchmarks import RESULTS  # noqa: E402
import diffsim  # noqa: E402
import diffsim.viz as viz  # noqa: E402
from diffsim.checkpoints import load_checkpoint  # noqa: E402
from diffsim.train import make_agent, make_env  # noqa: E402

EPISODES = 16
BOX_WIDTH = 0.08  # the box's side (m)
HELD_Z = 0.1  # a box whose centre ends above this height (m) was held


def finger_gap(qpos):
    """Space between the two fingers' surfaces (m): 0.2 m between the open fingers' axes,
    less each finger's closing distance and the two capsule radii."""
    return 0.2 - qpos[..., 1] - qpos[..., 2] - 2 * 0.015


def load_policy(path):
    state = load_checkpoint(path, ("agent", "run"), map_location="cpu")
    env = make_env(state["config"], EPISODES, 0, "cpu")
    agent = make_agent(state["config"], env, "cpu")
    agent.load_state_dict(state["agent"])
    return env, lambda obs: agent.act(obs, deterministic=True)


def episodes_in_diffsim(env, policy, qpos, qvel, with_velocities=False):
    """(T+1, B, nq) positions of one episode per initial state, stepped by diffsim, and
    with ``with_velocities`` the (T+1, B, nv) velocities too."""
    env.set_state(qpos, qvel)
    positions, velocities = [env.qpos.clone()], [env.qvel.clone()]
    with torch.no_grad():
        for _ in range(env.max_episode_steps - 1):  # the last step would auto-reset
            env.step(policy(env.observe(env.qpos, env.qvel)))
            positions.append(env.qpos.clone())
            velocities.append(env.qvel.clone())
    positions = torch.stack(positions).numpy()
    return (positions, torch.stack(velocities).numpy()) if with_velocities else positions


def episodes_in_mujoco(env, policy, qpos, qvel, with_velocities=False, model=None):
    """The same episodes stepped by MuJoCo: (T+1, B, nq), and (T+1, B, nv) with ``with_velocities``;
    ``model``: an ``MjModel`` of gripper.xml to use instead of the file's own."""
    model = model or mujoco.MjModel.from_xml_path(diffsim.asset("gripper.xml"))
    data = mujoco.MjData(model)
    positions, velocities = [], []
    for b in range(qpos.shape[0]):
        mujoco.mj_resetData(model, data)
        data.qpos[:], data.qvel[:] = qpos[b].numpy(), qvel[b].numpy()
        episode_q, episode_v = [data.qpos.copy()], [data.qvel.copy()]
        for _ in range(env.max_episode_steps - 1):
            obs = env.observe(
                torch.tensor(data.qpos[None], dtype=env.dtype), torch.tensor(data.qvel[None], dtype=env.dtype)
            )
            data.ctrl[:] = env.action_to_ctrl(policy(obs))[0].numpy()
            for _ in range(env.frame_skip):
                mujoco.mj_step(model, data)
            episode_q.append(data.qpos.copy())
            episode_v.append(data.qvel.copy())
        positions.append(episode_q)
        velocities.append(episode_v)
    positions = np.array(positions).transpose(1, 0, 2)
    return (positions, np.array(velocities).transpose(1, 0, 2)) if with_velocities else positions


def main(path):
    env, policy = load_policy(path)
    qpos, qvel = env.initial_state(EPISODES)
    ours = episodes_in_diffsim(env, policy, qpos, qvel)
    theirs = episodes_in_mujoco(env, policy, qpos, qvel)
    time = np.arange(ours.shape[0]) * env.control_dt

    fig = plt.figure(figsize=(12, 7.5))
    frames = (0, 40, ours.shape[0] - 1)
    for i, t in enumerate(frames):
        ax = fig.add_subplot(2, 3, i + 1, projection="3d")
        viz.draw(env.model, ours[t, 0], ax=ax, elev=12, azim=-30, extent=0.35, title=f"diffsim, t = {time[t]:.2f} s")
    ax = fig.add_subplot(2, 3, 4)
    for label, trajectory, style in (("diffsim", ours, "-"), ("MuJoCo", theirs, "--")):
        ax.plot(time, trajectory[:, 0, 5], style, label=f"box height, {label}")
        ax.plot(time, finger_gap(trajectory[:, 0]), style, label=f"space between the fingers, {label}", alpha=0.7)
    ax.axhline(BOX_WIDTH, color="k", lw=1, ls=":", label="box width")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("m")
    ax.set_title("episode 1")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    ax = fig.add_subplot(2, 3, 5)
    final = [ours[-1, :, 5], theirs[-1, :, 5]]
    ax.boxplot(final, tick_labels=["diffsim", "MuJoCo"])
    ax.axhline(0.04, color="k", lw=1, ls=":", label="box on the floor")
    lifted = [int((f > HELD_Z).sum()) for f in final]
    ax.set_title(
        f"final box height, {EPISODES} episodes\nheld above 10 cm: {lifted[0]} (diffsim), {lifted[1]} (MuJoCo)"
    )
    ax.set_ylabel("m")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    ax = fig.add_subplot(2, 3, 6)
    for label, trajectory, style in (("diffsim", ours, "-"), ("MuJoCo", theirs, "--")):
        ax.plot(time, np.median(trajectory[:, :, 5], axis=1), style, label=f"{label}, median")
        ax.fill_between(time, trajectory[:, :, 5].min(axis=1), trajectory[:, :, 5].max(axis=1), alpha=0.2)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("box height (m)")
    ax.set_title(f"box height, {EPISODES} episodes (min..max)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.suptitle(f"A gripper policy trained in diffsim ({os.path.basename(path)}), replayed in diffsim and in MuJoCo")
    fig.tight_layout()
    out = RESULTS / "gripper_grasp.png"
    fig.savefig(out, dpi=100)
    print(
        f"wrote {out}; box held above 10 cm at the end: {lifted[0]}/{EPISODES} in diffsim, {lifted[1]}/{EPISODES} in MuJoCo"
    )


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(
            "usage: python -m benchmarks.gripper_grasp CHECKPOINT (a gripper run's checkpoint.pt or best.pt)"
        )
    main(sys.argv[1])
