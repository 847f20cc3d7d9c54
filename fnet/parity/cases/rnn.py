"""Parity cases: RNN, LSTM, GRU (layers and cells).

The layer cases wrap the recurrent layer in a small model on each side so that the
initial states are separate differentiable inputs (``h_0``, ``c_0``) and variable
lengths go through ``pack_padded_sequence(enforce_sorted=False)`` /
``pad_packed_sequence(total_length=T)`` on the torch side and ``lengths=`` on fnet's.
Every case compares the output, the final states, and the gradients with respect to
the input, the initial states and every parameter.
"""

from __future__ import annotations

import warnings

import jax
import numpy as np
import torch

from fnet import nn
from fnet.nn._rnn import dropout_keep_mask
from fnet.parity import ParityCase, case_seed, module_case, register
from fnet.parity import _engine

FAMILY = "rnn"
_T, _N, _IN, _HID = 5, 3, 4, 6
# Unequal lengths, unsorted, one full-length sequence and one of length 1.
_LENGTHS = np.array([3, 5, 1])


class _Fnet(nn.Module):
    """``rnn(x, hx, lengths=...)`` with the states given as separate inputs."""

    def __init__(self, rnn: nn.Module, states: int, lengths: bool):
        super().__init__()
        self.rnn = rnn
        self.states = states
        self.lengths = lengths

    def forward(self, ctx, x, *rest):
        hx = None
        if self.states == 1:
            hx = rest[0]
        elif self.states == 2:
            hx = (rest[0], rest[1])
        lengths = rest[-1] if self.lengths else None
        return self.rnn(ctx, x, hx, lengths=lengths)


class _Torch(torch.nn.Module):
    """The torch twin of :class:`_Fnet`, packing when lengths are given."""

    def __init__(self, rnn: torch.nn.Module, states: int, lengths: bool):
        super().__init__()
        self.rnn = rnn
        self.states = states
        self.lengths = lengths

    def forward(self, x, *rest):
        hx = None
        if self.states == 1:
            hx = rest[0]
        elif self.states == 2:
            hx = (rest[0], rest[1])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "LSTM with projections is not supported with oneDNN"
            if not self.lengths:
                return self.rnn(x, hx)
            pack = torch.nn.utils.rnn
            batch_first = self.rnn.batch_first
            steps = x.shape[1] if batch_first else x.shape[0]
            packed = pack.pack_padded_sequence(x, rest[-1], batch_first=batch_first,
                                               enforce_sorted=False)
            out, states = self.rnn(packed, hx)
            out, _ = pack.pad_packed_sequence(out, batch_first=batch_first, total_length=steps)
            return out, states


def _layer_case(kind: str, *, num_layers: int = 1, bidirectional: bool = False,
                batch_first: bool = False, proj_size: int = 0, bias: bool = True,
                initial: bool = False, lengths: bool = False, unbatched: bool = False,
                nonlinearity: str = "tanh", steps: int = _T, slow: bool = False,
                tol: dict | None = None, note: str = "") -> None:
    cls = {"RNN": (nn.RNN, torch.nn.RNN), "LSTM": (nn.LSTM, torch.nn.LSTM),
           "GRU": (nn.GRU, torch.nn.GRU)}[kind]
    kwargs = dict(num_layers=num_layers, bias=bias, batch_first=batch_first,
                  bidirectional=bidirectional)
    if kind == "LSTM" and proj_size:
        kwargs["proj_size"] = proj_size
    if kind == "RNN":
        kwargs["nonlinearity"] = nonlinearity
    flags = [f"L={num_layers}"]
    flags += [name for name, on in (("bidir", bidirectional), ("batch_first", batch_first),
                                    ("h0", initial), ("lengths", lengths),
                                    ("unbatched", unbatched), ("no_bias", not bias)) if on]
    if proj_size:
        flags.append(f"proj={proj_size}")
    if kind == "RNN":
        flags.append(nonlinearity)
    if steps != _T:
        flags.append(f"T={steps}")
    name = f"nn.{kind}[{','.join(flags)}]"
    states = (2 if kind == "LSTM" else 1) if initial else 0
    dirs = 2 if bidirectional else 1
    h_size = proj_size or _HID

    def build():
        fnet_rnn = cls[0](_IN, _HID, **kwargs)
        torch_rnn = cls[1](_IN, _HID, **kwargs)
        return _Fnet(fnet_rnn, states, lengths), _Torch(torch_rnn, states, lengths)

    def inputs(rng):
        batch = () if unbatched else (_N,)
        x_shape = (steps, _IN) if unbatched else (
            (_N, steps, _IN) if batch_first else (steps, _N, _IN))
        xs = [rng.standard_normal(x_shape)]
        if initial:
            xs.append(rng.standard_normal((num_layers * dirs,) + batch + (h_size,)))
            if kind == "LSTM":
                xs.append(rng.standard_normal((num_layers * dirs,) + batch + (_HID,)))
        if lengths:
            xs.append(_LENGTHS.copy())
        return xs

    module_case(name, FAMILY, build, inputs, covers=[f"nn.{kind}"], slow=slow,
                tol=tol, note=note)


# -- the layers over the configurations people use -----------------------------------------
for _kind in ("RNN", "LSTM", "GRU"):
    _layer_case(_kind)
    _layer_case(_kind, num_layers=3, batch_first=True, lengths=True)
    _layer_case(_kind, num_layers=2, bidirectional=True, batch_first=True, initial=True,
                lengths=True)
    _layer_case(_kind, num_layers=2, bidirectional=True, unbatched=True, initial=True)
    _layer_case(_kind, unbatched=True, batch_first=True, bias=False)

