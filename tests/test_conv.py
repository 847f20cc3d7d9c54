"""Convolution layers: errors, initialisation, names, printing, the per-backend lowering
and JAX transformations through the CPU patch-matrix path (comparisons with torch are in
parity_tests/test_conv.py)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from jax import export

import fnet
import fnet.functional as F
from fnet import nn
from fnet.functional import _conv


def _x(*shape, seed=0, dtype=np.float32):
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape).astype(dtype))


def _apply(layer, x, **kwargs):
    params, state = layer.init(jax.random.key(0))
    return layer.apply(params, state, x, **kwargs)[0]


# -- errors ---------------------------------------------------------------------------------------

def test_wrong_channel_count_names_the_layer_and_the_shape():
    with pytest.raises(ValueError, match=r"Conv2d\(3, 6, kernel_size=\(5, 5\).*3 channels.*got shape \(2, 4, 32, 32\)"):
        _apply(nn.Conv2d(3, 6, 5), _x(2, 4, 32, 32))
    with pytest.raises(ValueError, match=r"conv2d: expected input with 3 channels.*got shape \(2, 4, 8, 8\)"):
        F.conv2d(_x(2, 4, 8, 8), _x(6, 3, 3, 3))
    with pytest.raises(ValueError, match=r"ConvTranspose2d.*4 channels.*got shape \(1, 3, 5, 5\)"):
        _apply(nn.ConvTranspose2d(4, 2, 3), _x(1, 3, 5, 5))


def test_wrong_rank_is_refused():
    with pytest.raises(ValueError, match=r"Conv2d.*\(N, C, H, W\) or unbatched \(C, H, W\).*got shape \(32, 32\)"):
        _apply(nn.Conv2d(3, 6, 5), _x(32, 32))
    with pytest.raises(ValueError, match=r"conv1d: expected a 3-D input.*got shape \(1, 2, 3, 4\)"):
        F.conv1d(_x(1, 2, 3, 4), _x(2, 2, 3))
    with pytest.raises(ValueError, match=r"conv2d: expected a 4-D weight"):
        F.conv2d(_x(1, 2, 5, 5), _x(2, 2, 3))


def test_kernel_larger_than_padded_input():
    with pytest.raises(ValueError, match=r"Conv2d.*kernel size can't be greater than the padded input.*4 x 4.*5 x 5"):
        _apply(nn.Conv2d(3, 6, 5), _x(1, 3, 4, 4))
    # padding makes it fit, as in torch
    assert _apply(nn.Conv2d(3, 6, 5, padding=1), _x(1, 3, 4, 4)).shape == (1, 6, 2, 2)
    with pytest.raises(ValueError, match=r"\(dilated\) kernel 5"):
        F.conv1d(_x(1, 2, 4), _x(2, 2, 3), dilation=2)


def test_groups_must_divide_channels():
    with pytest.raises(ValueError, match=r"in_channels \(3\) must be divisible by groups \(2\)"):
        nn.Conv2d(3, 6, 3, groups=2)
    with pytest.raises(ValueError, match=r"out_channels \(5\) must be divisible by groups \(2\)"):
        nn.Conv2d(4, 5, 3, groups=2)
    with pytest.raises(ValueError, match="groups must be a positive integer"):
        nn.Conv1d(4, 4, 3, groups=0)
    with pytest.raises(ValueError, match=r"conv2d: expected weight dim 0 \(5 output channels\) to be divisible by groups=2"):
        F.conv2d(_x(1, 4, 5, 5), _x(5, 2, 3, 3), groups=2)


def test_same_padding_with_stride_is_refused_like_torch():
    with pytest.raises(ValueError, match="padding='same' is not supported for strided convolutions"):
        nn.Conv2d(3, 6, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="padding='same' is not supported for strided convolutions"):
        F.conv1d(_x(1, 2, 9), _x(2, 2, 3), stride=2, padding="same")
    with pytest.raises(ValueError, match="invalid padding string 'full'"):
        nn.Conv2d(3, 6, 3, padding="full")


def test_padding_modes_and_transposed_restrictions():
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        nn.Conv2d(3, 6, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match='only "zeros" padding mode'):
        nn.ConvTranspose2d(3, 6, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match=r"reflect padding \(4, 4\) must be smaller than the input size 4"):
        _apply(nn.Conv2d(3, 6, 3, padding=4, padding_mode="reflect"), _x(1, 3, 4, 4))


def test_transposed_output_size_and_output_padding_checks():
    layer = nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1)
    assert _apply(layer, _x(1, 3, 4, 4), output_size=[8, 8]).shape == (1, 2, 8, 8)
    with pytest.raises(ValueError, match=r"requested an output size of \(9, 9\), but valid sizes range from \(7, 7\) to \(8, 8\)"):
        _apply(layer, _x(1, 3, 4, 4), output_size=(9, 9))
    with pytest.raises(ValueError, match="output_size must have 2 or 4 elements"):
        _apply(layer, _x(1, 3, 4, 4), output_size=(8,))
    with pytest.raises(ValueError, match="output_padding must be smaller than either stride or dilation"):
        F.conv_transpose2d(_x(1, 3, 4, 4), _x(3, 2, 3, 3), stride=2, output_padding=2)


def test_bias_dtype_and_integer_inputs():
    with pytest.raises(ValueError, match=r"conv2d: expected bias of shape \(6,\), got bias of shape \(5,\)"):
        F.conv2d(_x(1, 3, 5, 5), _x(6, 3, 3, 3), _x(5))
    with pytest.raises(TypeError, match="same dtype"):
        F.conv2d(_x(1, 3, 5, 5), _x(6, 3, 3, 3, dtype=np.float16))
    with pytest.raises(TypeError, match="floating-point input"):
        F.conv2d(jnp.ones((1, 3, 5, 5), jnp.int32), _x(6, 3, 3, 3))


def test_fold_unfold_errors():
    with pytest.raises(ValueError, match="divisible by prod\\(kernel_size\\) = 4"):
        F.fold(_x(1, 6, 12), (4, 5), 2)
    with pytest.raises(ValueError, match="12 blocks in the last dim"):
        F.fold(_x(1, 8, 10), (4, 5), 2)
    with pytest.raises(ValueError, match=r"Unfold\(kernel_size=5.*sliding blocks do not fit"):
        _apply(nn.Unfold(5), _x(1, 2, 3, 3))


# -- parameters, names, printing -----------------------------------------------------------------

@pytest.mark.parametrize("fnet_layer,torch_layer", [
    (nn.Conv2d(3, 6, 5), torch.nn.Conv2d(3, 6, 5)),
    (nn.Conv1d(4, 8, 3, groups=2, bias=False), torch.nn.Conv1d(4, 8, 3, groups=2, bias=False)),
    (nn.Conv3d(2, 4, (1, 2, 3)), torch.nn.Conv3d(2, 4, (1, 2, 3))),
    (nn.ConvTranspose2d(4, 6, 3, groups=2), torch.nn.ConvTranspose2d(4, 6, 3, groups=2)),
])
def test_parameter_names_shapes_and_init_bounds(fnet_layer, torch_layer):
    params, state = fnet_layer.init(jax.random.key(3))
    assert state == {}
    want = {k: tuple(v.shape) for k, v in torch_layer.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in fnet.state_dict(params).items()}
    assert got == want
    w = np.asarray(params["weight"])
    fan_in = w.shape[1] * math.prod(w.shape[2:])
    bound = 1 / math.sqrt(fan_in)  # kaiming_uniform(a=sqrt(5)) and torch's bias bound
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    if "bias" in params:
        b = np.asarray(params["bias"])
        assert np.abs(b).max() <= bound


def test_parameter_dtype():
    params, _ = nn.Conv2d(3, 4, 3, dtype=jnp.float16).init(jax.random.key(0))
    assert params["weight"].dtype == jnp.float16 and params["bias"].dtype == jnp.float16


@pytest.mark.parametrize("args,kwargs", [
    ((3, 6, 5), {}),
    ((3, 4, 3), dict(padding="same", padding_mode="reflect", bias=False, dilation=2)),
    ((3, 4, 3), dict(padding="valid", stride=(2, 1))),
    ((4, 8, (2, 3)), dict(groups=4, padding=(1, 0), padding_mode="circular")),
])
def test_repr_matches_torch(args, kwargs):
    assert repr(nn.Conv2d(*args, **kwargs)) == repr(torch.nn.Conv2d(*args, **kwargs))
    assert repr(nn.Conv1d(*args[:2], 3, **{k: v for k, v in kwargs.items() if k not in ("stride", "padding")})) \
        == repr(torch.nn.Conv1d(*args[:2], 3, **{k: v for k, v in kwargs.items() if k not in ("stride", "padding")}))


def test_repr_matches_torch_transposed_and_fold():
    for f, t in [(nn.ConvTranspose2d(3, 4, 3, stride=2, output_padding=1, groups=1, dilation=2),
                  torch.nn.ConvTranspose2d(3, 4, 3, stride=2, output_padding=1, groups=1, dilation=2)),
                 (nn.ConvTranspose1d(2, 2, 4, bias=False), torch.nn.ConvTranspose1d(2, 2, 4, bias=False)),
                 (nn.ConvTranspose3d(2, 4, 2, padding=1), torch.nn.ConvTranspose3d(2, 4, 2, padding=1)),
                 (nn.Unfold((2, 3), padding=1), torch.nn.Unfold((2, 3), padding=1)),
                 (nn.Fold((4, 5), 2, stride=1), torch.nn.Fold((4, 5), 2, stride=1))]:
        assert repr(f) == repr(t)


def test_unbatched_matches_batched():
    layer = nn.Conv2d(3, 4, 3, padding=1, padding_mode="replicate")
    params, state = layer.init(jax.random.key(0))
    x = _x(3, 6, 5)
    one = layer.apply(params, state, x)[0]
    batch = layer.apply(params, state, x[None])[0]
    np.testing.assert_allclose(one, batch[0], rtol=1e-6, atol=1e-6)


# -- lowering ------------------------------------------------------------------------------------

def _native(x, w, padding):
    return jax.lax.conv_general_dilated(x, w, (1, 1), [(padding, padding)] * 2,
                                        dimension_numbers=("NCHW", "OIHW", "NCHW"))


def test_accelerators_keep_xla_convolution_and_cpu_uses_patches():
    """The lowering is chosen per platform: the program exported for a GPU or TPU has a
    native convolution, the CPU one a loop of matrix products (also for the gradient)."""
    x = jax.ShapeDtypeStruct((64, 32, 16, 16), jnp.float32)
    w = jax.ShapeDtypeStruct((64, 32, 3, 3), jnp.float32)
    fwd = jax.jit(lambda x, w: F.conv2d(x, w, padding=1))
    grad = jax.jit(jax.grad(lambda x, w: jnp.sum(F.conv2d(x, w, padding=1)), argnums=(0, 1)))
    for fn in (fwd, grad):
        for platform in ("cuda", "tpu"):
            text = export.export(fn, platforms=[platform])(x, w).mlir_module()
            assert "stablehlo.convolution" in text and "stablehlo.while" not in text
        text = export.export(fn, platforms=["cpu"])(x, w).mlir_module()
        assert "stablehlo.convolution" not in text and "stablehlo.while" in text


def test_chunk_size_divides_the_batch_and_bounds_the_patch_matrix(monkeypatch):
    monkeypatch.setattr(_conv, "_PATCH_CHUNK_BYTES", 2 ** 20)
    assert _conv._chunk_size(256, 75 * 784 * 4) == 4
    assert _conv._chunk_size(7, 10 ** 9) == 1
    assert _conv._chunk_size(12, 100) == 12
    assert _conv._chunk_size(12, 2 ** 20 // 5) == 4
    monkeypatch.setattr(_conv, "_PATCH_CHUNK_BYTES", 2 ** 21)
    assert _conv._chunk_size(256, 75 * 784 * 4) == 8


@pytest.mark.parametrize("text, expected", [("2048K\n", 2 ** 21), ("1M", 2 ** 20), ("524288", 2 ** 19),
                                            ("", 2 ** 20), ("lots", 2 ** 20), (None, 2 ** 20)])
def test_chunk_bytes_follow_the_l2_cache_size_sysfs_reports(tmp_path, text, expected):
    path = tmp_path / "size"
    if text is not None:
        path.write_text(text)
    assert _conv._l2_cache_bytes(path=str(path)) == expected
    assert _conv._PATCH_CHUNK_BYTES == max(2 ** 20, _conv._l2_cache_bytes())


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


def test_transformations_through_the_chunked_cpu_path(x64):
    """jit, grad, grad of grad, jvp (forward mode), vmap and checkpoint all work through the
    custom derivative of the patch lowering, with several chunks of images."""
    x = _x(6, 4, 24, 24, dtype=np.float64)
    w = _x(5, 4, 5, 5, seed=1, dtype=np.float64) * 0.2
    assert _conv._chunk_size(6, 4 * 25 * 24 * 24 * 8) < 6  # several chunks

    def ours(x, w):
        return jnp.sum(jnp.sin(F.conv2d(x, w, padding=2)))

    def ref(x, w):
        return jnp.sum(jnp.sin(_native(x, w, 2)))

    def close(a, b):
        for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
            np.testing.assert_allclose(u, v, rtol=1e-10, atol=1e-10)

    close(jax.jit(jax.grad(ours, argnums=(0, 1)))(x, w), jax.grad(ref, argnums=(0, 1))(x, w))
    close(jax.jvp(ours, (x, w), (x, w))[1], jax.jvp(ref, (x, w), (x, w))[1])
    close(jax.grad(lambda w: jnp.sum(jax.grad(ours)(x, w) ** 2))(w),
          jax.grad(lambda w: jnp.sum(jax.grad(ref)(x, w) ** 2))(w))
    close(jax.jvp(jax.grad(ours, argnums=1), (x, w), (x, w))[1],
          jax.jvp(jax.grad(ref, argnums=1), (x, w), (x, w))[1])
    close(jax.grad(jax.checkpoint(ours), argnums=(0, 1))(x, w), jax.grad(ref, argnums=(0, 1))(x, w))
    per_example = jax.vmap(jax.grad(lambda xi, w: ours(xi[None], w), argnums=1), in_axes=(0, None))
    close(per_example(x, w), jax.vmap(jax.grad(lambda xi, w: ref(xi[None], w), argnums=1),
                                      in_axes=(0, None))(x, w))


def test_bfloat16_compute():
    x, w = _x(8, 3, 16, 16), _x(4, 3, 3, 3, seed=1)
    ref = F.conv2d(x, w, padding=1)
    low = F.conv2d(x.astype(jnp.bfloat16), w.astype(jnp.bfloat16), padding=1)
    assert low.dtype == jnp.bfloat16
    assert float(jnp.abs(low.astype(jnp.float32) - ref).max()) < 0.1


def test_conv_tbc_errors():
    x, w, b = jnp.ones((5, 2, 3)), jnp.ones((2, 3, 4)), jnp.ones(4)
    assert F.conv_tbc(x, w, b, 1).shape == (6, 2, 4)
    with pytest.raises(ValueError, match=r"^conv_tbc: input channels \(dim 2 of input \(5, 2, 3\)\) must equal dim 1 "
                                         r"of weight \(2, 4, 4\)"):
        F.conv_tbc(x, jnp.ones((2, 4, 4)), b)
    with pytest.raises(ValueError, match=r"^conv_tbc: expected input \(T, B, C_in\), got shape \(5, 3\)"):
        F.conv_tbc(jnp.ones((5, 3)), w, b)
    with pytest.raises(ValueError, match=r"^conv_tbc: expected bias \(4,\), one per output channel"):
        F.conv_tbc(x, w, jnp.ones(3))
    with pytest.raises(TypeError, match=r"^conv_tbc: expected a floating-point input"):
        F.conv_tbc(x.astype(jnp.int32), w, b)
