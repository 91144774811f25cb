"""Adjoints of MuJoCo's collision functions in diffsim (``contact_model="mujoco"``).

For every pair type diffsim collides, the gradient of each contact's distance, position
and frame (``kinematics`` then ``collision``: the collision functions, the gathering
and the pair's parameters, differentiated by Warp's adjoints) with respect to the bodies'
positions (``qpos``) and the two geoms' sizes equals central differences (float64),
contact by contact, at random poses of ``tests/models/contact_pairs.xml`` and the box
stack, wherever the perturbations leave the contact set unchanged.
"""

from __future__ import annotations

import collections

import numpy as np
import pytest
import torch
import warp as wp

from diffsim.collision_pairs import COLLISION_KINDS, TYPE_NAMES
from diffsim.simulator import Simulator, StepBuffers
from test_mujoco_contacts import BOX_STACK, PAIRS, load, random_poses

KIND_NAMES = {kind: f"{TYPE_NAMES[a]}-{TYPE_NAMES[b]}" for (a, b), (kind, _) in COLLISION_KINDS.items()}
BOX_BOX = COLLISION_KINDS[(6, 6)][0]
OUTPUTS = ("con_dist", "con_pos", "con_frame")
EPS = 1e-7


class Collider:
    """kinematics + collision of one environment, replayed under a Warp tape."""

    def __init__(self, model):
        self.model = model
        self.sim = Simulator(model)  # every parameter with a gradient buffer
        self.buf = StepBuffers(model, 1, requires_grad=True)
        self.qpos = wp.zeros((1, model.nq), dtype=wp.float64, requires_grad=True)
        with self.sim.recording() as ops:
            self.sim.kinematics(self.buf, self.qpos)
            self.sim.collision(self.buf)
        self.ops = ops

    def run(self, qpos=None):
        if qpos is not None:
            self.qpos.assign(qpos[None])
        for op in self.ops:
            if op[0] == "zero":
                op[1].zero_()
            else:
                wp.launch(op[1], dim=op[2], inputs=op[3])
        n = int(self.buf.ncon.numpy()[0])
        return n, self.buf.con_slot.numpy()[0, :n].copy()

    def weighted(self, weights):
        return sum((getattr(self.buf, a).numpy() * w).sum() for a, w in weights.items())


def check_contacts(path, poses, per_kind=12):
    """Worst relative error per pair kind over up to ``per_kind`` contacts each."""
    m, model = load(path)
    collider = Collider(model)
    sizes = model.params["geom_size"]
    size_grad = model.param_grads["geom_size"]
    geom1 = model.topology["collision_geom1"].numpy()
    geom2 = model.topology["collision_geom2"].numpy()
    kinds = model.topology["collision_kind"].numpy()
    rng = np.random.default_rng(0)
    worst, count = collections.defaultdict(float), collections.Counter()
    for pose in poses:
        n, slots = collider.run(pose)
        pairs = collider.buf.con_pair.numpy()[0, :n].copy()
        for c in range(n):
            kind = int(kinds[pairs[c]])
            if count[kind] >= per_kind:
                continue
            weights = {}
            for a in OUTPUTS:
                w = np.zeros(getattr(collider.buf, a).numpy().shape)
                w[0, c] = rng.normal(size=w[0, c].shape)
                weights[a] = w
            collider.run(pose)
            tape = wp.Tape()
            with tape:
                collider.run()
            size_grad.zero_()
            tape.backward(
                grads={
                    getattr(collider.buf, a): wp.array(w, dtype=getattr(collider.buf, a).dtype)
                    for a, w in weights.items()
                }
            )
            analytic = np.concatenate(
                [collider.qpos.grad.numpy()[0], size_grad[[geom1[pairs[c]], geom2[pairs[c]]]].numpy().ravel()]
            )
            tape.zero()
            numeric, same = [], True
            for i in range(m.nq + 6):
                ends = []
                for sign in (1, -1):
                    q = pose.copy()
                    if i < m.nq:
                        q[i] += sign * EPS
                    else:
                        g = (geom1 if i - m.nq < 3 else geom2)[pairs[c]]
                        with torch.no_grad():
                            sizes[g, (i - m.nq) % 3] += sign * EPS
                    n2, slots2 = collider.run(q)
                    same = same and n2 == n and np.array_equal(slots2, slots)
                    ends.append(collider.weighted(weights))
                    if i >= m.nq:
                        with torch.no_grad():
                            sizes[g, (i - m.nq) % 3] -= sign * EPS
                numeric.append((ends[0] - ends[1]) / (2 * EPS))
            if not same:
                continue  # a perturbation changed which contacts exist: no derivative there
            numeric = np.array(numeric)
            count[kind] += 1
            worst[kind] = max(worst[kind], np.abs(analytic - numeric).max() / max(1e-6, np.abs(numeric).max()))
    return worst, count


@pytest.mark.parametrize("path", [PAIRS, BOX_STACK], ids=["contact_pairs", "box_stack"])
def test_collision_adjoints_equal_finite_differences(path):
    m, _ = load(path)
    worst, count = check_contacts(path, random_poses(m, 60, seed=3))
    checked = {KIND_NAMES[k]: (count[k], f"{worst[k]:.1e}") for k in sorted(count)}
    if path == PAIRS:
        assert set(count) == {kind for kind, _ in COLLISION_KINDS.values()}, f"pair types checked: {checked}"
    else:
        assert count[BOX_BOX] >= 10, checked
    assert max(worst.values()) < 1e-6, checked
