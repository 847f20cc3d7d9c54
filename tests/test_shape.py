"""Flatten/Unflatten, padding, interpolation, pixel shuffles and distances: errors and printing."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fnet.functional as F
from fnet import nn


def run(layer, *xs):
    """Runs an array-free layer inside a parent, so errors carry the child's name."""

    class Parent(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = layer

        def forward(self, ctx, *inputs):
            return self.layer(ctx, *inputs)

    return Parent().apply({}, {}, *xs)[0]


# -- Flatten / Unflatten -----------------------------------------------------------------------


def test_flatten_errors_name_layer_and_shape():
    with pytest.raises(ValueError) as err:
        run(nn.Flatten(), jnp.ones(5))
    msg = str(err.value)
    assert "layer (Flatten(start_dim=1, end_dim=-1))" in msg and "start_dim=1" in msg and "(5,)" in msg
    with pytest.raises(ValueError, match="start_dim=2 cannot come after end_dim=1"):
        run(nn.Flatten(2, 1), jnp.ones((2, 3, 4)))
    assert nn.Flatten(0)(jnp.array(3.0)).shape == (1,)
    assert nn.Flatten()(jnp.ones((2, 3, 4))).shape == (2, 12)


def test_unflatten_errors():
    with pytest.raises(TypeError, match="must be a tuple of ints, but found type int"):
        nn.Unflatten(1, 5)
    with pytest.raises(TypeError, match="found element of type float at pos 1"):
        nn.Unflatten(1, (2, 3.0))
    with pytest.raises(ValueError) as err:
        run(nn.Unflatten(1, (2, 4)), jnp.ones((2, 6)))
    msg = str(err.value)
    assert "Unflatten(dim=1, unflattened_size=(2, 4))" in msg and "(2, 6)" in msg and "8" in msg
    with pytest.raises(ValueError, match="at most one -1"):
        run(nn.Unflatten(1, (-1, -1)), jnp.ones((2, 6)))
    with pytest.raises(ValueError, match=r"dim=3 within the input's dimensions \[-2, 1\]"):
        run(nn.Unflatten(3, (2, 3)), jnp.ones((2, 6)))
    assert nn.Unflatten(1, (2, -1))(jnp.ones((2, 6))).shape == (2, 2, 3)


# -- padding -----------------------------------------------------------------------------------


@pytest.mark.parametrize("pad, mode, match", [
    ((1,), "constant", "divisible by 2"),
    ((1,) * 8, "constant", "at most two times the input dimension"),
    ((5, 1), "reflect", r"smaller than the padded dimension: got padding \(5, 1\) for dimension 2 of size 5"),
    ((6, 0), "circular", "wrap around more than once"),
    ((-3, 3), "circular", "wrap around more than once"),
    ((1, 1, 1, 1, 1, 1), "replicate", r"6 a 4D/5D input; got pad \(1, 1, 1, 1, 1, 1\)"),
    ((-4, -3), "replicate", "crops more than dimension 2"),  # torch: "Calculated output W: -2"
    ((-6, 3), "reflect", "leaves nothing"),
    ((-4, -4), "constant", "crops more than dimension 2"),
    ((1, 1), "wrap", "mode must be one of"),
])
def test_pad_errors(pad, mode, match):
    with pytest.raises(ValueError, match=match):
        F.pad(jnp.ones((1, 2, 5)), pad, mode=mode)


def test_pad_argument_errors():
    with pytest.raises(TypeError, match="element of type float at pos 0"):
        F.pad(jnp.ones((1, 2, 5)), (1.5, 1))
    with pytest.raises(ValueError, match="doesn't take a value argument"):
        F.pad(jnp.ones((1, 2, 5)), (1, 1), mode="reflect", value=2.0)
    np.testing.assert_array_equal(F.pad(jnp.arange(3), (1, 1), value=7), [7, 0, 1, 2, 7])


@pytest.mark.parametrize("layer, shape, expected", [
    (nn.ReflectionPad2d(1), (4, 5), "3D or 4D input (C, H, W) or (N, C, H, W)"),
    (nn.ReplicationPad1d(1), (1, 2, 3, 4), "2D or 3D input (C, L) or (N, C, L)"),
    (nn.CircularPad3d(1), (2, 3, 4), "4D or 5D input (C, D, H, W) or (N, C, D, H, W)"),
])
def test_padding_layers_wrong_rank(layer, shape, expected):
    with pytest.raises(ValueError) as err:
        run(layer, jnp.ones(shape))
    msg = str(err.value)
    assert f"layer ({type(layer).__name__}(" in msg and expected in msg and str(shape) in msg


def test_padding_layer_wrong_padding_length_names_the_layer():
    with pytest.raises(ValueError, match=r"layer \(ReflectionPad2d\(\(1, 2\)\)\).*pad of length 2"):
        run(nn.ReflectionPad2d((1, 2)), jnp.ones((1, 2, 3, 4)))


def test_padding_reprs_match_torch():
    torch = pytest.importorskip("torch")
    for name, args in [("ZeroPad1d", (2,)), ("ZeroPad2d", ((1, 2, 3, 4),)), ("ConstantPad1d", (2, 3.5)),
                       ("ConstantPad3d", (1, -1)), ("ReflectionPad2d", (2,)), ("ReplicationPad3d", (1,)),
                       ("CircularPad1d", ((1, 2),))]:
        assert repr(getattr(nn, name)(*args)) == repr(getattr(torch.nn, name)(*args))


# -- interpolate, Upsample, pixel shuffles -----------------------------------------------------


@pytest.mark.parametrize("kwargs, error, match", [
    ({"size": 4, "scale_factor": 2}, ValueError, "only one of size or scale_factor"),
    ({}, ValueError, "either size or scale_factor"),
    ({"size": (4, 4)}, ValueError, r"one entry per spatial dimension \(1 for an input of shape \(1, 2, 5\)\)"),
    ({"size": (4.0,)}, TypeError, "size to be an int or a tuple of ints"),
    ({"size": 4, "mode": "bilinear"}, ValueError, r"a 4D input \(N, C, H, W\) for mode='bilinear', got shape \(1, 2, 5\)"),
    ({"size": 4, "align_corners": True}, ValueError, "align_corners option can only be set"),
    ({"size": 4, "recompute_scale_factor": True}, ValueError, "not meaningful with an explicit size"),
    ({"scale_factor": 0.1}, ValueError, r"greater than 0, but got input \(W: 5\) and output \(W: 0\)"),
    ({"size": 4, "mode": "cubic"}, ValueError, "mode must be one of"),
    ({"size": 4, "mode": "linear", "antialias": True}, ValueError, "restricted to bilinear, bicubic"),
])
def test_interpolate_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        F.interpolate(jnp.ones((1, 2, 5)), **kwargs)


def test_interpolate_rank_dtype_and_antialias():
    with pytest.raises(ValueError, match=r"3D, 4D or 5D input .* got shape \(2, 5\)"):
        F.interpolate(jnp.ones((2, 5)), size=3)
    with pytest.raises(NotImplementedError, match="antialias=True is not implemented"):
        F.interpolate(jnp.ones((1, 1, 4, 4)), size=2, mode="bilinear", antialias=True)
    with pytest.raises(TypeError, match=r"expected a floating-point input, got dtype int32"):
        F.interpolate(jnp.ones((1, 1, 4), jnp.int32), size=2, mode="linear")


def test_upsample_errors_name_the_layer():
    with pytest.raises(ValueError) as err:
        run(nn.Upsample(scale_factor=2, mode="bilinear"), jnp.ones((1, 2, 5)))
    msg = str(err.value)
    assert "layer (Upsample(scale_factor=2.0, mode='bilinear'))" in msg and "(1, 2, 5)" in msg


def test_upsample_reprs_match_torch():
    torch = pytest.importorskip("torch")
    for kw in [{"scale_factor": 2}, {"size": (3, 4), "mode": "bilinear"}, {"scale_factor": (2, 3)}]:
        assert repr(nn.Upsample(**kw)) == repr(torch.nn.Upsample(**kw))
    assert repr(nn.UpsamplingBilinear2d(scale_factor=2)) == repr(torch.nn.UpsamplingBilinear2d(scale_factor=2))
    assert repr(nn.PixelShuffle(3)) == repr(torch.nn.PixelShuffle(3))
    assert repr(nn.PixelUnshuffle(2)) == repr(torch.nn.PixelUnshuffle(2))


def test_pixel_shuffle_errors():
    with pytest.raises(ValueError) as err:
        run(nn.PixelShuffle(2), jnp.ones((1, 5, 2, 2)))
    msg = str(err.value)
    assert "layer (PixelShuffle(upscale_factor=2))" in msg and "divisible by upscale_factor^2 = 4" in msg
    assert "(1, 5, 2, 2)" in msg
    with pytest.raises(ValueError, match=r"at least 3 dimensions .* got shape \(4, 4\)"):
        F.pixel_shuffle(jnp.ones((4, 4)), 2)
    with pytest.raises(ValueError, match="positive integer upscale_factor, got 0"):
        F.pixel_shuffle(jnp.ones((4, 2, 2)), 0)
    with pytest.raises(ValueError, match=r"height and width divisible by downscale_factor = 2.*\(2, 4, 5\)"):
        run(nn.PixelUnshuffle(2), jnp.ones((2, 4, 5)))


def test_pixel_shuffle_roundtrip():
    x = jnp.arange(2 * 8 * 3 * 4, dtype=jnp.float32).reshape(2, 8, 3, 4)
    np.testing.assert_array_equal(F.pixel_unshuffle(F.pixel_shuffle(x, 2), 2), x)


# -- distances ---------------------------------------------------------------------------------


def test_distance_errors_name_the_layer():
    with pytest.raises(ValueError) as err:
        run(nn.CosineSimilarity(), jnp.ones((2, 3)), jnp.ones((4, 3)))
    msg = str(err.value)
    assert "layer (CosineSimilarity())" in msg and "(2, 3) and (4, 3)" in msg
    with pytest.raises(ValueError, match=r"dim=2 is out of range .* \(2, 3\)"):
        F.cosine_similarity(jnp.ones((2, 3)), jnp.ones((2, 3)), dim=2)
    with pytest.raises(TypeError, match="floating-point inputs"):
        F.cosine_similarity(jnp.ones((2, 3), jnp.int32), jnp.ones((2, 3), jnp.int32))
    with pytest.raises(ValueError, match=r"layer \(PairwiseDistance\(\)\).*\(2, 3\) and \(2, 4\)"):
        run(nn.PairwiseDistance(), jnp.ones((2, 3)), jnp.ones((2, 4)))


def test_cosine_similarity_bounded_and_zero_safe():
    x = jnp.array([[1e18, 1e18], [0.0, 0.0]])  # large values: the result stays within [-1, 1]
    out = F.cosine_similarity(x, x)
    assert float(out[0]) == pytest.approx(1.0) and float(out[1]) == 0.0
    g = jax.grad(lambda v: jnp.sum(F.cosine_similarity(v, jnp.ones((2, 2)))))(jnp.zeros((2, 2)))
    assert bool(jnp.all(jnp.isfinite(g)))


def test_distance_reprs_match_torch():
    torch = pytest.importorskip("torch")
    assert repr(nn.CosineSimilarity(dim=0)) == repr(torch.nn.CosineSimilarity(dim=0))
    assert repr(nn.PairwiseDistance(p=1.0)) == repr(torch.nn.PairwiseDistance(p=1.0))
    assert repr(nn.Flatten(0, 2)) == repr(torch.nn.Flatten(0, 2))
    assert repr(nn.Unflatten(1, (2, 3))) == repr(torch.nn.Unflatten(1, (2, 3)))


# -- channel_shuffle, pdist, upsample aliases -------------------------------------------------

def test_channel_shuffle_errors_and_printing():
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match=r"^channel_shuffle: number of channels must be divisible by groups, "
                                         r"got 5 channels and 2 groups"):
        F.channel_shuffle(jnp.ones((2, 5, 3)), 2)
    with pytest.raises(ValueError, match=r"^channel_shuffle: expected an input with more than 2 dimensions"):
        F.channel_shuffle(jnp.ones((2, 4)), 2)
    with pytest.raises(ValueError, match=r"^native_channel_shuffle: number of groups .* positive integer, got "
                                         r"groups=0"):
        F.native_channel_shuffle(jnp.ones((2, 4, 3)), 0)
    with pytest.raises(ValueError, match=r"^layer \(ChannelShuffle\(groups=3\)\): channel_shuffle: number of channels must be "
                                         r"divisible"):
        run(nn.ChannelShuffle(3), jnp.ones((1, 4, 2)))
    assert repr(nn.ChannelShuffle(3)) == repr(torch.nn.ChannelShuffle(3))
    x = jnp.arange(6.0).reshape(1, 6, 1)
    assert F.channel_shuffle(x, 2)[0, :, 0].tolist() == [0, 3, 1, 4, 2, 5]


