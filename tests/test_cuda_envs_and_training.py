"""Environments, agents and the training loop on a GPU (skipped where there is none; run
by ``bash .ci/gpu``). The simulator's own CUDA check is ``test_autograd.py::test_cuda_matches_cpu``;
these look for what a device change breaks above it: tensors made on the wrong device,
initial states that differ by device, checkpoints that only load where they were written."""

import pytest
import torch

from diffsim import train
from diffsim.envs import Ant, CartpoleSwingUp, Gripper

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
F64 = torch.float64


@pytest.mark.parametrize("env_class", [CartpoleSwingUp, Ant, Gripper])
def test_cuda_env_matches_the_cpu_env(env_class):
    """Same seed, same actions: the same episodes on both devices (initial states are
    drawn on the CPU generator), and the same gradient of the return w.r.t. the first action."""
    results = []
    for device in ("cpu", "cuda"):
        env = env_class(num_envs=3, dtype=F64, device=device, seed=4)
        obs, _ = env.reset(seed=4)
        actions = torch.Generator().manual_seed(0)
        first = torch.full((3, env.action_size), 0.2, dtype=F64, device=device, requires_grad=True)
        total, trajectory = 0.0, [obs]
        for t in range(25):
            action = (
                first if t == 0 else (torch.rand(3, env.action_size, generator=actions, dtype=F64) * 2 - 1).to(device)
            )
            obs, reward, terminated, truncated, info = env.step(action)
            assert obs.device.type == reward.device.type == terminated.device.type == device
            total = total + reward.sum()
            trajectory.append(obs)
        (grad,) = torch.autograd.grad(total, first)
        results.append((torch.stack(trajectory).detach().cpu(), total.detach().cpu(), grad.cpu()))
    (obs_cpu, return_cpu, grad_cpu), (obs_gpu, return_gpu, grad_gpu) = results
    # CUDA's float64 rounding (fused multiply-adds, its own sqrt/sin) differs from the CPU's in
    # the last bits; stiff contact amplifies that for a few steps. Measured on an H100 for the
    # Ant: 2e-13 after one step, at most 2.3e-6 (step 18, a foot landing), 1e-11 again by
    # step 21; CUDA repeats itself bit for bit, and the tree layout changes nothing.
    torch.testing.assert_close(obs_gpu, obs_cpu, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(return_gpu, return_cpu, rtol=1e-7, atol=1e-7)
    torch.testing.assert_close(grad_gpu, grad_cpu, rtol=1e-5, atol=1e-7)
    assert grad_cpu.abs().max() > 0


SMALL = {
    "sac": ["num_envs=4", "learning_starts=200", "sac.batch_size=32", "sac.hidden=[32, 32]", "buffer_size=2000"],
    "hybrid": [
        "num_envs=4",
        "learning_starts=200",
        "sac.batch_size=32",
        "sac.hidden=[32, 32]",
        "buffer_size=2000",
        "hybrid.horizon=4",
    ],
    "shac": [
        "num_envs=4",
        "shac.horizon=8",
        "shac.actor_hidden=[16]",
        "shac.critic_hidden=[16]",
        "shac.critic_iterations=2",
    ],
}


@pytest.mark.parametrize("agent", ["sac", "hybrid", "shac"])
def test_training_runs_and_resumes_on_cuda(agent, tmp_path):
    """A short cartpole run on the GPU: finite evaluations, a checkpoint that loads on a CPU-only
    machine, and a resumed run that carries on from it on the GPU."""
    common = [f"agent={agent}", *SMALL[agent], "eval_every=256", "eval_envs=2", "checkpoint_every=256"]
    flags = [part for item in [*common, "total_steps=512"] for part in ("--set", item)]
    summary = train.main(
        ["--config", "cartpole", "--device", "cuda", "--no-progress", "--logdir", str(tmp_path), *flags]
    )
    assert summary["env_steps"] == 512
    assert all(torch.isfinite(torch.tensor(value)) for _, _, value in summary["evaluations"])

    checkpoint = torch.load(tmp_path / "checkpoint.pt", map_location="cpu", weights_only=True)
    tensors = [v for v in checkpoint["agent"]["actor"].values() if isinstance(v, torch.Tensor)]
    assert tensors and all(v.device.type == "cpu" for v in tensors)
    config = checkpoint["config"]
    cpu_agent = train.make_agent(config, train.make_env(config, 2, 0, "cpu"), "cpu")
    cpu_agent.load_state_dict(checkpoint["agent"])  # written on a GPU, read on a CPU

    resumed = train.main(
        [
            "--config",
            "cartpole",
            "--device",
            "cuda",
            "--no-progress",
            "--resume",
            str(tmp_path / "checkpoint.pt"),
            "--set",
            "total_steps=768",
        ]
    )
    assert resumed["env_steps"] == 768
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=True)["global_step"] == 768
