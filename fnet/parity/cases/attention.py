"""Parity cases: scaled_dot_product_attention, multi_head_attention_forward,
MultiheadAttention and the Transformer layers.

Masks travel as keyword arguments (converted per side: numpy -> torch tensor / jax
array in the case dtype); floating masks passed positionally are differentiated too.
"""

from __future__ import annotations

import copy
from typing import Any, Callable, Iterable, Mapping

import jax
import jax.numpy as jnp
import numpy as np
import torch

from fnet import functional as F
from fnet import nn
from fnet.functional._dropout import _keep_mask
from fnet.io import load_state_dict
from fnet.parity import ParityCase, case_seed, function_case, precision, register, run_pair
from fnet.parity._engine import _jax_input, _torch_dtype, cast_inputs

FAMILY = "attention"
TF = torch.nn.functional


def convert_kwargs(kw: Mapping[str, Any], dtype: str) -> tuple[dict, dict]:
    """numpy arrays in ``kw`` -> (jax kwargs, torch kwargs), floats cast to ``dtype``."""
    j, t = {}, {}
    for k, v in kw.items():
        if isinstance(v, np.ndarray):
            (v,) = cast_inputs([v], dtype)
            j[k], t[k] = _jax_input(v), torch.from_numpy(v)
        else:
            j[k] = t[k] = v
    return j, t


def pair_case(name: str, build: Callable[[], tuple[Any, Any]], inputs: Callable, *, family: str = FAMILY,
              kwargs: Mapping[str, Any] | Callable | None = None, train: bool = False,
              covers: Iterable[str] = (), tol: Mapping[str, float] | None = None,
              tol64: Mapping[str, float] | None = None, note: str = "",
              output: Callable[[Any], Any] | None = None) -> ParityCase:
    """Like ``module_case`` but with array keyword arguments (masks) for both sides.

    ``output`` (optional) post-processes both sides' outputs identically.
    """
    seed = case_seed(name)

    def run(dtype: str):
        torch.manual_seed(seed)
        fnet_module, torch_module = build()
        rng = np.random.default_rng(seed)
        xs = list(inputs(rng))
        kw = kwargs(rng) if callable(kwargs) else dict(kwargs or {})
        with precision(dtype):
            module = copy.deepcopy(torch_module).to(_torch_dtype(dtype))
            module.train(train)
            cast = cast_inputs(xs, dtype)
            params, state = load_state_dict(fnet_module, module.state_dict())
            j_kw, t_kw = convert_kwargs(kw, dtype)
            post = output or (lambda o: o)

            def fnet_fn(p, *a):
                out, _ = fnet_module.apply(p, state, *a, train=train,
                                           key=jax.random.key(seed) if train else None, **j_kw)
                return post(out)

            return run_pair(name, dtype, fnet_fn=fnet_fn, params=params,
                            torch_fn=lambda *a: post(module(*a, **t_kw)),
                            torch_params=dict(module.named_parameters()), inputs=cast,
                            tol=tol if dtype == "float32" else tol64, seed=seed)

    return register(ParityCase(name, family, tuple(covers), run, note=note))


def _randn(*shapes):
    return lambda rng: [rng.standard_normal(s) for s in shapes]


# ---------------------------------------------------------------------------------------
# F.scaled_dot_product_attention

SDPA = ["functional.scaled_dot_product_attention"]


def _sdpa_case(name, shapes, kwargs=None, torch_kwargs=None):
    function_case(f"F.scaled_dot_product_attention[{name}]", FAMILY, F.scaled_dot_product_attention,
                  TF.scaled_dot_product_attention, _randn(*shapes), kwargs=kwargs,
                  torch_kwargs=torch_kwargs, covers=SDPA)


Q, KV = (2, 3, 4, 8), (2, 3, 5, 8)
_sdpa_case("plain", [Q, KV, KV])
_sdpa_case("Ev!=E,S!=L", [Q, KV, (2, 3, 5, 6)])
_sdpa_case("3-D", [(3, 4, 8), (3, 6, 8), (3, 6, 8)])
_sdpa_case("2-D", [(4, 8), (6, 8), (6, 8)])
_sdpa_case("5-D,broadcast kv batch", [(2, 2, 2, 3, 4), (1, 2, 2, 5, 4), (2, 1, 2, 5, 4)])
_sdpa_case("scale=0.3", [Q, KV, KV], kwargs={"scale": 0.3})
for l, s in ((3, 6), (6, 3)):
    _sdpa_case(f"is_causal,L={l},S={s}", [(2, 3, l, 8), (2, 3, s, 8), (2, 3, s, 8)],
               kwargs={"is_causal": True})


