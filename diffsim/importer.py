"""The importer: any model MuJoCo compiles becomes a :class:`~diffsim.spec.ModelSpec`.

MuJoCo's own compiler reads the model (MJCF or URDF, with its defaults, includes,
inertias computed from geoms and meshes, and its validation with line numbers), and
this module copies the compiled ``mujoco.MjModel`` into a ModelSpec field by field. What
MuJoCo compiled but diffsim does not simulate yet is listed in ``spec.unsupported``
(feature -> the elements that use it), so that nothing is ignored without a word.

* :func:`compile_model` -- path, XML text, bytes, ``MjSpec`` or ``MjModel`` -> ``MjModel``
* :func:`spec_from_mujoco` -- ``MjModel`` -> ModelSpec
* :func:`parse_mjcf` -- both in one call
* :class:`MJCFError` -- MuJoCo could not compile the model, or compiled values that
  cannot be simulated (NaN, an infinite time step); the message names the element.
"""

from __future__ import annotations

import math
import os

import numpy as np

from diffsim.spec import (
    BIAS_AFFINE,
    BIAS_NONE,
    DYN_FILTER,
    DYN_FILTEREXACT,
    DYN_INTEGRATOR,
    DYN_NONE,
    GAIN_AFFINE,
    GAIN_FIXED,
    GEOM_BOX,
    GEOM_CAPSULE,
    GEOM_CYLINDER,
    GEOM_ELLIPSOID,
    GEOM_PLANE,
    GEOM_SPHERE,
    TRN_JOINT,
    TRN_SITE,
    TRN_TENDON,
    WRAP_JOINT,
    ModelSpec,
)

# The integrators diffsim steps as MuJoCo does (see diffsim/kernels/integrate.py).
SIMULATED_INTEGRATORS = ("Euler", "RK4", "implicitfast")

__all__ = ["MJCFError", "compile_model", "parse_mjcf", "spec_from_mujoco"]


class MJCFError(ValueError):
    """A model that MuJoCo cannot compile, or whose compiled values diffsim cannot simulate."""


def require_mujoco():
    """Import and return ``mujoco``, with a clear error when it is missing."""
    try:
        import mujoco
    except ImportError as err:  # pragma: no cover - mujoco is a dependency of diffsim
        raise ImportError("diffsim compiles models with MuJoCo: pip install mujoco") from err
    return mujoco


# ------------------------------------------------------------------------------------ compile

_EXPECTED = "an MJCF or URDF file path, MJCF/URDF text, a mujoco.MjModel or a mujoco.MjSpec"


def compile_model(source):
    """Compile ``source`` with MuJoCo and return the ``mujoco.MjModel``.

    ``source``: a path (str or ``os.PathLike``) to an MJCF or URDF file, the XML text of
    one (str or UTF-8 bytes), a ``mujoco.MjSpec`` (compiled here) or a ``mujoco.MjModel``
    (returned as is). MuJoCo's compile errors are raised as :class:`MJCFError` with
    MuJoCo's message, which names the element and its line.
    """
    mujoco = require_mujoco()
    if isinstance(source, mujoco.MjModel):
        return source
    if isinstance(source, mujoco.MjSpec):
        try:
            return source.compile()
        except ValueError as err:
            raise MJCFError(f"MuJoCo cannot compile this MjSpec: {err}") from None
    if isinstance(source, (bytes, bytearray)):
        try:
            source = bytes(source).decode("utf-8")
        except UnicodeDecodeError as err:
            raise MJCFError(f"model text given as bytes is not UTF-8 ({err.reason} at byte {err.start})") from None
    if isinstance(source, str) and source.lstrip().startswith("<"):
        return _compile(lambda: mujoco.MjModel.from_xml_string(source), "the model text")
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if not os.path.isfile(path):
            shown = path if len(path) <= 80 else path[:77] + "..."
            raise MJCFError(f"expected {_EXPECTED}; {shown!r} is not XML text and no such file exists")
        _check_utf8(path)
        return _compile(lambda: mujoco.MjModel.from_xml_path(path), repr(path))
    raise MJCFError(f"expected {_EXPECTED}; got {type(source).__name__}")


