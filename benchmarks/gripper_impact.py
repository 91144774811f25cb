"""Table: how hard a gripper agent's fingers hit the box, and what that costs in MuJoCo.

    python -m benchmarks.gripper_impact CHECKPOINT [more checkpoints ...]

For each agent, the 16 episodes of ``benchmarks/gripper_grasp.py`` (same initial states), the
policy acting deterministically, stepped by diffsim and by MuJoCo on the same MJCF:
- grip: the agent's mean grip command (fraction of the 20 N finger force) over the
  first 100 control steps of its diffsim episodes;
- touch speed: how fast the faster finger closes (m/s) at the control step before a
  finger first reaches the box, median over the diffsim episodes;
- reach: how far a finger's surface gets into the box (mm) during the grasp (the first
  ``GRASP_STEPS`` control steps), median over episodes of each one's deepest, in each
  simulator. Past the capsule's radius, 15 mm, the finger's axis is inside the box:
  in how many episodes that happens is given beside it;
- held: in how many MuJoCo episodes the box ends more than 10 cm up (and of the others,
  in how many a finger's axis had gone inside the box): the agent as it is, with its
  grip command clipped to 0.5 and to 0.3, and on MuJoCo contact stiffened to a 10 ms
  time constant (``solref``; gripper.xml keeps MuJoCo's default, 20 ms).
"""

import argparse

import mujoco
import numpy as np
import torch

import diffsim
from diffsim.envs.gripper import FINGER_DROP, FINGER_OPEN_Y, HAND_HEIGHT
from benchmarks.gripper_grasp import HELD_Z, episodes_in_diffsim, episodes_in_mujoco, load_policy

GRIP = 1  # the action's grip component
GRASP_STEPS = 40  # control steps (0.4 s) that cover the grasp: fingers touch the box after about 8
CAPS = (0.5, 0.3)  # grip commands to clip the agent's to
STIFF_TIMECONST = 0.01  # a stiffer MuJoCo contact's solref time constant (s)
_SIZES = mujoco.MjModel.from_xml_path(diffsim.asset("gripper.xml")).geom
HALF_BOX = float(_SIZES("object").size[0])  # the box's half side (m)
RADIUS, HALF_FINGER = map(float, _SIZES("left").size[:2])  # the fingers' capsule radius and half length (m)


def capped(policy, cap: float):
    """``policy`` with its grip command clipped to at most ``cap``."""

    def act(obs):
        action = policy(obs).clone()
        action[:, GRIP] = action[:, GRIP].clamp(max=cap)
        return action

    return act


def rotate_into(quat, vectors):
    """``vectors`` (..., 3) expressed in the frame of the unit (w, x, y, z) quaternions ``quat`` (..., 4)."""
    w, xyz = quat[..., :1], -quat[..., 1:]  # the inverse rotation
    t = 2.0 * np.cross(xyz, vectors)
    return vectors + w * t + np.cross(xyz, t)


def finger_reach(qpos, samples: int = 33):
    """(..., 2) how far the left and right fingers' surfaces reach into the box (m; < 0: outside):
    the deepest of ``samples`` points along each finger's axis, plus the capsule radius."""
    box, quat = qpos[..., None, 3:6], qpos[..., None, 6:10]
    tip_z = HAND_HEIGHT + qpos[..., 0] - FINGER_DROP
    z = tip_z[..., None] + np.linspace(-HALF_FINGER, HALF_FINGER, samples)  # (..., samples)
    reach = []
    for side, closing in ((1.0, qpos[..., 1]), (-1.0, qpos[..., 2])):
        y = np.broadcast_to(side * (FINGER_OPEN_Y - closing)[..., None], z.shape)
        axis = np.stack([np.zeros_like(z), y, z], axis=-1)
        local = rotate_into(quat, axis - box)
        reach.append((HALF_BOX - np.abs(local)).min(axis=-1).max(axis=-1) + RADIUS)
    return np.stack(reach, axis=-1)


def stiffer_contact(timeconst: float):
    """gripper.xml in MuJoCo with every geom's contact time constant set to ``timeconst`` (s)."""
    model = mujoco.MjModel.from_xml_path(diffsim.asset("gripper.xml"))
    model.geom_solref[:, 0] = timeconst
    return model


def measure(path: str) -> dict:
    env, policy = load_policy(path)
    qpos, qvel = env.initial_state(env.num_envs)
    result = {}
    for name, run in (("diffsim", episodes_in_diffsim), ("MuJoCo", episodes_in_mujoco)):
        positions, velocities = run(env, policy, qpos, qvel, with_velocities=True)
        reach = finger_reach(positions[:GRASP_STEPS]).max(axis=2)  # (T, B): the deeper finger
        deepest = reach.max(axis=0)  # (B,)
        result[f"reach {name}"] = 1000 * np.median(deepest)
        inside = deepest > RADIUS  # the axis entered the box
        result[f"axis inside {name}"] = int(inside.sum())
        if name == "diffsim":
            touch = np.argmax(reach > 0, axis=0)  # first control step touching
            before = velocities[np.maximum(touch - 1, 0), np.arange(env.num_envs), 1:3].max(axis=1)
            result["touch speed"] = np.median(before)
            obs = env.observe(
                torch.tensor(positions[:100].reshape(-1, env.model.nq), dtype=env.dtype),
                torch.tensor(velocities[:100].reshape(-1, env.model.nv), dtype=env.dtype),
            )
            with torch.no_grad():
                result["grip"] = float(policy(obs)[:, GRIP].mean())
        else:
            held = positions[-1, :, 5] > HELD_Z
            result["held"] = int(held.sum())
            result["dropped, axis inside"] = int((~held & inside).sum())
    for cap in CAPS:
        result[f"held cap {cap}"] = int(
            (episodes_in_mujoco(env, capped(policy, cap), qpos, qvel)[-1, :, 5] > HELD_Z).sum()
        )
    final = episodes_in_mujoco(env, policy, qpos, qvel, model=stiffer_contact(STIFF_TIMECONST))[-1]
    result["held stiff"] = int((final[:, 5] > HELD_Z).sum())
    result["episodes"] = env.num_envs
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoints", nargs="+", help="gripper runs' checkpoint.pt or best.pt")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(
        "| agent | grip | touch speed (m/s) | reach (mm), axis inside: diffsim | ... MuJoCo "
        f"| held in MuJoCo (dropped with the axis inside) | ... grip <= {CAPS[0]}, grip <= {CAPS[1]}, {1000 * STIFF_TIMECONST:.0f} ms contact |"
    )
    print("|" + " --- |" * 7)
    for path in args.checkpoints:
        r = measure(path)
        n = r["episodes"]
        print(
            f"| {path} | {r['grip']:.2f} | {r['touch speed']:.2f} "
            f"| {r['reach diffsim']:.0f}, {r['axis inside diffsim']}/{n} | {r['reach MuJoCo']:.0f}, {r['axis inside MuJoCo']}/{n} "
            f"| {r['held']}/{n} ({r['dropped, axis inside']} of {n - r['held']}) | {r[f'held cap {CAPS[0]}']}, {r[f'held cap {CAPS[1]}']}, {r['held stiff']} (of {n}) |",
            flush=True,
        )
