"""Agents: networks, a device replay buffer, SAC and the hybrid SAC + physics-gradient agent."""
from diffsim.rl.hybrid import Hybrid, HybridConfig
from diffsim.rl.networks import Actor, TwinQ, mlp
from diffsim.rl.replay import ReplayBuffer
from diffsim.rl.sac import SAC, SACConfig

__all__ = ["Actor", "Hybrid", "HybridConfig", "ReplayBuffer", "SAC", "SACConfig", "TwinQ", "mlp"]
