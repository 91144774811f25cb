"""Matplotlib rendering of diffsim models: still frames, animations, players and plots.

Everything here works from a model's ``ModelSpec`` (plain numpy) and a ``qpos`` in
MuJoCo's layout, so it renders states from diffsim and from MuJoCo alike. It needs only
matplotlib (ipywidgets is optional, for ``player``)::

    import diffsim, diffsim.viz as viz
    model = diffsim.load_mjcf(diffsim.asset("ant.xml"))
    viz.draw(model, model.qpos0, follow="torso")                 # one frame, 3D axes
    qpos_traj, _ = diffsim.rollout(model, qpos, qvel, ctrls)     # (B, T, nq)
    viz.to_html(viz.animate(model, qpos_traj[0], follow="torso"))  # inline animation

Geoms are drawn as shaded polygon meshes (sphere, capsule, box, cylinder, ellipsoid) in
the geom's ``rgba``; planes as a checkered floor, with a soft shadow of every geom on
it. All geoms go into one ``Poly3DCollection`` so that matplotlib sorts their faces by
depth (painter's algorithm): good enough for convex shapes, not a real z-buffer.

Units: metres and radians, like the simulator. Shapes use ``nq`` (model.nq), ``nbody``
and ``ngeom`` (including the world body 0 and every plane).
"""

from __future__ import annotations

import io

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import animation
from mpl_toolkits.mplot3d.art3d import Poly3DCollection

from diffsim.poses import as_numpy, as_spec, body_poses, geom_poses, qpos_trajectory, qpos_vector
from diffsim.spec import GEOM_BOX, GEOM_CAPSULE, GEOM_CYLINDER, GEOM_ELLIPSOID, GEOM_PLANE, GEOM_SPHERE, ModelSpec

__all__ = [
    "animate",
    "body_poses",
    "draw",
    "geom_poses",
    "player",
    "plot_gradient_comparison",
    "plot_learning_curves",
    "to_html",
]

FIGSIZE = (5.0, 4.0)  # inches: small frames keep notebooks with animations light
ANIMATION_DPI = 70

# mesh resolution: faces around the axis, and per quarter circle of a sphere/capsule profile
_AROUND = 14
_QUARTER = 4


# ----------------------------------------------------------------------------------------
# meshes (geom frame) and the renderer
# ----------------------------------------------------------------------------------------


def _revolve(r, z, around=_AROUND) -> np.ndarray:
    """Quads (n, 4, 3) of the surface swept by the profile (r_i, z_i) around the z axis."""
    theta = np.linspace(0.0, 2.0 * np.pi, around + 1)
    ring = np.stack([np.cos(theta), np.sin(theta)], axis=-1)  # (around+1, 2)
    grid = np.concatenate(
        [r[:, None, None] * ring[None], np.broadcast_to(z[:, None, None], (len(z), around + 1, 1))], axis=-1
    )  # (m, around+1, 3)
    quads = np.stack([grid[:-1, :-1], grid[1:, :-1], grid[1:, 1:], grid[:-1, 1:]], axis=2)
    return quads.reshape(-1, 4, 3)


def _arc(start, stop, n=_QUARTER):
    phi = np.linspace(start, stop, n + 1)
    return np.cos(phi), np.sin(phi)


def _local_mesh(gtype: int, size) -> np.ndarray | None:
    """Quads (n, 4, 3) of a geom's surface in its own frame (MuJoCo's size convention)."""
    s = np.asarray(size, dtype=np.float64)
    if gtype in (GEOM_SPHERE, GEOM_ELLIPSOID):
        c, sn = _arc(-np.pi / 2, np.pi / 2, 2 * _QUARTER)
        quads = _revolve(c, sn)
        scale = np.array([s[0], s[0], s[0]]) if gtype == GEOM_SPHERE else s[:3]
        return quads * scale
    if gtype == GEOM_CAPSULE:
        radius, half = s[0], s[1]
        c1, s1 = _arc(-np.pi / 2, 0.0)
        c2, s2 = _arc(0.0, np.pi / 2)
        r = np.concatenate([c1, c2]) * radius
        z = np.concatenate([s1 * radius - half, s2 * radius + half])
        return _revolve(r, z)
    if gtype == GEOM_CYLINDER:
        radius, half = s[0], s[1]
        return _revolve(np.array([0.0, radius, radius, 0.0]), np.array([-half, -half, half, half]))
    if gtype == GEOM_BOX:
        corners = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=np.float64) * s[:3]
        faces = [[0, 1, 3, 2], [4, 6, 7, 5], [0, 4, 5, 1], [2, 3, 7, 6], [0, 2, 6, 4], [1, 5, 7, 3]]
        return corners[np.array(faces)]
    return None  # planes are the floor; height fields and meshes are not drawn


