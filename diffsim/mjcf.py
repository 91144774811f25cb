"""MJCF importer: parse a MuJoCo XML model into a :class:`~diffsim.spec.ModelSpec`.

Only the subset of MJCF that diffsim simulates is compiled (rigid bodies with
free/ball/hinge/slide joints, primitive geoms, motors on hinge/slide joints), and
it is compiled the way MuJoCo compiles it, so that indices and conventions carry
over one to one (see ``spec.py``).  Physics that diffsim does not simulate
(tendons, equality constraints, other actuator kinds, ...) is skipped with one
``warnings.warn`` per element kind; purely visual elements are skipped silently.

Pure Python + numpy: no Warp, torch or MuJoCo needed.  Public API:

* :func:`parse_mjcf` -- path or XML string -> ModelSpec
* :class:`MJCFError` -- raised for every import error (malformed XML, bad values,
  unsupported structure); its message names the element and its line.
"""

from __future__ import annotations

import math
import os
import warnings
import xml.parsers.expat
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from .spec import (
    GEOM_BOX,
    GEOM_CAPSULE,
    GEOM_CYLINDER,
    GEOM_ELLIPSOID,
    GEOM_PLANE,
    GEOM_SPHERE,
    JOINT_BALL,
    JOINT_FREE,
    JOINT_HINGE,
    JOINT_NQ,
    JOINT_NV,
    JOINT_SLIDE,
    ModelSpec,
)

__all__ = ["parse_mjcf", "MJCFError"]

# MuJoCo's smallest admissible mass / principal inertia of a moving body (mjMINVAL).
_MINVAL = 1e-15

_JOINT_TYPES = {"free": JOINT_FREE, "ball": JOINT_BALL, "slide": JOINT_SLIDE, "hinge": JOINT_HINGE}
_GEOM_TYPES = {
    "plane": GEOM_PLANE,
    "sphere": GEOM_SPHERE,
    "capsule": GEOM_CAPSULE,
    "ellipsoid": GEOM_ELLIPSOID,
    "cylinder": GEOM_CYLINDER,
    "box": GEOM_BOX,
}
_SKIPPED_GEOM_TYPES = ("mesh", "hfield", "sdf")
_ORIENTATION_KEYS = ("quat", "axisangle", "euler", "xyaxes", "zaxis")

# Actuator shortcuts MuJoCo knows; only <motor> and plain <general> are compiled.
_ACTUATOR_KINDS = (
    "motor",
    "general",
    "position",
    "velocity",
    "intvelocity",
    "damper",
    "cylinder",
    "muscle",
    "adhesion",
    "plugin",
)

# Elements skipped without a warning: they do not change the dynamics.
_SILENT_TOP = {"size", "visual", "statistic", "custom", "extension", "asset", "sensor", "keyframe"}
_SILENT_IN_BODY = {"site", "camera", "light"}
_SILENT_IN_DEFAULT = {"site", "camera", "light", "pair", "equality", "tendon", "mesh", "material", "flex"}

# Elements that carry physics diffsim does not simulate: warn once per kind.
_UNSUPPORTED_REASON = {
    "tendon": "tendons are not simulated",
    "equality": "equality constraints are not simulated",
    "contact": "explicit contact pairs/excludes are not simulated",
    "deformable": "deformable objects are not simulated",
    "composite": "composite objects are not simulated",
    "flexcomp": "flex objects are not simulated",
    "plugin": "plugins are not supported",
    "attach": "model attachment is not supported",
    "replicate": "replicate is not supported; expand it by hand",
}


class MJCFError(ValueError):
    """An MJCF model could not be imported; the message names the element and line."""


# =====================================================================================
# XML with line numbers
# =====================================================================================


@dataclass
class _Element:
    """A parsed XML element that remembers where it came from."""

    tag: str
    attrib: dict
    line: int
    column: int
    file: str  # file name or "<string>"
    children: list = field(default_factory=list)

    def where(self) -> str:
        """'<tag> (line N)' or '<tag> (file.xml line N)' for error messages."""
        loc = f"line {self.line}" if self.file == "<string>" else f"{os.path.basename(self.file)} line {self.line}"
        name = self.attrib.get("name")
        return f"<{self.tag}{' name=' + repr(name) if name else ''}> ({loc})"


def _length(v) -> float:
    """Euclidean length summed left to right in Python floats, as MuJoCo's mju_norm does.

    ``np.linalg.norm`` of a vector is a BLAS dot product, whose kernel (and so its last
    bit) depends on the CPU; the compiled model must be the same on every machine
    (docs/results/validation.md, "The same model on every CPU").
    """
    return math.sqrt(sum(float(x) * float(x) for x in v))


def _parse_xml_text(text: str, filename: str) -> _Element:
    """Parse XML text into an _Element tree (expat records line/column of each start tag)."""
    parser = xml.parsers.expat.ParserCreate()
    stack: list = []
    roots: list = []

    def start(tag, attrib):
        el = _Element(tag, dict(attrib), parser.CurrentLineNumber, parser.CurrentColumnNumber + 1, filename)
        (stack[-1].children if stack else roots).append(el)
        stack.append(el)

    def end(tag):
        stack.pop()

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        parser.Parse(text, True)
    except xml.parsers.expat.ExpatError as exc:
        raise MJCFError(
            f"malformed XML in {filename}: {xml.parsers.expat.ErrorString(exc.code)} "
            f"at line {exc.lineno}, column {exc.offset + 1}"
        ) from None
    return roots[0]


