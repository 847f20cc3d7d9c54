"""Losses: errors, warnings, signatures and module behaviour (parity is in parity_tests)."""

from __future__ import annotations

import inspect
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import fnet
import fnet.functional as F
from fnet import nn
from fnet.functional import _loss

LOGITS = jnp.asarray(np.random.default_rng(0).standard_normal((3, 4)), jnp.float32)
LABELS = jnp.asarray([0, 3, 1])


# -- signatures --------------------------------------------------------------------------------

# fnet-only trailing keyword arguments (documented in the docstrings)
FNET_EXTRAS = {"linear_cross_entropy": ["chunk_size"], "LinearCrossEntropyLoss": ["chunk_size"]}


def _params(fn, name):
    extras = FNET_EXTRAS.get(name, [])
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()
            if p.name not in extras]


@pytest.mark.parametrize("name", _loss.__all__ + ["ctc_loss", "linear_cross_entropy"])
def test_functional_signatures_are_torchs(name):
    assert _params(getattr(F, name), name) == _params(getattr(torch.nn.functional, name), name)


@pytest.mark.parametrize("name", nn._loss.__all__)
def test_module_signatures_are_torchs(name):
    assert _params(getattr(nn, name).__init__, name) == _params(getattr(torch.nn, name).__init__, name)


@pytest.mark.parametrize("name", [n for extras in FNET_EXTRAS.values() for n in extras][:1])
def test_fnet_extras_are_trailing_keyword_only(name):
    for fn in (F.linear_cross_entropy, nn.LinearCrossEntropyLoss.__init__):
        param = list(inspect.signature(fn).parameters.values())[-1]
        assert param.name == name and param.kind is inspect.Parameter.KEYWORD_ONLY


# -- shapes ------------------------------------------------------------------------------------

def test_bce_shape_mismatch_names_the_loss_and_both_shapes():
    with pytest.raises(ValueError) as err:
        F.binary_cross_entropy(jnp.full((3, 4), 0.5), jnp.full((3, 1), 0.5))
    msg = str(err.value)
    assert "binary_cross_entropy" in msg and "(3, 4)" in msg and "(3, 1)" in msg


def test_module_shape_mismatch_names_the_module():
    with pytest.raises(ValueError) as err:
        nn.BCEWithLogitsLoss()(jnp.zeros((3, 4)), jnp.zeros((4, 3)))
    msg = str(err.value)
    assert "BCEWithLogitsLoss()" in msg and "(3, 4)" in msg and "(4, 3)" in msg


def test_regression_losses_broadcast_with_a_warning_like_torch():
    x, t = jnp.zeros((4, 5)), jnp.ones((4, 1))
    with pytest.warns(UserWarning) as record:
        out = F.mse_loss(x, t, reduction="none")
    assert out.shape == (4, 5)
    msg = str(record[0].message)
    assert "mse_loss" in msg and "(4, 5)" in msg and "(4, 1)" in msg


def test_unbroadcastable_shapes_raise_with_both_shapes():
    with pytest.raises(ValueError) as err:
        nn.L1Loss()(jnp.zeros((3, 4)), jnp.zeros((5,)))
    msg = str(err.value)
    assert "L1Loss()" in msg and "(3, 4)" in msg and "(5,)" in msg


def test_cross_entropy_batch_and_spatial_mismatch():
    with pytest.raises(ValueError, match=r"batch_size \(3\).*batch_size \(2\)"):
        F.cross_entropy(LOGITS, jnp.asarray([0, 1]))
    with pytest.raises(ValueError, match=r"expected target of shape \(2, 4\).*got \(2, 3\)"):
        F.nll_loss(jnp.zeros((2, 3, 4)), jnp.zeros((2, 3), jnp.int32))


def test_class_weight_shape_is_checked():
    with pytest.raises(ValueError, match=r"weight of shape \(4,\).*got \(3,\)"):
        F.cross_entropy(LOGITS, LABELS, weight=jnp.ones(3))


