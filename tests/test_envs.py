"""Batched environments: shapes, seeding, auto-reset, gradients, blow-ups, errors."""

import warnings

import numpy as np
import pytest
import torch

from diffsim.envs import Ant, CartpoleSwingUp, Gripper


def random_actions(steps, num_envs, size, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(steps, num_envs, size, generator=g, dtype=torch.float64) * 2 - 1).to(dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("env_class,obs_size,action_size", [(CartpoleSwingUp, 5, 1), (Ant, 27, 8), (Gripper, 22, 2)])
def test_shapes_and_dtypes(env_class, obs_size, action_size, dtype):
    env = env_class(num_envs=4, dtype=dtype, seed=0)
    obs, info = env.reset()
    assert obs.shape == (4, obs_size) and obs.dtype == dtype
    assert (env.observation_size, env.action_size) == (obs_size, action_size)
    obs, reward, terminated, truncated, info = env.step(torch.zeros(4, action_size, dtype=dtype))
    assert obs.shape == (4, obs_size) and reward.shape == (4,) and reward.dtype == dtype
    assert terminated.dtype == torch.bool and truncated.dtype == torch.bool
    assert "final_obs" in info and "blew_up" in info and any(k.startswith("reward/") for k in info)
    assert torch.isfinite(obs).all()


def test_ant_forward_reward_gradient_reaches_the_first_action():
    """Through contact: d (forward progress after 3 control steps) / d first action is
    finite and non-zero, and agrees with finite differences (float64)."""
    env = Ant(num_envs=1, dtype=torch.float64, seed=2)
    later = torch.zeros(2, 1, 8, dtype=torch.float64)

    def progress(first):
        env.reset(seed=2)
        total = 0.0
        for action in (first, later[0], later[1]):
            _, _, _, _, info = env.step(action)
            total = total + info["reward/forward"].sum()
        return total

    first = torch.full((1, 8), 0.3, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(progress(first), first)
    eps = 1e-6
    with torch.no_grad():
        for i in (0, 5):
            step = torch.zeros(1, 8, dtype=torch.float64)
            step[0, i] = eps
            numeric = (progress(first + step) - progress(first - step)) / (2 * eps)
            torch.testing.assert_close(grad[0, i], numeric, rtol=1e-4, atol=1e-8)
    assert grad.abs().max() > 1e-4


def test_ant_starts_on_the_floor_not_in_it():
    """Initial states: no geom starts inside the floor (checked with the renderer's
    independent forward kinematics), and the contact does not throw the torso out of
    the healthy band before the policy acts. Unlifted, a bent knee started 3 cm deep
    and 61 of 256 episodes with smoothed contact (2 cm) ended within 20 steps."""
    from diffsim import viz
    from diffsim.spec import GEOM_CAPSULE, GEOM_SPHERE

    env = Ant(num_envs=256, seed=0)
    env.model.contact_width = 0.02
    env.reset(seed=0)
    spec = env.model.spec
    lowest = []
    for qpos in env.qpos[:32].double().numpy():
        pos, mat = viz.geom_poses(spec, qpos)
        heights = [pos[g, 2] - spec.geom_size[g, 0] for g in range(spec.ngeom) if spec.geom_type[g] == GEOM_SPHERE]
        heights += [
            pos[g, 2] + sign * spec.geom_size[g, 1] * mat[g, 2, 2] - spec.geom_size[g, 0]
            for g in range(spec.ngeom)
            if spec.geom_type[g] == GEOM_CAPSULE
            for sign in (1, -1)
        ]
        lowest.append(min(heights))
    assert min(lowest) > -1e-6, f"an initial state starts {-min(lowest):.4f} m inside the floor"
    assert min(lowest) < 1e-3  # and the lowest foot does touch it
    torch.testing.assert_close(
        env.shin_clearance(env.qpos[:32]).double(), torch.tensor(lowest, dtype=torch.float64), atol=1e-6, rtol=0
    )
    ended = 0
    for _ in range(20):
        _, _, terminated, _, _ = env.step(torch.zeros(256, 8))
        ended += int(terminated.sum())
    assert ended == 0, f"{ended} of 256 episodes ended in their first 20 steps with zero actions"


def test_ant_standing_still_earns_its_healthy_and_upright_reward_every_step():
    """With every action zero the Ant stands: healthy (1) and upright (0.25) at each of its
    1000 steps, about nothing for moving; the baseline that notebook 04 draws under a gait."""
    from diffsim import train

    env = Ant(num_envs=8, seed=1)
    standing = train.zero_action_return(env, seed=1000)
    assert standing == pytest.approx(1.25 * env.max_episode_steps, rel=0.01)


def test_same_seed_same_trajectory_other_seed_differs():
    actions = random_actions(30, 3, 1)

    def run(seed):
        env = CartpoleSwingUp(num_envs=3)
        observations = [env.reset(seed=seed)[0]]
        for a in actions:
            observations.append(env.step(a)[0])
        return torch.stack(observations)

    assert torch.equal(run(7), run(7))
    assert not torch.allclose(run(7), run(8))


def test_auto_reset_at_the_time_limit():
    env = CartpoleSwingUp(num_envs=2, max_episode_steps=5, seed=3)
    env.reset()
    for t in range(5):
        obs, reward, terminated, truncated, info = env.step(torch.ones(2, 1))
    assert truncated.all() and not terminated.any()
    assert torch.equal(env.steps, torch.zeros(2, dtype=torch.long))
    # the returned observation starts the new episode (hanging down: cos(theta) near -1) ...
    assert (obs[:, 1] < -0.99).all()
    # ... and the old episode's last one is kept, after 5 steps of pushing
    assert not torch.allclose(info["final_obs"], obs)
    assert (info["final_obs"][:, 3] > 0.1).all()


def test_reward_gradient_with_respect_to_an_earlier_action_matches_finite_differences():
    """d reward_t / d action_{t-k}, through the simulator, float64."""
    env = CartpoleSwingUp(num_envs=1, dtype=torch.float64, seed=0)
    actions = random_actions(8, 1, 1, seed=1, dtype=torch.float64)

    def final_reward(first_action):
        env.reset(seed=5)
        for t in range(8):
            obs, reward, *_ = env.step(first_action if t == 0 else actions[t])
        return reward.sum()

    a0 = actions[0].clone().requires_grad_()
    (grad,) = torch.autograd.grad(final_reward(a0), a0)
    eps = 1e-6
    with torch.no_grad():
        numeric = (final_reward(actions[0] + eps) - final_reward(actions[0] - eps)) / (2 * eps)
    assert torch.isfinite(grad).all() and abs(float(numeric)) > 1e-6
    torch.testing.assert_close(grad.sum(), numeric, rtol=1e-6, atol=1e-10)


def test_blow_up_is_reported_and_reset():
    """Env 1 is thrown into its rail limit at an absurd speed: its float32 state overflows."""
    env = CartpoleSwingUp(num_envs=3, seed=0)
    env.reset()
    env.qvel = env.qvel.clone()
    env.qvel[1, 0] = 1e35
    blew_up = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            obs, reward, terminated, truncated, info = env.step(torch.zeros(3, 1))
            if info["blew_up"].any():
                blew_up = info["blew_up"].tolist()
                break
    assert blew_up == [False, True, False]
    assert terminated[1] and not terminated[0] and not terminated[2]
    assert any("blew up" in str(w.message) and "environment(s) [1]" in str(w.message) for w in caught)
    assert torch.isfinite(obs).all() and torch.isfinite(env.qpos).all() and torch.isfinite(env.qvel).all()
    assert env.steps[1] == 0


def test_bad_actions_are_refused_with_the_expected_shape():
    env = CartpoleSwingUp(num_envs=2)
    env.reset()
    with pytest.raises(
        ValueError, match=r"action must be a tensor of shape \(num_envs, action_size\) = \(2, 1\), got \(2,\)"
    ):
        env.step(torch.zeros(2))
    with pytest.raises(ValueError, match=r"action contains NaN or inf in environment\(s\) \[0\]"):
        env.step(torch.tensor([[float("nan")], [0.0]]))


def test_gymnasium_vector_adapter_runs_random_actions():
    gym = pytest.importorskip("gymnasium")
    from diffsim.envs.gym_adapter import GymVectorEnv

    envs = GymVectorEnv(CartpoleSwingUp(num_envs=3, max_episode_steps=10))
    assert isinstance(envs, gym.vector.VectorEnv)
    assert envs.metadata["autoreset_mode"] == gym.vector.AutoresetMode.SAME_STEP
    obs, info = envs.reset(seed=0)
    assert envs.observation_space.contains(obs)
    envs.action_space.seed(0)
    ended = 0
    for _ in range(25):
        obs, reward, terminated, truncated, info = envs.step(envs.action_space.sample())
        assert envs.observation_space.contains(obs)
        assert reward.shape == (3,) and reward.dtype == np.float64
        assert terminated.dtype == bool and truncated.dtype == bool
        if (terminated | truncated).any():
            ended += 1
            assert info["_final_obs"].tolist() == (terminated | truncated).tolist()
            done = np.flatnonzero(terminated | truncated)[0]
            assert info["final_obs"][done].shape == (5,)
    assert ended == 2  # episodes of 10 steps end at steps 10 and 20
    with pytest.raises(ValueError, match=r"actions must have shape \(3, 1\)"):
        envs.step(np.zeros((2, 1)))
    envs.close()


def test_gripper_scripted_grasp_lifts_the_object():
    """Lower, squeeze, lift: friction between the fingers and the box carries it up."""
    env = Gripper(num_envs=2, dtype=torch.float64, seed=0)
    obs, _ = env.reset()
    hold = 9.81 * 0.8 / 30  # lift command that balances hand, fingers and object
    for command, steps in (([-0.3, 0.0], 12), ([hold - 0.05, 1.0], 12), ([hold + 0.3, 1.0], 20)):
        action = torch.tensor([command, command], dtype=torch.float64)
        for _ in range(steps):
            obs, reward, terminated, truncated, info = env.step(action)
    assert (obs[:, 5] > 0.3).all(), obs[:, 5]  # the object is 30 cm up, in the hand
    assert (info["reward/lift"] > 1.9).all() and (info["reward/reach"] > 0.49).all()
    assert not terminated.any()


def test_gripper_grip_action_drives_both_fingers():
    """The default hand is parallel-jaw: its grip action moves the hand exactly as giving
    each finger that command with ``coupled_fingers=False`` (only the effort term, a sum
    over actions, differs)."""
    coupled = Gripper(num_envs=3, dtype=torch.float64, seed=4)
    independent = Gripper(num_envs=3, dtype=torch.float64, seed=4, coupled_fingers=False)
    assert (coupled.action_size, independent.action_size) == (2, 3)
    actions = random_actions(6, 3, 2, seed=1, dtype=torch.float64)
    coupled.reset(), independent.reset()
    for action in actions:
        obs_c, *_, info_c = coupled.step(action)
        obs_i, *_, info_i = independent.step(action[:, [0, 1, 1]])
    assert torch.equal(obs_c, obs_i)
    assert all(torch.equal(info_c[key], info_i[key]) for key in ("reward/reach", "reward/lift"))
    grip = torch.tensor([[0.3, -0.7]], dtype=torch.float64)
    assert torch.equal(coupled.action_to_ctrl(grip), torch.tensor([[0.3, -0.7, -0.7]], dtype=torch.float64))
    with pytest.raises(ValueError, match=r"\(num_envs, action_size\) = \(3, 2\)"):
        coupled.step(torch.zeros(3, 3, dtype=torch.float64))


def test_gripper_pays_lift_only_for_a_box_in_the_fingers():
    """Lift pays for a box gripped by both fingers (a finger pressed into it counts), not for
    a box raised (or tipped onto a corner) away from the fingers, nor for one a finger
    only nears: with a 1 cm contact width a finger 1.2 cm away pushes it with 5 N, and
    training once learned to 'hold' the box that way."""
    env = Gripper(num_envs=4, dtype=torch.float64, seed=0)
    qpos, qvel = env.initial_state(4)
    qpos[:, 3:6] = torch.tensor([0.0, 0.0, 0.14], dtype=torch.float64)  # box 10 cm up
    qpos[:, 0] = -0.06  # fingertips level with it
    qpos[0, 0] = 0.25  # hand far above it, open
    qpos[1, 1:3] = 0.045  # fingers on its sides
    qpos[2, 1:3] = 0.051  # ... pressed 6 mm in
    qpos[3, 1:3] = torch.tensor([0.045, 0.033], dtype=torch.float64)  # one finger 1.2 cm short
    _, terms = env.reward(qpos, qvel, torch.zeros(4, 2, dtype=torch.float64), qpos, qvel)
    lift, reach = terms["reward/lift"], terms["reward/reach"]
    assert lift[0] < 0.01 and reach[0] < 0.05
    assert lift[1] > 0.99 and reach[1] > 0.49
    assert lift[2] > 0.99 and reach[2] > 0.49
    assert lift[3] < 0.5 * lift[1] and reach[3] < reach[1]


def test_gripper_lift_reward_has_a_gradient_on_the_floor():
    """A gripped box still resting on (pressed into) the floor gets a lift gradient: the
    lift term is not clamped at zero, where SHAC's updates would see nothing."""
    env = Gripper(num_envs=1, dtype=torch.float64, seed=0)
    qpos, qvel = env.initial_state(1)
    qpos[0, 0], qpos[0, 1:3], qpos[0, 5] = -0.16, 0.05, 0.039
    qpos.requires_grad_(True)
    _, terms = env.reward(qpos, qvel, torch.zeros(1, 2, dtype=torch.float64), qpos, qvel)
    (grad,) = torch.autograd.grad(terms["reward/lift"].sum(), qpos)
    assert grad[0, 5] > 1.0  # d lift / d box height, per m


def test_gripper_lift_gradient_through_the_grip_agrees_with_finite_differences():
    """With the box squeezed between the fingers, d (box height after 3 and 8 control steps)
    / d (first action: lift and grip) flows through friction at the fingers and agrees with
    central differences (float64). Where SHAC struggles on this task (16-step windows, README
    "The gripper") it is the gradient's size over long horizons, not a wrong gradient."""
    env = Gripper(num_envs=1, dtype=torch.float64, seed=0)
    env.reset()
    hold = 9.81 * 0.8 / 30
    for command, steps in (([-0.3, 0.0], 12), ([hold - 0.05, 1.0], 12)):  # lower, then squeeze
        for _ in range(steps):
            env.step(torch.tensor([command], dtype=torch.float64))
    qpos, qvel = env.qpos.clone(), env.qvel.clone()
    assert qpos[0, 5] > 0.06  # the box is in the hand, rising
    later = torch.tensor([[hold + 0.3, 1.0]], dtype=torch.float64)

    def box_height(first, steps):
        env.qpos, env.qvel = qpos.clone(), qvel.clone()
        env.steps.zero_()
        for action in [first] + [later] * (steps - 1):
            env.step(action)
        return env.qpos[0, 5]

    for steps in (3, 8):
        first = torch.tensor([[hold + 0.3, 0.8]], dtype=torch.float64, requires_grad=True)
        (grad,) = torch.autograd.grad(box_height(first, steps), first)
        eps = 1e-6
        with torch.no_grad():
            for i in range(2):
                step = torch.zeros(1, 2, dtype=torch.float64)
                step[0, i] = eps
                numeric = (box_height(first + step, steps) - box_height(first - step, steps)) / (2 * eps)
                torch.testing.assert_close(grad[0, i], numeric, rtol=1e-5, atol=1e-9)
        assert grad.abs().min() > 1e-3


def test_step_before_reset_raises_and_set_state_starts_episodes():
    env = CartpoleSwingUp(num_envs=2, dtype=torch.float64)
    with pytest.raises(RuntimeError, match=r"CartpoleSwingUp.step\(\) before reset\(\)"):
        env.step(torch.zeros(2, 1))
    qpos, qvel = env.initial_state(2)
    obs = env.set_state(qpos, qvel)
    assert torch.equal(obs, env.observe(qpos, qvel)) and env.steps.tolist() == [0, 0]
    env.step(torch.zeros(2, 1))


def test_actions_are_clipped_for_the_physics_and_the_reward():
    """An action of 1e30 acts, and is charged, as an action of 1 (the env's action table)."""
    rewards, states = [], []
    for value in (1.0, 1e30):
        env = Ant(num_envs=2, dtype=torch.float64, seed=0)
        env.reset(seed=0)
        action = torch.full((2, env.action_size), value, dtype=torch.float64)
        action[1] = -value
        _, reward, _, _, info = env.step(action)
        rewards.append(reward)
        states.append(env.qpos)
    assert torch.isfinite(rewards[1]).all()
    assert torch.equal(rewards[0], rewards[1]) and torch.equal(states[0], states[1])


def test_gymnasium_adapter_follows_the_vector_conventions():
    pytest.importorskip("gymnasium")
    from diffsim.envs.gym_adapter import GymVectorEnv

    envs = GymVectorEnv(CartpoleSwingUp(num_envs=3, max_episode_steps=4))
    obs_np, _ = envs.reset(seed=np.int64(3))
    obs_int, _ = envs.reset(seed=3)
    assert np.array_equal(obs_np, obs_int)
    obs, reward, terminated, truncated, info = envs.step(np.zeros((3, 1), dtype=np.float32))
    for key in ("reward/upright", "reward/effort", "blew_up"):
        assert info[f"_{key}"].tolist() == [True, True, True], key
    with pytest.raises(ValueError, match=r"unknown reset option\(s\) \['bogus'\]; known: reset_mask"):
        envs.reset(options={"bogus": 1})
    with pytest.raises(ValueError, match="seed must be an int"):
        envs.reset(seed=1.5)
    before = envs.env.qpos.clone()
    envs.step(np.zeros((3, 1), dtype=np.float32))
    moved = envs.env.qpos.clone()
    envs.reset(options={"reset_mask": np.array([True, False, False])})
    assert not torch.equal(envs.env.qpos[0], moved[0]) and torch.equal(envs.env.qpos[1:], moved[1:])
    assert envs.env.steps.tolist() == [0, 2, 2] and not torch.equal(before, moved)


def test_gymnasium_next_step_autoreset_and_its_wrappers():
    pytest.importorskip("gymnasium")
    from gymnasium.vector import AutoresetMode
    from gymnasium.wrappers.vector import NormalizeObservation, RecordEpisodeStatistics

    from diffsim.envs.gym_adapter import GymVectorEnv

    same = GymVectorEnv(CartpoleSwingUp(num_envs=2, max_episode_steps=3, seed=5))
    nxt = GymVectorEnv(CartpoleSwingUp(num_envs=2, max_episode_steps=3, seed=5), autoreset_mode=AutoresetMode.NEXT_STEP)
    assert nxt.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    same.reset(seed=1)
    nxt.reset(seed=1)
    action = np.full((2, 1), 0.5, dtype=np.float32)
    for _ in range(2):
        a, b = same.step(action), nxt.step(action)
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    a, b = same.step(action), nxt.step(action)  # both episodes end: 3 steps
    assert a[3].all() and b[3].all()
    assert np.array_equal(b[0], np.stack(a[4]["final_obs"]))  # NEXT_STEP: the last observation now,
    first_obs, started = a[0], same.env.qpos.clone()
    obs, reward, terminated, truncated, info = nxt.step(action)  # the first one at the next step, action ignored
    assert np.array_equal(obs, first_obs) and (reward == 0).all() and not (terminated | truncated).any()
    assert not info["_reward/upright"].any() and not info["_blew_up"].any()  # no info: no step was taken
    assert torch.equal(nxt.env.qpos, started) and nxt.env.steps.tolist() == [0, 0]
    assert np.array_equal(same.step(action)[0], nxt.step(action)[0])  # and then the same new episode
    # Gymnasium's wrappers that need its default mode accept it and run
    wrapped = RecordEpisodeStatistics(
        NormalizeObservation(
            GymVectorEnv(CartpoleSwingUp(num_envs=2, max_episode_steps=3), autoreset_mode=AutoresetMode.NEXT_STEP)
        )
    )
    wrapped.reset(seed=0)
    episodes = 0
    for _ in range(8):
        obs, *_, info = wrapped.step(np.zeros((2, 1), dtype=np.float32))
        assert np.isfinite(obs).all()
        episodes += int(info.get("_episode", np.zeros(2, dtype=bool)).sum())
    assert episodes == 4  # steps 3 and 7 end an episode in each environment (step 4 is the reset)
