"""Recurrent layers: ``RNN``, ``LSTM``, ``GRU`` and the cells ``RNNCell``, ``LSTMCell``, ``GRUCell``.

Parameters are torch's, by name, shape and gate order (``weight_ih_l0``,
``weight_hh_l0_reverse``, ``weight_hr_l1`` ...; LSTM gates ``i, f, g, o``, GRU gates
``r, z, n``), so a torch checkpoint loads by unflattening. The layers run a
``jax.lax.scan`` per layer and direction with the input projections of all
timesteps hoisted into one matmul and a hand-written backward pass (see
``fnet/functional/_rnn.py``).

Variable-length batches: pass ``lengths=`` to ``forward`` (or a ``PackedSequence`` from
``fnet.nn.utils.rnn.pack_padded_sequence``, which runs that way)::

    out, (h_n, c_n) = lstm.apply(params, {}, padded, lengths=lengths)[0]

which equals torch's ``pad_packed_sequence(lstm(pack_padded_sequence(padded,
lengths, batch_first=..., enforce_sorted=False))[0], batch_first=...,
total_length=T)`` together with its final states.
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .. import _checks
from .. import init as init_
from ..functional import _rnn as K
from ._module import Context, Module

__all__ = ["RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"]

_MODE_NAMES = {"RNN_TANH": "rnn_tanh", "RNN_RELU": "rnn_relu", "LSTM": "lstm", "GRU": "gru"}


def _check_int(owner: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{owner}: {name} should be of type int, got: {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{owner}: {name} must be greater than zero, got {value}")
    return int(value)


def _uniform_params(names_shapes: list[tuple[str, tuple[int, ...]]], hidden_size: int,
                    key: jax.Array, dtype: Any) -> dict:
    """torch's ``reset_parameters``: every weight and bias ~ U(-1/sqrt(hidden), 1/sqrt(hidden))."""
    bound = init_.torch_default_bound(hidden_size)
    keys = jax.random.split(key, len(names_shapes))
    return {name: init_.uniform_(k, shape, -bound, bound, dtype)
            for (name, shape), k in zip(names_shapes, keys)}