# -- dtypes ------------------------------------------------------------------------------------

def test_float_target_of_the_wrong_shape_for_cross_entropy():
    with pytest.raises(TypeError) as err:
        F.cross_entropy(LOGITS, jnp.zeros((3, 5)))
    msg = str(err.value)
    assert "integer class indices of shape (3,)" in msg and "(3, 4)" in msg and "(3, 5)" in msg


def test_float_labels_are_not_class_indices():
    with pytest.raises(TypeError, match="integer class indices"):
        nn.CrossEntropyLoss()(LOGITS, jnp.asarray([0.0, 3.0, 1.0]))
    with pytest.raises(TypeError, match="nll_loss: expected integer class indices"):
        F.nll_loss(LOGITS, jnp.asarray([0.0, 3.0, 1.0]))


def test_integer_target_of_the_inputs_shape_is_not_a_probability():
    with pytest.raises(TypeError, match="class probabilities and must be floating point"):
        F.cross_entropy(LOGITS, jnp.zeros((3, 4), jnp.int32))


def test_integer_target_for_bce():
    with pytest.raises(TypeError, match="binary_cross_entropy: expected a floating-point target"):
        F.binary_cross_entropy(jnp.full((3,), 0.5), jnp.asarray([0, 1, 1]))
    with pytest.raises(TypeError, match="BCEWithLogitsLoss"):
        nn.BCEWithLogitsLoss()(jnp.zeros(3), jnp.asarray([0, 1, 1]))


def test_integer_input_is_refused():
    with pytest.raises(TypeError, match="mse_loss: expected a floating-point input"):
        F.mse_loss(jnp.asarray([1, 2]), jnp.asarray([1.0, 2.0]))


# -- reduction ---------------------------------------------------------------------------------

@pytest.mark.parametrize("fn,args", [
    (F.cross_entropy, (LOGITS, LABELS)),
    (F.mse_loss, (LOGITS, LOGITS)),
    (F.binary_cross_entropy_with_logits, (LOGITS, jnp.zeros((3, 4)))),
    (F.kl_div, (LOGITS, jnp.ones((3, 4)))),
])
def test_invalid_reduction_raises_like_torch(fn, args):
    with pytest.raises(ValueError, match="'avg' is not a valid value for reduction"):
        fn(*args, reduction="avg")


def test_batchmean_is_only_for_kl_div():
    with pytest.raises(ValueError, match="'batchmean' is not a valid value"):
        F.cross_entropy(LOGITS, LABELS, reduction="batchmean")
    with pytest.raises(ValueError, match="batchmean"):
        torch.nn.functional.cross_entropy(torch.zeros(3, 4), torch.zeros(3, dtype=torch.long),
                                          reduction="batchmean")
    assert F.kl_div(LOGITS, jnp.ones((3, 4)), reduction="batchmean").shape == ()


def test_invalid_reduction_in_a_module_names_it():
    with pytest.raises(ValueError, match=r"CrossEntropyLoss\(\): cross_entropy: 'avg'"):
        nn.CrossEntropyLoss(reduction="avg")(LOGITS, LABELS)


@pytest.mark.parametrize("size_average,reduce,expected", [
    (None, False, "none"), (False, None, "sum"), (True, None, "mean"), (False, False, "none"),
])
def test_legacy_size_average_reduce(size_average, reduce, expected):
    x = jnp.arange(6.0).reshape(2, 3)
    with pytest.warns(UserWarning, match=f"reduction='{expected}'"):
        got = F.l1_loss(x, jnp.zeros_like(x), size_average=size_average, reduce=reduce)
    np.testing.assert_allclose(got, F.l1_loss(x, jnp.zeros_like(x), reduction=expected))
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        module = nn.MSELoss(size_average, reduce)
    with pytest.warns(UserWarning):
        torch_module = torch.nn.MSELoss(size_average, reduce)
    assert module.reduction == expected == torch_module.reduction