def _compile(compile_fn, what: str):
    try:
        return compile_fn()
    except ValueError as err:
        raise MJCFError(f"MuJoCo cannot compile {what}: {str(err).strip()}") from None


def _check_utf8(path: str) -> None:
    with open(path, "rb") as file:
        data = file.read()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise MJCFError(f"{path!r} is not UTF-8 text: {err.reason} at line {line}") from None


def parse_mjcf(source) -> ModelSpec:
    """Compile ``source`` (see :func:`compile_model`) and return its ModelSpec."""
    return spec_from_mujoco(compile_model(source))


# --------------------------------------------------------------------------------- ModelSpec


def _rotation(q) -> list:
    """Rotation matrix of a quaternion (w, x, y, z), normalised first (MuJoCo's compiled frames
    are unit only to a few ulps), as nested lists of Python floats."""
    w, x, y, z = (float(v) for v in q)
    norm = math.sqrt(w * w + x * x + y * y + z * z)
    w, x, y, z = w / norm, x / norm, y / norm, z / norm
    return [
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ]


def _inertia_matrix(principal, iquat) -> np.ndarray:
    """``R diag(principal) R^T`` with ``R`` the rotation of ``iquat``, summed term by term in
    Python floats so that the result is the same on every CPU (no BLAS)."""
    R = _rotation(iquat)
    d = [float(v) for v in principal]
    return np.array([[sum((R[i][k] * R[j][k]) * d[k] for k in range(3)) for j in range(3)] for i in range(3)])


def _flag_names(enum, bits: int) -> frozenset:
    """The lower-case names of the set bits of a MuJoCo flag enum: {"gravity", "contact"}."""
    names = set()
    for i in range(31):
        if bits & (1 << i):
            try:
                names.add(enum(1 << i).name.split("_", 1)[1].lower())
            except ValueError:
                names.add(f"bit{i}")
    return frozenset(names)


