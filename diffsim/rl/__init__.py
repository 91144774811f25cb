"""Agents: networks, a device replay buffer, SAC, the hybrid SAC + physics-gradient agent, SHAC."""

from diffsim.rl import distributed
from diffsim.rl.hybrid import Hybrid, HybridConfig
from diffsim.rl.networks import Actor, RunningNorm, TwinQ, mlp
from diffsim.rl.replay import ReplayBuffer
from diffsim.rl.sac import SAC, SACConfig
from diffsim.rl.shac import SHAC, SHACConfig

__all__ = [
    "Actor",
    "Hybrid",
    "HybridConfig",
    "ReplayBuffer",
    "RunningNorm",
    "SAC",
    "SACConfig",
    "SHAC",
    "SHACConfig",
    "TwinQ",
    "distributed",
    "mlp",
]
