"""Moving a forward-only rollout's controls in and states out inside captured graphs.

Between two control steps a rollout stores the state it reached and loads the next
control. Done with torch that is three copies per control step, which for a single Ant
cost half as much as its physics step; done by these kernels, replayed as one small
captured graph with the step counter in device memory, it costs a fraction of that.
``diffsim.autograd``'s forward-only runner stages a chunk of controls in and a chunk of
states out at a time.
"""

from typing import Any

import warp as wp


@wp.kernel
def store_state(
    qpos: wp.array2d(dtype=Any),
    qvel: wp.array2d(dtype=Any),
    step: wp.array(dtype=int),
    # outputs
    qpos_traj: wp.array3d(dtype=Any),
    qvel_traj: wp.array3d(dtype=Any),
):
    """``qpos_traj[:, step] = qpos`` and ``qvel_traj[:, step] = qvel`` while ``step`` is
    within them; launch over envs (a thread per env copies its row: on a CPU a thread per
    element would cost more than the copy)."""
    e = wp.tid()
    t = step[0]
    if t >= qpos_traj.shape[1]:
        return
    for i in range(qpos.shape[1]):
        qpos_traj[e, t, i] = qpos[e, i]
    for i in range(qvel.shape[1]):
        qvel_traj[e, t, i] = qvel[e, i]


@wp.kernel
def store_vector(
    x: wp.array2d(dtype=Any),
    step: wp.array(dtype=int),
    # output
    x_traj: wp.array3d(dtype=Any),
):
    """``x_traj[:, step] = x`` while ``step`` is within it (the constraint solver's warm
    start, which a recomputed step must start from); launch over envs."""
    e = wp.tid()
    t = step[0]
    if t < x_traj.shape[1]:
        for i in range(x.shape[1]):
            x_traj[e, t, i] = x[e, i]


@wp.kernel
def next_step(step: wp.array(dtype=int)):
    """``step += 1``; one thread, launched after every kernel that read the old value."""
    step[0] = step[0] + 1


@wp.kernel
def load_control(
    ctrls: wp.array3d(dtype=Any),
    step: wp.array(dtype=int),
    # output
    ctrl: wp.array2d(dtype=Any),
):
    """``ctrl = ctrls[:, step]`` while ``step`` is within ``ctrls``; launch over envs."""
    e = wp.tid()
    t = step[0]
    if t < ctrls.shape[1]:
        for u in range(ctrl.shape[1]):
            ctrl[e, u] = ctrls[e, t, u]
