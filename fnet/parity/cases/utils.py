"""Parity cases: ``fnet.nn.utils`` against ``torch.nn.utils``: gradient clipping, parameter
vectors, parametrizations (weight_norm, spectral_norm, orthogonal) and packed sequences.

torch's clipping and ``vector_to_parameters`` work in place on ``.grad`` / ``.data``, so
those cases compare values (no gradient). The parametrized layers are loaded from torch's
state_dict (``parametrizations.weight.original0`` ...) and compared like any layer,
outputs, gradients of every original and, in training, spectral norm's ``_u``/``_v``.
"""

from __future__ import annotations

import numpy as np
import torch

from fnet import nn
from fnet.nn import utils
from fnet.nn.utils import parametrizations as P
from fnet.nn.utils import rnn as R
from fnet.parity import function_case, module_case

TU = torch.nn.utils
FAMILY = "utils"
SHAPES = [(3, 4), (5,), (2, 2, 3)]


def _grads(scale=1.0):
    return lambda rng: [scale * rng.standard_normal(s) for s in SHAPES]


def _torch_params(gs):
    params = []
    for g in gs:
        p = torch.nn.Parameter(torch.zeros_like(g))
        p.grad = g.detach().clone()
        params.append(p)
    return params


# -- clipping ------------------------------------------------------------------------------------

for _max, _p, _scale in [(1.0, 2.0, 1.0), (100.0, 2.0, 1.0), (0.5, 1.0, 1.0), (1.0, float("inf"), 1.0), (1.0, 3.0, 1e-3)]:
    def _fnet_clip(*gs, m=_max, p=_p):
        clipped, norm = utils.clip_grad_norm_(list(gs), m, norm_type=p)
        return tuple(clipped), norm

    def _torch_clip(*gs, m=_max, p=_p):
        params = _torch_params(gs)
        norm = TU.clip_grad_norm_(params, m, norm_type=p)
        return tuple(q.grad for q in params), norm

    function_case(f"nn.utils.clip_grad_norm_[max_norm={_max},norm_type={_p},scale={_scale}]", FAMILY, _fnet_clip,
                  _torch_clip, _grads(_scale), covers=["nn.utils.clip_grad_norm_"], grad_inputs=False)


def _fnet_value(*gs):
    return tuple(utils.clip_grad_value_(list(gs), 0.7))


def _torch_value(*gs):
    params = _torch_params(gs)
    TU.clip_grad_value_(params, 0.7)
    return tuple(q.grad for q in params)


function_case("nn.utils.clip_grad_value_[0.7]", FAMILY, _fnet_value, _torch_value, _grads(),
              covers=["nn.utils.clip_grad_value_"], grad_inputs=False)


def _fnet_total(*gs):
    norm = utils.get_total_norm(list(gs), norm_type=3.0)
    return norm, tuple(utils.clip_grads_with_norm_(list(gs), 0.5, norm))


def _torch_total(*gs):
    params = _torch_params(gs)
    norm = TU.get_total_norm([q.grad for q in params], norm_type=3.0)
    TU.clip_grads_with_norm_(params, 0.5, norm)
    return norm, tuple(q.grad for q in params)


function_case("nn.utils.get_total_norm+clip_grads_with_norm_[norm_type=3,max_norm=0.5]", FAMILY, _fnet_total,
              _torch_total, _grads(), covers=["nn.utils.get_total_norm", "nn.utils.clip_grads_with_norm_"],
              grad_inputs=False)

# -- parameters as one vector ---------------------------------------------------------------------

function_case("nn.utils.parameters_to_vector[list in torch's order]", FAMILY,
              lambda *ps: utils.parameters_to_vector(list(ps)), lambda *ps: TU.parameters_to_vector(list(ps)),
              _grads(), covers=["nn.utils.parameters_to_vector"])


def _torch_from_vector(vec, *like):
    params = [torch.nn.Parameter(torch.zeros_like(p)) for p in like]
    TU.vector_to_parameters(vec, params)
    return tuple(p.detach() for p in params)


