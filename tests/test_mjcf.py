"""Tests of the MJCF importer: compiled arrays must equal MuJoCo's own compilation."""

from __future__ import annotations

import pathlib
import warnings

import numpy as np
import pytest

from diffsim.mjcf import MJCFError, parse_mjcf
from diffsim.spec import JOINT_BALL, JOINT_FREE, JOINT_HINGE, JOINT_SLIDE

ASSETS = pathlib.Path(__file__).resolve().parents[1] / "diffsim" / "assets"
ASSET_NAMES = ["pendulum", "cartpole", "free_body", "ant", "ball_chain"]


# ------------------------------------------------------------------------------------- helpers


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


def _assert_quats_equal(a, b, atol=1e-12):
    """Quaternion arrays equal up to the sign of each quaternion."""
    a, b = np.atleast_2d(a), np.atleast_2d(b)
    assert a.shape == b.shape
    for qa, qb in zip(a, b):
        sign = 1.0 if qa @ qb >= 0 else -1.0
        np.testing.assert_allclose(qa, sign * qb, atol=atol, rtol=0)


def _parse_quiet(source):
    """parse_mjcf that fails on any warning (valid, fully supported models must be silent)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return parse_mjcf(source)


def _compile_mujoco(source):
    mujoco = pytest.importorskip("mujoco")
    if isinstance(source, str) and source.lstrip().startswith("<"):
        return mujoco.MjModel.from_xml_string(source)
    return mujoco.MjModel.from_xml_path(str(source))


def assert_matches_mujoco(source, spec=None):
    """Compare every ModelSpec field that MuJoCo also compiles."""
    m = _compile_mujoco(source)
    s = spec if spec is not None else _parse_quiet(source)
    close = dict(atol=1e-12, rtol=1e-12)

    # sizes
    assert (s.nq, s.nv, s.nu, s.nbody, s.njnt, s.ngeom) == (m.nq, m.nv, m.nu, m.nbody, m.njnt, m.ngeom)

    # options
    assert s.timestep == pytest.approx(m.opt.timestep, rel=1e-15)
    np.testing.assert_allclose(s.gravity, m.opt.gravity, **close)

    # bodies
    np.testing.assert_array_equal(s.body_parent[1:], m.body_parentid[1:])
    np.testing.assert_array_equal(s.body_rootid, m.body_rootid)
    np.testing.assert_array_equal(s.body_jntadr, m.body_jntadr)
    np.testing.assert_array_equal(s.body_jntnum, m.body_jntnum)
    np.testing.assert_array_equal(s.body_dofadr, m.body_dofadr)
    np.testing.assert_array_equal(s.body_dofnum, m.body_dofnum)
    np.testing.assert_allclose(s.body_pos, m.body_pos, **close)
    _assert_quats_equal(s.body_quat, m.body_quat)
    np.testing.assert_allclose(s.body_mass, m.body_mass, rtol=1e-12, atol=0)
    # MuJoCo gives a massless body ipos = body_pos (a placeholder); diffsim leaves 0 there
    massive = m.body_mass > 0
    np.testing.assert_allclose(s.body_ipos[massive], m.body_ipos[massive], atol=1e-10, rtol=1e-10)
    np.testing.assert_array_equal(s.body_ipos[~massive], 0.0)
    for b in range(m.nbody):
        r = _quat_mat(m.body_iquat[b])
        mj_inertia = r @ np.diag(m.body_inertia[b]) @ r.T
        scale = max(np.abs(mj_inertia).max(), 1e-300)
        np.testing.assert_allclose(
            s.body_inertia[b], mj_inertia, atol=1e-10 * scale, rtol=1e-10, err_msg=f"inertia of body {b}"
        )
        np.testing.assert_allclose(s.body_inertia[b], s.body_inertia[b].T, atol=0, rtol=0)
    for b, name in enumerate(s.body_name):
        assert name == (m.body(b).name or ("world" if b == 0 else ""))

    # joints
    np.testing.assert_array_equal(s.jnt_type, m.jnt_type)
    np.testing.assert_array_equal(s.jnt_body, m.jnt_bodyid)
    np.testing.assert_array_equal(s.jnt_qposadr, m.jnt_qposadr)
    np.testing.assert_array_equal(s.jnt_dofadr, m.jnt_dofadr)
    np.testing.assert_allclose(s.jnt_pos, m.jnt_pos, **close)
    np.testing.assert_allclose(s.jnt_axis, m.jnt_axis, **close)
    np.testing.assert_array_equal(s.jnt_limited, m.jnt_limited.astype(bool))
    lim = s.jnt_limited
    np.testing.assert_allclose(s.jnt_range[lim], m.jnt_range[lim], **close)
    np.testing.assert_allclose(s.jnt_stiffness, m.jnt_stiffness, **close)
    assert s.jnt_name == [m.joint(j).name for j in range(m.njnt)]

    # dofs and generalised positions
    np.testing.assert_array_equal(s.dof_body, m.dof_bodyid)
    np.testing.assert_array_equal(s.dof_jnt, m.dof_jntid)
    np.testing.assert_array_equal(s.dof_parent, m.dof_parentid)
    np.testing.assert_allclose(s.dof_damping, m.dof_damping, **close)
    np.testing.assert_allclose(s.dof_armature, m.dof_armature, **close)
    np.testing.assert_allclose(s.dof_frictionloss, m.dof_frictionloss, **close)
    np.testing.assert_allclose(s.qpos0, m.qpos0, **close)
    np.testing.assert_allclose(s.qpos_spring, m.qpos_spring, **close)

    # actuators
    np.testing.assert_array_equal(s.actuator_trnid, m.actuator_trnid[:, 0])
    np.testing.assert_allclose(s.actuator_gear, m.actuator_gear[:, 0], **close)
    np.testing.assert_array_equal(s.actuator_ctrllimited, m.actuator_ctrllimited.astype(bool))
    np.testing.assert_array_equal(s.actuator_forcelimited, m.actuator_forcelimited.astype(bool))
    np.testing.assert_allclose(
        s.actuator_ctrlrange[s.actuator_ctrllimited], m.actuator_ctrlrange[s.actuator_ctrllimited], **close
    )
    np.testing.assert_allclose(
        s.actuator_forcerange[s.actuator_forcelimited], m.actuator_forcerange[s.actuator_forcelimited], **close
    )
    assert s.actuator_name == [m.actuator(u).name for u in range(m.nu)]

    # geoms
    np.testing.assert_array_equal(s.geom_type, m.geom_type)
    np.testing.assert_array_equal(s.geom_body, m.geom_bodyid)
    np.testing.assert_allclose(s.geom_size, m.geom_size, **close)
    np.testing.assert_allclose(s.geom_pos, m.geom_pos, **close)
    _assert_quats_equal(s.geom_quat, m.geom_quat)
    np.testing.assert_allclose(s.geom_friction, m.geom_friction, **close)
    np.testing.assert_array_equal(s.geom_contype, m.geom_contype)
    np.testing.assert_array_equal(s.geom_conaffinity, m.geom_conaffinity)
    np.testing.assert_allclose(s.geom_rgba, m.geom_rgba, atol=1e-7)  # MuJoCo stores rgba as float32
    assert s.geom_name == [m.geom(g).name for g in range(m.ngeom)]
    return s, m


def _model(body_xml, header="", extra=""):
    """A <mujoco> document with ``body_xml`` inside <worldbody>."""
    return f"<mujoco>{header}<worldbody>{body_xml}</worldbody>{extra}</mujoco>"


# ------------------------------------------------------------------------------- assets


@pytest.mark.parametrize("name", ASSET_NAMES)
def test_asset_matches_mujoco(name):
    assert_matches_mujoco(ASSETS / f"{name}.xml")


def test_asset_path_forms():
    """str paths, pathlib paths and XML strings give the same model."""
    path = ASSETS / "cartpole.xml"
    a, b, c = parse_mjcf(str(path)), parse_mjcf(path), parse_mjcf(path.read_text())
    for field in ("qpos0", "body_mass", "body_inertia", "geom_size"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
        np.testing.assert_array_equal(getattr(a, field), getattr(c, field))


def test_array_dtypes_and_shapes():
    s = _parse_quiet(ASSETS / "ball_chain.xml")
    for name in (
        "body_parent",
        "body_jntadr",
        "body_dofadr",
        "body_rootid",
        "body_subtree_end",
        "jnt_type",
        "jnt_qposadr",
        "dof_parent",
        "actuator_trnid",
        "geom_type",
        "geom_contype",
    ):
        assert getattr(s, name).dtype == np.int32, name
    for name in ("body_pos", "body_inertia", "qpos0", "jnt_range", "geom_size", "actuator_gear", "gravity"):
        assert getattr(s, name).dtype == np.float64, name
    assert s.body_inertia.shape == (s.nbody, 3, 3)
    assert s.jnt_limited.dtype == bool and s.actuator_ctrllimited.dtype == bool
    assert s.body_name[0] == "world" and s.integrator == "RK4"


def test_subtree_end_and_rootid():
    s = _parse_quiet(ASSETS / "ball_chain.xml")
    for b in range(s.nbody):
        inside = [c for c in range(s.nbody) if _is_descendant(s.body_parent, c, b)]
        assert inside == list(range(b, s.body_subtree_end[b]))
    assert s.body_subtree_end[0] == s.nbody


def _is_descendant(parent, c, b):
    while c != -1:
        if c == b:
            return True
        c = parent[c]
    return False


def test_ant_structure():
    s = _parse_quiet(ASSETS / "ant.xml")
    assert (s.nq, s.nv, s.nu, s.nbody) == (15, 14, 8, 10)
    assert s.jnt_type[0] == JOINT_FREE and np.all(s.jnt_type[1:] == JOINT_HINGE)
    assert np.all((s.actuator_gear >= 50) & (s.actuator_gear <= 150))
    np.testing.assert_array_equal(s.actuator_ctrlrange, np.tile([-1.0, 1.0], (8, 1)))
    assert np.all(s.jnt_limited[1:]) and s.timestep in (0.01, 0.005)
    np.testing.assert_allclose(s.qpos0[:3], [0, 0, 0.75])
    assert s.geom_type[0] == 0 and s.geom_body[0] == 0  # ground plane in the world


def test_free_body_has_offset_com_and_full_inertia():
    s = _parse_quiet(ASSETS / "free_body.xml")
    assert np.linalg.norm(s.body_ipos[1]) > 0.01
    off_diag = s.body_inertia[1] - np.diag(np.diag(s.body_inertia[1]))
    assert np.abs(off_diag).max() > 1e-4


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
    assert_matches_mujoco(INLINE[name])


def test_settotalmass_total():
    s = _parse_quiet(INLINE["settotalmass"])
    assert s.body_mass.sum() == pytest.approx(7.5, rel=1e-14)


def test_degree_vs_radian():
    deg = _parse_quiet(_model('<body euler="0 0 90"><joint range="-90 90" ref="45"/><geom size=".1"/></body>'))
    rad = _parse_quiet(
        _model(
            '<body euler="0 0 1.5707963267948966"><joint range="-1.5707963267948966 '
            '1.5707963267948966" ref="0.7853981633974483"/><geom size=".1"/></body>',
            header='<compiler angle="radian"/>',
        )
    )
    np.testing.assert_allclose(deg.jnt_range, rad.jnt_range, atol=1e-15)
    np.testing.assert_allclose(deg.qpos0, rad.qpos0, atol=1e-15)
    np.testing.assert_allclose(deg.body_quat, rad.body_quat, atol=1e-15)


def test_slide_range_not_converted():
    s = _parse_quiet(_model('<body><joint type="slide" range="-90 90" ref="3"/><geom size=".1"/></body>'))
    np.testing.assert_array_equal(s.jnt_range[0], [-90, 90])
    assert s.qpos0[0] == 3 and s.jnt_type[0] == JOINT_SLIDE


def test_free_joint_qpos0_is_body_pose():
    s, m = assert_matches_mujoco(INLINE["joint_types_and_limits"])
    np.testing.assert_allclose(s.qpos0[:3], [1, 2, 3])
    _assert_quats_equal(s.qpos0[3:7], s.body_quat[1])
    assert s.jnt_type[1] == JOINT_BALL


def test_include(tmp_path):
    (tmp_path / "parts.xml").write_text('<mujoco><body name="inc"><joint/><geom size=".1"/></body></mujoco>')
    (tmp_path / "main.xml").write_text('<mujoco><worldbody><include file="parts.xml"/></worldbody></mujoco>')
    s, _ = assert_matches_mujoco(tmp_path / "main.xml")
    assert s.body_name == ["world", "inc"]


# ------------------------------------------------------------------------------- errors


def test_malformed_xml_names_line():
    with pytest.raises(MJCFError, match=r"line 3"):
        parse_mjcf("<mujoco>\n<worldbody>\n<body></worldbody>\n</mujoco>")


def test_unknown_joint_type_names_type_and_line():
    xml = '<mujoco>\n<worldbody>\n<body>\n<joint type="screw"/><geom size=".1"/></body></worldbody></mujoco>'
    with pytest.raises(MJCFError, match=r"screw.*|line 4") as info:
        parse_mjcf(xml)
    assert "screw" in str(info.value) and "line 4" in str(info.value)


def test_motor_on_missing_joint():
    xml = _model('<body><joint name="a"/><geom size=".1"/></body>', extra='<actuator><motor joint="b"/></actuator>')
    with pytest.raises(MJCFError, match=r"unknown joint 'b'"):
        parse_mjcf(xml)


@pytest.mark.parametrize(
    "body",
    [
        '<body pos="1 2"><joint/><geom size=".1"/></body>',
        '<body><joint axis="1 0 0 0"/><geom size=".1"/></body>',
        '<body><joint/><geom type="box" size=".1 .2 .3 .4"/></body>',
        '<body quat="1 0 0"><joint/><geom size=".1"/></body>',
    ],
)
def test_wrong_number_of_values(body):
    with pytest.raises(MJCFError, match=r"line 1.*needs"):
        parse_mjcf(_model(body))


def test_bad_numbers():
    with pytest.raises(MJCFError, match=r"<geom> \(line 1\).*not a list of numbers"):
        parse_mjcf(_model('<body><joint/><geom size="a b"/></body>'))


@pytest.mark.parametrize(
    "body, message",
    [
        ('<body><body><freejoint/><geom size=".1"/></body></body>', "free joint"),
        ('<body><joint/></body>', "mass and inertia"),
        ('<body><joint/><geom type="box" size=".1 .2"/></body>', r"size\[2\]"),
        ('<body><joint/><geom type="pyramid" size=".1"/></body>', "pyramid"),
        ('<body><joint/><geom size=".1" class="nope"/></body>', "nope"),
        ('<body><joint range="1 0" limited="true"/><geom size=".1"/></body>', "range"),
        ('<body><freejoint/><joint/><geom size=".1"/></body>', "6 degrees"),
        ('<joint/>', "worldbody"),
        ('<body><joint/><geom type="sphere" fromto="0 0 0 0 0 1" size=".1"/></body>', "fromto"),
    ],
)
def test_semantic_errors(body, message):
    with pytest.raises(MJCFError, match=message):
        parse_mjcf(_model(body))


def test_errors_are_valueerrors_and_global_coordinates_rejected():
    with pytest.raises(ValueError, match="global"):
        parse_mjcf(_model('<body><joint/><geom size=".1"/></body>', header='<compiler coordinate="global"/>'))
    with pytest.raises(MJCFError, match="root"):
        parse_mjcf("<robot/>")
    with pytest.raises(MJCFError, match="cannot read"):
        parse_mjcf("/nonexistent/model.xml")


# ----------------------------------------------------------------------------- warnings


def test_tendon_warns_once():
    xml = _model(
        '<body><joint name="a"/><joint name="b"/><geom size=".1"/></body>',
        extra='<tendon><fixed name="t1"><joint joint="a" coef="1"/></fixed></tendon>'
        '<tendon><fixed name="t2"><joint joint="b" coef="1"/></fixed></tendon>',
    )
    with pytest.warns(UserWarning, match=r"<tendon> \(line 1\)") as record:
        s = parse_mjcf(xml)
    assert len([w for w in record if "tendon" in str(w.message)]) == 1
    assert s.njnt == 2


def test_unsupported_actuators_warn_and_skip():
    xml = _model(
        '<body><joint name="a"/><geom size=".1"/></body><body pos="2 0 0"><freejoint name="f"/><geom size=".1"/></body>',
        extra='<actuator><position joint="a" kp="10"/><velocity joint="a"/><motor joint="a"/>'
        '<motor joint="f"/><general joint="a" biastype="affine" biasprm="0 -1 0"/></actuator>',
    )
    with pytest.warns(UserWarning) as record:
        s = parse_mjcf(xml)
    messages = [str(w.message) for w in record]
    assert any("<position" in msg for msg in messages)
    assert any("ball/free" in msg for msg in messages)
    assert any("<general" in msg for msg in messages)
    assert s.nu == 1 and s.actuator_trnid[0] == 0


def test_mesh_geom_warns_and_is_skipped():
    xml = (
        '<mujoco><asset><mesh name="m" vertex="0 0 0 1 0 0 0 1 0 0 0 1"/></asset>'
        '<worldbody><body><joint/><geom size=".1"/><geom type="mesh" mesh="m"/><geom mesh="m"/></body></worldbody></mujoco>'
    )
    with pytest.warns(UserWarning, match="mesh") as record:
        s = parse_mjcf(xml)
    assert len(record) == 1 and s.ngeom == 1


def test_visual_only_elements_are_silent():
    xml = (
        '<mujoco><compiler meshdir="." angle="radian"/><size memory="1M"/><visual><global offwidth="800"/></visual>'
        '<statistic center="0 0 1"/><custom><numeric name="n" data="1"/></custom>'
        '<asset><texture name="t" type="2d" builtin="checker" width="8" height="8"/>'
        '<material name="mat" texture="t"/></asset>'
        '<default><site size=".01"/><camera fovy="40"/><light diffuse="1 1 1"/></default>'
        '<worldbody><light pos="0 0 3"/><camera name="c" pos="0 0 2"/><site name="s"/>'
        '<body><joint/><geom size=".1" material="mat"/><site name="s2"/><camera name="c2"/></body></worldbody>'
        '<sensor><jointpos joint="j"/></sensor><keyframe><key qpos="0"/></keyframe></mujoco>'
    ).replace("<joint/>", '<joint name="j"/>')
    s, _ = assert_matches_mujoco(xml)  # assert_matches_mujoco parses with warnings as errors
    assert s.njnt == 1
