"""Convolutions: ``conv1d/2d/3d``, ``conv_transpose1d/2d/3d``, ``unfold``, ``fold``.

Layouts are torch's: inputs ``(N, C, *spatial)`` (or unbatched ``(C, *spatial)``),
convolution weights ``(C_out, C_in / groups, *kernel)``, transposed-convolution weights
``(C_in, C_out / groups, *kernel)``.

How a convolution is lowered (the arithmetic is the same; only the speed differs):

* **GPU / TPU**: XLA's native convolution (``lax.conv_general_dilated``), which cuDNN and
  the TPU compiler already run at full speed.
* **CPU**, kernels of at most ``_PATCH_MAX_KERNEL`` taps: a *patch-matrix* (im2col)
  lowering. The batch is processed in chunks of a few images (a loop): each chunk's
  ``prod(kernel)`` shifted views are stacked into a matrix ``(C_in * prod(kernel),
  images * prod(out))`` of about ``_PATCH_CHUNK_BYTES`` (a core's L2 cache, at least 1 MiB),
  and one matrix product with ``weight.reshape(C_out, -1)`` gives the chunk's output
  directly in NCHW (grouped convolutions use a batched product). The derivative is
  written by hand (a ``custom_jvp`` whose tangent is the same chunked product): reverse
  mode turns it into one loop that recomputes each chunk's patches, accumulates the
  weight gradient ``grad_out @ patches^T`` and scatters ``weight^T @ grad_out`` into the
  input gradient (col2im), so neither pass materialises the full patch matrix.
  XLA's own CPU convolution is competitive in the forward pass but 3-13x slower than
  PyTorch's oneDNN for the weight gradient (measured on the layers of
  ``benchmarks/run.py --models lenet cnn``), which dominates a training step of a small CNN.
  Everything stays NCHW/OIHW at the interface; the only layout changes are within a
  chunk, in cache.

The choice is made per backend with ``jax.lax.platform_dependent``, so a program
compiled for a GPU keeps XLA's convolution even when traced on a host whose default
backend is the CPU, and vice versa. Transposed convolutions and kernels with more taps
use XLA's convolution everywhere.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Sequence

import jax
import jax.numpy as jnp
from jax import lax

from .. import _checks

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d", "unfold", "fold", "conv_tbc"]


def _l2_cache_bytes(default: int = 2 ** 20,
                    path: str = "/sys/devices/system/cpu/cpu0/cache/index2/size") -> int:
    """The first CPU's level-2 cache (Linux sysfs), or ``default`` where it cannot be read."""
    try:
        with open(path) as handle:
            text = handle.read().strip()
    except OSError:
        return default
    scale = {"K": 2 ** 10, "M": 2 ** 20, "G": 2 ** 30}.get(text[-1:].upper(), 1)
    digits = text[:-1] if text[-1:].isalpha() else text
    return int(digits) * scale if digits.isdigit() else default


# The CPU patch lowering is used up to this many kernel taps (8x8, 4x4x4) ...
_PATCH_MAX_KERNEL = 64

# ... on chunks of images whose patch matrix is about this size: a core's level-2 cache,
# at least 1 MiB. Measured on the training steps of benchmarks/run.py (Intel Xeon, 2 MiB
# L2): 1 MiB chunks took 177-184 ms (CNN) and 40-43 ms (LeNet), 2-8 MiB chunks 152-159 ms
# and 36-40 ms, 16 MiB 161 and 53 ms. The floor is the 1 MiB the lowering was first tuned
# with (on a 2-core AMD EPYC), so machines with smaller caches run what they ran before.
_PATCH_CHUNK_BYTES = max(2 ** 20, _l2_cache_bytes())

_SPATIAL = {1: "H", 2: "HW", 3: "DHW"}
_LAYOUT = {1: "(N, C, L)", 2: "(N, C, H, W)", 3: "(N, C, D, H, W)"}
_UNBATCHED = {1: "(C, L)", 2: "(C, H, W)", 3: "(C, D, H, W)"}


# ---------------------------------------------------------------------------------------
# argument canonicalisation
# ---------------------------------------------------------------------------------------

