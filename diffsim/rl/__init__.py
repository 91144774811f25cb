"""Agents: networks, a device replay buffer and SAC (hybrid and SHAC/APG to come)."""
from diffsim.rl.networks import Actor, TwinQ, mlp
from diffsim.rl.replay import ReplayBuffer
from diffsim.rl.sac import SAC, SACConfig

__all__ = ["Actor", "ReplayBuffer", "SAC", "SACConfig", "TwinQ", "mlp"]