def spec_from_mujoco(m) -> ModelSpec:
    """A ModelSpec holding the physics of a compiled ``mujoco.MjModel`` (copied, not shared)."""
    mujoco = require_mujoco()
    _check_finite(mujoco, m)

    def names(objtype, count):
        return [mujoco.mj_id2name(m, objtype, i) or "" for i in range(count)]

    def ints(a):
        return np.array(a, dtype=np.int32)

    def floats(a):
        return np.array(a, dtype=np.float64)

    nbody = m.nbody
    subtree_end = np.arange(1, nbody + 1, dtype=np.int32)
    for b in range(nbody - 1, 0, -1):
        parent = m.body_parentid[b]
        subtree_end[parent] = max(subtree_end[parent], subtree_end[b])
    parent = ints(m.body_parentid)
    parent[0] = -1
    disabled_groups = int(m.opt.disableactuator)
    spec = ModelSpec(
        timestep=float(m.opt.timestep),
        gravity=floats(m.opt.gravity),
        integrator=integrator_name(mujoco, m),
        disabled=_flag_names(mujoco.mjtDisableBit, int(m.opt.disableflags)),
        enabled=_flag_names(mujoco.mjtEnableBit, int(m.opt.enableflags)),
        density=float(m.opt.density),
        viscosity=float(m.opt.viscosity),
        wind=floats(m.opt.wind),
        iterations=int(m.opt.iterations),
        tolerance=float(m.opt.tolerance),
        ls_iterations=int(m.opt.ls_iterations),
        ls_tolerance=float(m.opt.ls_tolerance),
        cone="elliptic" if m.opt.cone == mujoco.mjtCone.mjCONE_ELLIPTIC else "pyramidal",
        impratio=float(m.opt.impratio),
        body_name=names(mujoco.mjtObj.mjOBJ_BODY, nbody),
        body_parent=parent,
        body_pos=floats(m.body_pos),
        body_quat=floats(m.body_quat),
        body_mass=floats(m.body_mass),
        body_ipos=floats(m.body_ipos),
        body_inertia=np.stack([_inertia_matrix(m.body_inertia[b], m.body_iquat[b]) for b in range(nbody)]),
        body_principal_inertia=floats(m.body_inertia),
        body_iquat=floats(m.body_iquat),
        body_weldid=ints(m.body_weldid),
        body_invweight0=floats(m.body_invweight0).reshape(-1, 2),
        body_gravcomp=floats(m.body_gravcomp),
        body_jntadr=ints(m.body_jntadr),
        body_jntnum=ints(m.body_jntnum),
        body_dofadr=ints(m.body_dofadr),
        body_dofnum=ints(m.body_dofnum),
        body_rootid=ints(m.body_rootid),
        body_subtree_end=subtree_end,
        jnt_name=names(mujoco.mjtObj.mjOBJ_JOINT, m.njnt),
        jnt_type=ints(m.jnt_type),
        jnt_body=ints(m.jnt_bodyid),
        jnt_qposadr=ints(m.jnt_qposadr),
        jnt_dofadr=ints(m.jnt_dofadr),
        jnt_pos=floats(m.jnt_pos),
        jnt_axis=floats(m.jnt_axis),
        jnt_limited=ints(m.jnt_limited),
        jnt_range=floats(m.jnt_range),
        jnt_stiffness=floats(m.jnt_stiffness),
        jnt_margin=floats(m.jnt_margin),
        jnt_solref=floats(m.jnt_solref).reshape(-1, 2),
        jnt_solimp=floats(m.jnt_solimp).reshape(-1, 5),
        jnt_actfrclimited=ints(m.jnt_actfrclimited),
        jnt_actfrcrange=floats(m.jnt_actfrcrange),
        jnt_actgravcomp=ints(m.jnt_actgravcomp),
        dof_body=ints(m.dof_bodyid),
        dof_jnt=ints(m.dof_jntid),
        dof_parent=ints(m.dof_parentid),
        dof_damping=floats(m.dof_damping),
        dof_armature=floats(m.dof_armature),
        dof_frictionloss=floats(m.dof_frictionloss),
        dof_solref=floats(m.dof_solref).reshape(-1, 2),
        dof_solimp=floats(m.dof_solimp).reshape(-1, 5),
        dof_invweight0=floats(m.dof_invweight0),
        qpos0=floats(m.qpos0),
        qpos_spring=floats(m.qpos_spring),
        site_name=names(mujoco.mjtObj.mjOBJ_SITE, m.nsite),
        site_body=ints(m.site_bodyid),
        site_pos=floats(m.site_pos),
        site_quat=floats(m.site_quat),
        tendon_name=names(mujoco.mjtObj.mjOBJ_TENDON, m.ntendon),
        tendon_adr=ints(m.tendon_adr),
        tendon_num=ints(m.tendon_num),
        tendon_stiffness=floats(m.tendon_stiffness),
        tendon_damping=floats(m.tendon_damping),
        tendon_lengthspring=floats(m.tendon_lengthspring).reshape(-1, 2),
        tendon_limited=ints(m.tendon_limited),
        tendon_range=floats(m.tendon_range).reshape(-1, 2),
        tendon_margin=floats(m.tendon_margin),
        tendon_frictionloss=floats(m.tendon_frictionloss),
        tendon_solref_lim=floats(m.tendon_solref_lim).reshape(-1, 2),
        tendon_solimp_lim=floats(m.tendon_solimp_lim).reshape(-1, 5),
        tendon_solref_fri=floats(m.tendon_solref_fri).reshape(-1, 2),
        tendon_solimp_fri=floats(m.tendon_solimp_fri).reshape(-1, 5),
        tendon_invweight0=floats(m.tendon_invweight0),
        wrap_type=ints(m.wrap_type),
        wrap_objid=ints(m.wrap_objid),
        wrap_prm=floats(m.wrap_prm),
        eq_name=names(mujoco.mjtObj.mjOBJ_EQUALITY, m.neq),
        eq_type=ints(m.eq_type),
        eq_objtype=ints(m.eq_objtype),
        eq_obj1id=ints(m.eq_obj1id),
        eq_obj2id=ints(m.eq_obj2id),
        eq_active0=ints(m.eq_active0),
        eq_solref=floats(m.eq_solref).reshape(-1, 2),
        eq_solimp=floats(m.eq_solimp).reshape(-1, 5),
        eq_data=floats(m.eq_data).reshape(-1, mujoco.mjNEQDATA),
        tendon_length0=floats(m.tendon_length0),
        actuator_name=names(mujoco.mjtObj.mjOBJ_ACTUATOR, m.nu),
        actuator_trntype=ints(m.actuator_trntype),
        actuator_trnid=ints(m.actuator_trnid).reshape(-1, 2),
        actuator_gear=floats(m.actuator_gear).reshape(-1, 6),
        actuator_dyntype=ints(m.actuator_dyntype),
        actuator_gaintype=ints(m.actuator_gaintype),
        actuator_biastype=ints(m.actuator_biastype),
        actuator_dynprm=floats(m.actuator_dynprm).reshape(-1, 10),
        actuator_gainprm=floats(m.actuator_gainprm).reshape(-1, 10),
        actuator_biasprm=floats(m.actuator_biasprm).reshape(-1, 10),
        actuator_actadr=ints(m.actuator_actadr),
        actuator_actnum=ints(m.actuator_actnum),
        actuator_actearly=ints(m.actuator_actearly),
        actuator_actlimited=ints(m.actuator_actlimited),
        actuator_actrange=floats(m.actuator_actrange).reshape(-1, 2),
        actuator_ctrllimited=ints(m.actuator_ctrllimited),
        actuator_ctrlrange=floats(m.actuator_ctrlrange).reshape(-1, 2),
        actuator_forcelimited=ints(m.actuator_forcelimited),
        actuator_forcerange=floats(m.actuator_forcerange).reshape(-1, 2),
        actuator_enabled=np.array(
            [not (disabled_groups >> int(g)) & 1 if 0 <= g < 31 else True for g in m.actuator_group], dtype=np.int32
        ),
        geom_name=names(mujoco.mjtObj.mjOBJ_GEOM, m.ngeom),
        geom_type=ints(m.geom_type),
        geom_body=ints(m.geom_bodyid),
        geom_pos=floats(m.geom_pos),
        geom_quat=floats(m.geom_quat),
        geom_size=floats(m.geom_size),
        geom_friction=floats(m.geom_friction),
        geom_contype=ints(m.geom_contype),
        geom_conaffinity=ints(m.geom_conaffinity),
        geom_rgba=floats(m.geom_rgba),
        geom_condim=ints(m.geom_condim),
        geom_priority=ints(m.geom_priority),
        geom_solmix=floats(m.geom_solmix),
        geom_solref=floats(m.geom_solref).reshape(-1, 2),
        geom_solimp=floats(m.geom_solimp).reshape(-1, 5),
        geom_margin=floats(m.geom_margin),
        geom_gap=floats(m.geom_gap),
        geom_rbound=floats(m.geom_rbound),
        geom_adhesion=floats(getattr(m, "geom_adhesion", np.zeros(m.ngeom))),
        pair_geom1=ints(m.pair_geom1),
        pair_geom2=ints(m.pair_geom2),
        pair_dim=ints(m.pair_dim),
        pair_friction=floats(m.pair_friction).reshape(-1, 5),
        pair_solref=floats(m.pair_solref).reshape(-1, 2),
        pair_solreffriction=floats(m.pair_solreffriction).reshape(-1, 2),
        pair_solimp=floats(m.pair_solimp).reshape(-1, 5),
        pair_margin=floats(m.pair_margin),
        pair_gap=floats(m.pair_gap),
        exclude_signature=ints(m.exclude_signature),
        model_name=bytes(m.names).split(b"\0", 1)[0].decode(errors="replace"),
    )
    spec.unsupported = unsupported_features(mujoco, m)
    return spec