def test_pdist_errors():
    with pytest.raises(ValueError, match=r"^pdist: expected a 2-D input \(N, M\), got shape \(2, 3, 4\)"):
        F.pdist(jnp.ones((2, 3, 4)))
    with pytest.raises(ValueError, match=r"^pdist: only non-negative p values are supported, got p=-1"):
        F.pdist(jnp.ones((3, 4)), p=-1)
    with pytest.raises(TypeError, match=r"^pdist: expected a floating-point input"):
        F.pdist(jnp.ones((3, 4), jnp.int32))
    assert F.pdist(jnp.ones((1, 4))).shape == (0,)
    assert F.pdist(jnp.ones((5, 2))).shape == (10,)


@pytest.mark.parametrize("name", ["upsample", "upsample_nearest", "upsample_bilinear"])
def test_upsample_aliases_warn_like_torch(name):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal((1, 2, 3, 4)).astype(np.float32)
    with pytest.warns(UserWarning, match=rf"`nn.functional.{name}` is deprecated"):
        out = getattr(F, name)(jnp.asarray(x), scale_factor=2)
    with pytest.warns(UserWarning, match="deprecated"):
        want = getattr(torch.nn.functional, name)(torch.from_numpy(x), scale_factor=2).numpy()
    np.testing.assert_allclose(np.asarray(out), want, rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match=rf"^{name}: "), pytest.warns(UserWarning):
        getattr(F, name)(jnp.asarray(x))  # neither size nor scale_factor