class _RNNBase(Module):
    """Shared configuration, parameters and forward of ``RNN``, ``LSTM`` and ``GRU``."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device: Any = None,
                 dtype: Any = None):
        super().__init__()
        owner = {"LSTM": "LSTM", "GRU": "GRU"}.get(mode, "RNN")
        if (isinstance(dropout, bool) or not isinstance(dropout, numbers.Number)
                or not 0 <= dropout <= 1):
            raise ValueError(f"{owner}: dropout should be a number in range [0, 1] representing "
                             f"the probability of an element being zeroed, got {dropout!r}")
        if not isinstance(bias, bool):
            raise TypeError(f"{owner}: bias should be of type bool, got: {type(bias).__name__}")
        if not isinstance(batch_first, bool):
            raise TypeError(f"{owner}: batch_first should be of type bool, got: "
                            f"{type(batch_first).__name__}")
        input_size = _check_int(owner, "input_size", input_size)
        hidden_size = _check_int(owner, "hidden_size", hidden_size)
        num_layers = _check_int(owner, "num_layers", num_layers)
        if isinstance(proj_size, bool) or not isinstance(proj_size, (int, np.integer)) or proj_size < 0:
            raise ValueError(f"{owner}: proj_size should be a positive integer or zero to disable "
                             f"projections, got {proj_size!r}")
        if proj_size >= hidden_size:
            raise ValueError(f"{owner}: proj_size has to be smaller than hidden_size, got "
                             f"proj_size={proj_size}, hidden_size={hidden_size}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, so non-zero "
                f"dropout expects num_layers greater than 1, but got dropout={dropout} and "
                f"num_layers={num_layers}", stacklevel=3)
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        self.proj_size = int(proj_size)
        self.dtype = dtype

    # -- parameters ---------------------------------------------------------------------
    @property
    def _kernel_mode(self) -> str:
        return _MODE_NAMES[self.mode]

    @property
    def _num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def _out_size(self) -> int:
        """Size of ``h``: ``proj_size`` when projecting, else ``hidden_size``."""
        return self.proj_size if self.proj_size > 0 else self.hidden_size

    def _param_shapes(self) -> list[tuple[str, tuple[int, ...]]]:
        gates = K.num_gates(self._kernel_mode) * self.hidden_size
        shapes = []
        for layer in range(self.num_layers):
            layer_in = self.input_size if layer == 0 else self._out_size * self._num_directions
            for direction in range(self._num_directions):
                sfx = f"l{layer}" + ("_reverse" if direction else "")
                shapes += [(f"weight_ih_{sfx}", (gates, layer_in)),
                           (f"weight_hh_{sfx}", (gates, self._out_size))]
                if self.bias:
                    shapes += [(f"bias_ih_{sfx}", (gates,)), (f"bias_hh_{sfx}", (gates,))]
                if self.proj_size > 0:
                    shapes += [(f"weight_hr_{sfx}", (self.proj_size, self.hidden_size))]
        return shapes

    def reset_parameters(self, key: jax.Array) -> tuple[dict, dict]:
        return _uniform_params(self._param_shapes(), self.hidden_size, key,
                               self.dtype or jnp.float32), {}

    # -- forward --------------------------------------------------------------------------
    def _check_state(self, name: str, value: Any, shape: tuple[int, ...],
                     dtype: Any) -> jax.Array:
        if not hasattr(value, "shape"):
            value = jnp.asarray(value)
        _checks.check_floating(None, value, name)
        if _checks.shape_of(value) != shape:
            _checks.fail(None, f"{name} of shape {_checks.fmt_shape(shape)}", value)
        if value.dtype != dtype:
            raise TypeError(f"expected {name} of dtype {dtype} (the input's), got "
                            f"{value.dtype}")
        return value

    def _lengths_mask(self, lengths: Any, steps: int, batch: int,
                      batched: bool) -> jax.Array:
        if not hasattr(lengths, "shape"):
            lengths = np.asarray(lengths)
        _checks.check_integer(None, lengths, "lengths")
        want = (batch,) if batched else ()
        if _checks.shape_of(lengths) != want and not (not batched and _checks.shape_of(lengths) == (1,)):
            _checks.fail(None, f"lengths of shape {_checks.fmt_shape(want)} (one per sequence)",
                         lengths)
        if not _checks.is_traced(lengths):
            values = np.asarray(lengths)
            if values.size and values.max() > steps:
                raise ValueError(f"lengths must not exceed the sequence length {steps}, "
                                 f"got a length of {int(values.max())}")
            if values.size and values.min() < 1:
                raise ValueError(f"lengths must be at least 1 (torch's "
                                 f"pack_padded_sequence refuses empty sequences), got "
                                 f"{int(values.min())}")
        lengths = jnp.reshape(jnp.asarray(lengths), (batch,))
        return jnp.arange(steps)[:, None] < lengths[None, :]

    def forward(self, ctx: Context, input: jax.Array, hx: Any = None, *,
                lengths: Any = None) -> tuple[jax.Array, Any]:
        from .utils import rnn as packing

        if isinstance(input, packing.PackedSequence):
            # torch's packed input: the padded batch with lengths=, packed back the same way
            if lengths is not None:
                raise ValueError("a PackedSequence carries its lengths; do not pass lengths=")
            padded, lens = packing.pad_packed_sequence(input, batch_first=self.batch_first)
            out, h = self.forward(ctx, padded, hx, lengths=lens)
            return packing._pack_like(out, input, self.batch_first), h
        p = ctx.params
        if not hasattr(input, "shape"):
            input = jnp.asarray(input)
        _checks.check_floating(None, input)
        layout = "(N, L, H_in)" if self.batch_first else "(L, N, H_in)"
        if input.ndim not in (2, 3):
            _checks.fail(None, f"a 2-D unbatched input (L, H_in) or a 3-D batched input {layout}",
                         input)
        if input.shape[-1] != self.input_size:
            expected = ("(L, {0})" if input.ndim == 2 else layout).replace("H_in", "{0}")
            _checks.fail(None, "input " + expected.format(self.input_size)
                         + f" (H_in = input_size = {self.input_size})", input)
        dtype = p["weight_ih_l0"].dtype
        if input.dtype != dtype:
            raise TypeError(f"input dtype {input.dtype} does not match the parameter "
                            f"dtype {dtype}; cast the input (x.astype({dtype})) or the parameters")
        batched = input.ndim == 3
        # Internally time-major (T, B, C): the scan runs over the leading axis.
        if not batched:
            x = input[:, None, :]
        else:
            x = jnp.swapaxes(input, 0, 1) if self.batch_first else input
        steps, batch = x.shape[0], x.shape[1]

        states = self._initial_states(hx, batch, batched, dtype)
        mask = None if lengths is None else self._lengths_mask(lengths, steps, batch, batched)

        mode = self._kernel_mode
        dirs = self._num_directions
        dropout_key = ctx.dropout_key(self.dropout) if self.num_layers > 1 else None
        drop = ctx.train and self.dropout > 0
        h_n, c_n = [], []
        for layer in range(self.num_layers):
            weights = []
            for direction in range(dirs):
                sfx = f"l{layer}" + ("_reverse" if direction else "")
                w = {"w_ih": p[f"weight_ih_{sfx}"], "w_hh": p[f"weight_hh_{sfx}"]}
                for short, name in (("b_ih", "bias_ih"), ("b_hh", "bias_hh"), ("w_hr", "weight_hr")):
                    if f"{name}_{sfx}" in p:
                        w[short] = p[f"{name}_{sfx}"]
                weights.append(w)
            rows = slice(layer * dirs, (layer + 1) * dirs)
            x, h_t, c_t = K.layer(mode, x, weights, states[0][rows],
                                  None if states[1] is None else states[1][rows], mask)
            h_n.append(h_t)
            c_n.append(c_t)
            if drop and layer < self.num_layers - 1:
                x = _between_layer_dropout(dropout_key, layer, x, self.dropout)

        output = x[:, 0] if not batched else (jnp.swapaxes(x, 0, 1) if self.batch_first else x)
        h_n = jnp.concatenate(h_n)
        if not batched:
            h_n = h_n[:, 0]
        if mode != "lstm":
            return output, h_n
        c_n = jnp.concatenate(c_n)
        if not batched:
            c_n = c_n[:, 0]
        return output, (h_n, c_n)

    def _initial_states(self, hx: Any, batch: int, batched: bool,
                        dtype: Any) -> tuple[Any, Any]:
        """``(h_0, c_0)`` as ``(L*D, B, ·)`` arrays (``c_0`` None except for LSTM)."""
        layers = self.num_layers * self._num_directions
        h_shape = (layers, batch, self._out_size) if batched else (layers, self._out_size)
        c_shape = (layers, batch, self.hidden_size) if batched else (layers, self.hidden_size)
        lstm = self.mode == "LSTM"
        if hx is None:
            h0 = jnp.zeros((layers, batch, self._out_size), dtype)
            c0 = jnp.zeros((layers, batch, self.hidden_size), dtype) if lstm else None
            return h0, c0
        if lstm:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(f"expected hx = (h_0, c_0), a pair of arrays, got "
                                f"{type(hx).__name__}")
            h0 = self._check_state("h_0 (hx[0])", hx[0], h_shape, dtype)
            c0 = self._check_state("c_0 (hx[1])", hx[1], c_shape, dtype)
        else:
            if isinstance(hx, (tuple, list)):
                raise TypeError(f"expected hx = h_0, one array, got a {type(hx).__name__}")
            h0 = self._check_state("h_0 (hx)", hx, h_shape, dtype)
            c0 = None
        if not batched:
            h0 = h0[:, None]
            c0 = None if c0 is None else c0[:, None]
        return h0, c0

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s


def _between_layer_dropout(key: jax.Array | None, layer: int, x: jax.Array, p: float) -> jax.Array:
    """Inverted dropout on a layer's output (torch's ``dropout`` argument, training only);
    ``p == 1`` zeroes it and needs no key."""
    if p >= 1.0:
        return jnp.zeros_like(x)
    keep = dropout_keep_mask(key, layer, x.shape, p)
    return jnp.where(keep, x / (1.0 - p), 0).astype(x.dtype)


def dropout_keep_mask(key: jax.Array, layer: int, shape: tuple[int, ...], p: float) -> jax.Array:
    """The keep-mask drawn after ``layer`` from the layer's dropout key (shared with the parity case)."""
    return jax.random.bernoulli(jax.random.fold_in(key, layer), 1.0 - p, shape)