# ------------------------------------------------------------------------------ validation

# Compiled fields whose NaN or inf would reach the simulation, by the element they belong to.
_FINITE_FIELDS = {
    "body": ("body_pos", "body_quat", "body_mass", "body_ipos", "body_inertia", "body_iquat", "body_gravcomp"),
    "joint": ("jnt_pos", "jnt_axis", "jnt_range", "jnt_stiffness", "jnt_actfrcrange", "jnt_margin", "qpos_spring"),
    "dof": ("dof_damping", "dof_armature", "dof_frictionloss", "dof_invweight0"),
    "geom": ("geom_pos", "geom_quat", "geom_size", "geom_friction"),
    "site": ("site_pos", "site_quat"),
    "tendon": ("tendon_stiffness", "tendon_damping", "tendon_lengthspring"),
    "actuator": (
        "actuator_gear",
        "actuator_dynprm",
        "actuator_gainprm",
        "actuator_biasprm",
        "actuator_ctrlrange",
        "actuator_forcerange",
        "actuator_actrange",
    ),
}


def _check_finite(mujoco, m) -> None:
    """MuJoCo compiles some values it cannot simulate (``timestep="inf"``, ``ctrlrange="nan 1"``);
    refuse them here, naming the element."""
    timestep = float(m.opt.timestep)
    if not (math.isfinite(timestep) and timestep > 0):
        raise MJCFError(f"<option timestep> must be a finite number > 0, got {timestep}")
    for option in ("gravity", "wind", "density", "viscosity"):
        value = np.asarray(getattr(m.opt, option))
        if not np.all(np.isfinite(value)):
            raise MJCFError(f"<option {option}> must be finite, got {value.tolist()}")
    objtypes = {
        "body": mujoco.mjtObj.mjOBJ_BODY,
        "joint": mujoco.mjtObj.mjOBJ_JOINT,
        "dof": mujoco.mjtObj.mjOBJ_JOINT,
        "geom": mujoco.mjtObj.mjOBJ_GEOM,
        "site": mujoco.mjtObj.mjOBJ_SITE,
        "tendon": mujoco.mjtObj.mjOBJ_TENDON,
        "actuator": mujoco.mjtObj.mjOBJ_ACTUATOR,
    }
    for kind, fields in _FINITE_FIELDS.items():
        for name in fields:
            values = np.asarray(getattr(m, name))
            if values.size == 0:
                continue
            bad = ~np.isfinite(values.reshape(len(values), -1)).all(axis=1)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                element, index = kind, i
                if kind == "dof":
                    element, index = "joint", int(m.dof_jntid[i])
                elif name == "qpos_spring":
                    element, index = "joint", int(np.searchsorted(m.jnt_qposadr, i, side="right") - 1)
                label = mujoco.mj_id2name(m, objtypes[kind], index) or ""
                attribute = name.split("_", 1)[1]
                raise MJCFError(
                    f"{element} {index}{f' {label!r}' if label else ''}: {attribute} must be finite, "
                    f"got {values[i].tolist()}"
                )