# -- grid_sample / affine_grid --------------------------------------------------------------------

def test_grid_sample_errors():
    x, g = jnp.ones((1, 2, 4, 4)), jnp.zeros((1, 3, 3, 2))
    with pytest.raises(ValueError, match=r"^grid_sample: mode must be 'bilinear', 'nearest' or 'bicubic', got 'area'"):
        F.grid_sample(x, g, mode="area", align_corners=False)
    with pytest.raises(ValueError, match=r"^grid_sample: padding_mode must be 'zeros', 'border' or 'reflection'"):
        F.grid_sample(x, g, padding_mode="wrap", align_corners=False)
    with pytest.raises(ValueError, match=r"^grid_sample: expected grid of shape \(N=1, \*out, 2\) for input "
                                         r"\(1, 2, 4, 4\), got \(1, 3, 3, 3\)"):
        F.grid_sample(x, jnp.zeros((1, 3, 3, 3)), align_corners=False)
    with pytest.raises(ValueError, match=r"^grid_sample: bicubic interpolation only supports 4-D input"):
        F.grid_sample(jnp.ones((1, 1, 2, 2, 2)), jnp.zeros((1, 1, 1, 1, 3)), mode="bicubic", align_corners=False)
    with pytest.raises(ValueError, match=r"^grid_sample: expected a 4-D input"):
        F.grid_sample(jnp.ones((2, 4, 4)), g, align_corners=False)
    with pytest.raises(TypeError, match=r"^grid_sample: expected a floating-point grid"):
        F.grid_sample(x, g.astype(jnp.int32), align_corners=False)
    with pytest.warns(UserWarning, match="align_corners=False since 1.3.0"):
        F.grid_sample(x, g)
    # the identity grid with align_corners=False reproduces the input
    theta = jnp.asarray([[[1.0, 0, 0], [0, 1.0, 0]]])
    xs = jnp.asarray(np.random.default_rng(0).standard_normal((1, 2, 4, 5)), jnp.float32)
    out = F.grid_sample(xs, F.affine_grid(theta, xs.shape, align_corners=False), align_corners=False)
    np.testing.assert_allclose(out, xs, rtol=1e-5, atol=1e-6)