def test_kl_div_mean_warns_like_torch():
    with pytest.warns(UserWarning, match="batchmean"):
        F.kl_div(LOGITS, jnp.ones((3, 4)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.kl_div(LOGITS, jnp.ones((3, 4)), reduction="batchmean")


# -- values: eager checks, and what happens under jit -----------------------------------------------

def test_class_index_out_of_range_raises_eagerly():
    with pytest.raises(ValueError) as err:
        F.cross_entropy(LOGITS, jnp.asarray([0, 4, 1]))
    msg = str(err.value)
    assert "target 4 is out of bounds" in msg and "[0, 4)" in msg
    assert isinstance(err.value, IndexError)  # what torch raises, for ported except clauses
    with pytest.raises(ValueError, match="target -1 is out of bounds"):
        nn.NLLLoss()(LOGITS, jnp.asarray([0, -1, 1]))
    with pytest.raises(ValueError, match="out of range"):
        F.multi_margin_loss(LOGITS, jnp.asarray([0, 9, 1]))


def test_ignore_index_is_not_out_of_range():
    out = F.cross_entropy(LOGITS, jnp.asarray([0, -100, 1]), reduction="none")
    assert float(out[1]) == 0.0
    out = F.cross_entropy(LOGITS, jnp.asarray([0, 7, 1]), ignore_index=7, reduction="none")
    assert float(out[1]) == 0.0


def test_class_index_out_of_range_under_jit_is_nan():
    """Values are unknown while tracing: the bad element's loss is nan instead of an error."""
    out = jax.jit(lambda x, t: F.cross_entropy(x, t, reduction="none"))(LOGITS, jnp.asarray([0, 4, 1]))
    assert np.isnan(out[1]) and np.isfinite(out[0]) and np.isfinite(out[2])
    assert np.isnan(jax.jit(F.cross_entropy)(LOGITS, jnp.asarray([0, 4, 1])))


def test_bce_values_outside_0_1_raise_eagerly():
    with pytest.raises(ValueError, match="input should be between 0 and 1") as err:
        F.binary_cross_entropy(jnp.asarray([0.5, 1.5]), jnp.asarray([0.0, 1.0]))
    assert "binary_cross_entropy_with_logits" in str(err.value)  # the likely fix
    with pytest.raises(ValueError, match="target should be between 0 and 1"):
        nn.BCELoss()(jnp.asarray([0.5, 0.5]), jnp.asarray([0.0, 2.0]))
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.binary_cross_entropy(jnp.asarray([jnp.nan]), jnp.asarray([1.0]))  # torch refuses nan too


def test_bce_values_outside_0_1_under_jit_are_nan():
    out = jax.jit(F.binary_cross_entropy)(jnp.asarray([0.5, 1.5]), jnp.asarray([0.0, 1.0]))
    assert np.isnan(out)


def test_gaussian_negative_variance():
    with pytest.raises(ValueError, match="var has negative"):
        F.gaussian_nll_loss(jnp.zeros(3), jnp.zeros(3), jnp.asarray([1.0, -1.0, 1.0]))
    with pytest.raises(ValueError, match="var has negative"):
        F.gaussian_nll_loss(jnp.zeros(3), jnp.zeros(3), -1.0)
    with pytest.raises(ValueError, match="var is of incorrect size"):
        F.gaussian_nll_loss(jnp.zeros((3, 2)), jnp.zeros((3, 2)), jnp.ones((2, 3)))


def test_other_argument_checks():
    with pytest.raises(ValueError, match="label_smoothing must be between 0.0 and 1.0"):
        F.cross_entropy(LOGITS, LABELS, label_smoothing=1.5)
    with pytest.raises(ValueError, match="ignore_index=0 is not supported with class probability targets"):
        F.cross_entropy(LOGITS, jnp.full((3, 4), 0.25), ignore_index=0)
    with pytest.raises(ValueError, match="beta must be non-negative"):
        F.smooth_l1_loss(LOGITS, LOGITS, beta=-1.0)
    with pytest.raises(ValueError, match="delta must be positive"):
        F.huber_loss(LOGITS, LOGITS, delta=0.0)
    with pytest.raises(TypeError, match="delta must be a float or int"):
        nn.HuberLoss(delta="1")
    with pytest.raises(ValueError, match="margin to be greater than 0"):
        nn.TripletMarginLoss(margin=0.0)
    with pytest.raises(ValueError, match="margin must be greater than 0"):
        F.triplet_margin_loss(LOGITS, LOGITS, LOGITS, margin=-1.0)
    with pytest.raises(ValueError, match="only p == 1 and p == 2"):
        nn.MultiMarginLoss(p=3)
    with pytest.raises(ValueError, match="0D or 1D target"):
        F.cosine_embedding_loss(LOGITS, LOGITS, jnp.ones((3, 1)))
    with pytest.raises(ValueError, match="same number of dimensions"):
        F.margin_ranking_loss(jnp.zeros(3), jnp.zeros(3), jnp.ones((3, 1)))


def test_all_targets_ignored_mean_is_nan_with_zero_gradient_like_torch():
    target = jnp.full((3,), -100)
    for ls in (0.0, 0.1):
        value, grad = jax.jit(jax.value_and_grad(
            lambda x: F.cross_entropy(x, target, label_smoothing=ls)))(LOGITS)
        assert np.isnan(value)
        np.testing.assert_array_equal(grad, np.zeros((3, 4)))


# -- modules -----------------------------------------------------------------------------------

def test_weights_are_buffers_with_torch_names():
    w = np.float32([1.0, 2.0, 0.5, 1.0])
    for ours, theirs in [
        (nn.CrossEntropyLoss(weight=w), torch.nn.CrossEntropyLoss(weight=torch.tensor(w))),
        (nn.BCEWithLogitsLoss(pos_weight=w), torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(w))),
        (nn.BCEWithLogitsLoss(w, pos_weight=w),
         torch.nn.BCEWithLogitsLoss(torch.tensor(w), pos_weight=torch.tensor(w))),
        (nn.NLLLoss(), torch.nn.NLLLoss()),
        (nn.MultiMarginLoss(weight=w), torch.nn.MultiMarginLoss(weight=torch.tensor(w))),
    ]:
        params, state = ours.init(jax.random.key(0))
        assert params == {}
        assert sorted(fnet.state_dict(params, state)) == sorted(theirs.state_dict())
        for key, value in theirs.state_dict().items():
            np.testing.assert_array_equal(state[key], value.numpy())


def test_loaded_weights_are_used():
    torch_loss = torch.nn.CrossEntropyLoss(weight=torch.tensor([1.0, 5.0, 1.0, 1.0]))
    ours = nn.CrossEntropyLoss(weight=np.ones(4, np.float32))
    params, state = fnet.load_state_dict(ours, torch_loss.state_dict())
    out, _ = ours.apply(params, state, LOGITS, LABELS)
    want = torch_loss(torch.tensor(np.asarray(LOGITS)), torch.tensor(np.asarray(LABELS), dtype=torch.long))
    np.testing.assert_allclose(out, want.item(), rtol=1e-6)


def test_repr_matches_torch():
    w = np.ones(3, np.float32)
    assert repr(nn.CrossEntropyLoss(weight=w, label_smoothing=0.1)) == \
        repr(torch.nn.CrossEntropyLoss(weight=torch.ones(3), label_smoothing=0.1)) == "CrossEntropyLoss()"
    required = {"LinearCrossEntropyLoss": (4, 9)}  # in_features, num_classes
    for name in nn._loss.__all__:
        args = required.get(name, ())
        assert repr(getattr(nn, name)(*args)) == repr(getattr(torch.nn, name)(*args))


def test_direct_call_jit_grad_and_static_argument():
    criterion = nn.CrossEntropyLoss(weight=np.float32([1.0, 2.0, 1.0, 0.5]), label_smoothing=0.1)
    eager = criterion(LOGITS, LABELS)
    jitted = jax.jit(lambda x, t: criterion(x, t))(LOGITS, LABELS)
    np.testing.assert_allclose(eager, jitted, rtol=1e-6)
    grad = jax.jit(jax.grad(lambda x: criterion(x, LABELS)))(LOGITS)
    assert grad.shape == (3, 4) and np.all(np.isfinite(grad))
    static = jax.jit(lambda c, x, t: c(x, t), static_argnums=0)
    np.testing.assert_allclose(static(criterion, LOGITS, LABELS), eager, rtol=1e-6)
    assert hash(criterion) == hash(nn.CrossEntropyLoss(weight=np.float32([1.0, 2.0, 1.0, 0.5]),
                                                       label_smoothing=0.1))
    assert criterion != nn.CrossEntropyLoss(weight=np.float32([1.0, 2.0, 1.0, 1.0]), label_smoothing=0.1)


def test_loss_inside_a_model():
    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 3)
            self.criterion = nn.CrossEntropyLoss(weight=np.float32([1.0, 2.0, 3.0]))

        def forward(self, ctx, x, y):
            return self.criterion(ctx, self.fc(ctx, x), y)

    model = Classifier()
    params, state = model.init(jax.random.key(0))
    assert sorted(fnet.state_dict(params, state)) == ["criterion.weight", "fc.bias", "fc.weight"]
    loss, grads = jax.jit(jax.value_and_grad(
        lambda p: model.apply(p, state, LOGITS, LABELS % 3)[0]))(params)
    assert np.isfinite(loss) and set(grads) == {"fc"}