def _face_normals(quads: np.ndarray) -> np.ndarray:
    """Unit normals (n, 3) of quads, from the cross product of their diagonals (triangles included)."""
    n = np.cross(quads[:, 2] - quads[:, 0], quads[:, 3] - quads[:, 1])
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)


def _nice_step(length: float) -> float:
    """A round checker size (1, 2, 2.5 or 5 times a power of ten) close to ``length``."""
    power = 10.0 ** np.floor(np.log10(length))
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        if m * power >= length:
            return m * power
    return 10.0 * power


def _cross_2d(a, b) -> float:
    return float(a[0] * b[1] - a[1] * b[0])


def _hull_2d(points: np.ndarray) -> np.ndarray:
    """Convex hull (Andrew's monotone chain) of (n, 2) points, counter-clockwise."""
    pts = np.unique(np.round(points, 9), axis=0)
    if len(pts) < 3:
        return pts

    def half(seq):
        out = []
        for p in seq:
            while len(out) >= 2 and _cross_2d(out[-1] - out[-2], p - out[-2]) <= 0:
                out.pop()
            out.append(p)
        return out[:-1]

    return np.array(half(pts) + half(pts[::-1]))


def _body_index(spec: ModelSpec, body) -> int | None:
    if body is None:
        return None
    if isinstance(body, str):
        if body not in spec.body_name:
            raise ValueError(f"no body named {body!r}; bodies: {', '.join(spec.body_name)}")
        return spec.body_name.index(body)
    index = int(body)
    if not 0 <= index < spec.nbody:
        raise ValueError(f"body index {index} out of range 0..{spec.nbody - 1}")
    return index