def _read_file(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as exc:
        raise MJCFError(f"cannot read MJCF file {path!r}: {exc}") from None


def _load_source(source) -> tuple:
    """Return (root _Element, directory that <include file> paths are relative to)."""
    if isinstance(source, str) and source.lstrip().startswith("<"):
        return _parse_xml_text(source, "<string>"), os.getcwd()
    path = os.fspath(source)
    return _parse_xml_text(_read_file(path), path), os.path.dirname(os.path.abspath(path))


def _expand_includes(el: _Element, base_dir: str, depth: int = 0) -> None:
    """Replace every <include file="..."/> by the children of the included file's root."""
    if depth > 20:
        raise MJCFError(f"{el.where()}: <include> nested too deeply (recursive include?)")
    expanded = []
    for child in el.children:
        if child.tag == "include":
            if "file" not in child.attrib:
                raise MJCFError(f"{child.where()}: missing attribute 'file'")
            path = os.path.join(base_dir, child.attrib["file"])
            included = _parse_xml_text(_read_file(path), path)
            _expand_includes(included, os.path.dirname(os.path.abspath(path)), depth + 1)
            expanded.extend(included.children)
        else:
            _expand_includes(child, base_dir, depth)
            expanded.append(child)
    el.children = expanded


# =====================================================================================
# attribute values
# =====================================================================================


def _numbers(el: _Element, name: str, text: str) -> np.ndarray:
    """Whitespace-separated numbers of attribute ``name`` as float64."""
    try:
        return np.array([float(t) for t in text.split()], dtype=np.float64)
    except ValueError:
        raise MJCFError(f"{el.where()}: attribute {name}={text!r} is not a list of numbers") from None


class _Attrs:
    """Attribute lookup through a chain of default-class dicts and the element itself.

    ``levels`` runs from the outermost default class to the element, each entry a
    ``(attrib dict, element that wrote it)`` pair, so that error messages can name
    the default element that holds a bad value.
    """

    def __init__(self, el: _Element, default_levels: list):
        self.el = el
        self.levels = list(default_levels) + [(el.attrib, el)]

    def has(self, name: str) -> bool:
        return any(name in a for a, _ in self.levels)

    def raw(self, name: str):
        """(text, element) of the most specific level that sets ``name``, or (None, None)."""
        for attrib, owner in reversed(self.levels):
            if name in attrib:
                return attrib[name], owner
        return None, None

    def text(self, name: str, default: Optional[str] = None) -> Optional[str]:
        text, _ = self.raw(name)
        return default if text is None else text.strip()

    def choice(self, name: str, options, default: str) -> str:
        text, owner = self.raw(name)
        if text is None:
            return default
        if text.strip() not in options:
            raise MJCFError(f"{owner.where()}: {name}={text!r} must be one of {sorted(options)}")
        return text.strip()

    def flag(self, name: str, default: bool) -> bool:
        return {"true": True, "false": False}[self.choice(name, ("true", "false"), "true" if default else "false")]

    def vec(self, name: str, n: int, default=None) -> Optional[np.ndarray]:
        """Exactly ``n`` numbers (the most specific level wins), or ``default``."""
        text, owner = self.raw(name)
        if text is None:
            return None if default is None else np.array(default, dtype=np.float64)
        v = _numbers(owner, name, text)
        if len(v) != n:
            raise MJCFError(f"{owner.where()}: attribute {name}={text!r} needs {n} number{'s' * (n > 1)}, got {len(v)}")
        return v

    def number(self, name: str, default: float) -> float:
        v = self.vec(name, 1)
        return default if v is None else float(v[0])

    def integer(self, name: str, default: int) -> int:
        v = self.number(name, default)
        if v != int(v):
            _, owner = self.raw(name)
            raise MJCFError(f"{owner.where()}: attribute {name} must be an integer, got {v}")
        return int(v)

    def partial_vec(self, name: str, default) -> np.ndarray:
        """Up to len(default) numbers overlaid from the front, level by level (MuJoCo's size/friction/gear)."""
        out = np.array(default, dtype=np.float64)
        for attrib, owner in self.levels:
            if name in attrib:
                v = _numbers(owner, name, attrib[name])
                if not 1 <= len(v) <= len(out):
                    raise MJCFError(
                        f"{owner.where()}: attribute {name}={attrib[name]!r} needs 1 to "
                        f"{len(out)} numbers, got {len(v)}"
                    )
                out[: len(v)] = v
        return out


# =====================================================================================
# rotations (quaternions are w, x, y, z)
# =====================================================================================


def _quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product a*b (rotation b first, then a)."""
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    return np.array(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ]
    )


def _quat_to_mat(q: np.ndarray) -> np.ndarray:
    """(3, 3) rotation matrix of a unit quaternion."""
    w, x, y, z = q
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def _mat_to_quat(m: np.ndarray) -> np.ndarray:
    """Unit quaternion of a (3, 3) rotation matrix (Shepperd's method, numerically safe)."""
    tr = np.trace(m)
    if tr > 0:
        s = 2.0 * np.sqrt(1.0 + tr)
        q = [0.25 * s, (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s]
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = 2.0 * np.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2])
        q = [(m[2, 1] - m[1, 2]) / s, 0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s]
    elif m[1, 1] > m[2, 2]:
        s = 2.0 * np.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2])
        q = [(m[0, 2] - m[2, 0]) / s, (m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s]
    else:
        s = 2.0 * np.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1])
        q = [(m[1, 0] - m[0, 1]) / s, (m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s]
    q = np.array(q)
    return q / _length(q)


def _axis_angle_quat(axis: np.ndarray, angle: float) -> np.ndarray:
    """Quaternion rotating by ``angle`` (rad) about the unit vector ``axis``."""
    return np.concatenate([[np.cos(angle / 2)], np.sin(angle / 2) * axis])


def _z_to_vec_quat(vec: np.ndarray) -> np.ndarray:
    """MuJoCo's minimal rotation taking +z onto unit vector ``vec``.

    The axis is z x vec; when vec is (anti)parallel to z the axis falls back to +x,
    so -z gives a half-turn about x (as MuJoCo does).
    """
    axis = np.cross([0.0, 0.0, 1.0], vec)
    s = _length(axis)
    axis = np.array([1.0, 0.0, 0.0]) if s < 1e-10 else axis / s
    return _axis_angle_quat(axis, np.arctan2(s, vec[2]))


def _euler_quat(angles: np.ndarray, seq: str) -> np.ndarray:
    """Quaternion of Euler angles (rad). Lowercase axes rotate about the moving
    (intrinsic) frame -> post-multiply; uppercase about the fixed frame -> pre-multiply."""
    q = np.array([1.0, 0.0, 0.0, 0.0])
    for angle, ax in zip(angles, seq):
        r = _axis_angle_quat(np.eye(3)["xyz".index(ax.lower())], angle)
        q = _quat_mul(q, r) if ax.islower() else _quat_mul(r, q)
    return q


# =====================================================================================
# geom mass properties
# =====================================================================================


def _geom_volume_inertia(gtype: int, size: np.ndarray) -> tuple:
    """(volume m^3, (3,) principal inertia per unit density m^5) about the geom centre, geom axes.

    Formulas as MuJoCo: the capsule is a cylinder of height 2*size[1] plus two
    hemispheres whose inertia is shifted to the capsule centre *exactly* (each
    hemisphere's COM sits 3r/8 beyond the cylinder end), which gives the term
    m_sph * (h^2/4 + 3 h r / 8) with h the cylinder height.
    """
    if gtype == GEOM_SPHERE:
        r = size[0]
        v = 4.0 / 3.0 * np.pi * r**3
        return v, np.full(3, 0.4 * v * r * r)
    if gtype == GEOM_CAPSULE:
        r, h = size[0], 2.0 * size[1]
        v_cyl, v_sph = np.pi * r * r * h, 4.0 / 3.0 * np.pi * r**3
        i_sph = 0.4 * v_sph * r * r
        ixx = v_cyl * (3 * r * r + h * h) / 12.0 + i_sph + v_sph * (h * h / 4.0 + 3.0 * h * r / 8.0)
        izz = v_cyl * r * r / 2.0 + i_sph
        return v_cyl + v_sph, np.array([ixx, ixx, izz])
    if gtype == GEOM_CYLINDER:
        r, h = size[0], 2.0 * size[1]
        v = np.pi * r * r * h
        ixx = v * (3 * r * r + h * h) / 12.0
        return v, np.array([ixx, ixx, v * r * r / 2.0])
    if gtype == GEOM_BOX:
        a, b, c = size
        v = 8.0 * a * b * c
        return v, v / 3.0 * np.array([b * b + c * c, a * a + c * c, a * a + b * b])
    if gtype == GEOM_ELLIPSOID:
        a, b, c = size
        v = 4.0 / 3.0 * np.pi * a * b * c
        return v, v / 5.0 * np.array([b * b + c * c, a * a + c * c, a * a + b * b])
    return 0.0, np.zeros(3)  # plane: no volume


def _combine_masses(parts: list) -> tuple:
    """Combine point-free rigid parts into one body.

    parts: list of (mass kg, (3,) COM in body frame, (3, 3) inertia about own COM in body axes).
    Returns (mass, (3,) COM, (3, 3) inertia about the combined COM, body axes).
    """
    mass = sum(m for m, _, _ in parts)
    if mass <= 0:
        return 0.0, np.zeros(3), np.zeros((3, 3))
    com = sum(m * c for m, c, _ in parts) / mass
    inertia = np.zeros((3, 3))
    for m, c, i in parts:
        d = c - com  # parallel-axis shift to the combined COM
        inertia += i + m * (d @ d * np.eye(3) - np.outer(d, d))
    return mass, com, inertia


# =====================================================================================
# compiler settings and default classes
# =====================================================================================


@dataclass
class _Compiler:
    degree: bool = True  # angle="degree" (MuJoCo's default)
    eulerseq: str = "xyz"
    inertiafromgeom: str = "auto"  # "auto" | "true" | "false"
    inertiagrouprange: tuple = (0, 5)  # geoms in these groups contribute mass
    settotalmass: float = -1.0
    autolimits: bool = True

    def angle(self, v):
        """Convert an MJCF angle (scalar or array) to radians."""
        return np.deg2rad(v) if self.degree else v


def _read_compiler(elements: list) -> _Compiler:
    """Read every <compiler> element (later ones override earlier attributes)."""
    c = _Compiler()
    for el in elements:
        a = _Attrs(el, [])
        c.degree = a.choice("angle", ("degree", "radian"), "degree" if c.degree else "radian") == "degree"
        if a.choice("coordinate", ("local", "global"), "local") == "global":
            raise MJCFError(f"{el.where()}: coordinate='global' is not supported (MuJoCo removed it too)")
        seq = a.text("eulerseq", c.eulerseq)
        if len(seq) != 3 or any(ch not in "xyzXYZ" for ch in seq):
            raise MJCFError(f"{el.where()}: eulerseq={seq!r} must be three of xyzXYZ")
        c.eulerseq = seq
        c.inertiafromgeom = a.choice("inertiafromgeom", ("auto", "true", "false"), c.inertiafromgeom)
        rng = a.vec("inertiagrouprange", 2)
        if rng is not None:
            c.inertiagrouprange = (int(rng[0]), int(rng[1]))
        c.settotalmass = a.number("settotalmass", c.settotalmass)
        c.autolimits = a.flag("autolimits", c.autolimits)
    return c


@dataclass
class _DefaultClass:
    """One <default> class: per element kind, the chain of attribute dicts from the root class."""

    name: str
    levels: dict  # kind ("joint"|"geom"|"actuator") -> [(attrib, element)]


class _Defaults:
    """All default classes of a model, built from the (top-level) <default> elements."""

    KINDS = ("joint", "geom", "actuator")

    def __init__(self, default_elements: list, warn):
        root = _DefaultClass("main", {k: [] for k in self.KINDS})
        self.classes = {"main": root}
        for el in default_elements:
            cls = el.attrib.get("class", "main")
            if cls != "main":
                raise MJCFError(f"{el.where()}: the top-level <default> must be class 'main' (or have no class)")
            self._read(el, root, warn)

    def _read(self, el: _Element, cls: _DefaultClass, warn) -> None:
        for child in el.children:
            if child.tag == "default":
                name = child.attrib.get("class")
                if not name:
                    raise MJCFError(f"{child.where()}: a nested <default> needs a class name")
                if name in self.classes:
                    raise MJCFError(f"{child.where()}: repeated default class {name!r}")
                # a nested class starts from everything its parent class has set
                sub = _DefaultClass(name, {k: list(v) for k, v in cls.levels.items()})
                self.classes[name] = sub
                self._read(child, sub, warn)
            elif child.tag in ("joint", "geom"):
                cls.levels[child.tag].append((child.attrib, child))
            elif child.tag in _ACTUATOR_KINDS:
                # MuJoCo keeps one actuator default per class that every shortcut writes
                cls.levels["actuator"].append((child.attrib, child))
            elif child.tag in _SILENT_IN_DEFAULT:
                pass
            else:
                warn(child, "unrecognised element inside <default>")

    def attrs(self, el: _Element, kind: str, childclass: Optional[str]) -> _Attrs:
        """Attributes of ``el`` resolved through its class (explicit class= beats childclass)."""
        name = el.attrib.get("class", childclass or "main")
        if name not in self.classes:
            raise MJCFError(f"{el.where()}: unknown default class {name!r}")
        return _Attrs(el, self.classes[name].levels[kind])


# =====================================================================================
# the model being built
# =====================================================================================


@dataclass
class _Joint:
    name: str
    type: int
    pos: np.ndarray
    axis: np.ndarray
    limited: bool
    range: np.ndarray
    stiffness: float
    ref: float
    springref: float
    damping: float
    armature: float
    frictionloss: float


@dataclass
class _Geom:
    name: str
    type: int
    pos: np.ndarray
    quat: np.ndarray
    size: np.ndarray
    friction: np.ndarray
    contype: int
    conaffinity: int
    rgba: np.ndarray
    mass: float  # kg (0 when it does not count towards body mass)
    inertia: np.ndarray  # (3, 3) about geom centre, body axes


@dataclass
class _Body:
    name: str
    parent: int
    pos: np.ndarray
    quat: np.ndarray
    element: _Element
    joints: list = field(default_factory=list)
    geoms: list = field(default_factory=list)
    inertial: Optional[tuple] = None  # (mass, (3,) ipos, (3, 3) inertia) from <inertial>


@dataclass
class _Actuator:
    name: str
    joint: int
    gear: float
    ctrllimited: bool
    ctrlrange: np.ndarray
    forcelimited: bool
    forcerange: np.ndarray


def _auto_limited(a: _Attrs, flag: str, rng_name: str, autolimits: bool, default_range=(0.0, 0.0)):
    """Resolve MuJoCo's limited="auto"/"true"/"false" for (limited flag, range).

    With autolimits, "auto" means limited iff a valid range (lo < hi) is given -- which is
    what MuJoCo 4 does; without autolimits a range without an explicit flag is an error.
    Returns (limited: bool, range: (2,) array).
    """
    rng = a.vec(rng_name, 2, default_range)
    mode = a.choice(flag, ("auto", "true", "false"), "auto")
    if mode == "auto":
        if not autolimits:
            if a.has(rng_name):
                raise MJCFError(
                    f"{a.el.where()}: has '{rng_name}' but not '{flag}'; set compiler "
                    f"autolimits='true' or give '{flag}' explicitly"
                )
            return False, rng
        return bool(rng[0] < rng[1]), rng
    limited = mode == "true"
    if limited and not rng[0] < rng[1]:
        raise MJCFError(f"{a.el.where()}: {rng_name}[0] must be smaller than {rng_name}[1]")
    return limited, rng


class _Builder:
    """Walks a <mujoco> tree and collects bodies, joints, geoms and actuators."""

    def __init__(self, root: _Element):
        self._warned: set = set()
        sections = {}
        for child in root.children:
            sections.setdefault(child.tag, []).append(child)
        self.compiler = _read_compiler(sections.get("compiler", []))
        self.defaults = _Defaults(sections.get("default", []), self._warn_once)
        self.spec = ModelSpec()
        for el in sections.get("option", []):
            self._read_option(el)
        self.bodies = [_Body("world", -1, np.zeros(3), np.array([1.0, 0, 0, 0]), root)]
        for wb in sections.get("worldbody", []):
            self._walk(wb, 0, np.zeros(3), np.array([1.0, 0, 0, 0]), None)
        self.actuators: list = []
        for act in sections.get("actuator", []):
            self._read_actuators(act)
        for tag, els in sections.items():
            if tag in ("compiler", "default", "option", "worldbody", "actuator") or tag in _SILENT_TOP:
                continue
            self._warn_once(els[0], _UNSUPPORTED_REASON.get(tag, "unrecognised element"))

    # ----------------------------------------------------------------------------- helpers
    def _warn_once(self, el: _Element, reason: str, kind: Optional[str] = None) -> None:
        """Warn about an ignored element, once per element kind per model."""
        kind = kind or el.tag
        if kind not in self._warned:
            self._warned.add(kind)
            warnings.warn(f"diffsim ignores {el.where()}: {reason}", stacklevel=4)

    def _orientation(self, a: _Attrs) -> np.ndarray:
        """Unit quaternion from whichever of quat/axisangle/euler/xyaxes/zaxis is given."""
        given = [k for k in _ORIENTATION_KEYS if k in a.el.attrib]
        if not given:  # fall back to a default class's orientation
            given = [k for k in _ORIENTATION_KEYS if a.has(k)][-1:]
        if len(given) > 1:
            raise MJCFError(f"{a.el.where()}: at most one of {', '.join(given)} may be given")
        if not given:
            return np.array([1.0, 0.0, 0.0, 0.0])
        key = given[0]
        if key == "quat":
            q = a.vec("quat", 4)
            return q / self._norm(a, q, key)
        if key == "axisangle":
            v = a.vec("axisangle", 4)
            return _axis_angle_quat(v[:3] / self._norm(a, v[:3], key), self.compiler.angle(v[3]))
        if key == "euler":
            return _euler_quat(self.compiler.angle(a.vec("euler", 3)), self.compiler.eulerseq)
        if key == "xyaxes":
            v = a.vec("xyaxes", 6)
            x = v[:3] / self._norm(a, v[:3], key)
            y = v[3:] - (v[3:] @ x) * x  # Gram-Schmidt: y orthogonal to x
            y = y / self._norm(a, y, key)
            return _mat_to_quat(np.column_stack([x, y, np.cross(x, y)]))
        v = a.vec("zaxis", 3)
        return _z_to_vec_quat(v / self._norm(a, v, key))

    @staticmethod
    def _norm(a: _Attrs, v: np.ndarray, name: str) -> float:
        n = _length(v)
        if n < 1e-10:
            raise MJCFError(f"{a.el.where()}: attribute {name} has a zero-length vector/quaternion")
        return n

    # ----------------------------------------------------------------------------- option
    def _read_option(self, el: _Element) -> None:
        a = _Attrs(el, [])
        self.spec.timestep = a.number("timestep", self.spec.timestep)
        if self.spec.timestep <= 0:
            raise MJCFError(f"{el.where()}: timestep must be positive")
        self.spec.gravity = a.vec("gravity", 3, self.spec.gravity)
        self.spec.integrator = a.text("integrator", self.spec.integrator)

    # ----------------------------------------------------------------------------- bodies
    def _walk(self, el: _Element, body: int, fpos: np.ndarray, fquat: np.ndarray, childclass) -> None:
        """Visit the children of a body / worldbody / frame element.

        ``body`` is the index of the enclosing body; (fpos, fquat) is the pose of the
        enclosing <frame> chain in that body's frame (identity when none).
        """
        fmat = _quat_to_mat(fquat)
        for child in el.children:
            tag = child.tag
            if tag in ("body", "frame"):
                a = _Attrs(child, [])
                pos = fpos + fmat @ a.vec("pos", 3, np.zeros(3))
                quat = _quat_mul(fquat, self._orientation(a))
                cc = child.attrib.get("childclass", childclass)
                if cc is not None and cc not in self.defaults.classes:
                    raise MJCFError(f"{child.where()}: unknown default class {cc!r}")
                if tag == "frame":
                    self._walk(child, body, pos, quat, cc)
                    continue
                if a.flag("mocap", False):
                    self._warn_once(child, "mocap bodies are treated as static bodies", "mocap")
                self.bodies.append(_Body(child.attrib.get("name", ""), body, pos, quat / _length(quat), child))
                self._walk(child, len(self.bodies) - 1, np.zeros(3), np.array([1.0, 0, 0, 0]), cc)
            elif tag in ("joint", "freejoint"):
                if body == 0:
                    raise MJCFError(f"{child.where()}: joints are not allowed in <worldbody>")
                self.bodies[body].joints.append(self._read_joint(child, body, fpos, fmat, childclass))
            elif tag == "geom":
                geom = self._read_geom(child, fpos, fquat, childclass)
                if geom is not None:
                    self.bodies[body].geoms.append(geom)
            elif tag == "inertial":
                if body == 0 or el.tag != "body":
                    raise MJCFError(f"{child.where()}: <inertial> must be a direct child of a <body>")
                if self.bodies[body].inertial is not None:
                    raise MJCFError(f"{child.where()}: a body may have only one <inertial>")
                self.bodies[body].inertial = self._read_inertial(child)
            elif tag in _SILENT_IN_BODY:
                pass
            else:
                self._warn_once(child, _UNSUPPORTED_REASON.get(tag, "unrecognised element"))

    def _read_inertial(self, el: _Element) -> tuple:
        """(mass, (3,) COM, (3, 3) inertia about COM in body axes) of an <inertial> element."""
        a = _Attrs(el, [])
        if not a.has("mass"):
            raise MJCFError(f"{el.where()}: missing attribute 'mass'")
        mass, pos = a.number("mass", 0.0), a.vec("pos", 3, np.zeros(3))
        if mass < 0:
            raise MJCFError(f"{el.where()}: mass must be non-negative")
        if a.has("fullinertia"):
            if a.has("diaginertia") or any(a.has(k) for k in _ORIENTATION_KEYS):
                raise MJCFError(f"{el.where()}: fullinertia excludes diaginertia and an orientation")
            ixx, iyy, izz, ixy, ixz, iyz = a.vec("fullinertia", 6)
            inertia = np.array([[ixx, ixy, ixz], [ixy, iyy, iyz], [ixz, iyz, izz]])
            principal = np.linalg.eigvalsh(inertia)
        elif a.has("diaginertia"):
            principal = a.vec("diaginertia", 3)
            r = _quat_to_mat(self._orientation(a))
            inertia = r @ np.diag(principal) @ r.T
        else:
            raise MJCFError(f"{el.where()}: needs diaginertia or fullinertia")
        # the principal moments of a physical body satisfy the triangle inequality
        p = np.sort(principal)
        if p[0] < -_MINVAL or p[0] + p[1] < p[2] - 1e-12 * max(p[2], 1.0):
            raise MJCFError(f"{el.where()}: inertia must be positive and satisfy A + B >= C")
        return mass, pos, inertia

    def _read_joint(self, el: _Element, body: int, fpos, fmat, childclass) -> _Joint:
        """A <joint> or <freejoint>; pos/axis are mapped through the enclosing frame."""
        if el.tag == "freejoint":
            # MuJoCo: <freejoint> takes no default-class values
            a = _Attrs(el, [])
            jtype = JOINT_FREE
        else:
            a = self.defaults.attrs(el, "joint", childclass)
            text, owner = a.raw("type")
            text = "hinge" if text is None else text.strip()
            if text not in _JOINT_TYPES:
                raise MJCFError(
                    f"{owner.where()}: unknown joint type {text!r} (expected one of {', '.join(_JOINT_TYPES)})"
                )
            jtype = _JOINT_TYPES[text]
        if jtype == JOINT_FREE and self.bodies[body].parent != 0:
            raise MJCFError(f"{el.where()}: a free joint is only allowed in a body whose parent is the world")

        pos = fpos + fmat @ a.vec("pos", 3, np.zeros(3))
        axis = np.array([0.0, 0.0, 1.0])
        if jtype in (JOINT_HINGE, JOINT_SLIDE):
            axis = fmat @ a.vec("axis", 3, axis)
            n = _length(axis)
            if n < 1e-10:
                raise MJCFError(f"{el.where()}: joint axis is too small")
            axis = axis / n
        elif jtype == JOINT_FREE:
            pos = np.zeros(3)  # MuJoCo ignores the anchor of free joints

        limited, rng = _auto_limited(a, "limited", "range", self.compiler.autolimits)
        ref, springref = a.number("ref", 0.0), a.number("springref", 0.0)
        if jtype == JOINT_FREE:
            limited = False  # free joints cannot be limited
        elif jtype == JOINT_BALL:
            rng = self.compiler.angle(rng)
            if limited and rng[0] != 0:
                raise MJCFError(f"{el.where()}: range[0] of a ball joint must be 0")
        elif jtype == JOINT_HINGE:
            rng, ref, springref = (self.compiler.angle(v) for v in (rng, ref, springref))
        return _Joint(
            name=a.el.attrib.get("name", ""),
            type=jtype,
            pos=pos,
            axis=axis,
            limited=limited,
            range=np.asarray(rng, dtype=np.float64),
            stiffness=a.number("stiffness", 0.0),
            ref=float(ref),
            springref=float(springref),
            damping=a.number("damping", 0.0),
            armature=a.number("armature", 0.0),
            frictionloss=a.number("frictionloss", 0.0),
        )

    # ----------------------------------------------------------------------------- geoms
    def _read_geom(self, el: _Element, fpos, fquat, childclass) -> Optional[_Geom]:
        """A <geom> with pose in body frame and its mass/inertia; None for skipped types."""
        a = self.defaults.attrs(el, "geom", childclass)
        default_type = "mesh" if a.has("mesh") else "sphere"  # a mesh= attribute implies type mesh
        tname = a.text("type", default_type)
        if tname in _SKIPPED_GEOM_TYPES:
            self._warn_once(el, f"{tname} geoms are neither simulated nor counted in body mass", f"geom type {tname}")
            return None
        if tname not in _GEOM_TYPES:
            raise MJCFError(f"{el.where()}: unknown geom type {tname!r}")
        gtype = _GEOM_TYPES[tname]
        size = a.partial_vec("size", np.zeros(3))

        if a.has("fromto"):
            if gtype not in (GEOM_CAPSULE, GEOM_CYLINDER, GEOM_BOX, GEOM_ELLIPSOID):
                raise MJCFError(f"{el.where()}: fromto requires a capsule, cylinder, box or ellipsoid")
            pos, quat, size = self._fromto(a, gtype, size)
        else:
            pos, quat = a.vec("pos", 3, np.zeros(3)), self._orientation(a)
        self._check_size(el, gtype, size)
        pos = fpos + _quat_to_mat(fquat) @ pos
        quat = _quat_mul(fquat, quat)
        quat = quat / _length(quat)

        # mass properties: density (kg/m^3), or mass (kg) spread over the volume
        volume, unit_inertia = _geom_volume_inertia(gtype, size)
        density = a.number("density", 1000.0)
        if a.has("mass"):
            density = a.number("mass", 0.0) / volume if volume > 0 else 0.0
        group = a.integer("group", 0)
        lo, hi = self.compiler.inertiagrouprange
        if not lo <= group <= hi:  # MuJoCo: geoms outside the group range carry no mass
            density = 0.0
        rot = _quat_to_mat(quat)
        return _Geom(
            name=el.attrib.get("name", ""),
            type=gtype,
            pos=pos,
            quat=quat,
            size=size,
            friction=a.partial_vec("friction", [1.0, 0.005, 0.0001]),
            contype=a.integer("contype", 1),
            conaffinity=a.integer("conaffinity", 1),
            rgba=a.vec("rgba", 4, [0.5, 0.5, 0.5, 1.0]),
            mass=density * volume,
            inertia=rot @ np.diag(density * unit_inertia) @ rot.T,
        )

    @staticmethod
    def _fromto(a: _Attrs, gtype: int, size: np.ndarray) -> tuple:
        """(pos, quat, size) of a geom given by fromto.

        MuJoCo puts the centre at the midpoint and the geom's +z axis along from - to;
        capsule/cylinder get size[1] = half-length, box/ellipsoid get size = (s0, s0, half-length).
        """
        ft = a.vec("fromto", 6)
        vec = ft[:3] - ft[3:]
        half = 0.5 * _length(vec)
        if half < 1e-10:
            raise MJCFError(f"{a.el.where()}: fromto has zero length")
        size = size.copy()
        if gtype in (GEOM_CAPSULE, GEOM_CYLINDER):
            size[1] = half
        else:
            size[1], size[2] = size[0], half
        return 0.5 * (ft[:3] + ft[3:]), _z_to_vec_quat(vec / (2 * half)), size

    @staticmethod
    def _check_size(el: _Element, gtype: int, size: np.ndarray) -> None:
        """MuJoCo's positivity requirements on the sizes each geom type uses."""
        if gtype == GEOM_PLANE:
            needed = [2]  # grid spacing; 0 half-sizes mean infinite
        else:
            needed = {GEOM_SPHERE: [0], GEOM_CAPSULE: [0, 1], GEOM_CYLINDER: [0, 1]}.get(gtype, [0, 1, 2])
        for i in needed:
            if not size[i] > 0:
                raise MJCFError(f"{el.where()}: size[{i}] must be positive for this geom type")

    # ----------------------------------------------------------------------------- actuators
    def _read_actuators(self, section: _Element) -> None:
        joint_index = {}
        for j, jnt in enumerate(jn for b in self.bodies for jn in b.joints):
            if jnt.name:
                joint_index[jnt.name] = (j, jnt.type)
        for el in section.children:
            if el.tag not in ("motor", "general"):
                self._warn_once(
                    el,
                    "only <motor> and plain <general> actuators are simulated"
                    if el.tag in _ACTUATOR_KINDS
                    else "unrecognised element",
                )
                continue
            act = self._read_actuator(el, joint_index)
            if act is not None:
                self.actuators.append(act)

    def _read_actuator(self, el: _Element, joint_index: dict) -> Optional[_Actuator]:
        a = self.defaults.attrs(el, "actuator", None)
        if el.tag == "general" and not self._is_plain_general(a):
            self._warn_once(
                el,
                "only <general> actuators with fixed unit gain, no bias and no activation dynamics are simulated",
                "general with gain/bias/dynamics",
            )
            return None
        other = [t for t in ("tendon", "site", "body", "cranksite") if t in el.attrib]
        if other:
            self._warn_once(
                el, f"actuators with {other[0]}= transmission are not simulated", f"{other[0]} transmission"
            )
            return None
        jname = el.attrib.get("joint", el.attrib.get("jointinparent"))
        if jname is None:
            raise MJCFError(f"{el.where()}: needs a joint= transmission")
        if jname not in joint_index:
            raise MJCFError(f"{el.where()}: unknown joint {jname!r}")
        jid, jtype = joint_index[jname]
        if jtype in (JOINT_FREE, JOINT_BALL):
            self._warn_once(el, "actuators on ball/free joints are not simulated", "multi-dof actuator")
            return None
        gear = a.partial_vec("gear", [1.0, 0, 0, 0, 0, 0])
        if np.any(gear[1:] != 0):
            warnings.warn(f"diffsim uses only the first gear entry of {el.where()}", stacklevel=5)
        ctrllimited, ctrlrange = _auto_limited(a, "ctrllimited", "ctrlrange", self.compiler.autolimits)
        forcelimited, forcerange = _auto_limited(a, "forcelimited", "forcerange", self.compiler.autolimits)
        return _Actuator(
            el.attrib.get("name", ""), jid, float(gear[0]), ctrllimited, ctrlrange, forcelimited, forcerange
        )

    @staticmethod
    def _is_plain_general(a: _Attrs) -> bool:
        """True when a <general> is a motor: fixed gain (gainprm[0] = 1), no bias, no dynamics."""
        gainprm = a.partial_vec("gainprm", np.r_[1.0, np.zeros(9)])
        return (
            a.text("gaintype", "fixed") == "fixed"
            and a.text("biastype", "none") == "none"
            and a.text("dyntype", "none") == "none"
            and gainprm[0] == 1.0
            and not np.any(gainprm[1:])
        )


# =====================================================================================
# assembling the ModelSpec
# =====================================================================================


def _body_mass_properties(bodies: list, compiler: _Compiler) -> tuple:
    """(nbody,) mass, (nbody, 3) COM, (nbody, 3, 3) inertia about COM, all in body frames."""
    n = len(bodies)
    mass, ipos, inertia = np.zeros(n), np.zeros((n, 3)), np.zeros((n, 3, 3))
    for i, b in enumerate(bodies[1:], start=1):  # the world body has no mass
        use_geoms = compiler.inertiafromgeom == "true" or (compiler.inertiafromgeom == "auto" and b.inertial is None)
        if use_geoms:
            mass[i], ipos[i], inertia[i] = _combine_masses([(g.mass, g.pos, g.inertia) for g in b.geoms])
        elif b.inertial is not None:
            mass[i], ipos[i], inertia[i] = b.inertial
    if compiler.settotalmass > 0:
        total = mass.sum()
        if total <= 0:
            raise MJCFError("settotalmass: the model has no mass to rescale")
        scale = compiler.settotalmass / total
        mass, inertia = mass * scale, inertia * scale
    # R D R^T products are symmetric only up to rounding; make them exactly symmetric
    return mass, ipos, 0.5 * (inertia + inertia.transpose(0, 2, 1))


def _check_moving_bodies(bodies: list, mass: np.ndarray, inertia: np.ndarray) -> None:
    """MuJoCo rejects bodies with joints whose own mass or principal inertia is ~0."""
    for i, b in enumerate(bodies):
        if b.joints and (mass[i] < _MINVAL or np.linalg.eigvalsh(inertia[i]).min() < _MINVAL):
            raise MJCFError(f"{b.element.where()}: mass and inertia of moving bodies must be positive")


def _check_unique_names(kind: str, items: list) -> None:
    seen = set()
    for it in items:
        if it.name and it.name in seen:
            raise MJCFError(f"repeated {kind} name {it.name!r}")
        seen.add(it.name)


def _assemble(b: _Builder) -> ModelSpec:
    """Flatten the per-body lists into MuJoCo-ordered arrays (bodies are already in DFS order)."""
    bodies, spec = b.bodies, b.spec
    joints = [j for body in bodies for j in body.joints]
    jnt_body = [i for i, body in enumerate(bodies) for _ in body.joints]
    geoms = [g for body in bodies for g in body.geoms]
    geom_body = [i for i, body in enumerate(bodies) for _ in body.geoms]
    for kind, items in (("body", bodies), ("joint", joints), ("geom", geoms), ("actuator", b.actuators)):
        _check_unique_names(kind, items)
    i32, f64 = np.int32, np.float64
    nbody = len(bodies)

    # --- bodies
    spec.body_name = [body.name for body in bodies]
    spec.body_parent = np.array([body.parent for body in bodies], dtype=i32)
    spec.body_pos = np.array([body.pos for body in bodies], dtype=f64)
    spec.body_quat = np.array([body.quat for body in bodies], dtype=f64)
    spec.body_mass, spec.body_ipos, spec.body_inertia = _body_mass_properties(bodies, b.compiler)
    _check_moving_bodies(bodies, spec.body_mass, spec.body_inertia)

    # --- joints, dofs, qpos
    jnt_qposadr, jnt_dofadr, qpos0, qpos_spring = [], [], [], []
    dof_body, dof_jnt, dof_damping, dof_armature, dof_frictionloss = [], [], [], [], []
    for j, (jnt, bid) in enumerate(zip(joints, jnt_body)):
        jnt_qposadr.append(len(qpos0))
        jnt_dofadr.append(len(dof_body))
        if jnt.type == JOINT_FREE:
            # MuJoCo's qpos0 of a free joint is the body's own pose in the world
            q0 = qs = list(bodies[bid].pos) + list(bodies[bid].quat)
        elif jnt.type == JOINT_BALL:
            q0 = qs = [1.0, 0.0, 0.0, 0.0]
        else:
            q0, qs = [jnt.ref], [jnt.springref]
        qpos0 += q0
        qpos_spring += qs
        nv = JOINT_NV[jnt.type]
        assert len(q0) == JOINT_NQ[jnt.type]
        dof_body += [bid] * nv
        dof_jnt += [j] * nv
        dof_damping += [jnt.damping] * nv
        dof_armature += [jnt.armature] * nv
        dof_frictionloss += [jnt.frictionloss] * nv

    spec.jnt_name = [j.name for j in joints]
    spec.jnt_type = np.array([j.type for j in joints], dtype=i32)
    spec.jnt_body = np.array(jnt_body, dtype=i32)
    spec.jnt_qposadr = np.array(jnt_qposadr, dtype=i32)
    spec.jnt_dofadr = np.array(jnt_dofadr, dtype=i32)
    spec.jnt_pos = np.array([j.pos for j in joints], dtype=f64).reshape(-1, 3)
    spec.jnt_axis = np.array([j.axis for j in joints], dtype=f64).reshape(-1, 3)
    spec.jnt_limited = np.array([j.limited for j in joints], dtype=bool)
    spec.jnt_range = np.array([j.range for j in joints], dtype=f64).reshape(-1, 2)
    spec.jnt_stiffness = np.array([j.stiffness for j in joints], dtype=f64)
    spec.dof_body = np.array(dof_body, dtype=i32)
    spec.dof_jnt = np.array(dof_jnt, dtype=i32)
    spec.dof_damping = np.array(dof_damping, dtype=f64)
    spec.dof_armature = np.array(dof_armature, dtype=f64)
    spec.dof_frictionloss = np.array(dof_frictionloss, dtype=f64)
    spec.qpos0 = np.array(qpos0, dtype=f64)
    spec.qpos_spring = np.array(qpos_spring, dtype=f64)

    # --- per-body joint/dof ranges, tree structure
    spec.body_jntnum = np.array([len(body.joints) for body in bodies], dtype=i32)
    spec.body_dofnum = np.array([sum(JOINT_NV[j.type] for j in body.joints) for body in bodies], dtype=i32)
    for i, body in enumerate(bodies):
        if spec.body_dofnum[i] > 6:
            raise MJCFError(f"{body.element.where()}: more than 6 degrees of freedom in one body")
    spec.body_jntadr = _first_index(spec.body_jntnum)
    spec.body_dofadr = _first_index(spec.body_dofnum)
    spec.body_rootid = np.zeros(nbody, dtype=i32)
    for i in range(1, nbody):
        p = spec.body_parent[i]
        spec.body_rootid[i] = i if p == 0 else spec.body_rootid[p]
    spec.body_subtree_end = np.arange(1, nbody + 1, dtype=i32)
    for i in range(nbody - 1, 0, -1):  # children come after parents in DFS order
        p = spec.body_parent[i]
        spec.body_subtree_end[p] = max(spec.body_subtree_end[p], spec.body_subtree_end[i])
    spec.dof_parent = _dof_parents(spec)

    # --- actuators
    acts = b.actuators
    spec.actuator_name = [a.name for a in acts]
    spec.actuator_trnid = np.array([a.joint for a in acts], dtype=i32)
    spec.actuator_gear = np.array([a.gear for a in acts], dtype=f64)
    spec.actuator_ctrllimited = np.array([a.ctrllimited for a in acts], dtype=bool)
    spec.actuator_ctrlrange = np.array([a.ctrlrange for a in acts], dtype=f64).reshape(-1, 2)
    spec.actuator_forcelimited = np.array([a.forcelimited for a in acts], dtype=bool)
    spec.actuator_forcerange = np.array([a.forcerange for a in acts], dtype=f64).reshape(-1, 2)

    # --- geoms
    spec.geom_name = [g.name for g in geoms]
    spec.geom_type = np.array([g.type for g in geoms], dtype=i32)
    spec.geom_body = np.array(geom_body, dtype=i32)
    spec.geom_pos = np.array([g.pos for g in geoms], dtype=f64).reshape(-1, 3)
    spec.geom_quat = np.array([g.quat for g in geoms], dtype=f64).reshape(-1, 4)
    spec.geom_size = np.array([g.size for g in geoms], dtype=f64).reshape(-1, 3)
    spec.geom_friction = np.array([g.friction for g in geoms], dtype=f64).reshape(-1, 3)
    spec.geom_contype = np.array([g.contype for g in geoms], dtype=i32)
    spec.geom_conaffinity = np.array([g.conaffinity for g in geoms], dtype=i32)
    spec.geom_rgba = np.array([g.rgba for g in geoms], dtype=f64).reshape(-1, 4)
    spec.gravity = np.asarray(spec.gravity, dtype=f64)
    return spec


def _first_index(counts: np.ndarray) -> np.ndarray:
    """MuJoCo-style start addresses: cumulative offset, -1 where the count is 0."""
    start = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int32)
    return np.where(counts > 0, start, -1).astype(np.int32)