def test_torch_tensor_weights_are_accepted():
    criterion = nn.CrossEntropyLoss(weight=torch.tensor([1.0, 2.0, 1.0, 1.0]))
    assert isinstance(criterion.weight, np.ndarray)
    assert np.isfinite(criterion(LOGITS, LABELS))


def test_vmap_over_unbatched_samples_matches_batched_sum():
    per_sample = jax.jit(jax.vmap(lambda x, t: F.cross_entropy(x, t)))(LOGITS, LABELS)
    np.testing.assert_allclose(per_sample, F.cross_entropy(LOGITS, LABELS, reduction="none"), rtol=1e-6)


def test_bce_forward_mode_at_probability_0_and_1_is_finite():
    x = jnp.asarray([0.0, 1.0, 0.5])
    t = jnp.asarray([1.0, 0.0, 0.5])
    jac = jax.jit(jax.jacfwd(lambda p: F.binary_cross_entropy(p, t, reduction="none")))(x)
    assert np.all(np.isfinite(jac))



# -- multilabel_margin_loss, triplet_margin_with_distance_loss, ctc_loss, linear_cross_entropy ----

def test_multilabel_margin_loss_errors():
    with pytest.raises(TypeError, match=r"^multilabel_margin_loss: expected integer class indices as target"):
        F.multilabel_margin_loss(LOGITS, jnp.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"^multilabel_margin_loss: expected input of shape \(C,\) or \(N, C\) and "
                                         r"a target of the same shape, got input \(3, 4\) and target \(3,\)"):
        F.multilabel_margin_loss(LOGITS, LABELS)
    with pytest.raises(ValueError, match=r"target 4 is out of range: class indices must be in \[0, 4\)"):
        F.multilabel_margin_loss(LOGITS, jnp.asarray([[4, -1, 0, 0]] * 3))
    with pytest.raises(ValueError, match=r"^MultiLabelMarginLoss\(\): multilabel_margin_loss: expected input of shape"):
        nn.MultiLabelMarginLoss()(LOGITS, LABELS)