class _Renderer:
    """Draws one model into one 3D axes; ``update(qpos)`` moves everything to a new state."""

    def __init__(self, model, ax, follow=None, elev=20.0, azim=-60.0, extent=None, shadows=True, axis=None):
        self.spec = spec = as_spec(model)
        self.ax = ax
        self.follow = _body_index(spec, follow)
        self.extent = extent  # the user's horizontal half-width, m (None: fit the model)
        self.center = None  # view box: centre (3,) and half-widths (3,), m
        self.half = None
        ax.view_init(elev=elev, azim=azim)
        ax.computed_zorder = False  # floor, then shadows, then the (depth-sorted) geoms
        types = np.asarray(spec.geom_type, dtype=int)
        rgba = np.asarray(spec.geom_rgba, dtype=np.float64)
        self.meshes = []  # (geom index, local quads, local normals, rgba)
        for g in range(spec.ngeom):
            quads = _local_mesh(types[g], spec.geom_size[g])
            if quads is None or rgba[g, 3] <= 0:
                continue
            normals = _face_normals(quads)
            centroid = quads.mean(axis=1)
            normals *= np.where(np.sum(normals * centroid, axis=1, keepdims=True) < 0, -1.0, 1.0)  # outwards
            self.meshes.append((g, quads, normals, rgba[g]))
        self.planes = [g for g in range(spec.ngeom) if types[g] == GEOM_PLANE and rgba[g, 3] > 0]
        self.tree = None  # with follow: which geoms belong to the followed body's tree
        if self.follow:
            rootid = np.asarray(spec.body_rootid)
            self.tree = rootid[np.asarray(spec.geom_body)] == rootid[self.follow]
        # light from above, over the viewer's left shoulder
        el, az = np.radians(elev), np.radians(azim)
        eye = np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])
        left = np.array([-np.sin(az), np.cos(az), 0.0])
        light = eye + 1.5 * np.array([0.0, 0.0, 1.0]) - 0.5 * left
        self.light = light / np.linalg.norm(light)
        self.shadows = shadows
        self.floor = Poly3DCollection([], zorder=1, linewidths=0.0)
        self.shade = Poly3DCollection([], zorder=1.5, linewidths=0.0, facecolors=(0, 0, 0, 0.22))
        self.bodies = Poly3DCollection([], zorder=2, linewidths=0.25)
        self.floor.set_gid("diffsim-floor")
        self.shade.set_gid("diffsim-shadows")
        self.bodies.set_gid("diffsim-geoms")
        for coll in (self.floor, self.shade, self.bodies):
            ax.add_collection3d(coll)
        if axis is None:
            axis = not self.planes  # with a floor, the checkers give the scale
        self.axis = bool(axis)
        if not axis:
            ax.set_axis_off()
        else:
            for pane in (ax.xaxis.pane, ax.yaxis.pane, ax.zaxis.pane):
                pane.set_alpha(0.15)
            ax.tick_params(labelsize=7)
            ax.set_xlabel("x (m)", fontsize=8)
            ax.set_ylabel("y (m)", fontsize=8)
            ax.set_zlabel("z (m)", fontsize=8)
        ax.set_box_aspect((1.0, 1.0, 1.0))

    # -- framing ------------------------------------------------------------------------
    def _extents(self, q):
        """(lower (n, 3), upper (n, 3) corners of the geoms' boxes, body positions, floor height or None)
        of one state, restricted to what the camera frames."""
        gpos, gmat = geom_poses(self.spec, q)
        xpos, _ = body_poses(self.spec, q)
        lower, upper = [], []
        for g, quads, _, _ in self.meshes:
            if self.tree is None or self.tree[g]:
                world = quads.reshape(-1, 3) @ gmat[g].T + gpos[g]
                lower.append(world.min(axis=0))
                upper.append(world.max(axis=0))
        if not lower:  # nothing visible to frame: the bodies' origins
            lower = upper = list(xpos[1:] if len(xpos) > 1 else xpos)
        floor = min(float(gpos[g, 2]) for g in self.planes) if self.planes else None
        return np.array(lower), np.array(upper), xpos, floor

    def fit(self, qpos_list):
        """Size the view box (``half``, and ``center`` without ``follow``) to hold the model in
        every given state."""
        lo, hi, span = np.full(3, np.inf), np.full(3, -np.inf), 0.0
        for q in qpos_list:
            bottom, top, xpos, floor = self._extents(q)
            if floor is not None:
                bottom[:, 2] = np.minimum(bottom[:, 2], floor)
            if self.follow is not None:
                shift = xpos[self.follow] * np.array([1.0, 1.0, 0.0])
                bottom, top = bottom - shift, top - shift
                span = max(span, float(np.abs(np.concatenate([bottom, top])[:, :2]).max()))
            lo, hi = np.minimum(lo, bottom.min(axis=0)), np.maximum(hi, top.max(axis=0))
        half = 0.55 * (hi - lo)
        if self.follow is not None:  # the body turns: the same width along x and y
            half[:2] = 1.1 * span
        if self.extent is not None:
            half[:2] = float(self.extent)
        # no axis thinner than a third of the widest (a rail along x still shows some y)
        self.half = np.maximum(half, max(0.3 * float(half.max()), 0.2))
        self.center = 0.5 * (lo + hi)

    def _view_box(self, q):
        if self.half is None:
            self.fit([q])
        center = self.center.copy()
        if self.follow is not None:
            # over the followed body, at the height of the middle of its tree (and the floor)
            lower, upper, xpos, floor = self._extents(q)
            bottom, top = float(lower[:, 2].min()), float(upper[:, 2].max())
            if floor is not None:
                bottom = min(bottom, floor)
            center = np.array([xpos[self.follow, 0], xpos[self.follow, 1], 0.5 * (bottom + top)])
        return center, self.half

    # -- drawing ----------------------------------------------------------------------------
    def update(self, qpos, title=None):
        """Move every artist to the state ``qpos`` (nq,) and set the view box."""
        spec, ax = self.spec, self.ax
        q = qpos_vector(spec, qpos)
        gpos, gmat = geom_poses(spec, q)
        center, half = self._view_box(q)
        ax.set_xlim(center[0] - half[0], center[0] + half[0])
        ax.set_ylim(center[1] - half[1], center[1] + half[1])
        ax.set_zlim(center[2] - half[2], center[2] + half[2])
        # equal scale on all three axes; without tick labels to fit, the box can fill more of the frame
        ax.set_box_aspect(tuple(half), zoom=1.0 if self.axis else 1.3)
        ext = float(half[:2].max())

        polys, colors, world_meshes = [], [], []
        for g, quads, normals, rgba in self.meshes:
            world = quads @ gmat[g].T + gpos[g]
            world_meshes.append(world)
            lit = np.clip((normals @ gmat[g].T) @ self.light, 0.0, 1.0)
            shade = 0.38 + 0.62 * lit
            face = np.empty((len(quads), 4))
            face[:, :3] = np.clip(rgba[None, :3] * shade[:, None] + 0.12 * lit[:, None] ** 8, 0.0, 1.0)
            face[:, 3] = rgba[3]
            polys.append(world)
            colors.append(face)
        if polys:
            self.bodies.set_verts(np.concatenate(polys))
            colors = np.concatenate(colors)
            self.bodies.set_facecolor(colors)
            self.bodies.set_edgecolor(colors)  # hides the seams between faces

        floor_polys, floor_colors, shadow_polys = [], [], []
        for g in self.planes:
            origin, R = gpos[g], gmat[g]
            c = R.T @ (center - origin)  # view centre, plane frame
            cell = _nice_step(2.0 * ext / 8.0)
            # the view box's footprint, out to whole checkers (no slivers at the edges)
            foot = half[:2] if np.allclose(np.abs(R[2, 2]), 1.0) else np.array([ext, ext])
            lo, hi = np.floor((c[:2] - foot) / cell) * cell, np.ceil((c[:2] + foot) / cell) * cell
            size = np.asarray(spec.geom_size[g][:2], dtype=np.float64)
            for k in range(2):  # MuJoCo: size 0 = infinite
                if size[k] > 0:
                    lo[k], hi[k] = max(lo[k], -size[k]), min(hi[k], size[k])
            if np.any(hi <= lo):
                continue
            rgb = np.asarray(spec.geom_rgba[g][:3], dtype=np.float64)
            light_rgb, dark_rgb = np.clip(0.25 + 0.85 * rgb, 0, 1), np.clip(0.8 * rgb + 0.05, 0, 1)
            i0, i1 = int(np.floor(lo[0] / cell + 1e-6)), int(np.ceil(hi[0] / cell - 1e-6))
            j0, j1 = int(np.floor(lo[1] / cell + 1e-6)), int(np.ceil(hi[1] / cell - 1e-6))
            for i in range(i0, i1):
                x0, x1 = max(i * cell, lo[0]), min((i + 1) * cell, hi[0])
                for j in range(j0, j1):
                    y0, y1 = max(j * cell, lo[1]), min((j + 1) * cell, hi[1])
                    square = np.array([[x0, y0, 0.0], [x1, y0, 0.0], [x1, y1, 0.0], [x0, y1, 0.0]])
                    floor_polys.append(square @ R.T + origin)
                    floor_colors.append((*(light_rgb if (i + j) % 2 == 0 else dark_rgb), 1.0))
            if self.shadows:
                # each geom's outline projected straight down onto the plane (along its normal)
                for world in world_meshes:
                    local = (world.reshape(-1, 3) - origin) @ R
                    if local[:, 2].max() < -1e-6:
                        continue
                    hull = _hull_2d(local[:, :2])
                    if len(hull) < 3:
                        continue
                    hull = np.clip(hull, lo, hi)
                    flat = np.column_stack([hull, np.full(len(hull), 1e-4 * ext)])
                    shadow_polys.append(flat @ R.T + origin)
        self.floor.set_verts(floor_polys)
        self.floor.set_facecolor(floor_colors if floor_colors else "none")
        self.shade.set_verts(shadow_polys)
        self.shade.set_facecolor((0.0, 0.0, 0.0, 0.22))
        if title is not None:
            ax.set_title(title, fontsize=9)
        return ax