def _dof_parents(spec: ModelSpec) -> np.ndarray:
    """MuJoCo's dof_parentid: previous dof in the same body, else the last dof of the
    nearest ancestor body that has dofs, else -1."""
    parent = np.full(len(spec.dof_body), -1, dtype=np.int32)
    for d, bid in enumerate(spec.dof_body):
        if d > spec.body_dofadr[bid]:
            parent[d] = d - 1
            continue
        anc = spec.body_parent[bid]
        while anc > 0 and spec.body_dofnum[anc] == 0:
            anc = spec.body_parent[anc]
        if anc > 0:
            parent[d] = spec.body_dofadr[anc] + spec.body_dofnum[anc] - 1
    return parent


# =====================================================================================
# public entry point
# =====================================================================================


def parse_mjcf(source) -> ModelSpec:
    """Compile an MJCF model into a ModelSpec.

    Args:
        source: path (str or os.PathLike) to an .xml file, or the XML text itself
            (a str whose stripped form starts with '<').

    Returns:
        ModelSpec with MuJoCo's ordering and conventions (SI units, radians, w-x-y-z quats).

    Raises:
        MJCFError: malformed XML (message names line and column), invalid values or
            unsupported structure (message names the element and its line).
    """
    root, base_dir = _load_source(source)
    if root.tag != "mujoco":
        raise MJCFError(f"{root.where()}: the root element must be <mujoco>")
    _expand_includes(root, base_dir)
    return _assemble(_Builder(root))