def test_triplet_margin_with_distance_loss_errors():
    a = jnp.ones((3, 4))
    with pytest.raises(ValueError, match=r"^triplet_margin_with_distance_loss: margin must be greater than 0"):
        F.triplet_margin_with_distance_loss(a, a, a, margin=0)
    with pytest.raises(ValueError, match=r"expected to have the same number of dimensions, got anchor 2D, "
                                         r"positive 1D and negative 2D"):
        F.triplet_margin_with_distance_loss(a, a[0], a)
    with pytest.raises(ValueError, match=r"^TripletMarginWithDistanceLoss: expected margin to be greater than 0"):
        nn.TripletMarginWithDistanceLoss(margin=-1)
    with pytest.raises(TypeError):
        nn.TripletMarginWithDistanceLoss(None)  # keyword-only, as torch
    loss = nn.TripletMarginWithDistanceLoss(distance_function=lambda x, y: jnp.abs(x - y).sum(-1))
    assert loss(a, a, a + 1).shape == ()


def test_ctc_loss_errors():
    lp = jax.nn.log_softmax(jnp.zeros((6, 2, 4)), -1)
    t = jnp.asarray([[1, 2], [3, 3]])
    with pytest.raises(ValueError, match=r"^ctc_loss: expected log_probs of shape \(T, N, C\) or unbatched \(T, C\)"):
        F.ctc_loss(lp[0, 0], t, [6, 6], [2, 2])
    with pytest.raises(ValueError, match=r"^ctc_loss: expected input_lengths of shape \(2,\), one per sample, got "
                                         r"\(3,\)"):
        F.ctc_loss(lp, t, [6, 6, 6], [2, 2])
    with pytest.raises(ValueError, match=r"^ctc_loss: expected input_lengths in \[0, 6\], got \[7, 6\]"):
        F.ctc_loss(lp, t, [7, 6], [2, 2])
    with pytest.raises(ValueError, match=r"^ctc_loss: target labels must be in \[0, 4\) and differ from blank=0, got 0"):
        F.ctc_loss(lp, jnp.asarray([[1, 0], [3, 3]]), [6, 6], [2, 2])
    with pytest.raises(ValueError, match=r"^ctc_loss: blank must be in label range \[0, 4\), got 4"):
        F.ctc_loss(lp, t, [6, 6], [2, 2], blank=4)
    with pytest.raises(TypeError, match=r"^ctc_loss: expected integer targets"):
        F.ctc_loss(lp, t.astype(jnp.float32), [6, 6], [2, 2])
    with pytest.raises(TypeError, match=r"^CTCLoss\(\): ctc_loss: expected floating-point log_probs"):
        nn.CTCLoss()(t, t, [6, 6], [2, 2])
    # an impossible alignment is inf (and zero_infinity makes it 0), as torch
    short = F.ctc_loss(lp, t, [1, 6], [2, 2], reduction="none")
    assert np.isinf(short[0]) and np.isfinite(short[1])
    assert F.ctc_loss(lp, t, [1, 6], [2, 2], reduction="none", zero_infinity=True)[0] == 0
    # under jit the lengths are traced: the loss still follows them
    jitted = jax.jit(lambda il: F.ctc_loss(lp, t, il, jnp.asarray([2, 2]), reduction="none"))(jnp.asarray([6, 6]))
    np.testing.assert_allclose(jitted, F.ctc_loss(lp, t, [6, 6], [2, 2], reduction="none"), rtol=1e-6)


