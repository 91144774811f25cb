"""Table: how a gripper agent's grasp transfers (the README's table in "The gripper").

    python -m benchmarks.gripper_transfer runs/gripper-shac-seed1-<date>-<time>/checkpoint.pt [more checkpoints ...]

Each checkpoint's agent acts deterministically, whatever contact it trained on, in
- 32 fresh 200-step episodes in diffsim on the model's default contact (2 mm wide,
  friction regularised over 0.05 m/s), all reset with the same seed (777), so every
  agent meets the same box positions: the mean return [min..max] and in how many
  episodes the box ends at least 15 cm above the floor;
- the same 32 episodes on a harder contact (1 mm wide);
- 16 episodes in MuJoCo itself, on the same MJCF with its own contact solver, the policy
  reading MuJoCo's ``qpos``/``qvel`` (``benchmarks/gripper_grasp.py``, which draws them): in how
  many the box ends more than 10 cm up.
"""

import sys

import torch

from diffsim.envs.gripper import OBJECT_REST_Z
from diffsim.checkpoints import load_checkpoint
from diffsim.train import episode_returns, make_agent, make_env
from benchmarks.gripper_grasp import HELD_Z, episodes_in_mujoco, load_policy

EPISODES, SEED = 32, 777
CONTACTS = {"default contact": {}, "1 mm contact": {"contact_width": 0.001, "contact_slip": 0.05}}


def in_diffsim(payload: dict, model: dict) -> dict:
    """Return and final box height of EPISODES deterministic episodes on the contact ``model``."""
    config = dict(payload["config"], model=model)
    env = make_env(config, EPISODES, SEED, "cpu")
    agent = make_agent(config, env, "cpu")
    agent.load_state_dict(payload["agent"])
    box_z = torch.zeros(EPISODES)

    def record(running, terminated, truncated, info):
        ended = running & (terminated | truncated)
        box_z.copy_(torch.where(ended, info["final_obs"][:, 5].float(), box_z))  # obs[:, :10] is qpos

    returns = episode_returns(env, SEED, lambda obs: agent.act(obs, deterministic=True), record)
    return {"return": returns, "held": int((box_z - OBJECT_REST_Z >= 0.15).sum())}


def in_mujoco(path: str) -> tuple[int, int]:
    """In how many of gripper_grasp's MuJoCo episodes the box ends more than 10 cm up, and of how many."""
    env, policy = load_policy(path)
    qpos, qvel = env.initial_state(env.num_envs)
    return int((episodes_in_mujoco(env, policy, qpos, qvel)[-1, :, 5] > HELD_Z).sum()), env.num_envs


if __name__ == "__main__":
    torch.set_num_threads(1)
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    for path in sys.argv[1:]:
        payload = load_checkpoint(path, ("agent", "run"), map_location="cpu")
        columns = []
        for name, model in CONTACTS.items():
            result = in_diffsim(payload, model)
            r = result["return"]
            columns.append(
                f"{name}: return {r.mean():.0f} [{r.min():.0f}..{r.max():.0f}], "
                f"held >= 15 cm {result['held']}/{EPISODES}"
            )
        held, episodes = in_mujoco(path)
        columns.append(f"MuJoCo: held > 10 cm {held}/{episodes}")
        print(f"{path}: " + "; ".join(columns))