def _new_axes(figsize=FIGSIZE, dpi=None):
    fig = plt.figure(figsize=figsize, dpi=dpi)
    ax = fig.add_axes((0.0, 0.0, 1.0, 0.92), projection="3d")
    return fig, ax


def draw(
    model,
    qpos,
    ax=None,
    follow=None,
    elev=20,
    azim=-60,
    extent=None,
    title=None,
    *,
    shadows=True,
    axis=None,
    figsize=FIGSIZE,
):
    """Draw a model in one configuration into a 3D matplotlib axes.

    Args:
        model: a diffsim ``Model`` (or its ``ModelSpec``).
        qpos: (nq,) generalised positions (tensor or array; (1, nq) accepted).
        ax: a 3D axes to draw into (``projection="3d"``); a new figure of ``figsize`` if None.
        follow: a body name or index to centre the view on (e.g. ``"torso"``); None frames
            the whole model.
        elev, azim: camera elevation and azimuth, degrees (matplotlib's ``view_init``).
        extent: half-width of the view box along x and y, m; None sizes it to the model.
        title: axes title.
        shadows: draw each geom's shadow on the floor.
        axis: show the axes (ticks, panes); None shows them only when there is no floor.
    Returns:
        the axes. It holds three collections, with gids ``diffsim-floor`` (the checkered
        planes), ``diffsim-shadows`` and ``diffsim-geoms`` (one mesh per visible geom:
        spheres, capsules, boxes, cylinders and ellipsoids in the geoms' ``rgba``).
    """
    spec = as_spec(model)
    q = qpos_vector(spec, qpos)
    if ax is None:
        _, ax = _new_axes(figsize)
    elif getattr(ax, "name", "") != "3d":
        raise ValueError("ax must be a 3D axes: fig.add_subplot(projection='3d')")
    _Renderer(spec, ax, follow=follow, elev=elev, azim=azim, extent=extent, shadows=shadows, axis=axis).update(q, title)
    return ax


