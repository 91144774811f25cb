"""A replay buffer that lives on the simulator's device (no host round trips)."""

from __future__ import annotations

import torch


class ReplayBuffer:
    """Ring buffer of transitions (obs, action, reward, next_obs, terminated) plus the
    simulator state (qpos, qvel) of ``obs``, so that the hybrid agent can restart
    differentiable rollouts from replayed states.

    ``add`` takes batches of shape (num_envs, ...); ``sample(n)`` returns a dict of
    tensors with leading dimension n, drawn uniformly with the buffer's own generator.
    A transition with a NaN or inf in any field is not stored (it would reach every
    update that samples it); ``skipped`` counts them.
    """

    def __init__(
        self,
        capacity: int,
        obs_size: int,
        action_size: int,
        nq: int,
        nv: int,
        device="cpu",
        dtype=torch.float32,
        seed: int = 0,
    ):
        self.capacity = capacity
        self.device = torch.device(device)

        def empty(*shape, dtype=dtype):
            return torch.zeros(capacity, *shape, dtype=dtype, device=self.device)

        self.data = {
            "obs": empty(obs_size),
            "action": empty(action_size),
            "reward": empty(),
            "next_obs": empty(obs_size),
            "terminated": empty(dtype=torch.bool),
            "qpos": empty(nq),
            "qvel": empty(nv),
        }
        self.size = 0
        self.cursor = 0
        self.skipped = 0
        self.generator = torch.Generator(device="cpu").manual_seed(seed)

    def __len__(self):
        return self.size

    def add(self, **batch):
        """Store a batch of transitions; every field named in ``self.data`` is required."""
        missing = set(self.data) - set(batch)
        if missing:
            raise ValueError(f"ReplayBuffer.add is missing {sorted(missing)}")
        batch = {key: batch[key].detach().to(device=self.device, dtype=store.dtype) for key, store in self.data.items()}
        finite = torch.ones(batch["obs"].shape[0], dtype=torch.bool, device=self.device)
        for values in batch.values():
            if values.is_floating_point():
                finite &= torch.isfinite(values.reshape(values.shape[0], -1)).all(dim=1)
        if not bool(finite.all()):
            self.skipped += int((~finite).sum())
            batch = {key: values[finite] for key, values in batch.items()}
        n = batch["obs"].shape[0]
        index = (self.cursor + torch.arange(n, device=self.device)) % self.capacity
        for key, store in self.data.items():
            store[index] = batch[key]
        self.cursor = (self.cursor + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def sample(self, n: int) -> dict:
        if self.size == 0:
            raise ValueError("cannot sample from an empty ReplayBuffer")
        index = torch.randint(0, self.size, (n,), generator=self.generator).to(self.device)
        return {key: store[index] for key, store in self.data.items()}

    def state_dict(self) -> dict:
        return {
            "data": {k: v[: self.size].clone() for k, v in self.data.items()},
            "size": self.size,
            "cursor": self.cursor,
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, state: dict):
        for key, values in state["data"].items():
            self.data[key][: len(values)] = values.to(self.device)
        self.size, self.cursor = state["size"], state["cursor"]
        self.generator.set_state(state["generator"].cpu())  # a CPU byte tensor on every device