def _ntuple(where: str, name: str, value: Any, n: int, minimum: int | None = None) -> tuple[int, ...]:
    """``3 -> (3, 3)``; a sequence must have ``n`` entries (torch's ``_pair``/``_triple``)."""
    if isinstance(value, (list, tuple)):
        if len(value) == 1 and n > 1:
            value = tuple(value) * n
        if len(value) != n:
            raise ValueError(f"{where}: expected {name} to be a single int or a tuple of {n} ints, "
                             f"got {tuple(value)!r}")
        out = tuple(value)
    else:
        out = (value,) * n
    try:
        out = tuple(int(v) for v in out)
    except (TypeError, ValueError):
        raise TypeError(f"{where}: expected {name} to be int or a tuple of {n} ints, got {value!r}") from None
    if minimum is not None and any(v < minimum for v in out):
        raise ValueError(f"{where}: {name} must be at least {minimum}, got {value!r}")
    return out


def _conv_out_size(size: int, lo: int, hi: int, k: int, s: int, d: int) -> int:
    return (size + lo + hi - d * (k - 1) - 1) // s + 1


def _same_pads(kernel: Sequence[int], dilation: Sequence[int]) -> tuple[tuple[int, int], ...]:
    """torch's 'same': total ``d * (k - 1)``, the odd extra element on the right."""
    pads = []
    for k, d in zip(kernel, dilation):
        total = d * (k - 1)
        pads.append((total // 2, total - total // 2))
    return tuple(pads)


def _conv_pads(where: str, padding: Any, kernel: Sequence[int], stride: Sequence[int],
               dilation: Sequence[int]) -> tuple[tuple[int, int], ...]:
    nd = len(kernel)
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * nd
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{where}: padding='same' is not supported for strided "
                                 f"convolutions (stride={tuple(stride)}), as in torch")
            return _same_pads(kernel, dilation)
        raise ValueError(f"{where}: invalid padding string {padding!r}, should be one of "
                         f"'valid', 'same'")
    pad = _ntuple(where, "padding", padding, nd, minimum=0)
    return tuple((p, p) for p in pad)


# ---------------------------------------------------------------------------------------
# lowerings
# ---------------------------------------------------------------------------------------

def _dimension_numbers(nd: int):
    sp = _SPATIAL[nd]
    return ("NC" + sp, "OI" + sp, "NC" + sp)


def _native_conv(x, w, stride, pads, dilation, groups):
    """XLA's convolution in torch's layout."""
    return lax.conv_general_dilated(x, w, window_strides=stride, padding=pads,
                                    rhs_dilation=dilation, feature_group_count=groups,
                                    dimension_numbers=_dimension_numbers(len(stride)))


def _patches(x, kernel, stride, dilation, pads):
    """The patch matrix of a few images: ``(N, C, *S) -> (C * prod(kernel), N * prod(out))``.

    Rows are ordered ``(c, *kernel)`` like the columns of ``weight.reshape(C_out, -1)``,
    columns ``(n, *out)``. The shifted views are stacked one spatial axis at a time
    (innermost first): XLA fuses a concatenation of at most 8 operands into one loop, so
    ``k`` views per axis are much cheaper than ``prod(kernel)`` in one go.
    """
    nd = len(kernel)
    a = jnp.swapaxes(x, 0, 1)  # (C, N, *S)
    if any(lo or hi for lo, hi in pads):
        a = lax.pad(a, jnp.zeros((), a.dtype), [(0, 0, 0), (0, 0, 0)] + [(lo, hi, 0) for lo, hi in pads])
    out = [(a.shape[2 + i] - dilation[i] * (kernel[i] - 1) - 1) // stride[i] + 1 for i in range(nd)]
    for axis in reversed(range(nd)):
        # a: (C, k_{axis+1}, ..., k_{nd-1}, N, S_0, ..., S_axis, out_{axis+1}, ...); the
        # spatial axis being windowed sits at position nd + 1 throughout.
        k, s, d, o = kernel[axis], stride[axis], dilation[axis], out[axis]
        views = [lax.slice_in_dim(a, j * d, j * d + (o - 1) * s + 1, stride=s, axis=nd + 1)
                 for j in range(k)]
        a = jnp.stack(views, axis=1)
    # a: (C, *kernel, N, *out)
    return a.reshape(x.shape[1] * math.prod(kernel), x.shape[0] * math.prod(out)), tuple(out)


def _chunk_conv(x, wmat, kernel, stride, dilation, pads, groups, transposed=False):
    """Convolution of a few images as one matrix product: ``(c, C, *S) -> (c, O, *out)``.

    ``wmat`` is ``(g, O / g, K / g)``, or ``(g, K / g, O / g)`` when ``transposed``: that
    form is used in the tangent of the input, whose transpose (the input gradient) is then
    the product ``wmat_t @ grad_out`` in the layout XLA's CPU matrix kernels run fastest.
    """
    patches, out = _patches(x, kernel, stride, dilation, pads)
    if groups == 1:
        # Plain 2-D products: XLA's CPU backend maps them (and their transposes) onto its
        # fast matrix kernels; a batch dimension of size 1 would not be.
        y = lax.dot_general(wmat[0], patches, (((0 if transposed else 1,), (0,)), ((), ())))
    else:
        patches = patches.reshape(groups, -1, patches.shape[1])
        y = lax.dot_general(wmat, patches, (((1 if transposed else 2,), (1,)), ((0,), (0,))))
    c_out = math.prod(y.shape[:-1])  # y: (O, c * P) or (g, O / g, c * P)
    return jnp.swapaxes(y.reshape((c_out, x.shape[0]) + out), 0, 1)


def _grouped(w, groups):
    """``(O, C / g, *k) -> (g, O / g, C / g * prod(k))``."""
    return w.reshape(groups, w.shape[0] // groups, -1)


def _chunk_size(n: int, bytes_per_image: int) -> int:
    """Images per chunk: a patch matrix of about ``_PATCH_CHUNK_BYTES`` (cache-sized), and a
    divisor of the batch so that every chunk has the same shape."""
    target = max(1, _PATCH_CHUNK_BYTES // max(1, bytes_per_image))
    return max(d for d in range(1, min(n, target) + 1) if n % d == 0)


def _scan_chunks(fn, chunk, *arrays):
    """``fn`` over consecutive batch chunks of ``arrays`` (a loop, so each chunk's patch
    matrix stays in cache); the results are concatenated along the batch."""
    n = arrays[0].shape[0]
    if chunk == n:
        return fn(*arrays)
    split = [a.reshape((n // chunk, chunk) + a.shape[1:]) for a in arrays]
    _, ys = lax.scan(lambda carry, xs: (carry, fn(*xs)), None, split)
    return ys.reshape((n,) + ys.shape[2:])


@functools.partial(jax.custom_jvp, nondiff_argnums=(2,))
def _patch_conv(x, w, config):
    kernel, stride, pads, dilation, groups, chunk = config
    wmat = _grouped(w, groups)
    return _scan_chunks(lambda xc: _chunk_conv(xc, wmat, kernel, stride, dilation, pads, groups),
                        chunk, x)


def _patch_conv_jvp(config, primals, tangents):
    kernel, stride, pads, dilation, groups, chunk = config
    x, w = primals
    dx, dw = tangents
    y = _patch_conv(x, w, config)
    has_x = not isinstance(dx, jax.custom_derivatives.SymbolicZero)
    has_w = not isinstance(dw, jax.custom_derivatives.SymbolicZero)
    if not (has_x or has_w):
        return y, jnp.zeros_like(y)
    dwmat = _grouped(dw, groups) if has_w else None
    # The barrier keeps XLA from folding the transpose back into the product.
    wmat_t = lax.optimization_barrier(jnp.swapaxes(_grouped(w, groups), 1, 2)) if has_x else None

    # The tangent is linear in (dx, dw); reverse mode transposes this loop into one that,
    # chunk by chunk, recomputes the patches of x (the checkpoint keeps them out of
    # memory), accumulates the weight gradient grad_out @ patches^T and scatters
    # weight^T @ grad_out back into the input gradient (col2im).
    @jax.checkpoint
    def tangent(xc, dxc):
        t = None
        if has_w:
            t = _chunk_conv(xc, dwmat, kernel, stride, dilation, pads, groups)
        if has_x:
            tx = _chunk_conv(dxc, wmat_t, kernel, stride, dilation, pads, groups, transposed=True)
            t = tx if t is None else t + tx
        return t

    return y, _scan_chunks(tangent, chunk, x, dx if has_x else x)


_patch_conv.defjvp(_patch_conv_jvp, symbolic_zeros=True)


def _use_patches(w_shape) -> bool:
    return math.prod(w_shape[2:]) <= _PATCH_MAX_KERNEL


def _conv_lowered(x, w, stride, pads, dilation, groups):
    """Chooses the lowering per backend (see the module docstring)."""
    native = functools.partial(_native_conv, stride=stride, pads=pads, dilation=dilation, groups=groups)
    if not _use_patches(w.shape) or x.shape[0] == 0:
        return native(x, w)
    kernel = tuple(w.shape[2:])
    out = [(x.shape[2 + i] + lo + hi - dilation[i] * (kernel[i] - 1) - 1) // stride[i] + 1
           for i, (lo, hi) in enumerate(pads)]
    per_image = x.shape[1] * math.prod(kernel) * math.prod(out) * jnp.dtype(x.dtype).itemsize
    config = (kernel, tuple(stride), tuple(pads), tuple(dilation), groups,
              _chunk_size(x.shape[0], per_image))
    return lax.platform_dependent(x, w, cpu=lambda a, b: _patch_conv(a, b, config), default=native)


# ---------------------------------------------------------------------------------------
# public convolutions
# ---------------------------------------------------------------------------------------

def _check_same_dtype(where: str, **arrays: Any) -> None:
    dtypes = {name: _checks.dtype_of(a) for name, a in arrays.items() if a is not None}
    if len(set(dtypes.values())) > 1:
        listed = ", ".join(f"{k} {v}" for k, v in dtypes.items())
        raise TypeError(f"{where}: expected input, weight and bias of the same dtype, got {listed}")


def _batched(where: str, input: Any, nd: int) -> tuple[jax.Array, bool]:
    ndim = jnp.ndim(input)
    if ndim == nd + 2:
        return jnp.asarray(input), False
    if ndim == nd + 1:
        return jnp.asarray(input)[None], True
    _checks.fail(where, f"a {nd + 2}-D input {_LAYOUT[nd]} or {nd + 1}-D unbatched input "
                 f"{_UNBATCHED[nd]}", input)
    raise AssertionError  # unreachable


def _conv_nd(input, weight, bias, stride, padding, dilation, groups, nd: int, where: str):
    _checks.check_floating(where, input)
    _checks.check_floating(where, weight, "weight")
    _check_same_dtype(where, input=input, weight=weight, bias=bias)
    if jnp.ndim(weight) != nd + 2:
        _checks.fail(where, f"a {nd + 2}-D weight (C_out, C_in / groups, *kernel)", weight,
                     got=f"weight of shape {_checks.fmt_shape(_checks.shape_of(weight))}")
    groups = int(groups)
    if groups < 1:
        raise ValueError(f"{where}: groups must be a positive integer, got {groups}")
    x, unbatched = _batched(where, input, nd)
    w_shape = _checks.shape_of(weight)
    c_out, c_per_group, kernel = w_shape[0], w_shape[1], w_shape[2:]
    if c_out % groups:
        raise ValueError(f"{where}: expected weight dim 0 ({c_out} output channels) to be "
                         f"divisible by groups={groups}")
    if x.shape[1] != c_per_group * groups:
        _checks.fail(where, f"input with {c_per_group * groups} channels at dim "
                     f"{0 if unbatched else 1} (weight {_checks.fmt_shape(w_shape)}, groups={groups})",
                     input)
    if bias is not None and _checks.shape_of(bias) != (c_out,):
        _checks.fail(where, f"bias of shape ({c_out},)", bias,
                     got=f"bias of shape {_checks.fmt_shape(_checks.shape_of(bias))}")
    stride = _ntuple(where, "stride", stride, nd, minimum=1)
    dilation = _ntuple(where, "dilation", dilation, nd, minimum=1)
    pads = _conv_pads(where, padding, kernel, stride, dilation)
    padded = [x.shape[2 + i] + lo + hi for i, (lo, hi) in enumerate(pads)]
    effective = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    if any(e > p for e, p in zip(effective, padded)):
        raise ValueError(
            f"{where}: kernel size can't be greater than the padded input size: padded input "
            f"{' x '.join(map(str, padded))}, (dilated) kernel {' x '.join(map(str, effective))} "
            f"(input shape {_checks.fmt_shape(_checks.shape_of(input))})")
    y = _conv_lowered(x, jnp.asarray(weight), stride, pads, dilation, groups)
    if bias is not None:
        y = y + jnp.asarray(bias).reshape((1, c_out) + (1,) * nd)
    return y[0] if unbatched else y


def conv1d(input: jax.Array, weight: jax.Array, bias: jax.Array | None = None,
           stride: int | Sequence[int] = 1, padding: str | int | Sequence[int] = 0,
           dilation: int | Sequence[int] = 1, groups: int = 1) -> jax.Array:
    """1-D convolution (cross-correlation, as torch).

    Args:
        input: ``(N, C_in, L)`` or unbatched ``(C_in, L)``.
        weight: ``(C_out, C_in / groups, k)``.
        bias: ``(C_out,)`` or None.
        stride, dilation: int or 1-tuple.
        padding: int, 1-tuple, ``'valid'`` or ``'same'`` (stride 1 only; an odd total
            padding puts the extra element on the right, as torch).
        groups: splits the channels into ``groups`` independent convolutions.

    Returns:
        ``(N, C_out, L_out)``, ``L_out = (L + 2p - d (k - 1) - 1) // s + 1``.

    PyTorch equivalent: ``torch.nn.functional.conv1d``.
    """
    return _conv_nd(input, weight, bias, stride, padding, dilation, groups, 1, "conv1d")


def conv2d(input: jax.Array, weight: jax.Array, bias: jax.Array | None = None,
           stride: int | Sequence[int] = 1, padding: str | int | Sequence[int] = 0,
           dilation: int | Sequence[int] = 1, groups: int = 1) -> jax.Array:
    """2-D convolution (cross-correlation, as torch).

    Args:
        input: ``(N, C_in, H, W)`` or unbatched ``(C_in, H, W)``.
        weight: ``(C_out, C_in / groups, kH, kW)`` (OIHW).
        bias: ``(C_out,)`` or None.
        stride, dilation: int or pair.
        padding: int, pair, ``'valid'`` or ``'same'`` (stride 1 only; an odd total
            padding puts the extra element on the bottom/right, as torch).
        groups: splits the channels into ``groups`` independent convolutions
            (``groups == C_in`` is a depthwise convolution).

    Returns:
        ``(N, C_out, H_out, W_out)``.

    PyTorch equivalent: ``torch.nn.functional.conv2d``.
    """
    return _conv_nd(input, weight, bias, stride, padding, dilation, groups, 2, "conv2d")


def conv3d(input: jax.Array, weight: jax.Array, bias: jax.Array | None = None,
           stride: int | Sequence[int] = 1, padding: str | int | Sequence[int] = 0,
           dilation: int | Sequence[int] = 1, groups: int = 1) -> jax.Array:
    """3-D convolution (cross-correlation, as torch).

    Args:
        input: ``(N, C_in, D, H, W)`` or unbatched ``(C_in, D, H, W)``.
        weight: ``(C_out, C_in / groups, kD, kH, kW)``.
        bias: ``(C_out,)`` or None.
        stride, dilation: int or triple.
        padding: int, triple, ``'valid'`` or ``'same'`` (stride 1 only).
        groups: splits the channels into ``groups`` independent convolutions.

    Returns:
        ``(N, C_out, D_out, H_out, W_out)``.

    PyTorch equivalent: ``torch.nn.functional.conv3d``.
    """
    return _conv_nd(input, weight, bias, stride, padding, dilation, groups, 3, "conv3d")


# ---------------------------------------------------------------------------------------
# transposed convolutions
# ---------------------------------------------------------------------------------------

def _transpose_weight(w, groups: int):
    """``(C_in, C_out/g, *k)`` -> the flipped ``(C_out, C_in/g, *k)`` kernel of the equivalent
    stride-1 convolution over the zero-dilated input."""
    c_in, c_out_g = w.shape[0], w.shape[1]
    kernel = w.shape[2:]
    nd = len(kernel)
    w = w.reshape((groups, c_in // groups, c_out_g) + kernel)
    w = jnp.swapaxes(w, 1, 2).reshape((groups * c_out_g, c_in // groups) + kernel)
    return lax.rev(w, tuple(range(2, 2 + nd)))


def _conv_transpose_nd(input, weight, bias, stride, padding, output_padding, groups, dilation,
                       nd: int, where: str):
    _checks.check_floating(where, input)
    _checks.check_floating(where, weight, "weight")
    _check_same_dtype(where, input=input, weight=weight, bias=bias)
    if jnp.ndim(weight) != nd + 2:
        _checks.fail(where, f"a {nd + 2}-D weight (C_in, C_out / groups, *kernel)", weight,
                     got=f"weight of shape {_checks.fmt_shape(_checks.shape_of(weight))}")
    groups = int(groups)
    if groups < 1:
        raise ValueError(f"{where}: groups must be a positive integer, got {groups}")
    x, unbatched = _batched(where, input, nd)
    w_shape = _checks.shape_of(weight)
    c_in, c_out = w_shape[0], w_shape[1] * groups
    kernel = w_shape[2:]
    if c_in % groups:
        raise ValueError(f"{where}: expected weight dim 0 ({c_in} input channels) to be "
                         f"divisible by groups={groups}")
    if x.shape[1] != c_in:
        _checks.fail(where, f"input with {c_in} channels at dim {0 if unbatched else 1} "
                     f"(weight {_checks.fmt_shape(w_shape)}, groups={groups})", input)
    if bias is not None and _checks.shape_of(bias) != (c_out,):
        _checks.fail(where, f"bias of shape ({c_out},)", bias,
                     got=f"bias of shape {_checks.fmt_shape(_checks.shape_of(bias))}")
    if isinstance(padding, str):
        raise ValueError(f"{where}: padding must be an int or a tuple of ints for transposed "
                         f"convolutions, got {padding!r} (torch has no string padding here)")
    stride = _ntuple(where, "stride", stride, nd, minimum=1)
    pad = _ntuple(where, "padding", padding, nd, minimum=0)
    out_pad = _ntuple(where, "output_padding", output_padding, nd, minimum=0)
    dilation = _ntuple(where, "dilation", dilation, nd, minimum=1)
    for op, s, d in zip(out_pad, stride, dilation):
        if op >= s and op >= d:
            raise ValueError(f"{where}: output_padding must be smaller than either stride or "
                             f"dilation, got output_padding={out_pad}, stride={stride}, "
                             f"dilation={dilation}")
    sizes = [(x.shape[2 + i] - 1) * stride[i] - 2 * pad[i] + dilation[i] * (kernel[i] - 1)
             + out_pad[i] + 1 for i in range(nd)]
    if any(s < 1 for s in sizes):
        raise ValueError(f"{where}: the output would be empty: computed output size "
                         f"{tuple(sizes)} for input {_checks.fmt_shape(_checks.shape_of(input))}")
    pads = [(dilation[i] * (kernel[i] - 1) - pad[i],
             dilation[i] * (kernel[i] - 1) - pad[i] + out_pad[i]) for i in range(nd)]
    y = lax.conv_general_dilated(x, _transpose_weight(jnp.asarray(weight), groups),
                                 window_strides=(1,) * nd, padding=pads, lhs_dilation=stride,
                                 rhs_dilation=dilation, feature_group_count=groups,
                                 dimension_numbers=_dimension_numbers(nd))
    if bias is not None:
        y = y + jnp.asarray(bias).reshape((1, c_out) + (1,) * nd)
    return y[0] if unbatched else y


_TRANSPOSE_DOC = """{nd}-D transposed convolution (the gradient of ``conv{nd}d`` w.r.t. its input).

    Args:
        input: ``{layout}`` or unbatched ``{unbatched}``.
        weight: ``(C_in, C_out / groups, *kernel)``, torch's layout (not the OIHW of conv).
        bias: ``(C_out,)`` or None.
        stride, padding, output_padding, dilation: int or {nd}-tuple; ``output_padding``
            adds that many rows/columns on the high side and must be smaller than the
            stride or the dilation.
        groups: splits the channels into ``groups`` independent transposed convolutions.

    Returns:
        ``(N, C_out, *out)``, ``out = (in - 1) s - 2 p + d (k - 1) + output_padding + 1``.

    Note the argument order: ``groups`` comes before ``dilation``, as in torch.

    PyTorch equivalent: ``torch.nn.functional.conv_transpose{nd}d``.
    """


def conv_transpose1d(input: jax.Array, weight: jax.Array, bias: jax.Array | None = None,
                     stride: int | Sequence[int] = 1, padding: int | Sequence[int] = 0,
                     output_padding: int | Sequence[int] = 0, groups: int = 1,
                     dilation: int | Sequence[int] = 1) -> jax.Array:
    return _conv_transpose_nd(input, weight, bias, stride, padding, output_padding, groups,
                              dilation, 1, "conv_transpose1d")


def conv_transpose2d(input: jax.Array, weight: jax.Array, bias: jax.Array | None = None,
                     stride: int | Sequence[int] = 1, padding: int | Sequence[int] = 0,
                     output_padding: int | Sequence[int] = 0, groups: int = 1,
                     dilation: int | Sequence[int] = 1) -> jax.Array:
    return _conv_transpose_nd(input, weight, bias, stride, padding, output_padding, groups,
                              dilation, 2, "conv_transpose2d")


def conv_transpose3d(input: jax.Array, weight: jax.Array, bias: jax.Array | None = None,
                     stride: int | Sequence[int] = 1, padding: int | Sequence[int] = 0,
                     output_padding: int | Sequence[int] = 0, groups: int = 1,
                     dilation: int | Sequence[int] = 1) -> jax.Array:
    return _conv_transpose_nd(input, weight, bias, stride, padding, output_padding, groups,
                              dilation, 3, "conv_transpose3d")


for _nd, _fn in ((1, conv_transpose1d), (2, conv_transpose2d), (3, conv_transpose3d)):
    _fn.__doc__ = _TRANSPOSE_DOC.format(nd=_nd, layout=_LAYOUT[_nd], unbatched=_UNBATCHED[_nd])


# ---------------------------------------------------------------------------------------
# unfold / fold
# ---------------------------------------------------------------------------------------

def _unfold_core(x, kernel, dilation, pads, stride, out):
    """``(N, C, H, W) -> (N, C * kH * kW, L)``, columns in ``(c, i, j)`` order (torch's)."""
    n, c = x.shape[0], x.shape[1]
    xp = lax.pad(x, jnp.zeros((), x.dtype), [(0, 0, 0), (0, 0, 0)] + [(p, p, 0) for p in pads])
    views = []
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            start = (0, 0, i * dilation[0], j * dilation[1])
            limit = (n, c, i * dilation[0] + (out[0] - 1) * stride[0] + 1,
                     j * dilation[1] + (out[1] - 1) * stride[1] + 1)
            views.append(lax.slice(xp, start, limit, (1, 1) + tuple(stride)))
    cols = jnp.stack(views, axis=2)  # (N, C, kH * kW, oH, oW)
    return cols.reshape(n, c * kernel[0] * kernel[1], out[0] * out[1])


def _fold_args(where, kernel_size, dilation, padding, stride):
    return (_ntuple(where, "kernel_size", kernel_size, 2, minimum=1),
            _ntuple(where, "dilation", dilation, 2, minimum=1),
            _ntuple(where, "padding", padding, 2, minimum=0),
            _ntuple(where, "stride", stride, 2, minimum=1))


def unfold(input: jax.Array, kernel_size: int | Sequence[int], dilation: int | Sequence[int] = 1,
           padding: int | Sequence[int] = 0, stride: int | Sequence[int] = 1) -> jax.Array:
    """Extracts sliding local blocks (im2col).

    Args:
        input: ``(N, C, H, W)`` or unbatched ``(C, H, W)``.
        kernel_size, dilation, padding, stride: int or pair.

    Returns:
        ``(N, C * kH * kW, L)`` with ``L`` the number of blocks; the block dimension is
        ordered ``(c, i, j)`` and the blocks row-major, as torch.

    PyTorch equivalent: ``torch.nn.functional.unfold``.
    """
    where = "unfold"
    _checks.check_floating(where, input)
    if jnp.ndim(input) not in (3, 4):
        _checks.fail(where, "a 4-D input (N, C, H, W) or 3-D unbatched input (C, H, W)", input)
    kernel, dilation, pads, stride = _fold_args(where, kernel_size, dilation, padding, stride)
    x = jnp.asarray(input)
    unbatched = x.ndim == 3
    if unbatched:
        x = x[None]
    out = [_conv_out_size(x.shape[2 + i], pads[i], pads[i], kernel[i], stride[i], dilation[i])
           for i in range(2)]
    if any(o < 1 for o in out):
        raise ValueError(f"{where}: the sliding blocks do not fit: input "
                         f"{_checks.fmt_shape(_checks.shape_of(input))}, kernel_size={kernel}, "
                         f"dilation={dilation}, padding={pads}, stride={stride} give "
                         f"{out[0]} x {out[1]} blocks")
    cols = _unfold_core(x, kernel, dilation, pads, stride, out)
    return cols[0] if unbatched else cols


def fold(input: jax.Array, output_size: int | Sequence[int], kernel_size: int | Sequence[int],
         dilation: int | Sequence[int] = 1, padding: int | Sequence[int] = 0,
         stride: int | Sequence[int] = 1) -> jax.Array:
    """Sums sliding local blocks into a larger array (col2im), the adjoint of ``unfold``.

    Args:
        input: ``(N, C * kH * kW, L)`` or unbatched ``(C * kH * kW, L)``.
        output_size: ``(H, W)`` of the result (int or pair).
        kernel_size, dilation, padding, stride: int or pair, as for ``unfold``.

    Returns:
        ``(N, C, H, W)``; overlapping block entries are summed.

    PyTorch equivalent: ``torch.nn.functional.fold``.
    """
    where = "fold"
    _checks.check_floating(where, input)
    if jnp.ndim(input) not in (2, 3):
        _checks.fail(where, "a 3-D input (N, C * prod(kernel_size), L) or 2-D unbatched input "
                     "(C * prod(kernel_size), L)", input)
    size = _ntuple(where, "output_size", output_size, 2, minimum=1)
    kernel, dilation, pads, stride = _fold_args(where, kernel_size, dilation, padding, stride)
    cols = jnp.asarray(input)
    unbatched = cols.ndim == 2
    if unbatched:
        cols = cols[None]
    taps = kernel[0] * kernel[1]
    if cols.shape[1] % taps:
        _checks.fail(where, f"dim {0 if unbatched else 1} divisible by prod(kernel_size) = {taps}",
                     input)
    out = [_conv_out_size(size[i], pads[i], pads[i], kernel[i], stride[i], dilation[i]) for i in range(2)]
    if any(o < 1 for o in out) or cols.shape[2] != out[0] * out[1]:
        _checks.fail(where, f"{max(out[0], 0) * max(out[1], 0)} blocks in the last dim for "
                     f"output_size={size}, kernel_size={kernel}, dilation={dilation}, "
                     f"padding={pads}, stride={stride}", input)
    shape = (cols.shape[0], cols.shape[1] // taps) + size
    spec = jax.ShapeDtypeStruct(shape, cols.dtype)
    transpose = jax.linear_transpose(
        lambda x: _unfold_core(x, kernel, dilation, pads, stride, out), spec)
    (result,) = transpose(cols)
    return result[0] if unbatched else result


def conv_tbc(input: jax.Array, weight: jax.Array, bias: jax.Array, pad: int = 0) -> jax.Array:
    """1-D convolution over time-major sequences (Time, Batch, Channels).

    ``out[t] = bias + sum_k input[t + k - pad] @ weight[k]``: :func:`conv1d` on the
    transposed layout.

    Args:
        input: ``(T, B, C_in)``.
        weight: ``(K, C_in, C_out)`` (note: not conv1d's ``(C_out, C_in, K)``).
        bias: ``(C_out,)``.
        pad: zero padding on both ends of the time axis.

    Returns:
        ``(T + 2 * pad - K + 1, B, C_out)``.

    PyTorch equivalent: ``torch.nn.functional.conv_tbc``.
    """
    where = "conv_tbc"
    _checks.check_floating(where, input)
    x, w, b = jnp.asarray(input), jnp.asarray(weight), jnp.asarray(bias)
    if x.ndim != 3:
        _checks.fail(where, "input (T, B, C_in)", x)
    if w.ndim != 3:
        _checks.fail(where, "weight (K, C_in, C_out)", w)
    if b.ndim != 1 or b.shape[0] != w.shape[2]:
        _checks.fail(where, f"bias ({w.shape[2]},), one per output channel of the weight", b)
    if x.shape[2] != w.shape[1]:
        raise ValueError(f"{where}: input channels (dim 2 of input {_checks.fmt_shape(x.shape)}) must "
                         f"equal dim 1 of weight {_checks.fmt_shape(w.shape)}")
    pad = _ntuple(where, "pad", pad, 1, minimum=0)[0]
    out = conv1d(jnp.transpose(x, (1, 2, 0)), jnp.transpose(w, (2, 1, 0)), b, 1, pad)
    return jnp.transpose(out, (2, 0, 1))