def _bool_mask(shape, p=0.3, full_row=False):
    def make(rng):
        m = rng.random(shape) > p
        m[..., 0] = True  # every query attends to something...
        if full_row:
            m[..., 1, :] = False  # ...except a fully masked row: torch gives 0 there
        return {"attn_mask": m}
    return make


_sdpa_case("bool mask (N,1,L,S),fully masked row", [Q, KV, KV], kwargs=_bool_mask((2, 1, 4, 5), full_row=True))
_sdpa_case("bool mask + is_causal", [(2, 3, 4, 8), (2, 3, 4, 8), (2, 3, 4, 8)],
           kwargs=lambda rng: {**_bool_mask((4, 4))(rng), "is_causal": True})
function_case("F.scaled_dot_product_attention[float mask, differentiated]", FAMILY,
              F.scaled_dot_product_attention, TF.scaled_dot_product_attention,
              lambda rng: [rng.standard_normal(Q), rng.standard_normal(KV), rng.standard_normal(KV),
                           rng.standard_normal((2, 1, 4, 5))], covers=SDPA)
function_case("F.scaled_dot_product_attention[float mask -inf]", FAMILY,
              F.scaled_dot_product_attention, TF.scaled_dot_product_attention,
              _randn(Q, KV, KV),
              kwargs=lambda rng: {"attn_mask": np.where((rng.random((4, 5)) > 0.4)
                                                        | (np.arange(5) == 0), 0.0, -np.inf)},
              covers=SDPA)
_sdpa_case("enable_gqa,Hq=4,Hk=2,Hv=1", [(2, 4, 3, 8), (2, 2, 5, 8), (2, 1, 5, 8)],
           kwargs={"enable_gqa": True})
_sdpa_case("enable_gqa + bool mask + scale", [(2, 4, 3, 8), (2, 2, 5, 8), (2, 2, 5, 8)],
           kwargs=lambda rng: {**_bool_mask((2, 4, 3, 5))(rng), "enable_gqa": True, "scale": 0.5})


def _sdpa_dropout_case(name: str, p: float, q_shape, kv_shape, mask: bool = False,
                       is_causal: bool = False):
    """Dropout compared by handing the mask fnet draws to torch's math kernel."""
    cname = f"F.scaled_dot_product_attention[dropout_p={p},{name}]"
    seed = case_seed(cname)

    def run(dtype):
        rng = np.random.default_rng(seed)
        xs = [rng.standard_normal(q_shape), rng.standard_normal(kv_shape), rng.standard_normal(kv_shape)]
        attn = (rng.random(q_shape[:-1] + kv_shape[-2:-1]) > 0.3) if mask else None
        if attn is not None:
            attn[..., 0] = True
        key = jax.random.key(seed)
        with precision(dtype):
            cast = cast_inputs(xs, dtype)
            shape = q_shape[:-1] + kv_shape[-2:-1]
            keep = np.asarray(_keep_mask(key, p, shape))  # the mask F.dropout draws
            j_mask = None if attn is None else jnp.asarray(attn)
            # the math kernel takes one additive mask (SDPA's dispatcher converts bool masks
            # and merges is_causal); build it the same way here
            allowed = None if attn is None else attn
            if is_causal:
                causal = np.tril(np.ones(shape[-2:], bool))
                allowed = causal if allowed is None else allowed & causal
            t_mask = None if allowed is None else torch.from_numpy(
                np.where(allowed, 0.0, -np.inf).astype(dtype))

            def fnet_fn(params, q, k, v):
                return F.scaled_dot_product_attention(q, k, v, j_mask, dropout_p=p, is_causal=is_causal,
                                                      dropout_key=key)

            def torch_fn(q, k, v):
                return torch.ops.aten._scaled_dot_product_attention_math(
                    q, k, v, t_mask, p, False, dropout_mask=torch.from_numpy(keep.copy()))[0]

            return run_pair(cname, dtype, fnet_fn=fnet_fn, params={}, torch_fn=torch_fn, torch_params={},
                            inputs=cast, seed=seed)

    register(ParityCase(cname, FAMILY, tuple(SDPA), run))


