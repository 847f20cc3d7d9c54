"""Edge cases torch handles: empty batches and zero-size dimensions in the norm functions
(torch's result shape, or a clear ValueError where torch raises; never a ZeroDivisionError
or a numpy error), training on an empty batch leaving the running statistics alone, and
unbatched inputs accepted exactly where torch accepts them."""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fnet
import fnet.functional as F
from fnet import nn

torch = pytest.importorskip("torch")
TF = torch.nn.functional

SHAPES = [(0, 3), (0, 3, 4), (2, 0, 4), (2, 3, 0), (0, 3, 2, 2), (2, 3, 0, 2), (1, 3), (2, 4, 3)]


def _fns(c):
    return {
        "batch_norm(training)": (lambda x: TF.batch_norm(x, None, None, training=True),
                                 lambda x: F.batch_norm(x, None, None, training=True)),
        "batch_norm(eval)": (lambda x: TF.batch_norm(x, torch.zeros(c), torch.ones(c)),
                             lambda x: F.batch_norm(x, jnp.zeros(c), jnp.ones(c))),
        "instance_norm": (lambda x: TF.instance_norm(x), lambda x: F.instance_norm(x)),
        "group_norm(1)": (lambda x: TF.group_norm(x, 1), lambda x: F.group_norm(x, 1)),
        "group_norm(3)": (lambda x: TF.group_norm(x, 3), lambda x: F.group_norm(x, 3)),
        "layer_norm": (lambda x: TF.layer_norm(x, x.shape[-1:]), lambda x: F.layer_norm(x, x.shape[-1:])),
        "rms_norm": (lambda x: TF.rms_norm(x, x.shape[-1:]), lambda x: F.rms_norm(x, x.shape[-1:])),
        "local_response_norm": (lambda x: TF.local_response_norm(x, 2), lambda x: F.local_response_norm(x, 2)),
        "normalize": (lambda x: TF.normalize(x), lambda x: F.normalize(x)),
    }


# Every combination is a real case: where torch refuses an input (instance_norm of an (N, C)
# input, group_norm with channels not divisible by the groups) fnet must raise its ValueError.
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", list(_fns(3)))
def test_norm_functions_on_empty_and_tiny_inputs_do_what_torch_does(name, shape):
    t_fn, f_fn = _fns(shape[1])[name]
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            want = t_fn(torch.from_numpy(x)).numpy()
        except (RuntimeError, ValueError):
            with pytest.raises(ValueError, match=rf"^{name.split('(')[0]}: "):
                f_fn(jnp.asarray(x))
            return
        got = np.asarray(f_fn(jnp.asarray(x)))
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    # the gradient of an empty input is empty, never an error
    if 0 in shape:
        assert jax.grad(lambda v: f_fn(v).sum())(jnp.asarray(x)).shape == shape


@pytest.mark.parametrize("cls,shape", [("BatchNorm1d", (0, 3)), ("BatchNorm2d", (0, 3, 2, 2)), ("BatchNorm1d", (0, 3, 4)),
                                       ("SyncBatchNorm", (0, 3, 2))])
def test_training_on_an_empty_batch_leaves_the_running_statistics(cls, shape):
    layer = getattr(nn, cls)(3)
    t_layer = getattr(torch.nn, cls)(3).train()
    out = t_layer(torch.zeros(shape))
    params, state = fnet.load_state_dict(layer, t_layer.state_dict())
    before = fnet.state_dict({}, state)
    got, new_state = layer.apply(params, fnet.load_state_dict(layer, getattr(torch.nn, cls)(3).state_dict())[1],
                                 jnp.zeros(shape), train=True)
    assert got.shape == tuple(out.shape)
    after = fnet.state_dict({}, new_state)
    np.testing.assert_array_equal(after["running_mean"], before["running_mean"])  # not nan: untouched
    np.testing.assert_array_equal(after["running_var"], before["running_var"])
    assert int(after["num_batches_tracked"]) == int(t_layer.num_batches_tracked) == 1


UNBATCHED = [
    ("Conv1d", (3, 4, 3), (3, 8)), ("ConvTranspose2d", (3, 4, 3), (3, 5, 5)), ("MaxPool2d", (2,), (3, 6, 6)),
    ("AvgPool1d", (2,), (3, 6)), ("AdaptiveAvgPool2d", (2,), (3, 6, 6)), ("LPPool2d", (2, 2), (3, 6, 6)),
    ("AdaptiveMaxPool1d", (2,), (3, 6)), ("ReflectionPad2d", (1,), (3, 4, 4)), ("ZeroPad1d", (1,), (3, 4)),
    ("CircularPad3d", (1,), (2, 3, 3, 3)), ("PixelShuffle", (2,), (8, 3, 3)), ("ChannelShuffle", (2,), (4, 3, 3)),
    ("InstanceNorm1d", (3,), (3, 5)), ("InstanceNorm2d", (3,), (3, 4, 4)), ("BatchNorm1d", (3,), (3, 5)),
    ("LocalResponseNorm", (2,), (3, 5)), ("GroupNorm", (1, 3), (3, 5)), ("LayerNorm", (5,), (5,)),
    ("RMSNorm", (5,), (5,)), ("Dropout1d", (0.5,), (3, 5)), ("Dropout2d", (0.5,), (3, 4, 4)),
    ("Fold", ((4, 5), (2, 2)), (12, 12)), ("Unfold", ((2, 2),), (3, 4, 5)), ("Upsample", (None, 2), (3, 4)),
    ("Linear", (4, 2), (4,)), ("PReLU", (3,), (3,)), ("GLU", (), (4,)), ("Softmax2d", (), (3, 4, 4)),
    ("RNN", (4, 3), (5, 4)), ("LSTM", (4, 3), (5, 4)), ("GRU", (4, 3), (5, 4)), ("LSTMCell", (4, 3), (4,)),
    ("TransformerEncoderLayer", (8, 2, 16, 0.0), (5, 8)), ("CrossMapLRN2d", (3,), (3, 4, 4)),
    ("SyncBatchNorm", (3,), (3,)),
]


@pytest.mark.filterwarnings("ignore:dropout2d. Received a 3D input")
@pytest.mark.parametrize("name,args,shape", UNBATCHED, ids=lambda v: str(v))
def test_unbatched_inputs_are_accepted_where_torch_accepts_them(name, args, shape):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    t_layer = getattr(torch.nn, name)(*args).eval()
    layer = getattr(nn, name)(*args)
    try:
        want = t_layer(torch.from_numpy(x))
    except (RuntimeError, ValueError):
        params, state = layer.init(jax.random.key(0))
        with pytest.raises(ValueError):
            layer.apply(params, state, jnp.asarray(x))
        return
    params, state = fnet.load_state_dict(layer, t_layer.state_dict())
    got = layer.apply(params, state, jnp.asarray(x))[0]
    want, got = (want[0], got[0]) if isinstance(want, tuple) else (want, got)
    np.testing.assert_allclose(np.asarray(got), want.detach().numpy(), rtol=1e-4, atol=1e-5)