def _sample(traj, count=40):
    """Up to ``count`` evenly spaced states of a (T, nq) trajectory, first and last included."""
    return traj[np.unique(np.linspace(0, len(traj) - 1, min(len(traj), count)).astype(int))]


def _frame_title(title, dt, index):
    parts = [title] if title else []
    if dt is not None:
        parts.append(f"t = {index * dt:.2f} s")
    return "   ".join(parts) if parts else None


def animate(
    model,
    qpos_traj,
    fps=30,
    follow=None,
    stride=1,
    *,
    dt=None,
    title=None,
    figsize=FIGSIZE,
    dpi=ANIMATION_DPI,
    **draw_kwargs,
) -> animation.FuncAnimation:
    """An animation of a trajectory, one frame per ``stride`` states.

    Args:
        model: a diffsim ``Model`` (or its ``ModelSpec``).
        qpos_traj: (T, nq) states, e.g. ``diffsim.rollout(...)[0][b]`` ((1, T, nq) accepted).
        fps: playback frames per second. For real time, fps = 1 / (dt * stride).
        follow: body name or index the camera tracks; None keeps a fixed camera that
            frames the whole trajectory.
        stride: draw every ``stride``-th state (fewer frames, smaller files).
        dt: seconds between consecutive states; when given, the title shows the time.
        title: text above the frames.
        figsize, dpi: frame size; the defaults (5 x 4 in at 70 dpi) keep a 100-frame
            animation near 1 MB in a notebook.
        **draw_kwargs: ``elev``, ``azim``, ``extent``, ``shadows``, ``axis`` as in ``draw``.
    Returns:
        a ``matplotlib.animation.FuncAnimation`` with ``ceil(T / stride)`` frames; show it
        with ``to_html(anim)``, or save it with ``anim.save("ant.gif")``.
    """
    spec = as_spec(model)
    traj = qpos_trajectory(spec, qpos_traj)
    if not isinstance(stride, int) or stride < 1:
        raise ValueError(f"stride must be a positive int, got {stride!r}")
    frames = list(range(0, len(traj), stride))
    fig, ax = _new_axes(figsize, dpi)
    renderer = _Renderer(spec, ax, follow=follow, **draw_kwargs)
    renderer.fit(_sample(traj))  # one camera box for the whole trajectory

    def update(i):
        renderer.update(traj[i], _frame_title(title, None if dt is None else dt, i))
        return (renderer.bodies,)

    update(frames[0])
    anim = animation.FuncAnimation(
        fig, update, frames=frames, interval=1000.0 / fps, blit=False, cache_frame_data=False
    )
    anim.n_frames = len(frames)
    return anim


class _FrameGrabber(animation.AbstractMovieWriter):
    """A matplotlib movie writer that keeps each frame as PNG bytes in memory."""

    def __init__(self, fps):
        super().__init__(fps=fps)
        self.frames = []

    def setup(self, fig, outfile, dpi=None):
        super().setup(fig, outfile, dpi)

    def grab_frame(self, **savefig_kwargs):
        buffer = io.BytesIO()
        self.fig.savefig(buffer, format="png", dpi=self.dpi, **savefig_kwargs)
        self.frames.append(buffer.getvalue())

    def finish(self):
        pass


def _frames_png(anim, fps) -> list[bytes]:
    grabber = _FrameGrabber(fps)
    anim.save("frames", writer=grabber)  # the writer keeps the frames; nothing is written
    return grabber.frames


def _palette_frames(images, colors=64):
    """The frames on one shared palette of ``colors`` colours, without dithering.

    Flat-shaded renders need few colours, and undithered frames compress several times
    better (GIF and PNG are both LZW/deflate). The palette comes from up to eight frames
    spread over the animation, so colours that appear late are in it too.
    """
    from PIL import Image

    sample = [images[k] for k in np.unique(np.linspace(0, len(images) - 1, min(8, len(images))).astype(int))]
    width, height = images[0].size
    montage = Image.new("RGB", (width, height * len(sample)))
    for k, image in enumerate(sample):
        montage.paste(image.convert("RGB"), (0, height * k))
    palette = montage.quantize(colors=colors, dither=Image.Dither.NONE)
    return [image.convert("RGB").quantize(palette=palette, dither=Image.Dither.NONE) for image in images]