def test_linear_cross_entropy_errors_and_memory_path():
    x, w = jnp.ones((4, 3)), jnp.ones((7, 3))
    t = jnp.asarray([0, 1, 2, 6])
    with pytest.raises(ValueError, match=r"^linear_cross_entropy: expected equal input and linear_weight last "
                                         r"dimensions \(in_features\), got 3 and 2"):
        F.linear_cross_entropy(x, jnp.ones((7, 2)), t)
    with pytest.raises(ValueError, match=r"^linear_cross_entropy: expected linear_bias shape \(7,\), got \(6,\)"):
        F.linear_cross_entropy(x, w, t, linear_bias=jnp.ones(6))
    with pytest.raises(ValueError, match=r"ignore_index cannot be specified when target contains probabilities"):
        F.linear_cross_entropy(x, w, jnp.full((4, 7), 1 / 7), ignore_index=1)
    with pytest.raises(ValueError, match=r"requires a batched input"):
        F.linear_cross_entropy(x[0], jnp.ones((7, 2, 3)), t[0])
    with pytest.raises(ValueError, match=r"target 9 is out of bounds"):
        F.linear_cross_entropy(x, w, jnp.asarray([0, 1, 2, 9]))
    with pytest.raises(ValueError, match=r"^LinearCrossEntropyLoss: expected weight shape to be \(7,\), got \(6,\)"):
        nn.LinearCrossEntropyLoss(3, 7, weight=np.ones(6))
    with pytest.raises(ValueError, match=r"expected label_smoothing to be in range \[0, 1\]"):
        nn.LinearCrossEntropyLoss(3, 7, label_smoothing=1.5)
    layer = nn.LinearCrossEntropyLoss(3, 7)
    with pytest.raises(TypeError, match=r"cannot be called like a function because it has parameters"):
        layer(x, t)
    params, state = layer.init(jax.random.key(0))
    with pytest.raises(ValueError, match=r"^LinearCrossEntropyLoss\(in_features=3.*expected equal input"):
        layer.apply(params, state, jnp.ones((4, 5)), t)
    # the chunked path never builds the (N, V) logits: its compiled temporaries stay below them
    n, d, v = 256, 16, 8192
    xs, ws, ts = jnp.ones((n, d)), jnp.ones((v, d)), jnp.zeros(n, jnp.int32)
    chunked = jax.jit(jax.grad(lambda a, b: F.linear_cross_entropy(a, b, ts, chunk_size=512), (0, 1)))
    temp = chunked.lower(xs, ws).compile().memory_analysis().temp_size_in_bytes
    assert temp < n * v * 4 / 4, f"chunked temporaries {temp} bytes vs logits {n * v * 4}"


