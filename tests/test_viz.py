"""diffsim.viz: forward kinematics against MuJoCo, and what the drawing functions produce."""

import re
import warnings

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

import diffsim
from diffsim import viz

matplotlib.use("Agg")


def load(name):
    with warnings.catch_warnings():  # ball_chain has geom pairs without a contact model: irrelevant here
        warnings.filterwarnings("ignore", "diffsim has no contact model", UserWarning)
        return diffsim.load_mjcf(diffsim.asset(name), dtype=torch.float64)


@pytest.fixture(scope="module")
def ant():
    return load("ant.xml")


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def random_qpos(mujoco, m, rng):
    """qpos0 moved along a random tangent direction (every joint type), free joints shifted too."""
    qpos = m.qpos0.copy()
    mujoco.mj_integratePos(m, qpos, rng.normal(size=m.nv), 1.0)
    for j in range(m.njnt):
        if m.jnt_type[j] == mujoco.mjtJoint.mjJNT_FREE:
            adr = m.jnt_qposadr[j]
            qpos[adr : adr + 3] += rng.normal(size=3)
            qpos[adr + 3 : adr + 7] *= 1.3  # not unit length: both normalise
    return qpos


@pytest.mark.parametrize("name", ["ant.xml", "cartpole.xml", "ball_chain.xml", "gripper.xml"])
def test_poses_match_mujoco(mujoco, name):
    m = mujoco.MjModel.from_xml_path(diffsim.asset(name))
    d = mujoco.MjData(m)
    model = load(name)
    rng = np.random.default_rng(7)
    for _ in range(5):
        qpos = random_qpos(mujoco, m, rng)
        d.qpos[:] = qpos
        mujoco.mj_kinematics(m, d)
        xpos, xmat = viz.body_poses(model, torch.tensor(qpos))
        assert xpos.shape == (m.nbody, 3) and xmat.shape == (m.nbody, 3, 3)
        np.testing.assert_allclose(xpos, d.xpos, rtol=0, atol=1e-9)
        np.testing.assert_allclose(xmat.reshape(-1, 9), d.xmat, rtol=0, atol=1e-9)
        gpos, gmat = viz.geom_poses(model, qpos)
        np.testing.assert_allclose(gpos, d.geom_xpos, rtol=0, atol=1e-9)
        np.testing.assert_allclose(gmat.reshape(-1, 9), d.geom_xmat, rtol=0, atol=1e-9)


def test_draw_ant(ant):
    ax = viz.draw(ant, ant.qpos0, follow="torso", title="ant")
    ax.figure.canvas.draw()  # 3D collections project their polygons when drawn
    assert ax.name == "3d" and ax.get_title() == "ant"
    collections = {c.get_gid(): c for c in ax.collections}
    assert set(collections) == {"diffsim-floor", "diffsim-shadows", "diffsim-geoms"}
    spec = ant.spec
    # one mesh per geom that is not the floor: the sphere torso and 8 capsules
    solid = [g for g in range(spec.ngeom) if spec.geom_type[g] != 0]
    assert len(solid) == 9
    faces = sum(len(viz._local_mesh(spec.geom_type[g], spec.geom_size[g])) for g in solid)
    geoms = collections["diffsim-geoms"]
    assert len(geoms.get_paths()) == faces
    # coloured with the geoms' rgba (0.8, 0.6, 0.4), shaded: red > green > blue on every face
    rgba = geoms.get_facecolor()
    assert len(rgba) == faces and np.all(rgba[:, 0] > rgba[:, 1]) and np.all(rgba[:, 1] > rgba[:, 2])
    assert len(collections["diffsim-floor"].get_paths()) >= 16  # checkers under the Ant
    assert len(collections["diffsim-shadows"].get_paths()) == 9  # one shadow per geom
    # the view box holds the whole Ant, with equal scale on all axes
    lo = np.array([ax.get_xlim()[0], ax.get_ylim()[0], ax.get_zlim()[0]])
    hi = np.array([ax.get_xlim()[1], ax.get_ylim()[1], ax.get_zlim()[1]])
    gpos, _ = viz.geom_poses(ant, ant.qpos0)
    assert np.all(gpos[solid] > lo) and np.all(gpos[solid] < hi)
    box = np.asarray(ax.get_box_aspect())
    np.testing.assert_allclose(box / box[0], (hi - lo) / (hi - lo)[0], rtol=1e-6)


def test_draw_every_geom_type():
    # ball_chain has spheres, capsules, boxes, a cylinder and an ellipsoid; cartpole has no floor
    for name in ("ball_chain.xml", "cartpole.xml", "gripper.xml"):
        model = load(name)
        ax = viz.draw(model, model.qpos0)
        ax.figure.canvas.draw()
        geoms = [c for c in ax.collections if c.get_gid() == "diffsim-geoms"][0]
        assert len(geoms.get_paths()) > 0


def assert_plays_without_trust(html):
    """An HTML animation that an untrusted notebook (scripts removed) still plays, offline.

    JupyterLab and GitHub sanitise the HTML of untrusted outputs: scripts go, images with
    data: URIs stay. So what remains without the scripts must be an animated image, and
    nothing may be fetched from the network (no CDN icons, styles or scripts).
    """
    from html.parser import HTMLParser
    import base64
    import io
    import json

    from PIL import Image

    sources = []

    class Images(HTMLParser):
        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            for name in ("src", "href"):
                assert not (attrs.get(name) or "").startswith(("http:", "https:", "//")), f"fetches {attrs[name]}"
            if tag == "img":
                sources.append(attrs.get("src") or "")

    assert not re.search(r"https?://", html), "an animation must not load anything from the network"
    Images().feed(re.sub(r"<script.*?</script>", "", html, flags=re.S))
    gifs = [s for s in sources if s.startswith("data:image/gif;base64,")]
    assert len(gifs) == 1, (
        f"expected one inline animated GIF outside the scripts, found images {[s[:30] for s in sources]}"
    )
    image = Image.open(io.BytesIO(base64.b64decode(gifs[0].split(",", 1)[1], validate=True)))
    assert image.format == "GIF" and image.is_animated and image.n_frames > 1
    # where scripts run, the player shows frames that are images too, of the GIF's size
    frames = json.loads(re.search(r"var frames=(\[.*?\]),", html).group(1))
    assert len(frames) == image.n_frames
    for frame in frames:
        header, data = frame.split(",", 1)
        assert header in ("data:image/png;base64", "data:image/jpeg;base64"), header
        assert Image.open(io.BytesIO(base64.b64decode(data, validate=True))).size == image.size
    return image


def test_animate_and_html(ant):
    traj = ant.qpos0.repeat(7, 1)
    traj[:, 7] = torch.linspace(-0.5, 0.5, 7, dtype=ant.dtype)
    anim = viz.animate(ant, traj, fps=20, stride=2, dt=0.01)
    assert anim.n_frames == 4 and len(list(anim.new_saved_frame_seq())) == 4
    html = viz.to_html(anim).data
    assert not plt.get_fignums()  # to_html closed the figure
    gif = assert_plays_without_trust(html)
    assert gif.n_frames == 4 and gif.info["duration"] == 50 and gif.info["loop"] == 0  # 20 fps, forever
    # where scripts run, the player gets the same frames (PNG by default, JPEG on request)
    assert len(re.findall(r"data:image/png;base64,", html)) == 4 and "<script>" in html
    jpeg = viz.to_html(viz.animate(ant, traj, fps=20, stride=2), frame_format="jpeg").data
    assert len(re.findall(r"data:image/jpeg;base64,", jpeg)) == 4
    with pytest.raises(ValueError, match="frame_format"):
        viz.to_html(viz.animate(ant, traj), frame_format="webm")


def test_notebook_animations_play_untrusted_and_offline():
    """Every animation stored in the notebooks plays in a notebook nobody has trusted, and
    its player works where the notebook is trusted (docs/results/notebook04_untrusted_jupyterlab.png
    is notebook 04 in JupyterLab, untrusted, in headless Chromium: benchmarks/notebook_screenshot.py)."""
    import json
    import pathlib

    found = 0
    for path in sorted(pathlib.Path(__file__).parent.parent.glob("notebooks/*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            for output in cell.get("outputs", []):
                html = "".join(output.get("data", {}).get("text/html", ""))
                if "<script" in html or "<img" in html:
                    assert_plays_without_trust(html)
                    found += 1
    assert found >= 5, f"expected the notebooks' stored animations, found {found}"


def test_player(ant):
    traj = ant.qpos0.repeat(3, 1)
    widget = viz.player(ant, traj[None])  # (1, T, nq) from a rollout is accepted
    try:
        import ipywidgets
    except ImportError:
        assert "<img" in widget.data
    else:
        assert isinstance(widget, ipywidgets.VBox)


def test_bad_inputs(ant):
    with pytest.raises(ValueError, match=re.escape("(nq,)=(15,)")):
        viz.body_poses(ant, torch.zeros(14))
    with pytest.raises(ValueError, match=re.escape("(nq,)=(15,)")):
        viz.draw(ant, torch.zeros(2, 15))
    with pytest.raises(ValueError, match=re.escape("(T, nq)=(T, 15)")):
        viz.animate(ant, torch.zeros(4, 2, 15))
    with pytest.raises(ValueError, match="no body named 'head'"):
        viz.draw(ant, ant.qpos0, follow="head")


def test_plots():
    a = np.array([1.0, -2.0, 3.0])
    ax = viz.plot_gradient_comparison({"qpos": a, "ctrls": 2 * a}, {"qpos": a + 1e-3, "ctrls": 2 * a})
    assert "rel. error 1.7e-04" in ax.get_title()
    ax = viz.plot_gradient_comparison(a, -a, log=True)  # magnitudes agree, signs do not: marked
    assert "sign differs" in [t.get_text() for t in ax.get_legend().get_texts()]
    steps = np.arange(5) * 100
    ax = viz.plot_learning_curves({"sac": (steps, np.ones((3, 5))), "hybrid": (steps, np.arange(5.0))}, target=2.0)
    assert len(ax.lines) == 3 and len(ax.collections) == 1  # two medians + target; one band (3 seeds)
    # seeds with steps of their own (evaluations at wall-clock times): a line each, one colour per agent
    ax = viz.plot_learning_curves({"sac": ([np.arange(3.0), np.arange(4.0)], [np.ones(3), np.zeros(4)])}, target=1.0)
    assert len(ax.lines) == 3 and ax.lines[0].get_color() == ax.lines[1].get_color()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["sac (2 seeds)", "target 1"]
    with pytest.raises(ValueError, match="2 step arrays for 1 return arrays"):
        viz.plot_learning_curves({"sac": ([np.arange(3.0), np.arange(4.0)], [np.ones(3)])})