def _gif(frames, fps) -> bytes:
    """An animated GIF that loops forever: it plays in any viewer, trusted or not."""
    buffer = io.BytesIO()
    frames[0].save(
        buffer,
        format="GIF",
        save_all=True,
        append_images=frames[1:],
        loop=0,
        duration=max(20, round(1000 / fps)),
        optimize=True,
    )
    return buffer.getvalue()


def _player_html(frames_uri: list[str], gif_uri: str, fps: float) -> str:
    """HTML that shows ``gif_uri`` and, where scripts run, replaces it with a player of ``frames_uri``.

    A notebook that is not trusted (JupyterLab, GitHub) shows HTML outputs with their
    scripts removed: then the animated GIF is what remains, and it plays by itself. Where
    the script runs (a trusted notebook, Colab, VS Code, an HTML export) it builds a player
    with buttons and a slider. Every byte is inline: no CDN, so it works offline.
    """
    import json
    import uuid

    box = "diffsim-anim-" + uuid.uuid4().hex[:12]
    script = (
        "(function(){var box=document.getElementById(%(box)s);if(!box)return;"
        "var frames=%(frames)s,delay=%(delay)d,i=0,timer=null,dir=1;"
        "var img=document.createElement('img');img.src=frames[0];img.style.display='block';"
        "var bar=document.createElement('div');bar.style.cssText='display:flex;align-items:center;gap:4px;"
        "font:13px sans-serif;margin-top:2px';"
        "function btn(label,title,f){var b=document.createElement('button');b.textContent=label;b.title=title;"
        "b.style.cssText='min-width:2.2em;cursor:pointer';b.onclick=f;bar.appendChild(b);return b;}"
        "var slider=document.createElement('input');slider.type='range';slider.min=0;slider.max=frames.length-1;"
        "slider.value=0;slider.style.flex='1';var label=document.createElement('span');"
        "label.style.cssText='min-width:5em;text-align:right;font-variant-numeric:tabular-nums';"
        "function show(k){i=(k+frames.length)%%frames.length;img.src=frames[i];slider.value=i;"
        "label.textContent=(i+1)+' / '+frames.length;}"
        "function stop(){if(timer){clearInterval(timer);timer=null;}play.textContent='\\u25B6';}"
        "function start(d){stop();dir=d;play.textContent='| |';timer=setInterval(function(){show(i+dir);},delay);}"
        "btn('|\\u25C0','first frame',function(){stop();show(0);});"
        "btn('\\u25C0\\u25C0','play backwards',function(){start(-1);});"
        "btn('\\u25C1','previous frame',function(){stop();show(i-1);});"
        "var play=btn('\\u25B6','play / pause',function(){timer?stop():start(1);});"
        "btn('\\u25B7','next frame',function(){stop();show(i+1);});"
        "btn('\\u25B6|','last frame',function(){stop();show(frames.length-1);});"
        "bar.appendChild(slider);bar.appendChild(label);"
        "slider.oninput=function(){stop();show(parseInt(slider.value));};"
        "box.innerHTML='';box.appendChild(img);box.appendChild(bar);show(0);start(1);})();"
    ) % {"box": json.dumps(box), "frames": json.dumps(frames_uri), "delay": max(1, round(1000 / fps))}
    return (
        f'<div id="{box}" class="diffsim-animation">'
        f'<img src="{gif_uri}" alt="animation ({len(frames_uri)} frames)"/></div>\n'
        f"<script>{script}</script>\n"
    )


def to_html(anim, fps=None, frame_format="png"):
    """Inline HTML for an animation: an animated GIF, and a player wherever scripts run.

    The stored output needs neither a trusted notebook nor a network: untrusted notebooks
    (JupyterLab, GitHub) strip scripts and show the GIF, which plays by itself; trusted
    ones, Colab, VS Code and HTML exports run the script, which swaps the GIF for a player
    (play, pause, step, slider) of the same frames. Closes the animation's figure so that
    Jupyter does not show it a second time as a still.

    Args:
        anim: an animation from ``animate`` (any ``matplotlib.animation.Animation``).
        fps: playback frames per second; default: the animation's own interval.
        frame_format: the player's frames: "png" (the GIF's 64 colours, the smaller for
            flat-shaded renders) or "jpeg" (full colour, for photographic frames).
    Returns:
        an ``IPython.display.HTML``.
    """
    from IPython.display import HTML
    from PIL import Image

    if frame_format not in ("jpeg", "png"):
        raise ValueError(f"frame_format must be 'jpeg' or 'png', got {frame_format!r}")
    fps = fps or 1000.0 / anim._interval
    try:
        images = [Image.open(io.BytesIO(png)) for png in _frames_png(anim, fps)]
    finally:
        plt.close(anim._fig)
    return HTML(_images_html(images, fps, frame_format))