def test_adaptive_log_softmax_errors_and_methods():
    with pytest.raises(ValueError, match=r"cutoffs should be a sequence of unique, positive integers sorted in an "
                                         r"increasing order, where each value is between 1 and n_classes-1 = 9, "
                                         r"got \[5, 3\]"):
        nn.AdaptiveLogSoftmaxWithLoss(4, 10, [5, 3])
    with pytest.raises(ValueError, match=r"cutoffs should be a sequence of length larger than 0"):
        nn.AdaptiveLogSoftmaxWithLoss(4, 10, [])
    asm = nn.AdaptiveLogSoftmaxWithLoss(16, 10, [3, 6])
    params, state = asm.init(jax.random.key(0))
    x = jnp.asarray(np.random.default_rng(0).standard_normal((5, 16)), jnp.float32)
    with pytest.raises(ValueError, match=r"^AdaptiveLogSoftmaxWithLoss\(\): target values should be in \[0, 9\], "
                                         r"but values in range \[0, 10\] were found"):
        asm.apply(params, state, x, jnp.asarray([0, 1, 2, 3, 10]))
    with pytest.raises(ValueError, match=r"input and target should have the same size in the batch dimension"):
        asm.apply(params, state, x, jnp.asarray([0, 1]))
    with pytest.raises(ValueError, match=r"expected a 2-D input \(N, in_features\) for a 1-D target"):
        asm.apply(params, state, x[0], jnp.asarray([0]))
    with pytest.raises(TypeError, match=r"expected integer target"):
        asm.apply(params, state, x, jnp.zeros(5))
    (out, loss), _ = asm.apply(params, state, x, jnp.asarray([0, 4, 9, 2, 7]))
    full = asm.log_prob(params, x)
    np.testing.assert_allclose(np.exp(full).sum(1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(out, full[jnp.arange(5), jnp.asarray([0, 4, 9, 2, 7])], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(asm.predict(params, x), full.argmax(1))
    np.testing.assert_allclose(loss, -out.mean(), rtol=1e-6)