_sdpa_dropout_case("bool mask,is_causal", 0.5, (2, 3, 5, 8), (2, 3, 5, 8), mask=True, is_causal=True)


# ---------------------------------------------------------------------------------------
# F.multi_head_attention_forward (static_k / static_v are only reachable here)

def _mha_fn_inputs(rng):
    e = 8
    return [rng.standard_normal((4, 2, e)), rng.standard_normal((5, 2, e)), rng.standard_normal((5, 2, e)),
            rng.standard_normal((3 * e, e)) * 0.3, rng.standard_normal(3 * e) * 0.1,
            rng.standard_normal((e, e)) * 0.3, rng.standard_normal(e) * 0.1]


def _static_j(k):
    # static keys/values (N*H, S, hd) derived from the key sequence (S, N, E)
    return (k.transpose(1, 0, 2).reshape(2, 5, 2, 4).transpose(0, 2, 1, 3).reshape(4, 5, 4) * 2.0)


def _static_t(k):
    return k.transpose(0, 1).reshape(2, 5, 2, 4).permute(0, 2, 1, 3).reshape(4, 5, 4) * 2.0


for static, need_weights in ((True, True), (False, False)):
    def _j(q, k, v, w_in, b_in, w_out, b_out, static=static, need_weights=need_weights):
        sk = _static_j(k) if static else None
        return F.multi_head_attention_forward(
            q, k, v, 8, 2, w_in, b_in, None, None, False, 0.0, w_out, b_out, training=False,
            need_weights=need_weights, static_k=sk, static_v=None if sk is None else sk * 0.5)

    def _t(q, k, v, w_in, b_in, w_out, b_out, static=static, need_weights=need_weights):
        sk = _static_t(k) if static else None
        return TF.multi_head_attention_forward(
            q, k, v, 8, 2, w_in, b_in, None, None, False, 0.0, w_out, b_out, training=False,
            need_weights=need_weights, static_k=sk, static_v=None if sk is None else sk * 0.5)

    function_case(f"F.multi_head_attention_forward[static_kv={static},need_weights={need_weights}]",
                  FAMILY, _j, _t, _mha_fn_inputs, covers=["functional.multi_head_attention_forward"])


# ---------------------------------------------------------------------------------------
# nn.MultiheadAttention

MHA = ["nn.MultiheadAttention"]


def _mha(**kw):
    return lambda: (nn.MultiheadAttention(**kw), torch.nn.MultiheadAttention(**kw))


def _qkv(l, s, n, e, kdim=None, vdim=None, batch_first=False):
    def make(rng):
        def shape(t, d):
            if n is None:
                return (t, d)
            return (n, t, d) if batch_first else (t, n, d)
        return [rng.standard_normal(shape(l, e)), rng.standard_normal(shape(s, kdim or e)),
                rng.standard_normal(shape(s, vdim or e))]
    return make


def _kpm(n, s, float_mask=False):
    def make(rng):
        m = np.zeros((n, s), bool)
        m[0, -2:] = True  # the first sequence has two padded keys
        if float_mask:
            return np.where(m, -np.inf, 0.0) + rng.standard_normal((n, s)) * 0.1
        return m
    return make


pair_case("nn.MultiheadAttention[defaults,train,dropout=0]", _mha(embed_dim=8, num_heads=2), _qkv(4, 5, 3, 8),
          train=True, covers=MHA)


def _kpm_fully_padded(rng):
    m = _kpm(3, 5)(rng)
    m[2] = True  # a sequence with every key padded: SDPA gives 0 there, as torch does
    return m


pair_case("nn.MultiheadAttention[batch_first,self-attention,kpm,fully padded sequence,need_weights=False]",
          _mha(embed_dim=12, num_heads=3, batch_first=True),
          lambda rng: [rng.standard_normal((3, 5, 12))] * 3,
          kwargs=lambda rng: {"key_padding_mask": _kpm_fully_padded(rng), "need_weights": False}, covers=MHA)
pair_case("nn.MultiheadAttention[kdim=5,vdim=3,batch_first]",
          _mha(embed_dim=8, num_heads=4, kdim=5, vdim=3, batch_first=True),
          _qkv(4, 6, 2, 8, kdim=5, vdim=3, batch_first=True), covers=MHA)
