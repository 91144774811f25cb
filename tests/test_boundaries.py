"""Numbers checked at the boundary: parameter setters, empty batches, models without degrees
of freedom, and contact-pair finding that scales to large models."""

import glob
import os
import warnings

import numpy as np
import pytest
import torch

import diffsim
from diffsim.collision import _KINDS, contact_pairs, contact_slots
from diffsim.importer import parse_mjcf

F64 = torch.float64


@pytest.mark.parametrize(
    "name, value, expected",
    [
        ("dt", 0, "dt must be a finite number > 0, got 0"),
        ("dt", -0.01, "dt must be a finite number > 0, got -0.01"),
        ("dt", float("nan"), "dt must be a finite number > 0, got nan"),
        ("contact_stiffness", float("nan"), "contact_stiffness must be a finite number >= 0, got nan"),
        ("contact_stiffness", -1.0, "contact_stiffness must be a finite number >= 0"),
        ("contact_width", 0.0, "contact_width must be a finite number > 0"),
        ("contact_slip", float("inf"), "contact_slip must be a finite number > 0, got inf"),
        ("contact_slip", 0.0, "contact_slip must be a finite number > 0, got 0"),  # friction divides by it
        ("limit_damping", float("inf"), "limit_damping must be a finite number >= 0, got inf"),
        ("limit_width", 0.0, "limit_width must be a finite number > 0"),
        ("contact_damping", "soft", "contact_damping must be a number, got 'soft'"),
    ],
)
def test_scalar_setters_refuse_non_finite_and_out_of_range_values(name, value, expected):
    model = diffsim.load_mjcf(diffsim.asset("ant.xml"), dtype=F64, contact_model="smooth")
    before = getattr(model, name)
    with pytest.raises(ValueError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        setattr(model, name, value)
    assert getattr(model, name) == before, "a refused value must not be stored"


def test_parameter_tensor_assignment_refuses_nan_and_negative_values():
    model = diffsim.load_mjcf(diffsim.asset("ant.xml"), dtype=F64, contact_model="smooth")
    mass = model.body_mass.clone()
    with pytest.raises(ValueError, match="model.body_mass must be >= 0; got -1"):
        model.body_mass = torch.full_like(mass, -1.0)
    with pytest.raises(ValueError, match="model.dof_damping must be finite"):
        model.dof_damping = torch.full_like(model.dof_damping, float("nan"))
    with pytest.raises(ValueError, match="model.body_inertia must be finite"):
        model.body_inertia = torch.full_like(model.body_inertia, float("inf"))
    assert torch.equal(model.body_mass, mass)
    with pytest.raises(ValueError, match=r"model.contact_params\[3\] must be > 0; got 0"):
        model.contact_params = torch.tensor([2000.0, 3.0, 0.002, 0.0], dtype=F64)
    with pytest.raises(ValueError, match=r"model.limit_params must be >= 0"):
        model.limit_params = torch.tensor([-1.0, 10.0, 0.01], dtype=F64)
    model.body_mass = 2 * mass  # a valid assignment still copies into the kernels' memory
    assert torch.equal(model.body_mass, 2 * mass)


def test_an_empty_batch_gives_empty_results():
    model = diffsim.load_mjcf(diffsim.asset("cartpole.xml"), dtype=F64, contact_model="smooth")
    qpos = model.qpos0[None][:0].requires_grad_()
    qvel, ctrl = torch.zeros(0, model.nv, dtype=F64), torch.zeros(0, model.nu, dtype=F64)
    qpos_next, qvel_next = diffsim.step(model, qpos, qvel, ctrl, frame_skip=3)
    assert qpos_next.shape == (0, model.nq) and qvel_next.shape == (0, model.nv)
    qpos_traj, _ = diffsim.rollout(model, qpos, qvel, torch.zeros(0, 7, model.nu, dtype=F64))
    assert qpos_traj.shape == (0, 7, model.nq)
    qpos_traj.sum().backward()
    assert qpos.grad.shape == (0, model.nq)
    assert diffsim.mass_matrix(model, qpos.detach()).shape == (0, model.nv, model.nv)
    assert diffsim.bias_forces(model, qpos.detach(), qvel).shape == (0, model.nv)


def test_a_model_without_degrees_of_freedom_steps():
    xml = """<mujoco><worldbody><geom type="plane" size="1 1 0.1"/>
             <body pos="0 0 1"><geom type="sphere" size="0.1"/></body></worldbody></mujoco>"""
    model = diffsim.load_mjcf(xml, dtype=F64, contact_model="smooth")
    assert (model.nq, model.nv, model.nu) == (0, 0, 0)
    empty = torch.zeros(3, 0, dtype=F64)
    qpos, qvel = diffsim.step(model, empty, empty, empty)
    assert qpos.shape == (3, 0) and qvel.shape == (3, 0)
    assert diffsim.rollout(model, empty, empty, torch.zeros(3, 4, 0, dtype=F64))[0].shape == (3, 4, 0)
    assert diffsim.mass_matrix(model, empty).shape == (3, 0, 0)


def _pairs_one_by_one(spec):
    """MuJoCo's default pair filter, pair by pair: the reference for contact_pairs."""

    def static(body):
        while body > 0:
            if spec.body_jntnum[body] > 0:
                return False
            body = spec.body_parent[body]
        return True

    pairs = []
    for g1 in range(spec.ngeom):
        for g2 in range(g1 + 1, spec.ngeom):
            b1, b2 = spec.geom_body[g1], spec.geom_body[g2]
            if b1 == b2 or not (
                (spec.geom_contype[g1] & spec.geom_conaffinity[g2])
                or (spec.geom_contype[g2] & spec.geom_conaffinity[g1])
            ):
                continue
            if (spec.body_parent[b1] == b2 and b2 != 0) or (spec.body_parent[b2] == b1 and b1 != 0):
                continue
            if static(b1) and static(b2):
                continue
            pairs.append((g1, g2))
    return pairs


def _terrain(tiles: int, seed: int = 0) -> str:
    """A free capsule robot of three bodies over ``tiles`` static boxes, with mixed contype/conaffinity."""
    rng = np.random.default_rng(seed)
    boxes = "".join(
        f'<geom type="box" size="0.1 0.1 0.05" pos="{x:.2f} {y:.2f} 0" contype="{c}" conaffinity="{a}"/>'
        for x, y, c, a in zip(
            rng.uniform(-5, 5, tiles), rng.uniform(-5, 5, tiles), rng.integers(0, 4, tiles), rng.integers(0, 4, tiles)
        )
    )
    return f"""<mujoco><worldbody>{boxes}
      <body pos="0 0 1"><freejoint/><geom type="capsule" size="0.05" fromto="0 0 0 0.2 0 0"/>
        <geom type="sphere" size="0.05" contype="2" conaffinity="2"/>
        <body pos="0.2 0 0"><joint type="hinge" axis="0 0 1"/><geom type="capsule" size="0.05" fromto="0 0 0 0.2 0 0"/>
          <body pos="0.2 0 0"><joint type="hinge" axis="0 1 0"/><geom type="sphere" size="0.06"/></body>
        </body>
      </body>
      <body pos="1 0 0.5"><geom type="sphere" size="0.05"/></body>
    </worldbody></mujoco>"""


def _slots_one_by_one(spec, pairs):
    """Each supported pair's slots in turn, the geom whose type comes first in the table as a."""
    slots = []
    for g1, g2 in pairs:
        for a, b in ((g1, g2), (g2, g1)):
            if (spec.geom_type[a], spec.geom_type[b]) in _KINDS:
                kind, count = _KINDS[(spec.geom_type[a], spec.geom_type[b])]
                slots += [(a, b, kind, sub) for sub in range(count)]
                break
    return slots


def test_contact_pairs_and_slots_are_those_of_mujocos_filter():
    assets = sorted(glob.glob(os.path.join(os.path.dirname(diffsim.__file__), "assets", "*.xml")))
    for source in [*assets, _terrain(60, seed=1), _terrain(60, seed=2)]:
        spec = parse_mjcf(source)
        pairs = _pairs_one_by_one(spec)
        assert contact_pairs(spec) == pairs, source[:60]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            slots = contact_slots(spec)
        assert all(v.dtype == np.int32 for v in slots.values())
        found = list(zip(*(slots[k].tolist() for k in ("slot_geom_a", "slot_geom_b", "slot_kind", "slot_sub"))))
        assert found == _slots_one_by_one(spec, pairs), source[:60]


def test_a_robot_on_thousands_of_static_geoms_loads():
    """Only pairs with a moving geom are enumerated: 3,000 static boxes add about 4 per tile
    (python -m diffsim.bench is where the load time is measured)."""
    spec = parse_mjcf(_terrain(3000))
    pairs = contact_pairs(spec)
    moving = {g for g in range(spec.ngeom) if spec.geom_body[g] != 0}
    assert all(g1 in moving or g2 in moving for g1, g2 in pairs)
    assert 3000 < len(pairs) < 5 * 3000
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # box-box pairs have no contact model yet
        model = diffsim.load_mjcf(_terrain(3000), dtype=torch.float32, contact_model="smooth")
    assert model.ngeom == spec.ngeom


def test_dofs_out_of_depth_first_order_are_named():
    from diffsim.model import _derived_topology

    spec = parse_mjcf(diffsim.asset("ant.xml"))
    topology = _derived_topology(spec)
    assert topology["dof_subtree_end"][0] == spec.nv  # the free joint's first dof: everything below it
    spec.dof_parent = np.array(spec.dof_parent)
    spec.dof_parent[9] = 7  # knee 2 (dof 9) under knee 1 (dof 7): hip 2 (dof 8) sits in between
    with pytest.raises(ValueError, match="the descendants of dof 6 are not contiguous"):
        _derived_topology(spec)
    spec.dof_parent[9], spec.dof_parent[8] = 8, 9
    with pytest.raises(ValueError, match="dof 8's parent dof 9 comes after it"):
        _derived_topology(spec)
