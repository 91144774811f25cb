"""Batched, differentiable torch environments (see ``diffsim.envs.base``)."""

from diffsim.envs.ant import Ant
from diffsim.envs.base import BatchedEnv
from diffsim.envs.cartpole import CartpoleSwingUp
from diffsim.envs.gripper import Gripper

__all__ = ["Ant", "BatchedEnv", "CartpoleSwingUp", "Gripper"]