def test_affine_grid_errors():
    with pytest.raises(ValueError, match=r"^affine_grid: expected a batch of 2-D affine matrices of shape \(N, 2, 3\) "
                                         r"for size \(1, 1, 4, 4\), got \(1, 3, 4\)"):
        F.affine_grid(jnp.zeros((1, 3, 4)), (1, 1, 4, 4), align_corners=False)
    with pytest.raises(ValueError, match=r"^affine_grid: only 4-D and 5-D sizes are supported"):
        F.affine_grid(jnp.zeros((1, 2, 3)), (1, 4, 4), align_corners=False)
    with pytest.raises(ValueError, match=r"^affine_grid: expected a non-zero, positive output size"):
        F.affine_grid(jnp.zeros((1, 2, 3)), (1, 1, 0, 4), align_corners=False)
    with pytest.raises(ValueError, match=r"^affine_grid: expected theta's batch \(2\) to equal size\[0\] \(1\)"):
        F.affine_grid(jnp.zeros((2, 2, 3)), (1, 1, 4, 4), align_corners=False)
    with pytest.raises(TypeError, match=r"^affine_grid: expected theta to have floating point type"):
        F.affine_grid(jnp.zeros((1, 2, 3), jnp.int32), (1, 1, 4, 4), align_corners=False)
    with pytest.warns(UserWarning, match="unit-size grids when align_corners=True"):
        F.affine_grid(jnp.zeros((1, 2, 3)), (1, 1, 1, 4), align_corners=True)
