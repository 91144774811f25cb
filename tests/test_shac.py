"""SHAC: its critic targets, its learning signal, and checkpoint round trips."""

import math

import pytest
import torch

from diffsim.envs import CartpoleSwingUp
from diffsim.rl import SHAC, SHACConfig


def test_td_lambda_targets_match_their_definition():
    """lambda = 1 gives discounted returns bootstrapped at the window's end; lambda = 0 gives
    one-step TD targets; a termination cuts the bootstrap and a truncation uses V(final)."""
    H, N, gamma = 4, 3, 0.9
    rewards = torch.arange(1.0, 1.0 + H * N).reshape(H, N)
    next_values = torch.full((H, N), 10.0)
    terminated = torch.zeros(H, N, dtype=torch.bool)
    truncated = torch.zeros(H, N, dtype=torch.bool)
    terminated[1, 1] = True
    next_values[1, 1] = 0.0  # SHAC gives terminated states no value
    truncated[2, 2] = True
    next_values[2, 2] = 7.0
    agent = SHAC(2, 1, SHACConfig(horizon=H, gamma=gamma, lam=1.0))
    targets = agent._td_lambda_targets(rewards, terminated, truncated, next_values)
    for n in range(N):
        for t in range(H):
            expected, discount = 0.0, 1.0
            for k in range(t, H):
                expected += discount * rewards[k, n]
                discount *= gamma
                if terminated[k, n] or truncated[k, n] or k == H - 1:
                    expected += discount * next_values[k, n]
                    break
            assert math.isclose(float(targets[t, n]), expected, rel_tol=1e-6), (t, n)
    agent.config.lam = 0.0
    one_step = agent._td_lambda_targets(rewards, terminated, truncated, next_values)
    torch.testing.assert_close(one_step, rewards + gamma * next_values)


def test_running_norm_matches_the_statistics_of_everything_seen():
    agent = SHAC(3, 1)
    data = [torch.randn(50, 3) * 4 + 2, torch.randn(30, 3) - 1, torch.randn(70, 3) * 0.5]
    for chunk in data:
        agent.obs_norm.update(chunk)
    everything = torch.cat(data)
    torch.testing.assert_close(agent.obs_norm.mean, everything.mean(0), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(agent.obs_norm.var, everything.var(0, unbiased=False), rtol=1e-3, atol=1e-3)


def test_shac_learns_to_swing_the_cartpole_from_analytic_gradients_alone():
    """20 windows of 16 envs x 32 steps (10k env steps, a few seconds): the deterministic
    policy's return rises well above a random policy's."""
    from diffsim import train
    from diffsim.train import evaluate

    torch.manual_seed(0)
    env = CartpoleSwingUp(num_envs=16, seed=0)
    agent = SHAC(env.observation_size, env.action_size, SHACConfig(horizon=32), seed=0)
    obs, _ = env.reset(seed=0)
    untrained = evaluate(agent, CartpoleSwingUp(num_envs=8, seed=11), seed=11)
    for _ in range(20):
        logs, obs, rewards, terminated, truncated = agent.iterate(env, obs)
        assert all(math.isfinite(v) for v in logs.values()) and logs["losses/skipped"] == 0
        assert rewards.shape == (32, 16)
    trained = evaluate(agent, CartpoleSwingUp(num_envs=8, seed=11), seed=11)
    random = train.random_policy_return(CartpoleSwingUp(num_envs=8, seed=11), seed=11)
    print(f"cartpole return: random policy {random:.1f}, untrained {untrained:.1f}, SHAC after 10k steps {trained:.1f}")
    assert trained > random + 30 and trained > untrained + 30


def test_shac_checkpoint_round_trip_continues_identically():
    env = CartpoleSwingUp(num_envs=4, seed=0)
    config = SHACConfig(horizon=4, actor_hidden=(16,), critic_hidden=(16,), critic_iterations=2)
    agent = SHAC(env.observation_size, env.action_size, config, seed=0)
    obs, _ = env.reset(seed=0)
    agent.iterate(env, obs)
    copy = SHAC(env.observation_size, env.action_size, config, seed=1)
    copy.load_state_dict(agent.state_dict())
    state = (env.qpos.clone(), env.qvel.clone(), env.steps.clone(), env.generator.get_state())
    results = []
    for a in (agent, copy):
        env.qpos, env.qvel, env.steps = (x.clone() for x in state[:3])
        env.generator.set_state(state[3])
        torch.manual_seed(7)
        results.append(a.iterate(env, env.observe(env.qpos, env.qvel))[0])
    assert results[0] == results[1]
    for p, q in zip(agent.actor.parameters(), copy.actor.parameters()):
        assert torch.equal(p, q)


def test_unknown_shac_setting_is_named():
    from diffsim import train

    with pytest.raises(ValueError, match=r"section 'shac' has no setting\(s\) \['horizn'\]; known:.*horizon"):
        train.load_config("cartpole", ["agent=shac", "shac.horizn=8"])