def _images_html(images, fps, frame_format="png") -> str:
    """``to_html``'s HTML for a list of PIL images played at ``fps``."""
    import base64

    palette_frames = _palette_frames(images)
    frames = []
    for image, indexed in zip(images, palette_frames):
        buffer = io.BytesIO()
        if frame_format == "jpeg":
            image.convert("RGB").save(buffer, format="JPEG", quality=85)
        else:
            indexed.save(buffer, format="PNG", optimize=True)
        frames.append(f"data:image/{frame_format};base64," + base64.b64encode(buffer.getvalue()).decode())
    gif = "data:image/gif;base64," + base64.b64encode(_gif(palette_frames, fps)).decode()
    return _player_html(frames, gif, fps)


def player(model, qpos_traj, follow=None, fps=30, stride=1, *, dt=None, **draw_kwargs):
    """An interactive player: a Play button and a slider that redraw the frame.

    Args: as ``animate``. Returns an ipywidgets ``VBox`` (display it, or leave it as the
    cell's last expression). Frames are rendered on demand, so long trajectories cost
    nothing up front. Without ipywidgets, returns ``to_html(animate(...))`` instead.
    """
    try:
        import ipywidgets as widgets
    except ImportError:
        return to_html(animate(model, qpos_traj, fps=fps, follow=follow, stride=stride, dt=dt, **draw_kwargs))
    spec = as_spec(model)
    traj = qpos_trajectory(spec, qpos_traj)
    title = draw_kwargs.pop("title", None)
    figsize = draw_kwargs.pop("figsize", FIGSIZE)
    dpi = draw_kwargs.pop("dpi", ANIMATION_DPI)
    fig, ax = _new_axes(figsize, dpi)
    renderer = _Renderer(spec, ax, follow=follow, **draw_kwargs)
    renderer.fit(_sample(traj))
    plt.close(fig)

    image = widgets.Image(format="png")
    last = len(traj) - 1
    play = widgets.Play(value=0, min=0, max=last, step=stride, interval=int(1000 / fps), description="play")
    slider = widgets.IntSlider(value=0, min=0, max=last, step=stride, description="frame")
    widgets.jslink((play, "value"), (slider, "value"))

    def show(index):
        renderer.update(traj[index], _frame_title(title, dt, index))
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi)
        image.value = buffer.getvalue()

    slider.observe(lambda change: show(change["new"]), names="value")
    show(0)
    return widgets.VBox([widgets.HBox([play, slider]), image])


# ----------------------------------------------------------------------------------------
# plots
# ----------------------------------------------------------------------------------------