pair_case("nn.MultiheadAttention[kdim=5,vdim=3,need_weights=False,kpm]",
          _mha(embed_dim=8, num_heads=4, kdim=5, vdim=3), _qkv(4, 6, 2, 8, kdim=5, vdim=3),
          kwargs=lambda rng: {"need_weights": False, "key_padding_mask": _kpm(2, 6)(rng)}, covers=MHA)
pair_case("nn.MultiheadAttention[add_bias_kv]", _mha(embed_dim=8, num_heads=2, add_bias_kv=True),
          _qkv(4, 5, 2, 8), kwargs=lambda rng: {"key_padding_mask": _kpm(2, 5)(rng)}, covers=MHA)
pair_case("nn.MultiheadAttention[add_zero_attn,bias=False,attn_mask 2-D bool]",
          _mha(embed_dim=8, num_heads=2, add_zero_attn=True, bias=False), _qkv(4, 5, 2, 8),
          kwargs=lambda rng: {"attn_mask": rng.random((4, 5)) > 0.7}, covers=MHA)
pair_case("nn.MultiheadAttention[add_bias_kv,add_zero_attn,need_weights=False,3-D mask]",
          _mha(embed_dim=8, num_heads=2, add_bias_kv=True, add_zero_attn=True), _qkv(4, 5, 2, 8),
          kwargs=lambda rng: {"need_weights": False, "attn_mask": rng.standard_normal((4, 4, 5)),
                              "key_padding_mask": _kpm(2, 5)(rng)}, covers=MHA)
pair_case("nn.MultiheadAttention[float kpm,float 3-D attn_mask,per-head weights]",
          _mha(embed_dim=8, num_heads=2), _qkv(4, 5, 2, 8),
          kwargs=lambda rng: {"key_padding_mask": _kpm(2, 5, float_mask=True)(rng),
                              "attn_mask": rng.standard_normal((4, 4, 5)), "average_attn_weights": False},
          covers=MHA)
pair_case("nn.MultiheadAttention[is_causal,need_weights=False]", _mha(embed_dim=8, num_heads=2),
          lambda rng: [rng.standard_normal((5, 2, 8))] * 3,
          kwargs={"attn_mask": np.triu(np.full((5, 5), -np.inf), 1), "is_causal": True,
                  "need_weights": False}, covers=MHA)
pair_case("nn.MultiheadAttention[unbatched,kpm,per-head weights]", _mha(embed_dim=8, num_heads=2),
          _qkv(4, 5, None, 8),
          kwargs=lambda rng: {"key_padding_mask": np.array([False, False, True, False, True]),
                              "average_attn_weights": False}, covers=MHA)
pair_case("nn.MultiheadAttention[unbatched,3-D mask,need_weights=False]", _mha(embed_dim=8, num_heads=2),
          _qkv(4, 5, None, 8), kwargs=lambda rng: {"attn_mask": rng.random((2, 4, 5)) > 0.7,
                                                   "need_weights": False}, covers=MHA)


# ---------------------------------------------------------------------------------------
# Transformer layers

ENC = ["nn.TransformerEncoderLayer"]


def _layer(cls_f, cls_t, *args, **kw):
    return lambda: (cls_f(*args, **kw), cls_t(*args, **kw))


def _src(s, n, e, batch_first=False):
    return lambda rng: [rng.standard_normal((n, s, e) if batch_first else (s, n, e))]


for activation, norm_first, batch_first in (("relu", False, False), ("relu", True, True),
                                          ("gelu", False, True), ("gelu", True, False)):
    pair_case(f"nn.TransformerEncoderLayer[{activation},norm_first={norm_first},"
              f"batch_first={batch_first},masks]",
              _layer(nn.TransformerEncoderLayer, torch.nn.TransformerEncoderLayer, 8, 2,
                     dim_feedforward=16, activation=activation, norm_first=norm_first,
                     batch_first=batch_first),
              _src(5, 3, 8, batch_first),
              kwargs=lambda rng: {"src_key_padding_mask": _kpm(3, 5)(rng),
                                  "src_mask": rng.random((5, 5)) > 0.8}, covers=ENC)
