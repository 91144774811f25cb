"""Bad input gets a clear error naming what was expected."""

import pytest
import torch

import diffsim


@pytest.fixture(scope="module")
def ant():
    return diffsim.load_mjcf(diffsim.asset("ant.xml"), dtype=torch.float64)


def state(model, batch=2):
    return (
        model.qpos0[None].repeat(batch, 1),
        torch.zeros(batch, model.nv, dtype=model.dtype),
        torch.zeros(batch, model.nu, dtype=model.dtype),
    )


def test_unbatched_state_says_to_add_a_batch_dimension(ant):
    qpos, qvel, ctrl = state(ant)
    with pytest.raises(ValueError, match=r"qpos must have shape \(B, 15\).*got \(15,\).*qpos\[None\]"):
        diffsim.step(ant, qpos[0], qvel, ctrl)


def test_wrong_width_names_the_model_size(ant):
    qpos, qvel, ctrl = state(ant)
    with pytest.raises(ValueError, match=r"qvel must have shape \(B, 14\) with 14 = model's nv, got \(2, 13\)"):
        diffsim.step(ant, qpos, qvel[:, :13], ctrl)
    with pytest.raises(ValueError, match=r"ctrl must have shape \(B, 8\)"):
        diffsim.step(ant, qpos, qvel, ctrl[:, :3])


def test_mismatched_batch_sizes(ant):
    qpos, qvel, ctrl = state(ant)
    with pytest.raises(ValueError, match="ctrl has batch size 1, but qpos has 2"):
        diffsim.step(ant, qpos, qvel, ctrl[:1])


def test_wrong_dtype_names_both_dtypes(ant):
    qpos, qvel, ctrl = state(ant)
    with pytest.raises(ValueError, match=r"qpos must have dtype torch.float64 \(the model's\), got torch.float32"):
        diffsim.mass_matrix(ant, qpos.float())


def test_wrong_device(ant):
    qpos, qvel, ctrl = state(ant)
    with pytest.raises(ValueError, match="qvel is on meta but the model is on cpu"):
        diffsim.bias_forces(ant, qpos, qvel.to("meta"))


def test_non_tensor_input(ant):
    _, qvel, ctrl = state(ant)
    with pytest.raises(ValueError, match="qpos must be a torch.Tensor, got list"):
        diffsim.step(ant, [0.0] * 15, qvel, ctrl)


def test_nan_control_names_the_environment(ant):
    qpos, qvel, ctrl = state(ant, batch=4)
    ctrl[2, 3] = float("nan")
    with pytest.raises(ValueError, match=r"ctrl contains NaN or inf in environment\(s\) \[2\]"):
        diffsim.step(ant, qpos, qvel, ctrl)


def test_rollout_controls_need_a_time_axis(ant):
    qpos, qvel, ctrl = state(ant)
    with pytest.raises(ValueError, match=r"ctrls must have shape \(B, T, 8\)"):
        diffsim.rollout(ant, qpos, qvel, ctrl)


@pytest.mark.parametrize("frame_skip", [0, -1, 1.5, True])
def test_bad_frame_skip(ant, frame_skip):
    qpos, qvel, ctrl = state(ant)
    with pytest.raises(ValueError, match="frame_skip must be a positive int"):
        diffsim.step(ant, qpos, qvel, ctrl, frame_skip=frame_skip)


def test_bad_model_dtype():
    with pytest.raises(ValueError, match="dtype must be torch.float32 or torch.float64"):
        diffsim.load_mjcf(diffsim.asset("pendulum.xml"), dtype=torch.int32)


def test_malformed_mjcf_names_the_line():
    # MuJoCo's parser names the line of the element left open
    xml = "<mujoco>\n  <worldbody>\n    <body>\n  </worldbody>\n</mujoco>"
    with pytest.raises(diffsim.MJCFError, match="(?i)line number=3") as info:
        diffsim.load_mjcf(xml)
    print(info.value)


def test_unsupported_joint_type_is_named():
    xml = "<mujoco><worldbody><body><joint type='screw'/><geom size='.1'/></body></worldbody></mujoco>"
    with pytest.raises(diffsim.MJCFError, match=r"invalid keyword: 'screw'\s+Element 'joint', line 1") as info:
        diffsim.load_mjcf(xml)
    print(info.value)


def test_missing_asset_lists_the_available_ones():
    with pytest.raises(FileNotFoundError, match="available: .*ant.xml"):
        diffsim.asset("spider.xml")


def test_assigning_a_parameter_copies_into_the_simulated_tensor():
    model = diffsim.load_mjcf(diffsim.asset("pendulum.xml"), dtype=torch.float64)
    tensor = model.body_mass
    model.body_mass = tensor * 2
    assert model.body_mass is tensor
    assert torch.allclose(tensor, 2 * torch.as_tensor(model.spec.body_mass))
    with pytest.raises(ValueError, match=r"model.body_mass has shape \(2,\); got \(3,\)"):
        model.body_mass = torch.ones(3)