def plot_learning_curves(curves: dict, target=None, ax=None, xlabel="environment steps", ylabel="episode return"):
    """Learning curves, one colour per agent: the median and min-max band of seeds that
    share their steps, or one line per seed where each seed has steps of its own.

    Args:
        curves: ``{name: (steps, returns)}``; steps (n,) (or (seeds, n) of equal rows),
            returns (n,) for one run or (seeds, n) for several seeds sharing the steps;
            or lists of per-seed arrays (``[steps_0, steps_1, ...]``, ``[returns_0, ...]``)
            of any lengths, e.g. evaluations at wall-clock times.
        target: draw a dashed horizontal line at this return (e.g. "solved").
        ax: matplotlib axes; a new figure if None.
    Returns:
        the axes.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.8))
    for name, (steps, returns) in curves.items():
        if isinstance(steps, (list, tuple)):  # seeds with steps of their own: a line each
            if len(steps) != len(returns):
                raise ValueError(f"curve {name!r}: {len(steps)} step arrays for {len(returns)} return arrays")
            color = None
            for i, (x, y) in enumerate(zip(steps, returns)):
                label = f"{name} ({len(steps)} seed{'s' if len(steps) > 1 else ''})" if i == 0 else None
                (line,) = ax.plot(as_numpy(x), as_numpy(y), color=color, alpha=0.8, linewidth=1.5, label=label)
                color = line.get_color()
            continue
        steps = as_numpy(steps)
        returns = np.atleast_2d(as_numpy(returns))
        if steps.ndim == 2:
            steps = steps[0]
        if returns.shape[1] != len(steps):
            raise ValueError(f"curve {name!r}: returns have {returns.shape[1]} points per seed, steps {len(steps)}")
        median = np.median(returns, axis=0)
        (line,) = ax.plot(steps, median, label=f"{name} ({returns.shape[0]} seed{'s' if returns.shape[0] > 1 else ''})")
        if returns.shape[0] > 1:
            ax.fill_between(
                steps, returns.min(axis=0), returns.max(axis=0), color=line.get_color(), alpha=0.2, linewidth=0
            )
    if target is not None:
        ax.axhline(target, color="k", linestyle="--", linewidth=1, label=f"target {target:g}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax


def plot_gradient_comparison(analytic, finite_difference=None, labels=None, ax=None, log=False):
    """Scatter analytic gradients against finite differences, with the y = x line.

    Args:
        analytic: gradient entries (any shape, flattened), or a list/dict of such groups
            (one colour each), or a ``diffsim.gradcheck.GradientReport`` (then leave
            ``finite_difference`` out).
        finite_difference: the same structure as ``analytic``.
        labels: names of the groups (dict keys are used by default).
        ax: matplotlib axes; a new figure if None.
        log: plot magnitudes on log-log axes (for entries spanning several orders of
            magnitude); entries whose signs differ are marked with a red x, entries below
            1e-8 of the largest are left out.
    Returns:
        the axes; its title gives the relative error max|a - fd| / max|fd| over all entries.
    """
    if finite_difference is None and hasattr(analytic, "analytic") and hasattr(analytic, "numeric"):
        analytic, finite_difference = analytic.analytic, analytic.numeric
    if finite_difference is None:
        raise ValueError("give finite_difference, or pass a GradientReport as analytic")
    if isinstance(analytic, dict):
        names = list(analytic)
        labels = labels or names
        analytic = [analytic[n] for n in names]
        finite_difference = [finite_difference[n] for n in names]
    elif not isinstance(analytic, (list, tuple)):
        analytic, finite_difference = [analytic], [finite_difference]
        labels = [labels] if isinstance(labels, str) else labels
    if len(analytic) != len(finite_difference):
        raise ValueError(f"{len(analytic)} analytic groups but {len(finite_difference)} finite-difference groups")
    if ax is None:
        _, ax = plt.subplots(figsize=(4.2, 4.0))
    groups = []
    for k, (a, f) in enumerate(zip(analytic, finite_difference)):
        a, f = as_numpy(a).ravel(), as_numpy(f).ravel()
        if a.shape != f.shape:
            raise ValueError(f"group {k}: analytic has {a.size} entries, finite differences {f.size}")
        groups.append((a, f, labels[k] if labels is not None and k < len(labels) else None))
    a = np.concatenate([g[0] for g in groups])
    f = np.concatenate([g[1] for g in groups])
    rel = float(np.abs(a - f).max() / max(np.abs(f).max(), 1e-300))
    top = float(max(np.abs(a).max(), np.abs(f).max(), 1e-300))
    if log:
        floor = 1e-8 * top  # entries below this are treated as zero and not drawn
        for ga, gf, label in groups:
            shown = (np.abs(ga) > floor) & (np.abs(gf) > floor)
            ax.scatter(np.abs(gf[shown]), np.abs(ga[shown]), s=14, alpha=0.75, label=label)
        flipped = (np.sign(a) != np.sign(f)) & (np.abs(a) > floor) & (np.abs(f) > floor)
        if flipped.any():
            ax.scatter(np.abs(f[flipped]), np.abs(a[flipped]), s=40, marker="x", color="red", label="sign differs")
        shown = np.concatenate([np.abs(a)[np.abs(a) > floor], np.abs(f)[np.abs(f) > floor]])
        lo, hi = (0.5 * float(shown.min()) if shown.size else floor), top * 2.0
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("|finite differences|")
        ax.set_ylabel("|analytic (backward pass)|")
    else:
        for ga, gf, label in groups:
            ax.scatter(gf, ga, s=14, alpha=0.75, label=label)
        lo, hi = -1.08 * top, 1.08 * top
        ax.set_xlabel("finite differences")
        ax.set_ylabel("analytic (backward pass)")
    ax.plot([lo, hi], [lo, hi], color="k", linewidth=0.8, label="y = x")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal")
    ax.set_title(f"{a.size} entries, rel. error {rel:.1e}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax
