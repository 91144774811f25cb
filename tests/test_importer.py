"""Tests of the importer: MuJoCo compiles every model; the ModelSpec must hold what MuJoCo compiled,
name what it cannot simulate, and refuse what cannot be simulated with a message naming the element."""

from __future__ import annotations

import math
import pathlib
import warnings

import mujoco
import numpy as np
import pytest
import torch

import diffsim
from diffsim.importer import MJCFError, parse_mjcf
from diffsim.spec import JOINT_FREE, JOINT_HINGE, JOINT_SLIDE

ASSETS = pathlib.Path(__file__).resolve().parents[1] / "diffsim" / "assets"
ASSET_NAMES = ["pendulum.xml", "cartpole.xml", "free_body.xml", "ant.xml", "ball_chain.xml", "gripper.xml", "arm.urdf"]


@pytest.fixture(autouse=True)
def _run_in_tmp_dir(tmp_path, monkeypatch):
    """MuJoCo appends its compiler warnings to MUJOCO_LOG.TXT in the working directory."""
    monkeypatch.chdir(tmp_path)


def _quat_mat(q):
    w, x, y, z = q / np.linalg.norm(q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def _parse_quiet(source):
    """parse_mjcf that fails on any warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return parse_mjcf(source)


def _compile_mujoco(source):
    if isinstance(source, str) and source.lstrip().startswith("<"):
        return mujoco.MjModel.from_xml_string(source)
    return mujoco.MjModel.from_xml_path(str(source))


# ModelSpec field -> MuJoCo's field where the names differ
_RENAMED = {
    "body_parent": "body_parentid",
    "jnt_body": "jnt_bodyid",
    "dof_body": "dof_bodyid",
    "dof_jnt": "dof_jntid",
    "dof_parent": "dof_parentid",
    "body_principal_inertia": "body_inertia",
    "site_body": "site_bodyid",
    "geom_body": "geom_bodyid",
}


def assert_matches_mujoco(source, spec=None):
    """Every array field of the ModelSpec equals MuJoCo's compiled field of the same name."""
    m = _compile_mujoco(source)
    s = spec if spec is not None else _parse_quiet(source)
    assert (s.nq, s.nv, s.nu, s.na, s.nbody, s.njnt, s.ngeom, s.nsite, s.ntendon) == (
        m.nq,
        m.nv,
        m.nu,
        m.na,
        m.nbody,
        m.njnt,
        m.ngeom,
        m.nsite,
        m.ntendon,
    )
    assert s.timestep == m.opt.timestep
    np.testing.assert_array_equal(s.gravity, m.opt.gravity)
    for name, value in vars(s).items():
        if not isinstance(value, np.ndarray) or name in (
            "body_inertia",
            "body_subtree_end",
            "gravity",
            "wind",
            "actuator_enabled",
        ):
            continue
        theirs = np.asarray(getattr(m, _RENAMED.get(name, name)))
        if name == "body_parent":
            theirs = np.concatenate([[-1], theirs[1:]])
        np.testing.assert_array_equal(value, theirs.reshape(value.shape), err_msg=name)
    # the inertia tensor rebuilt from MuJoCo's principal inertia and frame
    for b in range(m.nbody):
        r = _quat_mat(m.body_iquat[b])
        expected = r @ np.diag(m.body_inertia[b]) @ r.T
        # a few units in the last place of the largest entry: the sums cancel differently than numpy's
        np.testing.assert_allclose(s.body_inertia[b], expected, rtol=0, atol=1e-14 * max(1.0, np.abs(expected).max()))
        np.testing.assert_array_equal(s.body_inertia[b], s.body_inertia[b].T)
    for b in range(m.nbody):
        inside = [c for c in range(m.nbody) if _is_descendant(s.body_parent, c, b)]
        assert inside == list(range(b, s.body_subtree_end[b]))
    assert s.body_name == [m.body(b).name for b in range(m.nbody)]
    assert s.jnt_name == [m.joint(j).name for j in range(m.njnt)]
    assert s.actuator_name == [m.actuator(u).name for u in range(m.nu)]
    assert s.geom_name == [m.geom(g).name for g in range(m.ngeom)]
    return s, m


def _is_descendant(parent, c, b):
    while c != -1:
        if c == b:
            return True
        c = parent[c]
    return False


def _model(body_xml, header="", extra=""):
    """A <mujoco> document with ``body_xml`` inside <worldbody>."""
    return f"<mujoco>{header}<worldbody>{body_xml}</worldbody>{extra}</mujoco>"


# ------------------------------------------------------------------------------- assets


@pytest.mark.parametrize("name", ASSET_NAMES)
def test_asset_matches_mujoco(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ball_chain's friction loss is reported; tested below
        spec = parse_mjcf(ASSETS / name)
    assert_matches_mujoco(ASSETS / name, spec)


def test_every_source_form_gives_the_same_model(tmp_path):
    """A path (str or pathlib), the XML text (str or bytes), an MjSpec and an MjModel load alike."""
    path = ASSETS / "cartpole.xml"
    text = path.read_text()
    forms = [
        str(path),
        path,
        text,
        text.encode(),
        mujoco.MjSpec.from_string(text),
        mujoco.MjModel.from_xml_path(str(path)),
    ]
    specs = [parse_mjcf(form) for form in forms]
    for spec in specs[1:]:
        for field in ("qpos0", "body_mass", "body_inertia", "geom_size", "actuator_gear", "dof_damping"):
            np.testing.assert_array_equal(getattr(specs[0], field), getattr(spec, field))
    model = diffsim.load_mjcf(mujoco.MjSpec.from_file(str(path)), dtype=torch.float64)
    assert (model.nq, model.nv, model.nu) == (2, 2, 1)


def test_urdf_loads_to_the_model_mujoco_compiles():
    """The project's URDF arm: the same arrays as MuJoCo's own compilation of it, and it steps."""
    s, m = assert_matches_mujoco(ASSETS / "arm.urdf")
    assert s.njnt == 3 and list(s.jnt_type) == [JOINT_HINGE, JOINT_HINGE, JOINT_SLIDE]
    assert s.jnt_limited.all() and s.dof_damping.min() > 0
    model = diffsim.load_mjcf(ASSETS / "arm.urdf", dtype=torch.float64)
    qpos, qvel = diffsim.step(
        model, model.qpos0[None], torch.zeros(1, model.nv, dtype=torch.float64), torch.zeros(1, 0, dtype=torch.float64)
    )
    assert torch.isfinite(qpos).all() and qvel.abs().max() > 0  # gravity moves it


def test_array_dtypes_and_shapes():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = parse_mjcf(ASSETS / "ball_chain.xml")
    for name in (
        "body_parent",
        "body_jntadr",
        "body_rootid",
        "body_subtree_end",
        "jnt_type",
        "dof_parent",
        "actuator_trnid",
        "geom_type",
    ):
        assert getattr(s, name).dtype == np.int32, name
    for name in ("body_pos", "body_inertia", "qpos0", "jnt_range", "geom_size", "actuator_gear", "gravity"):
        assert getattr(s, name).dtype == np.float64, name
    assert s.body_inertia.shape == (s.nbody, 3, 3)
    assert s.actuator_gear.shape == (s.nu, 6) and s.actuator_trnid.shape == (s.nu, 2)
    assert s.body_name[0] == "world" and s.integrator == "RK4" and s.model_name == "ball_chain"


def test_ant_structure():
    s = _parse_quiet(ASSETS / "ant.xml")
    assert (s.nq, s.nv, s.nu, s.nbody) == (15, 14, 8, 10)
    assert s.jnt_type[0] == JOINT_FREE and np.all(s.jnt_type[1:] == JOINT_HINGE)
    assert np.all((s.actuator_gear[:, 0] >= 50) & (s.actuator_gear[:, 0] <= 150))
    np.testing.assert_array_equal(s.actuator_ctrlrange, np.tile([-1.0, 1.0], (8, 1)))
    np.testing.assert_allclose(s.qpos0[:3], [0, 0, 0.75])


def test_free_body_has_offset_com_and_full_inertia():
    s = _parse_quiet(ASSETS / "free_body.xml")
    assert np.linalg.norm(s.body_ipos[1]) > 0.01
    off_diag = s.body_inertia[1] - np.diag(np.diag(s.body_inertia[1]))
    assert np.abs(off_diag).max() > 1e-4


def test_inertia_is_the_same_on_every_cpu():
    """The inertia tensor is summed term by term in Python floats (no BLAS kernel decides its last bit)."""
    m = _compile_mujoco(ASSETS / "free_body.xml")
    s = _parse_quiet(ASSETS / "free_body.xml")
    w, x, y, z = (float(v) for v in m.body_iquat[1])
    norm = math.sqrt(w * w + x * x + y * y + z * z)
    w, x, y, z = w / norm, x / norm, y / norm, z / norm
    R = np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )
    d = m.body_inertia[1]
    by_hand = [
        [sum((float(R[i, k]) * float(R[j, k])) * float(d[k]) for k in range(3)) for j in range(3)] for i in range(3)
    ]
    np.testing.assert_array_equal(s.body_inertia[1], by_hand)


# ------------------------------------------------------------------------ inline models

INLINE = {
    "settotalmass": _model(
        '<body><joint/><geom type="box" size=".1 .2 .3"/><body pos="1 0 0"><joint/><geom size=".2"/></body></body>',
        header='<compiler settotalmass="7.5"/>',
    ),
    "inertiafromgeom_true": _model(
        '<body><joint/><inertial pos="1 0 0" mass="3" diaginertia="1 1 1"/><geom type="box" size=".1 .2 .3" pos=".1 0 0"/></body>',
        header='<compiler inertiafromgeom="true"/>',
    ),
    "inertiafromgeom_false": _model(
        '<body><joint/><inertial pos="0.1 0.2 0.3" mass="3" diaginertia="1 2 2.5" quat="1 2 3 4"/>'
        '<geom type="box" size=".1 .2 .3"/></body><body pos="0 1 0"><geom size=".1"/></body>',
        header='<compiler inertiafromgeom="false"/>',
    ),
    "inertiafromgeom_auto_mixed": _model(
        '<body><joint/><inertial pos="0 0 0.1" mass="2" fullinertia="0.3 0.4 0.5 0.01 0.02 -0.03"/>'
        '<geom type="box" size=".1 .2 .3"/><body pos="0 0 1"><joint/><geom size=".1 .3" type="capsule"/></body></body>'
    ),
    "inertiagrouprange": _model(
        '<body><joint/><geom size=".1" group="1"/><geom size=".1" group="4" pos="1 0 0"/></body>',
        header='<compiler inertiagrouprange="0 2"/>',
    ),
    "nested_defaults_childclass": (
        '<mujoco><default>'
        '<joint damping="1" armature="0.2"/><geom type="box" size=".1 .1 .1" friction="0.7"/>'
        '<motor gear="3" ctrlrange="-1 1"/>'
        '<default class="a"><joint damping="2" type="slide"/><geom size=".2" rgba="1 0 0 1"/>'
        '  <default class="b"><joint stiffness="5" axis="1 0 0"/><geom type="capsule" size=".05 .3"/>'
        '  <motor gear="7"/></default>'
        '</default></default>'
        '<worldbody>'
        '<body childclass="a"><joint name="j1"/><geom/>'
        '  <body pos="0 0 1" childclass="b"><joint name="j2"/><geom/><geom class="main" friction="0.1 0.2"/>'
        '    <body pos="0 0 1"><joint name="j3" class="a" type="hinge"/><geom class="a" type="sphere"/></body>'
        '  </body>'
        '</body></worldbody>'
        '<actuator><motor joint="j1"/><motor joint="j2" class="b"/><motor joint="j3" gear="9" ctrllimited="false"/>'
        '<general joint="j1" class="b" forcerange="-2 2"/></actuator></mujoco>'
    ),
    "orientations_degree": _model(
        '<body quat="1 2 3 4"><joint/><geom size=".1"/>'
        '<body euler="10 20 30" pos="1 0 0"><joint type="ball"/><geom type="box" size=".1 .2 .3" euler="5 6 7"/>'
        '<body axisangle="1 2 3 40"><joint axis="1 1 0"/><geom type="box" size=".1 .2 .3" axisangle="0 0 1 90"/>'
        '<body xyaxes="1 1 0 -1 1 0.5"><joint/><geom type="box" size=".1 .2 .3" xyaxes="0 1 0 1 0 1"/>'
        '<body zaxis="0 0 -1"><joint/><geom type="box" size=".1 .2 .3" zaxis="1 2 3"/>'
        '<body zaxis="0 1 1"><joint/><geom type="box" size=".1 .2 .3" zaxis="0 0 1"/>'
        '</body></body></body></body></body></body>'
    ),
    "orientations_radian": _model(
        '<body euler="0.1 0.2 0.3"><joint range="-1 1" ref="0.2" springref="0.4"/><geom size=".1"/>'
        '<body axisangle="0 1 0 1.5"><joint type="ball" range="0 1.2"/><geom type="ellipsoid" size=".1 .2 .3"/></body></body>',
        header='<compiler angle="radian"/>',
    ),
    "eulerseq_extrinsic": _model(
        '<body euler="10 20 30"><joint/><geom type="box" size=".1 .2 .3" euler="30 -40 50"/></body>',
        header='<compiler eulerseq="XYZ"/>',
    ),
    "eulerseq_mixed": _model(
        '<body euler="10 20 30"><joint/><geom type="box" size=".1 .2 .3" euler="30 -40 50"/></body>',
        header='<compiler eulerseq="zXy"/>',
    ),
    "eulerseq_zyz": _model(
        '<body euler="10 20 30"><joint/><geom type="box" size=".1 .2 .3" euler="30 -40 50"/></body>',
        header='<compiler eulerseq="zyz"/>',
    ),
    "geom_types": _model(
        '<geom type="plane" size="3 4 0.5"/>'
        '<body><freejoint/>'
        '<geom type="sphere" size=".1" pos="1 0 0"/>'
        '<geom type="capsule" size=".1 .3" pos="0 1 0" euler="30 0 0"/>'
        '<geom type="cylinder" size=".15 .25" pos="0 0 1" euler="0 45 0" density="300"/>'
        '<geom type="box" size=".1 .2 .3" pos="1 1 0" mass="2"/>'
        '<geom type="ellipsoid" size=".1 .2 .3" pos="-1 0 0" quat="1 1 0 0" mass="0.5"/>'
        '<geom type="sphere" size=".1" mass="0"/>'
        '</body>'
    ),
    "fromto": _model(
        '<body><joint/>'
        '<geom type="capsule" fromto="0 0 0 .1 .2 .3" size=".05"/>'
        '<geom type="capsule" fromto="0 0 0 0 0 -1" size=".05"/>'
        '<geom type="capsule" fromto="0 0 0 0 0 1" size=".05"/>'
        '<geom type="cylinder" fromto="1 0 0 -1 0 0" size=".05 .07 .09"/>'
        '<geom type="box" fromto="0 0 0 1 0 0" size=".05 .07"/>'
        '<geom type="ellipsoid" fromto="0 1 0 0 2 1" size=".05"/>'
        '</body>'
    ),
    "frame": _model(
        '<body><joint/><geom size=".1"/>'
        '<frame pos="1 0 0" euler="0 0 90" childclass="c"><joint pos="1 0 0" axis="1 0 0"/>'
        '<geom type="box" size=".1 .2 .3" pos="1 0 0"/><geom type="capsule" fromto="0 0 0 1 0 0"/>'
        '<frame pos="0 0 1" axisangle="1 0 0 30"><body pos="0 1 0"><joint/><geom/></body></frame></frame>'
        '<geom size=".2"/></body>',
        header='<default><default class="c"><geom size=".1 .2"/><joint damping="3"/></default></default>',
    ),
    "partial_size_friction_overlay": _model(
        '<body><joint/><geom type="box" size=".5" friction="3"/><geom type="box" size=".4 .6"/></body>'
        '<geom type="plane" size="1 1"/>',
        header='<default><geom size="1 2 3" friction="2 0.1 0.2"/></default>',
    ),
    "joint_types_and_limits": _model(
        '<body pos="1 2 3" euler="0 90 0"><freejoint name="root"/><geom size=".1"/>'
        '<body pos="0 0 1"><joint type="ball" range="0 90" limited="true" pos="0 0 .1" damping="2"/>'
        '<joint type="slide" range="-.5 .5" ref=".1" springref=".2" stiffness="4" axis="3 0 4"/><geom size=".1"/>'
        '<body pos="0 0 1"><joint range="-30 30" limited="false" ref="5"/><joint range="1 0" axis="0 1 0"/>'
        '<joint type="hinge" axis="1 0 0" range="-45 45" armature="0.3" frictionloss="1"/><geom size=".1"/>'
        '</body></body></body>'
        '<body pos="3 0 0"><joint type="free" damping="0.5"/><geom size=".1"/></body>'
    ),
    "autolimits_false": _model(
        '<body><joint name="j0" range="-10 10" limited="true"/><joint axis="1 0 0"/><geom size=".1"/></body>',
        header='<compiler autolimits="false"/>',
        extra='<actuator><motor joint="j0" ctrlrange="-1 1" ctrllimited="true"/></actuator>',
    ),
    "dof_parent_through_welded_body": _model(
        '<body><joint type="ball"/><geom size=".1"/>'
        '<body pos="0 0 1"><geom size=".1"/>'
        '<body pos="0 0 1"><joint/><joint type="slide"/><geom size=".1"/></body>'
        '<body pos="1 0 1"><joint/><geom size=".1"/></body></body></body>'
        '<body pos="5 0 0"><joint/><geom size=".1"/></body>'
    ),
    "option": _model(
        '<body><joint/><geom size=".1"/></body>',
        header='<option timestep="0.0123" gravity="1 2 3" integrator="implicitfast"><flag gravity="enable"/></option>',
    ),
}


@pytest.mark.parametrize("name", sorted(INLINE))
def test_inline_matches_mujoco(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # some inline models use features reported as unsupported
        spec = parse_mjcf(INLINE[name])
    assert_matches_mujoco(INLINE[name], spec)


def test_include(tmp_path):
    (tmp_path / "parts.xml").write_text('<mujoco><body name="inc"><joint/><geom size=".1"/></body></mujoco>')
    (tmp_path / "main.xml").write_text('<mujoco><worldbody><include file="parts.xml"/></worldbody></mujoco>')
    s, _ = assert_matches_mujoco(tmp_path / "main.xml")
    assert s.body_name == ["world", "inc"]


# ------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "source, message",
    [
        ("<mujoco>\n<worldbody>\n<body></worldbody>\n</mujoco>", r"(?i)line number=3"),
        (
            '<mujoco>\n<worldbody>\n<body>\n<joint type="screw"/><geom size=".1"/></body></worldbody></mujoco>',
            r"screw.*\s+Element 'joint', line 4",
        ),
        (
            _model('<body><joint name="a"/><geom size=".1"/></body>', extra='<actuator><motor joint="b"/></actuator>'),
            r"unknown transmission target 'b'",
        ),
        (
            _model('<body><joint/><geom size=".1" masss="1"/></body>'),
            r"unrecognized attribute: 'masss'\s+Element 'geom', line 1",
        ),
        (_model('<body><joint dampng="1"/><geom size=".1"/></body>'), r"unrecognized attribute: 'dampng'"),
        (
            _model('<body><joint/><inertial pos="0 0 0" mass="nan" diaginertia="1 1 1"/></body>'),
            r"(?s)mass and inertia.*line 1",
        ),
        (_model('<body pos="1 2"><joint/><geom size=".1"/></body>'), r"line 1"),
        (_model('<body><body><freejoint/><geom size=".1"/></body><geom size=".1"/></body>'), r"free joint"),
        (
            "<mujoco><worldbody>"
            + '<body><joint/><geom size=".1"/>' * 1000
            + "</body>" * 1000
            + "</worldbody></mujoco>",
            r"too deep",
        ),
    ],
)
def test_mujocos_compile_errors_reach_the_user_with_the_element_and_line(source, message):
    with pytest.raises(MJCFError, match=message):
        parse_mjcf(source)


@pytest.mark.parametrize(
    "source, message",
    [
        (
            _model('<body><joint/><geom size=".1"/></body>', header='<option timestep="inf"/>'),
            r"timestep> must be a finite number > 0, got inf",
        ),
        (
            _model(
                '<body><joint name="j"/><geom size=".1"/></body>',
                extra='<actuator><motor name="m" joint="j" ctrlrange="nan 1"/></actuator>',
            ),
            r"actuator 0 'm': ctrlrange must be finite",
        ),
        (
            _model('<body><joint name="j" stiffness="inf"/><geom size=".1"/></body>'),
            r"joint 0 'j': stiffness must be finite",
        ),
    ],
)
def test_values_mujoco_compiles_but_nobody_can_simulate_are_refused(source, message):
    with pytest.raises(MJCFError, match=message):
        parse_mjcf(source)


def test_bad_sources_say_what_was_expected(tmp_path):
    with pytest.raises(MJCFError, match="is not XML text and no such file exists"):
        parse_mjcf("hello")
    with pytest.raises(MJCFError, match="no such file"):
        parse_mjcf(tmp_path / "missing.xml")
    with pytest.raises(MJCFError, match="got int"):
        parse_mjcf(3)
    with pytest.raises(MJCFError, match="bytes is not UTF-8"):
        parse_mjcf(b"\xff<mujoco/>")
    latin = tmp_path / "latin.xml"
    latin.write_bytes('<mujoco model="caf\xe9">\n<worldbody/></mujoco>'.encode("latin-1"))
    with pytest.raises(MJCFError, match=r"not UTF-8 text.*line 1"):
        parse_mjcf(latin)
    assert isinstance(MJCFError("x"), ValueError)


# ----------------------------------------------------------------------------- unsupported

UNSUPPORTED = _model(
    '<body name="a"><joint name="j1" frictionloss="1"/><joint name="j2" axis="1 0 0" frictionloss="2"/><geom size=".1"/>'
    '<body name="b" pos="0 0 1"><joint name="j3"/><geom type="cylinder" size=".1 .2"/><site name="s1"/></body><site name="s2" pos="0 0 .1"/></body>'
    '<geom name="floor" type="plane" size="1 1 .1"/>',
    extra='<equality><connect name="eq" body1="a" body2="b" anchor="0 0 0"/></equality>'
    '<tendon><spatial name="sp"><site site="s1"/><site site="s2"/></spatial></tendon>'
    '<actuator><muscle name="mus" joint="j1" lengthrange="-1 1"/><general name="user" joint="j2" dyntype="user"/></actuator>'
    '<contact><exclude body1="a" body2="b"/></contact>',
)


def test_unsupported_features_are_listed_in_one_warning_and_in_model_unsupported():
    # with MuJoCo's constraints (the default): friction loss, the connect, the exclusion and
    # the cylinder on the floor are simulated
    with pytest.warns(UserWarning) as record:
        model = diffsim.load_mjcf(UNSUPPORTED)
    messages = [str(w.message) for w in record if "does not simulate" in str(w.message)]
    assert len(messages) == 1
    assert set(model.unsupported) == {
        "spatial tendons",
        "actuator dyntype muscle",
        "actuator gaintype muscle",
        "actuator biastype muscle",
        "actuator dyntype user",
    }
    for feature, elements in model.unsupported.items():
        assert f"{feature} ({len(elements)})" in messages[0]
    # with the smoothed contact and penalty limits
    with pytest.warns(UserWarning) as record:
        model = diffsim.load_mjcf(UNSUPPORTED, contact_model="smooth")
    messages = [str(w.message) for w in record if "does not simulate" in str(w.message)]
    assert len(messages) == 1
    found = model.unsupported
    assert found["equality constraints"] == ["equality 'eq'"]
    assert found["joint friction loss"] == ["joint 'j1'", "joint 'j2'"]
    assert found["spatial tendons"] == ["tendon 'sp'"]
    assert found["actuator dyntype muscle"] == ["actuator 'mus'"]
    assert found["actuator gaintype muscle"] == ["actuator 'mus'"]
    assert found["actuator dyntype user"] == ["actuator 'user'"]
    assert found["contact exclusions (<contact><exclude>)"] == ["exclude 0"]
    assert any(entry.startswith("cylinder-plane") for entry in found["geom pairs without a smoothed contact law"])
    for feature, elements in found.items():
        assert f"{feature} ({len(elements)})" in messages[0]


def test_features_switched_off_by_the_models_flags_are_not_reported():
    xml = UNSUPPORTED.replace(
        "<worldbody>", '<option><flag equality="disable" frictionloss="disable" contact="disable"/></option><worldbody>'
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = diffsim.load_mjcf(xml)
    assert "equality constraints" not in model.unsupported and "joint friction loss" not in model.unsupported
    assert not any("contact" in feature or "pairs" in feature for feature in model.unsupported)
    assert "spatial tendons" in model.unsupported


def test_a_solver_other_than_newtons_is_reported():
    """diffsim solves MuJoCo's constraints with MuJoCo's Newton solver, per island, without
    the noslip pass: a model that asks for anything else is told, unless its constraints
    are off."""
    options = '<option solver="PGS" noslip_iterations="3"><flag island="disable"/></option><worldbody>'
    with pytest.warns(UserWarning, match="constraint solvers other than Newton"):
        model = diffsim.load_mjcf(UNSUPPORTED.replace("<worldbody>", options))
    assert model.unsupported["constraint solvers other than Newton (solved with Newton)"] == ["option solver PGS"]
    assert model.unsupported["the noslip solver"] == ["option noslip_iterations 3"]
    assert model.unsupported["one constraint problem for all trees (solved per island)"] == ["flag island disable"]
    off = options.replace('<flag island="disable"/>', '<flag island="disable" constraint="disable"/>')
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = diffsim.load_mjcf(UNSUPPORTED.replace("<worldbody>", off))
    assert not any("solve" in feature or "island" in feature for feature in model.unsupported)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = diffsim.load_mjcf(UNSUPPORTED.replace("<worldbody>", '<option solver="CG"/><worldbody>'))
    assert model.unsupported["constraint solvers other than Newton (solved with Newton)"] == ["option solver CG"]


def test_supported_models_load_silently():
    for name in ("ant.xml", "cartpole.xml", "pendulum.xml", "free_body.xml", "gripper.xml", "arm.urdf"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            model = diffsim.load_mjcf(ASSETS / name)
        assert model.unsupported == {}, name
