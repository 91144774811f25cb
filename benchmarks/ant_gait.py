"""Table: how an Ant agent walks on fresh episodes (the README's "The hybrid agent walks too").

    python -m benchmarks.ant_gait runs/ant-shac-seed1-<date>-<time>/best.pt [more checkpoints ...]

Each checkpoint's agent acts deterministically in 32 episodes of up to 1000 control steps,
all reset with the same seed (12345), so every agent meets the same initial states, none
of which its training or evaluation used. Per agent: the mean return [min..max], how many
episodes ended in a fall, the torso's mean forward speed (x displacement over the time
alive) and the mean z component of its up axis (1: upright).
"""

import sys

import torch

from diffsim.checkpoints import load_checkpoint
from diffsim.train import episode_returns, make_agent, make_env

EPISODES, SEED = 32, 12345


def gait(path: str) -> dict:
    payload = load_checkpoint(path, ("agent", "run"), map_location="cpu")
    config = payload["config"]
    env = make_env(config, EPISODES, SEED, "cpu")
    agent = make_agent(config, env, "cpu")
    agent.load_state_dict(payload["agent"])
    env.reset(seed=SEED)  # the start episode_returns resets to, for the torso's x
    x0 = env.qpos[:, 0].clone()
    x, steps, up = x0.clone(), torch.zeros(EPISODES), torch.zeros(EPISODES)
    fell = torch.zeros(EPISODES, dtype=torch.bool)

    def record(running, terminated, truncated, info):
        going = running & ~(terminated | truncated)  # an ended episode has already been reset
        steps.add_(running.float())
        up.add_(env.up_z(env.qpos).float() * going)
        x.copy_(torch.where(going, env.qpos[:, 0], x))
        fell.logical_or_(running & terminated)

    returns = episode_returns(env, SEED, lambda obs: agent.act(obs, deterministic=True), record)
    return {
        "return": returns,
        "falls": int(fell.sum()),
        "speed": float(((x - x0) / (steps * env.control_dt)).mean()),
        "up_z": float((up / steps.clamp(min=1)).mean()),
    }


if __name__ == "__main__":
    torch.set_num_threads(1)
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    for path in sys.argv[1:]:
        g = gait(path)
        r = g["return"]
        print(
            f"{path}: return {r.mean():.0f} [{r.min():.0f}..{r.max():.0f}], {g['falls']}/{EPISODES} falls, "
            f"{g['speed']:.2f} m/s, up_z {g['up_z']:.3f}"
        )