pair_case("nn.TransformerEncoderLayer[unbatched,train,dropout=0,bias=False,eps=1e-3]",
          _layer(nn.TransformerEncoderLayer, torch.nn.TransformerEncoderLayer, 8, 4, dim_feedforward=12,
                 dropout=0.0, bias=False, layer_norm_eps=1e-3),
          lambda rng: [rng.standard_normal((5, 8))], train=True, covers=ENC)
pair_case("nn.TransformerEncoderLayer[is_causal,float causal mask,callable activation]",
          lambda: (nn.TransformerEncoderLayer(8, 2, 16, activation=F.gelu, batch_first=True),
                   torch.nn.TransformerEncoderLayer(8, 2, 16, activation=TF.gelu, batch_first=True)),
          _src(5, 2, 8, True), kwargs={"src_mask": np.triu(np.full((5, 5), -np.inf), 1), "is_causal": True},
          covers=ENC)


def _encoder(norm: bool, **kw):
    def build():
        f_norm = t_norm = None
        if norm:
            f_norm, t_norm = nn.LayerNorm(8), torch.nn.LayerNorm(8)
        f = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, **kw), 2, norm=f_norm)
        t = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(8, 2, 16, **kw), 2, norm=t_norm,
                                        enable_nested_tensor=False)
        return f, t
    return build


pair_case("nn.TransformerEncoder[2 layers,norm,kpm]", _encoder(True), _src(5, 3, 8),
          kwargs=lambda rng: {"src_key_padding_mask": _kpm(3, 5)(rng)},
          covers=["nn.TransformerEncoder"])
pair_case("nn.TransformerEncoder[batch_first,norm_first,gelu,train,dropout=0,is_causal]",
          _encoder(False, batch_first=True, norm_first=True, activation="gelu", dropout=0.0),
          _src(5, 2, 8, True), train=True,
          kwargs={"mask": np.triu(np.full((5, 5), -np.inf), 1), "is_causal": True},
          covers=["nn.TransformerEncoder"])

DEC = ["nn.TransformerDecoderLayer"]


def _tgt_mem(t, s, n, e, batch_first=False):
    def make(rng):
        shape = (lambda l: (n, l, e)) if batch_first else (lambda l: (l, n, e))
        return [rng.standard_normal(shape(t)), rng.standard_normal(shape(s))]
    return make


for norm_first, batch_first in ((False, False), (True, True)):
    pair_case(f"nn.TransformerDecoderLayer[norm_first={norm_first},batch_first={batch_first},masks]",
              _layer(nn.TransformerDecoderLayer, torch.nn.TransformerDecoderLayer, 8, 2,
                     dim_feedforward=16, norm_first=norm_first, batch_first=batch_first),
              _tgt_mem(4, 6, 2, 8, batch_first),
              kwargs=lambda rng: {"tgt_mask": np.triu(np.full((4, 4), -np.inf), 1),
                                  "tgt_is_causal": True,
                                  "memory_key_padding_mask": _kpm(2, 6)(rng),
                                  "tgt_key_padding_mask": _kpm(2, 4)(rng),
                                  "memory_mask": rng.random((4, 6)) > 0.8},
              covers=DEC)


def _decoder():
    kw = dict(activation="gelu", dropout=0.0)
    # one layer: stacking copies is exercised by the encoder cases (same _clones helper)
    f = nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, 16, **kw), 1, norm=nn.LayerNorm(8))
    t = torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(8, 2, 16, **kw), 1,
                                    norm=torch.nn.LayerNorm(8))
    return f, t


pair_case("nn.TransformerDecoder[norm,gelu,causal,train,dropout=0]", _decoder, _tgt_mem(4, 6, 2, 8),
          kwargs={"tgt_mask": np.triu(np.full((4, 4), -np.inf), 1)}, train=True,
          covers=["nn.TransformerDecoder"])

pair_case("nn.Transformer[batch_first,norm_first,masks]",
          _layer(nn.Transformer, torch.nn.Transformer, d_model=8, nhead=2, num_encoder_layers=1,
                 num_decoder_layers=1, dim_feedforward=16, batch_first=True, norm_first=True),
          _tgt_mem(6, 4, 2, 8, True),  # (src, tgt)
          kwargs=lambda rng: {"tgt_mask": np.triu(np.full((4, 4), -np.inf), 1),
                              "src_key_padding_mask": _kpm(2, 6)(rng),
                              "memory_key_padding_mask": _kpm(2, 6)(rng)},
          covers=["nn.Transformer"])
