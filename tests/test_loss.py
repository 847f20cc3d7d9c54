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

@pytest.mark.parametrize("name", _loss.__all__)
def test_functional_signatures_are_torchs(name):
    ours = inspect.signature(getattr(F, name)).parameters
    theirs = inspect.signature(getattr(torch.nn.functional, name)).parameters
    assert [(p.name, p.kind, p.default) for p in ours.values()] == \
           [(p.name, p.kind, p.default) for p in theirs.values()]


@pytest.mark.parametrize("name", nn._loss.__all__)
def test_module_signatures_are_torchs(name):
    ours = inspect.signature(getattr(nn, name).__init__).parameters
    theirs = inspect.signature(getattr(torch.nn, name).__init__).parameters
    assert [(p.name, p.kind, p.default) for p in ours.values()] == \
           [(p.name, p.kind, p.default) for p in theirs.values()]


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
    with pytest.raises(ValueError, match=r"CrossEntropyLoss\(\): 'avg'"):
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
    for name in nn._loss.__all__:
        assert repr(getattr(nn, name)()) == repr(getattr(torch.nn, name)())


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