_layer_case("RNN", nonlinearity="relu", num_layers=2, bidirectional=True, initial=True,
            lengths=True)
_layer_case("LSTM", proj_size=3, initial=True)
_layer_case("LSTM", proj_size=3, num_layers=2, bidirectional=True, batch_first=True,
            initial=True, lengths=True)
_layer_case("LSTM", proj_size=2, num_layers=3, unbatched=True, bias=False)
# A longer recurrence: 40 steps through 2 layers (gradients flow back through all of them).
_layer_case("LSTM", num_layers=2, steps=40, initial=True)


# -- cells ------------------------------------------------------------------------------------
def _cell_case(kind: str, *, bias: bool = True, initial: bool = True, unbatched: bool = False,
               nonlinearity: str = "tanh") -> None:
    fnet_cls, torch_cls = {"RNNCell": (nn.RNNCell, torch.nn.RNNCell),
                           "LSTMCell": (nn.LSTMCell, torch.nn.LSTMCell),
                           "GRUCell": (nn.GRUCell, torch.nn.GRUCell)}[kind]
    kwargs = dict(bias=bias)
    if kind == "RNNCell":
        kwargs["nonlinearity"] = nonlinearity
    flags = [name for name, on in (("hx", initial), ("unbatched", unbatched),
                                   ("no_bias", not bias)) if on]
    if kind == "RNNCell":
        flags.append(nonlinearity)
    states = (2 if kind == "LSTMCell" else 1) if initial else 0

    class FnetCell(nn.Module):
        def __init__(self):
            super().__init__()
            self.cell = fnet_cls(_IN, _HID, **kwargs)

        def forward(self, ctx, x, *hx):
            return self.cell(ctx, x, None if not hx else (hx[0] if len(hx) == 1 else hx))

    class TorchCell(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.cell = torch_cls(_IN, _HID, **kwargs)

        def forward(self, x, *hx):
            return self.cell(x, None if not hx else (hx[0] if len(hx) == 1 else hx))

    def inputs(rng):
        batch = () if unbatched else (_N,)
        return [rng.standard_normal(batch + (_IN,))] + [
            rng.standard_normal(batch + (_HID,)) for _ in range(states)]

    module_case(f"nn.{kind}[{','.join(flags)}]", FAMILY, lambda: (FnetCell(), TorchCell()),
                inputs, covers=[f"nn.{kind}"])


for _kind in ("RNNCell", "LSTMCell", "GRUCell"):
    _cell_case(_kind)
    _cell_case(_kind, initial=False, unbatched=True)
    _cell_case(_kind, bias=False, unbatched=True)
_cell_case("RNNCell", nonlinearity="relu", unbatched=True)


# -- dropout between layers, with the same masks on both sides -------------------------------
def _dropout_case(kind: str, p: float = 0.4, num_layers: int = 2, bidirectional: bool = True
                  ) -> None:
    """fnet draws its masks from the key; torch gets the same masks by running the stack
    layer by layer with single-layer modules and multiplying by them between layers."""
    name = f"nn.{kind}[dropout={p},L={num_layers}{',bidir' if bidirectional else ''},train]"
    seed = case_seed(name)
    fnet_cls, torch_cls = {"LSTM": (nn.LSTM, torch.nn.LSTM), "GRU": (nn.GRU, torch.nn.GRU),
                           "RNN": (nn.RNN, torch.nn.RNN)}[kind]
    dirs = 2 if bidirectional else 1

    def run(dtype: str) -> _engine.Report:
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        model = fnet_cls(_IN, _HID, num_layers, dropout=p, bidirectional=bidirectional)
        full = torch_cls(_IN, _HID, num_layers, dropout=p, bidirectional=bidirectional)
        key = jax.random.key(seed)
        with _engine.precision(dtype):
            full = full.to(_engine._torch_dtype(dtype))
            params, _ = _engine.load_state_dict(model, full.state_dict())
            # Model.apply's context hands the layer fold_in(key, 1) for its first draw.
            layer_key = jax.random.fold_in(key, 1)
            masks = [np.asarray(dropout_keep_mask(layer_key, k, (_T, _N, dirs * _HID), p))
                     for k in range(num_layers - 1)]
            layers = []
            for k in range(num_layers):
                single = torch_cls(_IN if k == 0 else dirs * _HID, _HID,
                                   bidirectional=bidirectional).to(_engine._torch_dtype(dtype))
                single.load_state_dict({n.replace(f"_l{k}", "_l0"): v
                                        for n, v in full.state_dict().items() if f"_l{k}" in n})
                layers.append(single)
            named = {f"{n.replace('_l0', f'_l{k}')}": v for k, layer in enumerate(layers)
                     for n, v in layer.named_parameters()}

            def torch_fn(x):
                states = []
                for k, layer in enumerate(layers):
                    x, s = layer(x)
                    states.append(s)
                    if k < num_layers - 1:
                        x = x * torch.from_numpy(masks[k].copy()).to(x.dtype) / (1 - p)
                if kind == "LSTM":
                    return x, (torch.cat([s[0] for s in states]), torch.cat([s[1] for s in states]))
                return x, torch.cat(states)

            def fnet_fn(prm, x):
                return model.apply(prm, {}, x, train=True, key=key)[0]

            x = _engine.cast_inputs([rng.standard_normal((_T, _N, _IN))], dtype)
            return _engine.run_pair(name, dtype, fnet_fn=fnet_fn, params=params, torch_fn=torch_fn,
                                    torch_params=named, inputs=x, seed=seed)

    register(ParityCase(name, FAMILY, (f"nn.{kind}",), run))


_dropout_case("LSTM", num_layers=2)
_dropout_case("RNN", num_layers=2, bidirectional=False)
