"""Neural-network ATen operators, each mapped onto its ``fnet.functional`` twin.

One implementation of each computation: convolution, pooling, normalisation, softmax,
attention, dropout, losses and interpolation all run through ``fnet.functional``, and
the recurrent operators (``aten::lstm`` and friends, which torch would otherwise unroll
over time) through fnet's recurrent layers and their ``lax.scan`` kernels. ATen's
reduction codes (0/1/2) become torch.nn.functional's ``'none'``/``'mean'``/``'sum'``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .. import functional as F
from .. import nn
from ._optable import op, reduction_name

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


# -- linear and convolution ---------------------------------------------------------------

@op("aten.linear.default")
def linear(input, weight, bias=None):
    return F.linear(input, weight, bias)


@op("aten.bilinear.default")
def bilinear(input1, input2, weight, bias=None):
    return F.bilinear(input1, input2, weight, bias)


@op("aten.conv1d.default", "aten.conv2d.default", "aten.conv3d.default",
    "aten.conv1d.padding", "aten.conv2d.padding", "aten.conv3d.padding")
def conv(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _CONV[weight.ndim - 2](input, weight, bias, stride, padding, dilation, groups)


@op("aten.conv_transpose1d.default", "aten.conv_transpose2d.input", "aten.conv_transpose3d.input")
def conv_transpose(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    return _CONV_T[weight.ndim - 2](input, weight, bias, stride, padding, output_padding, groups, dilation)


@op("aten.convolution.default", "aten._convolution.default")
def convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding, groups,
                *backend_flags):
    if transposed:
        return conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation)
    return conv(input, weight, bias, stride, padding, dilation, groups)


@op("aten.im2col.default")
def im2col(self, kernel_size, dilation, padding, stride):
    return F.unfold(self, kernel_size, dilation, padding, stride)


@op("aten.col2im.default")
def col2im(self, output_size, kernel_size, dilation, padding, stride):
    return F.fold(self, output_size, kernel_size, dilation, padding, stride)


# -- normalisation ------------------------------------------------------------------------

def _batch_stats(input, eps):
    axes = (0,) + tuple(range(2, input.ndim))
    mean = jnp.mean(input, axis=axes)
    var = jnp.var(input, axis=axes)
    return mean, jax.lax.rsqrt(var + eps)


@op("aten.batch_norm.default", writes=(3, 4))
def batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps, cudnn_enabled=True):
    return F.batch_norm_with_stats(input, running_mean, running_var, weight, bias, training,
                                   momentum, eps)


@op("aten.native_batch_norm.default", writes=(3, 4))
def native_batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps):
    out, mean, var = F.batch_norm_with_stats(input, running_mean, running_var, weight, bias,
                                             training, momentum, eps)
    return (out, *_saved_stats(input, eps, training)), mean, var


def _saved_stats(input, eps, training):
    """save_mean / save_invstd: the batch statistics in training, empty otherwise (torch)."""
    return _batch_stats(input, eps) if training else (jnp.zeros((0,), input.dtype),) * 2


@op("aten._native_batch_norm_legit.default", writes=(3, 4))
def native_batch_norm_legit(input, weight, bias, running_mean, running_var, training, momentum, eps):
    out, mean, var = F.batch_norm_with_stats(input, running_mean, running_var, weight, bias,
                                             training, momentum, eps)
    return (out, *_saved_stats(input, eps, training)), mean, var


@op("aten._native_batch_norm_legit_functional.default")
def native_batch_norm_legit_functional(input, weight, bias, running_mean, running_var, training,
                                       momentum, eps):
    out, mean, var = F.batch_norm_with_stats(input, running_mean, running_var, weight, bias,
                                             training, momentum, eps)
    return out, *_saved_stats(input, eps, training), mean, var


@op("aten._native_batch_norm_legit.no_stats")
def native_batch_norm_no_stats(input, weight, bias, training, momentum, eps):
    out = F.batch_norm(input, None, None, weight, bias, True, momentum, eps)
    return (out, *_batch_stats(input, eps))


@op("aten._native_batch_norm_legit_no_training.default")
def native_batch_norm_no_training(input, weight, bias, running_mean, running_var, momentum, eps):
    out = F.batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    empty = jnp.zeros((0,), input.dtype)
    return out, empty, empty


@op("aten.instance_norm.default", writes=(3, 4))
def instance_norm(input, weight, bias, running_mean, running_var, use_input_stats, momentum, eps,
                  cudnn_enabled=True):
    return F.instance_norm_with_stats(input, running_mean, running_var, weight, bias,
                                      use_input_stats, momentum, eps)


@op("aten.layer_norm.default")
def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-05, cudnn_enable=True):
    return F.layer_norm(input, tuple(normalized_shape), weight, bias, eps)


@op("aten.native_layer_norm.default")
def native_layer_norm(input, normalized_shape, weight, bias, eps):
    out = F.layer_norm(input, tuple(normalized_shape), weight, bias, eps)
    axes = tuple(range(input.ndim - len(normalized_shape), input.ndim))
    mean = jnp.mean(input, axis=axes, keepdims=True)
    rstd = jax.lax.rsqrt(jnp.var(input, axis=axes, keepdims=True) + eps)
    return out, mean, rstd


@op("aten.group_norm.default")
def group_norm(input, num_groups, weight=None, bias=None, eps=1e-05, cudnn_enabled=True):
    return F.group_norm(input, num_groups, weight, bias, eps)


@op("aten.native_group_norm.default")
def native_group_norm(input, weight, bias, N, C, HxW, group, eps):
    out = F.group_norm(input, group, weight, bias, eps)
    grouped = input.reshape(N, group, -1)
    mean = jnp.mean(grouped, axis=-1)
    rstd = jax.lax.rsqrt(jnp.var(grouped, axis=-1) + eps)
    return out, mean, rstd


@op("aten.rms_norm.default")
def rms_norm(input, normalized_shape, weight=None, eps=None):
    return F.rms_norm(input, tuple(normalized_shape), weight, eps)



# -- embedding, softmax, attention --------------------------------------------------------

@op("aten.embedding.default")
def embedding(weight, indices, padding_idx=-1, scale_grad_by_freq=False, sparse=False):
    # ATen's -1 means "no padding row": F.embedding already resolved negative indices
    return F.embedding(indices, weight, None if padding_idx == -1 else padding_idx,
                       scale_grad_by_freq=scale_grad_by_freq)


@op("aten.softmax.int", "aten.special_softmax.default")
def softmax(self, dim, dtype=None):
    return F.softmax(self, dim, dtype=dtype)


@op("aten._softmax.default")
def softmax_(self, dim, half_to_float=False):
    return F.softmax(self, dim)


@op("aten.log_softmax.int", "aten.special_log_softmax.default")
def log_softmax(self, dim, dtype=None):
    return F.log_softmax(self, dim, dtype=dtype)


@op("aten._log_softmax.default")
def log_softmax_(self, dim, half_to_float=False):
    return F.log_softmax(self, dim)


@op("aten._safe_softmax.default")
def safe_softmax(self, dim, dtype=None):
    out = F.softmax(self, dim, dtype=dtype)
    fully_masked = jnp.all(jnp.isneginf(self), axis=dim, keepdims=True)
    return jnp.where(fully_masked, jnp.zeros((), out.dtype), out)


@op("aten.scaled_dot_product_attention.default", run=True)
def scaled_dot_product_attention(run, query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False,
                                 scale=None, enable_gqa=False):
    dropout_key = run.key() if dropout_p > 0 else None
    return F.scaled_dot_product_attention(query, key, value, attn_mask, dropout_p, is_causal, scale=scale,
                                          enable_gqa=enable_gqa, dropout_key=dropout_key)


# -- dropout ------------------------------------------------------------------------------

def _dropout(run, fn, input, p, train):
    train = bool(train)
    return fn(input, p, train, key=run.key() if train and 0 < p < 1 else None)


@op("aten.dropout.default", run=True)
def dropout(run, input, p, train):
    return _dropout(run, F.dropout, input, p, train)


@op("aten.native_dropout.default", run=True)
def native_dropout(run, input, p, train=None):
    if not train or p == 0:
        return input, jnp.ones(input.shape, jnp.bool_)
    keep = jax.random.bernoulli(run.key(), 1.0 - p, input.shape)
    # torch's native_dropout: input * mask * (1 / (1 - p)); p == 1 zeroes everything
    scale = 0.0 if p == 1 else 1.0 / (1.0 - p)
    return input * keep.astype(input.dtype) * scale, keep


@op("aten.feature_dropout.default", run=True)
def feature_dropout(run, input, p, train):
    fn = {3: F.dropout1d, 4: F.dropout2d, 5: F.dropout3d}.get(input.ndim, F.dropout2d)
    return _dropout(run, fn, input, p, train)


@op("aten.alpha_dropout.default", run=True)
def alpha_dropout(run, input, p, train):
    return _dropout(run, F.alpha_dropout, input, p, train)


@op("aten.feature_alpha_dropout.default", run=True)
def feature_alpha_dropout(run, input, p, train):
    return _dropout(run, F.feature_alpha_dropout, input, p, train)


# -- pooling ------------------------------------------------------------------------------

def _stride(stride, kernel_size):
    return None if stride is None or (hasattr(stride, "__len__") and len(stride) == 0) else stride


_MAX_POOL = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
_AVG_POOL = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}
_ADAPTIVE_AVG = {1: F.adaptive_avg_pool1d, 2: F.adaptive_avg_pool2d, 3: F.adaptive_avg_pool3d}
_ADAPTIVE_MAX = {1: F.adaptive_max_pool1d, 2: F.adaptive_max_pool2d, 3: F.adaptive_max_pool3d}


def _max_pool(nd, return_indices):
    def pool(self, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
        return _MAX_POOL[nd](self, kernel_size, _stride(stride, kernel_size), padding, dilation, ceil_mode,
                             return_indices)
    return pool


for _nd in (1, 2, 3):
    op(f"aten.max_pool{_nd}d.default")(_max_pool(_nd, False))
    op(f"aten.max_pool{_nd}d_with_indices.default")(_max_pool(_nd, True))


def _avg_pool(nd):
    def pool(self, kernel_size, stride=(), padding=0, ceil_mode=False, count_include_pad=True,
             divisor_override=None):
        args = (self, kernel_size, _stride(stride, kernel_size), padding, ceil_mode, count_include_pad)
        return _AVG_POOL[nd](*args) if nd == 1 else _AVG_POOL[nd](*args, divisor_override)
    return pool


for _nd in (1, 2, 3):
    op(f"aten.avg_pool{_nd}d.default")(_avg_pool(_nd))
    op(f"aten.adaptive_avg_pool{_nd}d.default")(_ADAPTIVE_AVG[_nd])
    op(f"aten.adaptive_max_pool{_nd}d.default")(
        lambda self, output_size, _nd=_nd: _ADAPTIVE_MAX[_nd](self, output_size, True))
op("aten._adaptive_avg_pool2d.default")(F.adaptive_avg_pool2d)
op("aten._adaptive_avg_pool3d.default")(F.adaptive_avg_pool3d)


# -- resampling and padding ---------------------------------------------------------------

def _interpolate(input, output_size, scales, mode, align_corners=None):
    spatial = input.shape[2:]
    if scales is not None and any(s is not None for s in scales):
        scales = tuple(float(s) for s in scales)
        if output_size is None or all(int(np.floor(n * s)) == o for n, s, o in zip(spatial, scales, output_size)):
            return F.interpolate(input, scale_factor=scales, mode=mode, align_corners=align_corners)
    return F.interpolate(input, size=tuple(output_size), mode=mode, align_corners=align_corners)


_UPSAMPLE = {"upsample_nearest1d": "nearest", "upsample_nearest2d": "nearest",
             "upsample_nearest3d": "nearest", "_upsample_nearest_exact1d": "nearest-exact",
             "_upsample_nearest_exact2d": "nearest-exact", "_upsample_nearest_exact3d": "nearest-exact"}
_UPSAMPLE_ALIGNED = {"upsample_linear1d": "linear", "upsample_bilinear2d": "bilinear",
                     "upsample_trilinear3d": "trilinear", "upsample_bicubic2d": "bicubic"}


def _nearest_vec(mode):
    def upsample(input, output_size, scale_factors):
        return _interpolate(input, output_size, scale_factors, mode)
    return upsample


def _nearest_default(mode):
    def upsample(input, output_size, *scales):
        return _interpolate(input, output_size, scales or None, mode)
    return upsample


def _aligned_vec(mode):
    def upsample(input, output_size, align_corners, scale_factors):
        return _interpolate(input, output_size, scale_factors, mode, align_corners)
    return upsample


def _aligned_default(mode):
    def upsample(input, output_size, align_corners, *scales):
        return _interpolate(input, output_size, scales or None, mode, align_corners)
    return upsample


for _name, _mode in _UPSAMPLE.items():
    op(f"aten.{_name}.vec")(_nearest_vec(_mode))
    op(f"aten.{_name}.default")(_nearest_default(_mode))
for _name, _mode in _UPSAMPLE_ALIGNED.items():
    op(f"aten.{_name}.vec")(_aligned_vec(_mode))
    op(f"aten.{_name}.default")(_aligned_default(_mode))


@op("aten.pad.default")
def pad(self, pad, mode="constant", value=None):
    return F.pad(self, tuple(pad), mode, value)


@op("aten.constant_pad_nd.default")
def constant_pad_nd(self, pad, value=0):
    return F.pad(self, tuple(pad), "constant", value)


for _nd in (1, 2, 3):
    op(f"aten.reflection_pad{_nd}d.default")(lambda self, padding: F.pad(self, tuple(padding), "reflect"))
    op(f"aten.replication_pad{_nd}d.default")(lambda self, padding: F.pad(self, tuple(padding), "replicate"))
op("aten._pad_circular.default")(lambda self, pad: F.pad(self, tuple(pad), "circular"))

op("aten.pixel_shuffle.default")(F.pixel_shuffle)
op("aten.pixel_unshuffle.default")(F.pixel_unshuffle)


# -- distances and losses -----------------------------------------------------------------

@op("aten.cosine_similarity.default")
def cosine_similarity(x1, x2, dim=1, eps=1e-08):
    return F.cosine_similarity(x1, x2, dim, eps)


@op("aten.pairwise_distance.default")
def pairwise_distance(x1, x2, p=2.0, eps=1e-06, keepdim=False):
    return F.pairwise_distance(x1, x2, p, eps, keepdim)


@op("aten.cross_entropy_loss.default")
def cross_entropy_loss(self, target, weight=None, reduction=1, ignore_index=-100, label_smoothing=0.0):
    return F.cross_entropy(self, target, weight, ignore_index=ignore_index,
                           reduction=reduction_name(reduction), label_smoothing=label_smoothing)


@op("aten.nll_loss.default", "aten.nll_loss_nd.default", "aten.nll_loss2d.default")
def nll_loss(self, target, weight=None, reduction=1, ignore_index=-100):
    return F.nll_loss(self, target, weight, ignore_index=ignore_index, reduction=reduction_name(reduction))


@op("aten.nll_loss_forward.default", "aten.nll_loss2d_forward.default")
def nll_loss_forward(self, target, weight, reduction, ignore_index):
    out = nll_loss(self, target, weight, reduction, ignore_index)
    valid = target != ignore_index
    w = jnp.ones((self.shape[1 if self.ndim > 1 else 0],), self.dtype) if weight is None else weight
    total = jnp.sum(jnp.where(valid, w[jnp.where(valid, target, 0)], 0))
    return out, total.astype(self.dtype)


def _reduced(fn):
    def loss(self, target, reduction=1, *args):
        return fn(self, target, *args, reduction=reduction_name(reduction))
    return loss


op("aten.mse_loss.default")(_reduced(lambda x, t, reduction: F.mse_loss(x, t, reduction=reduction)))
op("aten.l1_loss.default")(_reduced(lambda x, t, reduction: F.l1_loss(x, t, reduction=reduction)))
op("aten.soft_margin_loss.default")(
    _reduced(lambda x, t, reduction: F.soft_margin_loss(x, t, reduction=reduction)))


@op("aten.smooth_l1_loss.default")
def smooth_l1_loss(self, target, reduction=1, beta=1.0):
    return F.smooth_l1_loss(self, target, reduction=reduction_name(reduction), beta=beta)


@op("aten.huber_loss.default")
def huber_loss(self, target, reduction=1, delta=1.0):
    return F.huber_loss(self, target, reduction=reduction_name(reduction), delta=delta)


@op("aten.binary_cross_entropy.default")
def binary_cross_entropy(self, target, weight=None, reduction=1):
    return F.binary_cross_entropy(self, target, weight, reduction=reduction_name(reduction))


@op("aten.binary_cross_entropy_with_logits.default")
def binary_cross_entropy_with_logits(self, target, weight=None, pos_weight=None, reduction=1):
    return F.binary_cross_entropy_with_logits(self, target, weight, reduction=reduction_name(reduction),
                                              pos_weight=pos_weight)


@op("aten.kl_div.default")
def kl_div(self, target, reduction=1, log_target=False):
    return F.kl_div(self, target, reduction=reduction_name(reduction), log_target=log_target)


@op("aten.hinge_embedding_loss.default")
def hinge_embedding_loss(self, target, margin=1.0, reduction=1):
    return F.hinge_embedding_loss(self, target, margin, reduction=reduction_name(reduction))


@op("aten.margin_ranking_loss.default")
def margin_ranking_loss(input1, input2, target, margin=0.0, reduction=1):
    return F.margin_ranking_loss(input1, input2, target, margin, reduction=reduction_name(reduction))


@op("aten.cosine_embedding_loss.default")
def cosine_embedding_loss(input1, input2, target, margin=0.0, reduction=1):
    return F.cosine_embedding_loss(input1, input2, target, margin, reduction=reduction_name(reduction))


@op("aten.poisson_nll_loss.default")
def poisson_nll_loss(input, target, log_input, full, eps, reduction):
    return F.poisson_nll_loss(input, target, log_input, full, eps=eps, reduction=reduction_name(reduction))


@op("aten.multi_margin_loss.default")
def multi_margin_loss(self, target, p=1, margin=1, weight=None, reduction=1):
    return F.multi_margin_loss(self, target, p, margin, weight, reduction=reduction_name(reduction))


@op("aten.triplet_margin_loss.default")
def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-06, swap=False, reduction=1):
    return F.triplet_margin_loss(anchor, positive, negative, margin, p, eps, swap,
                                 reduction=reduction_name(reduction))


# -- recurrent layers: fnet's layers (lax.scan), never unrolled over time -----------------

def _rnn_names(num_layers, bidirectional, has_biases, proj):
    names = []
    for layer in range(num_layers):
        for direction in range(2 if bidirectional else 1):
            sfx = f"l{layer}" + ("_reverse" if direction else "")
            names += [f"weight_ih_{sfx}", f"weight_hh_{sfx}"]
            if has_biases:
                names += [f"bias_ih_{sfx}", f"bias_hh_{sfx}"]
            if proj:
                names.append(f"weight_hr_{sfx}")
    return names


def _run_rnn(run, kind, input, hx, params, has_biases, num_layers, dropout, train, bidirectional,
             batch_first, **extra):
    directions = 2 if bidirectional else 1
    per = len(params) // (num_layers * directions)
    proj = per - (4 if has_biases else 2) == 1
    hidden = params[1].shape[1] if not proj else params[4 if has_biases else 2].shape[1]
    kwargs = dict(num_layers=num_layers, bias=bool(has_biases), batch_first=bool(batch_first),
                  dropout=float(dropout), bidirectional=bool(bidirectional), **extra)
    gates = {"LSTM": 4, "GRU": 3}.get(kind, 1)
    if kind == "LSTM":
        hidden = params[0].shape[0] // gates
        kwargs["proj_size"] = params[1].shape[1] if proj else 0
    layer = getattr(nn, kind)(params[0].shape[1], hidden, **kwargs)
    weights = dict(zip(_rnn_names(num_layers, bidirectional, has_biases, proj), params))
    train = bool(train)
    key = run.key() if train and dropout > 0 and num_layers > 1 else None
    return layer.apply(weights, {}, input, hx, train=train, key=key)[0]


@op("aten.lstm.input", run=True)
def lstm(run, input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first):
    out, (h, c) = _run_rnn(run, "LSTM", input, tuple(hx), params, has_biases, num_layers, dropout,
                           train, bidirectional, batch_first)
    return out, h, c


@op("aten.gru.input", run=True)
def gru(run, input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first):
    return _run_rnn(run, "GRU", input, hx, params, has_biases, num_layers, dropout, train,
                    bidirectional, batch_first)


@op("aten.rnn_tanh.input", run=True)
def rnn_tanh(run, input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first):
    return _run_rnn(run, "RNN", input, hx, params, has_biases, num_layers, dropout, train,
                    bidirectional, batch_first, nonlinearity="tanh")


@op("aten.rnn_relu.input", run=True)
def rnn_relu(run, input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first):
    return _run_rnn(run, "RNN", input, hx, params, has_biases, num_layers, dropout, train,
                    bidirectional, batch_first, nonlinearity="relu")


def _cell(kind, input, hx, w_ih, w_hh, b_ih=None, b_hh=None, **extra):
    gates = {"LSTMCell": 4, "GRUCell": 3}.get(kind, 1)
    layer = getattr(nn, kind)(w_ih.shape[1], w_ih.shape[0] // gates, bias=b_ih is not None, **extra)
    weights = {"weight_ih": w_ih, "weight_hh": w_hh}
    if b_ih is not None:
        weights.update(bias_ih=b_ih, bias_hh=b_hh)
    return layer.apply(weights, {}, input, hx)[0]


@op("aten.lstm_cell.default")
def lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    return _cell("LSTMCell", input, tuple(hx), w_ih, w_hh, b_ih, b_hh)


@op("aten.gru_cell.default")
def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    return _cell("GRUCell", input, hx, w_ih, w_hh, b_ih, b_hh)


@op("aten.rnn_tanh_cell.default")
def rnn_tanh_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    return _cell("RNNCell", input, hx, w_ih, w_hh, b_ih, b_hh, nonlinearity="tanh")


@op("aten.rnn_relu_cell.default")
def rnn_relu_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    return _cell("RNNCell", input, hx, w_ih, w_hh, b_ih, b_hh, nonlinearity="relu")