class RNN(_RNNBase):
    """Elman RNN: ``h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)`` per layer.

    Args:
        input_size: features of the input ``H_in``.
        hidden_size: features of the hidden state ``H_out``.
        num_layers: stacked layers (default 1).
        nonlinearity: ``'tanh'`` (default) or ``'relu'``.
        bias: learn ``b_ih`` and ``b_hh`` (default True).
        batch_first: input and output are ``(N, L, H)`` instead of ``(L, N, H)``; the
            hidden states stay ``(layers, N, H)``, as in torch.
        dropout: dropout probability on the outputs of every layer but the last, in
            training only (``apply(..., train=True, key=...)``).
        bidirectional: add a reverse-direction layer (parameters ``*_reverse``).
        device: accepted for signature parity; placement is JAX's.
        dtype: parameter dtype (default float32).

    ``forward(ctx, input, hx=None, *, lengths=None)`` returns ``(output, h_n)``. ``hx``
    is ``h_0``, zeros when omitted. ``lengths`` (``(N,)`` integers) marks variable-length
    batches: it replaces ``pack_padded_sequence(enforce_sorted=False)`` and
    ``pad_packed_sequence(total_length=L)`` (outputs at padded steps are zero, ``h_n``
    holds each sequence's state at its own last step). Unlike ``pad_packed_sequence``
    without ``total_length``, the output always keeps the input's length ``L`` (a shape
    that depends on values cannot be traced by ``jit``). Lengths above ``L`` or below 1
    raise when they are concrete; under ``jit`` they cannot be checked.

    Shape (``L`` sequence length, ``N`` batch, ``D`` 2 if bidirectional else 1):
        input ``(L, N, H_in)``, ``(N, L, H_in)`` with ``batch_first=True``, or
        unbatched ``(L, H_in)``. Output ``(L, N, D * H_out)`` (``(N, L, D * H_out)``
        with ``batch_first``; unbatched ``(L, D * H_out)``); final states
        ``(D * num_layers, N, H_out)`` (unbatched ``(D * num_layers, H_out)``).

    Parameters per layer ``k``: ``weight_ih_l{k} (H_out, H_in or D*H_out)``,
    ``weight_hh_l{k} (H_out, H_out)``, ``bias_ih_l{k}``, ``bias_hh_l{k} (H_out,)``, with
    ``_reverse`` twins; all ``U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))``.

    Differentiable with ``jax.grad`` (hand-written reverse pass), and usable under
    ``jit``, ``vmap`` and ``checkpoint``; forward-mode (``jax.jvp``/``jacfwd``) is not
    supported.

    PyTorch equivalent: ``torch.nn.RNN``.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, device: Any = None,
                 dtype: Any = None, **kwargs: Any):
        if "proj_size" in kwargs:
            raise ValueError("RNN: proj_size argument is only supported for LSTM, not RNN or GRU")
        if kwargs:
            raise TypeError(f"RNN: unexpected keyword argument(s) {sorted(kwargs)}")
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         0, device, dtype)


class LSTM(_RNNBase):
    """Long short-term memory, torch's gate order ``i, f, g, o``::

        i, f, o = sigmoid(.), g = tanh(.)    of  x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh
        c_t = f * c_{t-1} + i * g
        h_t = o * tanh(c_t)                  (then h_t W_hr^T when proj_size > 0)

    Args:
        input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, device, dtype: as
            :class:`RNN`.
        proj_size: if > 0, project ``h_t`` to this size with ``weight_hr_l{k}``
            (``H_out = proj_size``; ``c`` keeps ``hidden_size``).

    ``forward(ctx, input, hx=None, *, lengths=None)`` returns ``(output, (h_n, c_n))``;
    ``hx = (h_0, c_0)`` (zeros when omitted); ``lengths`` as in :class:`RNN`.

    Shape (``L`` sequence length, ``N`` batch, ``D`` 2 if bidirectional else 1):
        input ``(L, N, H_in)``, ``(N, L, H_in)`` with ``batch_first=True``, or
        unbatched ``(L, H_in)``. Output ``(L, N, D * H_out)`` (``(N, L, D * H_out)``
        with ``batch_first``; unbatched ``(L, D * H_out)``); final states
        ``(D * num_layers, N, H_out)`` (unbatched ``(D * num_layers, H_out)``).
        ``c_n`` is ``(D * num_layers, N, hidden_size)``.

    Parameters per layer ``k``: ``weight_ih_l{k} (4*hidden, ·)``, ``weight_hh_l{k}
    (4*hidden, H_out)``, ``bias_ih_l{k}``, ``bias_hh_l{k} (4*hidden,)``,
    ``weight_hr_l{k} (proj_size, hidden)`` when projecting, ``_reverse`` twins; all
    ``U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))``.

    Transformations: as :class:`RNN`.

    PyTorch equivalent: ``torch.nn.LSTM``.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, device: Any = None, dtype: Any = None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, device, dtype)