function_case("nn.utils.vector_to_parameters[round trip]", FAMILY,
              lambda vec, *like: tuple(utils.vector_to_parameters(vec, list(like))), _torch_from_vector,
              lambda rng: [rng.standard_normal(29)] + [np.zeros(s) for s in SHAPES],
              covers=["nn.utils.vector_to_parameters"], grad_inputs=False)

# -- parametrizations -----------------------------------------------------------------------------


def _param_pair(fn_name, fnet_layer, torch_layer, perturb=True, **kwargs):
    def build():
        t = getattr(TU.parametrizations, fn_name)(torch_layer(), **kwargs)
        if perturb:  # move away from the initial point (orthogonal starts at -I)
            with torch.no_grad():
                for name, p in t.named_parameters():
                    if "original" in name:
                        p.add_(0.2 * torch.randn_like(p))
        return getattr(P, fn_name)(fnet_layer(), **kwargs), t
    return build


def _randn(*shape):
    return lambda rng: [rng.standard_normal(shape)]


_PARAMETRIZED = [
    ("weight_norm", lambda: nn.Linear(3, 4), lambda: torch.nn.Linear(3, 4), {}, (5, 3)),
    ("weight_norm", lambda: nn.Conv2d(2, 3, 3), lambda: torch.nn.Conv2d(2, 3, 3), {"dim": None}, (2, 2, 5, 5)),
    ("weight_norm", lambda: nn.Linear(3, 4), lambda: torch.nn.Linear(3, 4), {"dim": 1}, (5, 3)),
    ("spectral_norm", lambda: nn.Linear(3, 4), lambda: torch.nn.Linear(3, 4), {}, (5, 3)),
    ("spectral_norm", lambda: nn.ConvTranspose2d(3, 4, 2), lambda: torch.nn.ConvTranspose2d(3, 4, 2),
     {"n_power_iterations": 3}, (2, 3, 4, 4)),
    ("orthogonal", lambda: nn.Linear(4, 4), lambda: torch.nn.Linear(4, 4), {}, (5, 4)),
    ("orthogonal", lambda: nn.Linear(3, 5), lambda: torch.nn.Linear(3, 5), {"orthogonal_map": "cayley"}, (5, 3)),
    ("orthogonal", lambda: nn.Linear(5, 3), lambda: torch.nn.Linear(5, 3), {}, (4, 5)),
    ("orthogonal", lambda: nn.Linear(3, 4), lambda: torch.nn.Linear(3, 4), {"use_trivialization": False}, (5, 3)),
    ("orthogonal", lambda: nn.Conv2d(2, 3, 3), lambda: torch.nn.Conv2d(2, 3, 3),
     {"orthogonal_map": "householder"}, (1, 2, 5, 5)),
]
for _fn, _f, _t, _kw, _shape in _PARAMETRIZED:
    for _train in (False, True):
        module_case(f"nn.utils.parametrizations.{_fn}({_f().describe()}, {_kw})[{'train' if _train else 'eval'}]",
                    FAMILY, _param_pair(_fn, _f, _t, **_kw), _randn(*_shape), train=_train,
                    covers=[f"nn.utils.parametrizations.{_fn}"])

# -- packed sequences -----------------------------------------------------------------------------

_LENGTHS = {"sorted": [5, 3, 3, 1], "unsorted": [2, 5, 1, 4]}


def _pack(lib_rnn, enforce_sorted, batch_first):
    def call(x, lengths):
        lens = np.asarray(lengths).tolist() if not hasattr(lengths, "tolist") else lengths.tolist()
        packed = lib_rnn.pack_padded_sequence(x, lens, batch_first=batch_first, enforce_sorted=enforce_sorted)
        data, batch_sizes, sorted_indices, unsorted_indices = packed
        padded, out_lengths = lib_rnn.pad_packed_sequence(packed, batch_first=batch_first, padding_value=-1.0,
                                                          total_length=6)
        return (data, np.asarray(batch_sizes), None if sorted_indices is None else np.asarray(sorted_indices),
                padded, np.asarray(out_lengths))
    return call