# -------------------------------------------------------------------------- unsupported


def _rows(values, count: int) -> np.ndarray:
    """``values`` as ``count`` rows (an empty field gives zero-width rows)."""
    values = np.asarray(values)
    return values.reshape(count, -1) if values.size else np.zeros((count, 0))


def _described(mujoco, m, objtype, kind: str, ids) -> list:
    """``["joint 'hip'", "joint 3", ...]`` for element ids."""
    out = []
    for i in ids:
        name = mujoco.mj_id2name(m, objtype, int(i))
        out.append(f"{kind} {name!r}" if name else f"{kind} {int(i)}")
    return out


def unsupported_features(mujoco, m) -> dict:
    """What MuJoCo compiled into ``m`` that diffsim does not simulate: ``{feature: [elements]}``.

    Features switched off by the model's own flags are not listed (a disabled equality
    constraint is already not simulated by MuJoCo either).
    """
    obj = mujoco.mjtObj
    disabled = int(m.opt.disableflags)

    def off(bit) -> bool:
        return bool(disabled & int(bit))

    D = mujoco.mjtDisableBit
    constraints_off = off(D.mjDSBL_CONSTRAINT)
    found = {}

    def add(feature, elements):
        elements = list(elements)
        if elements:
            found[feature] = elements

    # constraints beyond the smoothed contact and penalty joint limits (issue: MuJoCo's constraints)
    if not (constraints_off or off(D.mjDSBL_EQUALITY)):
        add("equality constraints", _described(mujoco, m, obj.mjOBJ_EQUALITY, "equality", range(m.neq)))
    if not (constraints_off or off(D.mjDSBL_FRICTIONLOSS)):
        joints = sorted({int(m.dof_jntid[k]) for k in np.flatnonzero(m.dof_frictionloss > 0)})
        add("joint friction loss", _described(mujoco, m, obj.mjOBJ_JOINT, "joint", joints))
        add(
            "tendon friction loss",
            _described(mujoco, m, obj.mjOBJ_TENDON, "tendon", np.flatnonzero(m.tendon_frictionloss > 0)),
        )
    if not (constraints_off or off(D.mjDSBL_LIMIT)):
        add("tendon limits", _described(mujoco, m, obj.mjOBJ_TENDON, "tendon", np.flatnonzero(m.tendon_limited)))
    # the constraint solver: diffsim runs MuJoCo's Newton solver per island, without noslip
    if not constraints_off:
        S = mujoco.mjtSolver
        if int(m.opt.solver) != int(S.mjSOL_NEWTON):
            name = S(int(m.opt.solver)).name[len("mjSOL_") :]
            add("constraint solvers other than Newton (solved with Newton)", [f"option solver {name}"])
        if m.opt.noslip_iterations > 0:
            add("the noslip solver", [f"option noslip_iterations {m.opt.noslip_iterations}"])
        if off(D.mjDSBL_ISLAND):
            add("one constraint problem for all trees (solved per island)", ["flag island disable"])
    contact_on = not (constraints_off or off(D.mjDSBL_CONTACT))
    if contact_on:
        add("explicit contact pairs (<contact><pair>)", [f"pair {i}" for i in range(m.npair)])
        add("contact exclusions (<contact><exclude>)", [f"exclude {i}" for i in range(m.nexclude)])
        collides = (m.geom_contype != 0) | (m.geom_conaffinity != 0)
        primitive = np.isin(
            m.geom_type, [GEOM_PLANE, GEOM_SPHERE, GEOM_CAPSULE, GEOM_ELLIPSOID, GEOM_CYLINDER, GEOM_BOX]
        )
        add(
            "mesh, height-field and SDF collision",
            _described(mujoco, m, obj.mjOBJ_GEOM, "geom", np.flatnonzero(collides & ~primitive)),
        )

    # tendons: fixed tendons are simulated; spatial ones (through sites, around geoms) are not
    spatial = [
        t
        for t in range(m.ntendon)
        if np.any(m.wrap_type[m.tendon_adr[t] : m.tendon_adr[t] + m.tendon_num[t]] != WRAP_JOINT)
    ]
    add("spatial tendons", _described(mujoco, m, obj.mjOBJ_TENDON, "tendon", spatial))

    def add_nonzero(fields, count, objtype, kind):
        """Each feature whose field (absent in older MuJoCo: none) is nonzero for some element."""
        for field_name, feature in fields:
            used = np.flatnonzero(np.any(_rows(getattr(m, field_name, ()), count) != 0, axis=1))
            add(feature, _described(mujoco, m, objtype, kind, used))

    add_nonzero(
        [
            ("jnt_stiffnesspoly", "nonlinear joint springs (stiffnesspoly)"),
            ("jnt_springyield", "plastic joint springs (springyield)"),
        ],
        m.njnt,
        obj.mjOBJ_JOINT,
        "joint",
    )
    values = _rows(getattr(m, "dof_dampingpoly", ()), m.nv)
    joints = sorted({int(m.dof_jntid[k]) for k in np.flatnonzero(np.any(values != 0, axis=1))})
    add("nonlinear joint dampers (dampingpoly)", _described(mujoco, m, obj.mjOBJ_JOINT, "joint", joints))
    add_nonzero(
        [
            ("tendon_springyield", "plastic tendon springs (springyield)"),
            ("tendon_armature", "tendon armature"),
            ("tendon_stiffnesspoly", "nonlinear tendon springs (stiffnesspoly)"),
            ("tendon_dampingpoly", "nonlinear tendon dampers (dampingpoly)"),
        ],
        m.ntendon,
        obj.mjOBJ_TENDON,
        "tendon",
    )
    add(
        "tendon actuator-force limits (actuatorfrcrange)",
        _described(mujoco, m, obj.mjOBJ_TENDON, "tendon", np.flatnonzero(m.tendon_actfrclimited)),
    )

    # actuators
    supported = {
        "trntype": (TRN_JOINT, TRN_TENDON, TRN_SITE),
        "dyntype": (DYN_NONE, DYN_INTEGRATOR, DYN_FILTER, DYN_FILTEREXACT),
        "gaintype": (GAIN_FIXED, GAIN_AFFINE),
        "biastype": (BIAS_NONE, BIAS_AFFINE),
    }
    enums = {"trntype": mujoco.mjtTrn, "dyntype": mujoco.mjtDyn, "gaintype": mujoco.mjtGain, "biastype": mujoco.mjtBias}
    for attr, ok in supported.items():
        values = np.asarray(getattr(m, f"actuator_{attr}"))
        for value in sorted(set(values.tolist()) - set(ok)):
            label = enums[attr](value).name.split("_", 1)[1].lower()
            ids = np.flatnonzero(values == value)
            add(f"actuator {attr} {label}", _described(mujoco, m, obj.mjOBJ_ACTUATOR, "actuator", ids))
    on_spatial = [u for u in range(m.nu) if m.actuator_trntype[u] == TRN_TENDON and m.actuator_trnid[u, 0] in spatial]
    add("actuators on spatial tendons", _described(mujoco, m, obj.mjOBJ_ACTUATOR, "actuator", on_spatial))
    add_nonzero(
        [
            ("actuator_damping", "actuator damping"),
            ("actuator_armature", "actuator armature"),
            ("actuator_delay", "actuator delay"),
            ("actuator_dampingpoly", "nonlinear actuator damping (dampingpoly)"),
        ],
        m.nu,
        obj.mjOBJ_ACTUATOR,
        "actuator",
    )
    add(
        "actuators with several activation states",
        _described(mujoco, m, obj.mjOBJ_ACTUATOR, "actuator", np.flatnonzero(m.actuator_actnum > 1)),
    )

    # passive forces not simulated yet (the inertia-box fluid model is; the ellipsoid one not)
    if not off(D.mjDSBL_SPRING) or not off(D.mjDSBL_DAMPER):
        fluid_geoms = np.flatnonzero(_rows(m.geom_fluid, m.ngeom)[:, :1].sum(axis=1) > 0)
        add("ellipsoid fluid model (geom fluidshape)", _described(mujoco, m, obj.mjOBJ_GEOM, "geom", fluid_geoms))

    # options and everything else
    if integrator_name(mujoco, m) not in SIMULATED_INTEGRATORS:
        add("integrator", [f"integrator {integrator_name(mujoco, m)}"])
    E = mujoco.mjtEnableBit
    harmless = int(E.mjENBL_ENERGY) | int(E.mjENBL_FWDINV) | int(E.mjENBL_INVDISCRETE)
    enabled = int(m.opt.enableflags) & ~harmless
    add("enabled options", [E(1 << i).name[len("mjENBL_") :].lower() for i in range(31) if enabled & (1 << i)])
    for count, feature in (("nflex", "flexes (deformable bodies)"), ("nplugin", "engine plugins")):
        add(feature, [f"{count[1:]} {i}" for i in range(int(getattr(m, count, 0)))])
    return found


def integrator_name(mujoco, m) -> str:
    """MuJoCo's name of the model's integrator, as written in <option integrator>."""
    I = mujoco.mjtIntegrator
    names = {
        I.mjINT_EULER: "Euler",
        I.mjINT_RK4: "RK4",
        I.mjINT_IMPLICIT: "implicit",
        I.mjINT_IMPLICITFAST: "implicitfast",
    }
    value = int(m.opt.integrator)
    return names.get(value) or I(value).name[len("mjINT_") :].lower()


def describe_unsupported(unsupported: dict, model_name: str = "") -> str:
    """The one warning a load gives: every unsupported feature with its count and elements."""
    lines = [
        f"diffsim does not simulate these parts of {'model ' + repr(model_name) if model_name else 'this model'} yet; they are ignored:"
    ]
    for feature, elements in unsupported.items():
        shown = ", ".join(elements[:8]) + (f", ... ({len(elements) - 8} more)" if len(elements) > 8 else "")
        lines.append(f"  {feature} ({len(elements)}): {shown}")
    lines.append("(model.unsupported lists them; see the support table in the documentation)")
    return "\n".join(lines)