class GRU(_RNNBase):
    """Gated recurrent unit, torch's gate order ``r, z, n``::

        r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
        z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
        h' = (1 - z) * n + z * h

    Args: as :class:`RNN` (no ``nonlinearity``).

    ``forward(ctx, input, hx=None, *, lengths=None)`` returns ``(output, h_n)``.

    Shape (``L`` sequence length, ``N`` batch, ``D`` 2 if bidirectional else 1):
        input ``(L, N, H_in)``, ``(N, L, H_in)`` with ``batch_first=True``, or
        unbatched ``(L, H_in)``. Output ``(L, N, D * H_out)`` (``(N, L, D * H_out)``
        with ``batch_first``; unbatched ``(L, D * H_out)``); final states
        ``(D * num_layers, N, H_out)`` (unbatched ``(D * num_layers, H_out)``).

    Parameters per layer ``k``: ``weight_ih_l{k} (3*hidden, ·)``, ``weight_hh_l{k}
    (3*hidden, hidden)``, ``bias_ih_l{k}``, ``bias_hh_l{k} (3*hidden,)``, ``_reverse``
    twins; all ``U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))``.

    Transformations: as :class:`RNN`.

    PyTorch equivalent: ``torch.nn.GRU``.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device: Any = None, dtype: Any = None, **kwargs: Any):
        if "proj_size" in kwargs:
            raise ValueError("GRU: proj_size argument is only supported for LSTM, not RNN or GRU")
        if kwargs:
            raise TypeError(f"GRU: unexpected keyword argument(s) {sorted(kwargs)}")
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, device, dtype)


# -- cells ---------------------------------------------------------------------------------

class _RNNCellBase(Module):
    _mode = ""
    _chunks = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None,
                 dtype: Any = None):
        super().__init__()
        owner = type(self).__name__
        self.input_size = _check_int(owner, "input_size", input_size)
        self.hidden_size = _check_int(owner, "hidden_size", hidden_size)
        if not isinstance(bias, bool):
            raise TypeError(f"{owner}: bias should be of type bool, got: {type(bias).__name__}")
        self.bias = bias
        self.dtype = dtype

    def reset_parameters(self, key: jax.Array) -> tuple[dict, dict]:
        gates = self._chunks * self.hidden_size
        shapes = [("weight_ih", (gates, self.input_size)), ("weight_hh", (gates, self.hidden_size))]
        if self.bias:
            shapes += [("bias_ih", (gates,)), ("bias_hh", (gates,))]
        return _uniform_params(shapes, self.hidden_size, key, self.dtype or jnp.float32), {}

    def _check_input(self, params: dict, input: Any) -> jax.Array:
        if not hasattr(input, "shape"):
            input = jnp.asarray(input)
        _checks.check_floating(None, input)
        if input.ndim not in (1, 2) or input.shape[-1] != self.input_size:
            _checks.fail(None, f"input (N, {self.input_size}) or unbatched ({self.input_size},)",
                         input)
        dtype = params["weight_ih"].dtype
        if input.dtype != dtype:
            raise TypeError(f"input dtype {input.dtype} does not match the parameter "
                            f"dtype {dtype}")
        return input

    def _check_state(self, name: str, value: Any, input: jax.Array) -> jax.Array:
        if not hasattr(value, "shape"):
            value = jnp.asarray(value)
        _checks.check_floating(None, value, name)
        shape = input.shape[:-1] + (self.hidden_size,)
        if _checks.shape_of(value) != shape:
            _checks.fail(None, f"{name} of shape {_checks.fmt_shape(shape)} to match input "
                         f"{_checks.fmt_shape(input.shape)}", value)
        if value.dtype != input.dtype:
            raise TypeError(f"expected {name} of dtype {input.dtype}, got {value.dtype}")
        return value

    def _run(self, ctx: Context, input: jax.Array, h: jax.Array, c: jax.Array | None):
        p = ctx.params
        batched = input.ndim == 2
        if not batched:
            input, h = input[None], h[None]
            c = None if c is None else c[None]
        out = K.cell(self._mode, input, h, c, p["weight_ih"], p["weight_hh"], p.get("bias_ih"),
                     p.get("bias_hh"))
        if batched:
            return out
        return tuple(o[0] for o in out) if isinstance(out, tuple) else out[0]

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s




class RNNCell(_RNNCellBase):
    """One Elman step: ``h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh)``.

    Args:
        input_size, hidden_size: feature sizes.
        bias: learn ``bias_ih``/``bias_hh`` (default True).
        nonlinearity: ``'tanh'`` (default) or ``'relu'``; torch checks it only when
            called, fnet already in the constructor.
        device, dtype: as :class:`RNN`.

    ``forward(ctx, input, hx=None)`` returns ``h'``.
    Shape: input ``(N, input_size)`` or unbatched ``(input_size,)``; states
    ``(N, hidden_size)`` or ``(hidden_size,)``; omitted states are zeros.
    Parameters ``weight_ih (hidden, input)``, ``weight_hh (hidden, hidden)``,
    ``bias_ih``, ``bias_hh (hidden,)``, all ``U(-1/sqrt(hidden), 1/sqrt(hidden))``.

    PyTorch equivalent: ``torch.nn.RNNCell``.
    """

    _chunks = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device: Any = None, dtype: Any = None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: Unknown nonlinearity '{nonlinearity}'. Select from "
                             f"'tanh' or 'relu'.")
        super().__init__(input_size, hidden_size, bias, device, dtype)
        self.nonlinearity = nonlinearity

    @property
    def _mode(self) -> str:  # type: ignore[override]
        return "rnn_tanh" if self.nonlinearity == "tanh" else "rnn_relu"

    def forward(self, ctx: Context, input: jax.Array, hx: jax.Array | None = None) -> jax.Array:
        input = self._check_input(ctx.params, input)
        h = (jnp.zeros(input.shape[:-1] + (self.hidden_size,), input.dtype) if hx is None
             else self._check_state("hx", hx, input))
        return self._run(ctx, input, h, None)


class LSTMCell(_RNNCellBase):
    """One LSTM step (gates ``i, f, g, o``): returns ``(h', c')``.

    Args: ``input_size``, ``hidden_size``, ``bias``, ``device``, ``dtype`` as :class:`RNNCell`.

    ``forward(ctx, input, hx=None)`` with ``hx = (h, c)`` returns ``(h', c')``.
    Shape: input ``(N, input_size)`` or unbatched ``(input_size,)``; states
    ``(N, hidden_size)`` or ``(hidden_size,)``; omitted states are zeros.
    Parameters ``weight_ih (4*hidden, input)``, ``weight_hh (4*hidden, hidden)``,
    ``bias_ih``, ``bias_hh (4*hidden,)``, all ``U(-1/sqrt(hidden), 1/sqrt(hidden))``.

    PyTorch equivalent: ``torch.nn.LSTMCell``.
    """

    _mode = "lstm"
    _chunks = 4

    def forward(self, ctx: Context, input: jax.Array,
                hx: tuple[jax.Array, jax.Array] | None = None) -> tuple[jax.Array, jax.Array]:
        input = self._check_input(ctx.params, input)
        if hx is None:
            h = c = jnp.zeros(input.shape[:-1] + (self.hidden_size,), input.dtype)
        else:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(f"expected hx = (h, c), a pair of arrays, got "
                                f"{type(hx).__name__}")
            h = self._check_state("hx[0]", hx[0], input)
            c = self._check_state("hx[1]", hx[1], input)
        return self._run(ctx, input, h, c)


class GRUCell(_RNNCellBase):
    """One GRU step (gates ``r, z, n``; ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``).

    Args: ``input_size``, ``hidden_size``, ``bias``, ``device``, ``dtype`` as :class:`RNNCell`.

    ``forward(ctx, input, hx=None)`` returns ``h'``.
    Shape: input ``(N, input_size)`` or unbatched ``(input_size,)``; states
    ``(N, hidden_size)`` or ``(hidden_size,)``; omitted states are zeros.
    Parameters ``weight_ih (3*hidden, input)``, ``weight_hh (3*hidden, hidden)``,
    ``bias_ih``, ``bias_hh (3*hidden,)``, all ``U(-1/sqrt(hidden), 1/sqrt(hidden))``.

    PyTorch equivalent: ``torch.nn.GRUCell``.
    """

    _mode = "gru"
    _chunks = 3

    def forward(self, ctx: Context, input: jax.Array, hx: jax.Array | None = None) -> jax.Array:
        input = self._check_input(ctx.params, input)
        h = (jnp.zeros(input.shape[:-1] + (self.hidden_size,), input.dtype) if hx is None
             else self._check_state("hx", hx, input))
        return self._run(ctx, input, h, None)