for _name, _lens in _LENGTHS.items():
    for _bf in (False, True):
        _shape = (4, 6, 3) if _bf else (6, 4, 3)
        function_case(f"nn.utils.rnn.pack_padded_sequence+pad_packed_sequence[{_name},batch_first={_bf}]", FAMILY,
                      _pack(R, _name == "sorted", _bf), _pack(TU.rnn, _name == "sorted", _bf),
                      lambda rng, s=_shape, lens=_lens: [rng.standard_normal(s), np.asarray(lens)],
                      covers=["nn.utils.rnn.pack_padded_sequence", "nn.utils.rnn.pad_packed_sequence",
                              "nn.utils.rnn.PackedSequence"])


def _pad_family(lib_rnn, batch_first, side):
    def call(*seqs):
        padded = lib_rnn.pad_sequence(list(seqs), batch_first=batch_first, padding_value=0.5, padding_side=side)
        lengths = np.asarray([s.shape[0] for s in seqs])
        back = lib_rnn.unpad_sequence(lib_rnn.pad_sequence(list(seqs), batch_first=batch_first), lengths,
                                      batch_first=batch_first)
        packed = lib_rnn.pack_sequence(list(seqs), enforce_sorted=False)
        return padded, tuple(back), packed.data, tuple(lib_rnn.unpack_sequence(packed))
    return call


for _bf, _side in ((False, "right"), (True, "left")):
    function_case(f"nn.utils.rnn.pad_sequence+unpad_sequence+pack_sequence+unpack_sequence[batch_first={_bf},{_side}]",
                  FAMILY, _pad_family(R, _bf, _side), _pad_family(TU.rnn, _bf, _side),
                  lambda rng: [rng.standard_normal((n, 2)) for n in (3, 5, 1)],
                  covers=["nn.utils.rnn.pad_sequence", "nn.utils.rnn.unpad_sequence", "nn.utils.rnn.pack_sequence",
                          "nn.utils.rnn.unpack_sequence"])


class _FnetPackedLSTM(nn.Module):
    def __init__(self, batch_first):
        super().__init__()
        self.batch_first = batch_first
        self.lstm = nn.LSTM(3, 4, num_layers=2, batch_first=batch_first, bidirectional=True)

    def forward(self, ctx, x, lengths):
        packed = R.pack_padded_sequence(x, np.asarray(lengths), batch_first=self.batch_first, enforce_sorted=False)
        out, (h, c) = self.lstm(ctx, packed)
        padded, _ = R.pad_packed_sequence(out, batch_first=self.batch_first)
        return padded, h, c


class _TorchPackedLSTM(torch.nn.Module):
    def __init__(self, batch_first):
        super().__init__()
        self.batch_first = batch_first
        self.lstm = torch.nn.LSTM(3, 4, num_layers=2, batch_first=batch_first, bidirectional=True)

    def forward(self, x, lengths):
        packed = TU.rnn.pack_padded_sequence(x, lengths, batch_first=self.batch_first, enforce_sorted=False)
        out, (h, c) = self.lstm(packed)
        padded, _ = TU.rnn.pad_packed_sequence(out, batch_first=self.batch_first)
        return padded, h, c


for _bf in (False, True):
    module_case(f"nn.LSTM[PackedSequence input, unsorted lengths, batch_first={_bf}]", FAMILY,
                lambda bf=_bf: (_FnetPackedLSTM(bf), _TorchPackedLSTM(bf)),
                lambda rng, bf=_bf: [rng.standard_normal((4, 6, 3) if bf else (6, 4, 3)), np.asarray([2, 6, 1, 4])],
                covers=["nn.LSTM", "nn.utils.rnn.pack_padded_sequence", "nn.utils.rnn.pad_packed_sequence"])
