"""Parametrizations: ``weight_norm``, ``spectral_norm`` and ``orthogonal``.

torch re-parametrizes a module in place: ``weight`` becomes a function of new
parameters stored under ``parametrizations.weight.original0/1`` (or ``original``), with
the parametrization's buffers under ``parametrizations.weight.0``, and the module's
class becomes ``Parametrized<Class>``. fnet modules are frozen, so these functions
*return* that module: a ``Parametrized<Class>`` subclass of the layer with the same
configuration and a ``parametrizations`` child, whose parameter tree has torch's names,
so a torch checkpoint of a parametrized model loads by unflattening and
``fnet.state_dict`` is torch's::

    layer = parametrizations.weight_norm(nn.Linear(20, 40))
    params, state = layer.init(key)       # {"bias", "parametrizations": {"weight": {"original0", "original1"}}}

``init`` draws the layer's usual weight and converts it with torch's ``right_inverse``
(``g = ||w||``, ``v = w`` for weight norm). In ``forward`` the weight is computed from the
originals and the layer runs with it. ``spectral_norm``'s power iteration updates its
``_u``/``_v`` buffers in training (returned in the new state, as other buffers), not in
evaluation, as torch.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from ... import _checks
from .._container import ModuleDict
from .._conv import ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from .._module import Context, Module, _path_id

__all__ = ["weight_norm", "spectral_norm", "orthogonal"]


# -- the parametrizations ------------------------------------------------------------------------

class _Parametrization(Module):
    """A map ``originals -> tensor``, with its inverse for initialisation."""

    def right_inverse(self, key: jax.Array, weight: jax.Array) -> tuple[dict, dict]:
        """``(originals, buffers)`` that give ``weight`` back."""
        raise NotImplementedError

    def tensor(self, originals: dict, buffers: dict, train: bool) -> tuple[jax.Array, dict | None]:
        """The parametrized tensor, and the new buffers (None when unchanged)."""
        raise NotImplementedError


def _norm_except_dim(v: jax.Array, dim: int) -> jax.Array:
    """torch's ``norm_except_dim(v, 2, dim)``: the 2-norm over every dim but ``dim``
    (keepdims), or of the whole tensor for ``dim == -1``."""
    if dim == -1:
        return jnp.sqrt(jnp.sum(v * v))
    axes = tuple(a for a in range(v.ndim) if a != dim)
    return jnp.sqrt(jnp.sum(v * v, axis=axes, keepdims=True))


class _WeightNorm(_Parametrization):
    def __init__(self, dim: int = 0):
        super().__init__()
        self.dim = -1 if dim is None else dim

    def right_inverse(self, key, weight):
        return {"original0": _norm_except_dim(weight, self.dim), "original1": weight}, {}

    def tensor(self, originals, buffers, train):
        g, v = originals["original0"], originals["original1"]
        return v * (g / _norm_except_dim(v, self.dim)), None


def _normalize(x: jax.Array, eps: float) -> jax.Array:
    """``F.normalize(x, dim=0, eps=eps)`` of a vector."""
    return x / jnp.maximum(jnp.sqrt(jnp.sum(x * x)), eps)


class _SpectralNorm(_Parametrization):
    def __init__(self, n_power_iterations: int = 1, dim: int = 0, eps: float = 1e-12):
        super().__init__()
        self.n_power_iterations = n_power_iterations
        self.dim = dim
        self.eps = eps

    def _matrix(self, weight: jax.Array) -> jax.Array:
        dim = self.dim % weight.ndim
        return jnp.moveaxis(weight, dim, 0).reshape(weight.shape[dim], -1)

    def _power_method(self, mat: jax.Array, u: jax.Array, v: jax.Array, n: int):
        for _ in range(n):
            u = _normalize(mat @ v, self.eps)
            v = _normalize(mat.T @ u, self.eps)
        return u, v

    def right_inverse(self, key, weight):
        if weight.ndim == 1:
            return {"original": weight}, {}
        mat = jax.lax.stop_gradient(self._matrix(weight))
        k_u, k_v = jax.random.split(key)
        u = _normalize(jax.random.normal(k_u, (mat.shape[0],), mat.dtype), self.eps)
        v = _normalize(jax.random.normal(k_v, (mat.shape[1],), mat.dtype), self.eps)
        u, v = self._power_method(mat, u, v, 15)  # torch starts from 15 iterations
        return {"original": weight}, {"_u": u, "_v": v}

    def tensor(self, originals, buffers, train):
        weight = originals["original"]
        if weight.ndim == 1:
            return _normalize(weight, self.eps), None
        mat = self._matrix(weight)
        u, v = buffers["_u"], buffers["_v"]
        new = None
        if train:  # torch runs the power iteration in training only, without gradient
            u, v = self._power_method(jax.lax.stop_gradient(mat), u, v, self.n_power_iterations)
            new = {"_u": u, "_v": v}
        u, v = jax.lax.stop_gradient(u), jax.lax.stop_gradient(v)
        sigma = jnp.vdot(u, mat @ v)
        return weight / sigma, new


def _householder_product(a: jax.Array, tau: jax.Array) -> jax.Array:
    """LAPACK's ``orgqr``: the first ``k`` columns of ``H_1 ... H_k`` with
    ``H_i = I - tau_i v_i v_i^T``, ``v_i = (0, ..., 0, 1, a[i+1:, i])`` (differentiable,
    which ``jax.lax.linalg.householder_product`` is not)."""
    n, k = a.shape[-2:]
    rows = jnp.arange(n)
    q = jnp.broadcast_to(jnp.eye(n, k, dtype=a.dtype), a.shape)
    for i in reversed(range(k)):
        v = jnp.where(rows < i, 0, jnp.where(rows == i, 1, a[..., :, i]))  # (..., n)
        q = q - tau[..., i, None, None] * v[..., :, None] * jnp.einsum("...n,...nk->...k", v, q)[..., None, :]
    return q


def _make_orthogonal(a: jax.Array) -> jax.Array:
    """The orthogonal factor of ``a``'s QR decomposition whose ``R`` has a positive diagonal."""
    q, r = jnp.linalg.qr(a)
    return q * jnp.sign(jnp.diagonal(r, axis1=-2, axis2=-1))[..., None, :]


class _Orthogonal(_Parametrization):
    _MAPS = ("matrix_exp", "cayley", "householder")

    def __init__(self, orthogonal_map: str, use_trivialization: bool = True):
        super().__init__()
        self.orthogonal_map = orthogonal_map
        self.use_trivialization = use_trivialization

    def right_inverse(self, key, weight):
        n, k = weight.shape[-2:]
        q = jnp.swapaxes(weight, -1, -2) if n < k else weight
        n, k = q.shape[-2:]
        if not self.use_trivialization:
            if self.orthogonal_map != "householder":
                # torch cannot invert these maps; it keeps the weight as the original
                return {"original": weight}, {}
            h, tau = jnp.linalg.qr(q, mode="raw")  # geqrf (h transposed, as numpy's raw mode)
            a = jnp.swapaxes(h, -1, -2)
            diag = jnp.sign(jnp.diagonal(a, axis1=-2, axis2=-1))
            diag = jnp.where(tau == 0, -diag, diag)
            eye = jnp.eye(n, k, dtype=bool)
            a = jnp.where(eye, diag[..., None, :] * jnp.ones_like(a), a)
            original = jnp.swapaxes(a, -1, -2) if weight.shape[-2] < weight.shape[-1] else a
            return {"original": original}, {}
        if n == k:
            gram = jnp.swapaxes(q, -1, -2) @ q
            is_orthogonal = jnp.all(jnp.abs(gram - jnp.eye(n, dtype=q.dtype)) <= 1e-5)
            base = jnp.where(is_orthogonal, q, _make_orthogonal(q))
        else:
            noise = jax.random.normal(key, q.shape[:-2] + (n, n - k), q.dtype)
            base = _make_orthogonal(jnp.concatenate([q, noise], axis=-1))
        neg_id = -jnp.broadcast_to(jnp.eye(*weight.shape[-2:], dtype=weight.dtype), weight.shape)
        return {"original": neg_id}, {"base": base}

    def tensor(self, originals, buffers, train):
        x = originals["original"]
        n, k = x.shape[-2:]
        transposed = n < k
        if transposed:
            x = jnp.swapaxes(x, -1, -2)
            n, k = k, n
        if self.orthogonal_map in ("matrix_exp", "cayley"):
            x = jnp.tril(x)
            if n != k:
                x = jnp.concatenate([x, jnp.zeros(x.shape[:-1] + (n - k,), x.dtype)], axis=-1)
            a = x - jnp.swapaxes(x, -1, -2)
            if self.orthogonal_map == "matrix_exp":
                q = jax.scipy.linalg.expm(a)
            else:
                eye = jnp.eye(n, dtype=a.dtype)
                q = jnp.linalg.solve(eye - 0.5 * a, eye + 0.5 * a)
            if n != k:
                q = q[..., :k]
        else:
            a = jnp.tril(x, -1)
            tau = 2.0 / (1.0 + jnp.sum(a * a, axis=-2))
            q = _householder_product(a, tau)
            # torch multiplies by the diagonal cast to int (truncated, no gradient)
            sign = jax.lax.stop_gradient(jnp.trunc(jnp.diagonal(x, axis1=-2, axis2=-1)))
            q = q * sign[..., None, :]
        if "base" in buffers:
            q = buffers["base"] @ q
        if transposed:
            q = jnp.swapaxes(q, -1, -2)
        return q, None


class ParametrizationList(Module):
    """The parametrizations of one tensor, and its originals (torch's names: ``original``,
    or ``original0``, ``original1`` ...). Its child ``"0"`` is the parametrization.

    PyTorch equivalent: ``torch.nn.utils.parametrize.ParametrizationList``.
    """

    def __init__(self, parametrization: _Parametrization):
        super().__init__()
        setattr(self, "0", parametrization)

    @property
    def parametrization(self) -> _Parametrization:
        return getattr(self, "0")


# -- the parametrized module ---------------------------------------------------------------------

_CLASSES: dict[type, type] = {}


def _parametrized_class(cls: type) -> type:
    """``Parametrized<cls>``: the layer's class whose ``weight`` comes from parametrizations."""
    if getattr(cls, "_fnet_parametrized", False):
        return cls
    if cls not in _CLASSES:
        _CLASSES[cls] = type(f"Parametrized{cls.__name__}", (cls,), {
            "_fnet_parametrized": True, "__module__": cls.__module__,
            "_init_tree": _init_tree, "forward": _forward, "__doc__": cls.__doc__})
    return _CLASSES[cls]


def _init_tree(self, key: jax.Array, seen: set[int]) -> tuple[dict, dict]:
    params, state = super(type(self), self)._init_tree(key, seen)
    for name, plist in self.parametrizations.items():
        if name not in params:
            raise ValueError(f"{self.describe()}: has no parameter {name!r} to parametrize")
        weight = params.pop(name)
        originals, buffers = plist.parametrization.right_inverse(
            jax.random.fold_in(key, _path_id(f"parametrizations.{name}")), weight)
        params.setdefault("parametrizations", {})[name] = originals
        if buffers:
            state.setdefault("parametrizations", {})[name] = {"0": buffers}
    return params, state


def _forward(self, ctx: Context, *args: Any, **kwargs: Any) -> Any:
    params = {k: v for k, v in ctx.params.items() if k != "parametrizations"}
    buffers = ctx.state.get("parametrizations", {})
    new_buffers = {}
    for name, plist in self.parametrizations.items():
        mine = buffers.get(name, {}).get("0", {})
        params[name], new = plist.parametrization.tensor(ctx.params["parametrizations"][name], mine, ctx.train)
        if new is not None:
            new_buffers[name] = {"0": new}
    if new_buffers:
        ctx.update_state(parametrizations={**buffers, **new_buffers})
    sub = Context(self, params, ctx.state, ctx.train, ctx.key, ctx.path_parts)
    out = super(type(self), self).forward(sub, *args, **kwargs)
    if sub.new_state is not sub.state:  # the layer's own buffers (a parametrized BatchNorm ...)
        ctx.update_state(**{k: v for k, v in sub.new_state.items() if k != "parametrizations"})
    return out


def _register(module: Module, name: str, parametrization: _Parametrization) -> Module:
    where = type(module).__name__
    if not isinstance(module, Module):
        raise TypeError(f"parametrize: expected an fnet.nn.Module, got {type(module).__name__}")
    if getattr(module, "_fnet_parametrized", False) and name in module.parametrizations:
        raise NotImplementedError(f"{where}: {name!r} is parametrized already; fnet does not chain "
                                  f"two parametrizations on one tensor")
    shapes, _ = jax.eval_shape(module.init, jax.random.key(0))
    own = {k: v for k, v in shapes.items() if k != "parametrizations"}
    if name not in own or isinstance(own[name], dict):
        raise ValueError(f"{where}: module has no parameter {name!r} of its own (its parameters: "
                         f"{', '.join(k for k in own if not isinstance(own[k], dict)) or 'none'})")
    new_cls = _parametrized_class(type(module))
    new = object.__new__(new_cls)
    new.__dict__.update({k: v for k, v in module.__dict__.items() if k != "_fnet_cache"})
    existing = dict(module.parametrizations.items()) if getattr(module, "_fnet_parametrized", False) else {}
    existing[name] = ParametrizationList(parametrization)
    object.__setattr__(new, "parametrizations", ModuleDict(existing))
    return new


# -- public functions ----------------------------------------------------------------------------

def weight_norm(module: Module, name: str = "weight", dim: int = 0) -> Module:
    """``weight = g * v / ||v||`` with learnable magnitude ``g`` and direction ``v``.

    Args:
        module: the layer (``nn.Linear``, ``nn.Conv2d`` ...).
        name: the parameter to parametrize.
        dim: the dim kept by the norm (one ``g`` per slice along it); ``None`` (or -1)
            normalises the whole tensor with a scalar ``g``.

    Returns:
        ``Parametrized<Layer>`` with parameters ``parametrizations.<name>.original0`` (g) and
        ``original1`` (v), torch's names.

    PyTorch equivalent: ``torch.nn.utils.parametrizations.weight_norm``.
    """
    return _register(module, name, _WeightNorm(dim))


def spectral_norm(module: Module, name: str = "weight", n_power_iterations: int = 1, eps: float = 1e-12,
                  dim: int | None = None) -> Module:
    """``weight / sigma(weight)``, ``sigma`` its largest singular value estimated by power
    iteration (buffers ``_u``, ``_v`` updated in training).

    Args:
        module, name: the layer and its parameter.
        n_power_iterations: power iterations per training step.
        eps: the normalisation epsilon.
        dim: the output dim (default 0, 1 for transposed convolutions, as torch).

    Returns:
        ``Parametrized<Layer>`` with ``parametrizations.<name>.original`` and the buffers
        ``parametrizations.<name>.0._u`` / ``._v``.

    PyTorch equivalent: ``torch.nn.utils.parametrizations.spectral_norm``.
    """
    if n_power_iterations <= 0:
        raise ValueError(f"spectral_norm: expected n_power_iterations to be positive, got "
                         f"n_power_iterations={n_power_iterations}")
    if dim is None:
        dim = 1 if isinstance(module, (ConvTranspose1d, ConvTranspose2d, ConvTranspose3d)) else 0
    return _register(module, name, _SpectralNorm(n_power_iterations, dim, eps))


def orthogonal(module: Module, name: str = "weight", orthogonal_map: str | None = None, *,
               use_trivialization: bool = True) -> Module:
    """An orthogonal (or semi-orthogonal) ``weight``, per matrix of its last two dims.

    Args:
        module, name: the layer and its parameter (at least 2-D).
        orthogonal_map: ``'matrix_exp'`` (default for square weights), ``'cayley'`` or
            ``'householder'`` (default otherwise).
        use_trivialization: keep an orthogonal ``base`` buffer and parametrize around it
            (torch's default); the original then starts at ``-I``.

    Returns:
        ``Parametrized<Layer>`` with ``parametrizations.<name>.original`` (and the buffer
        ``parametrizations.<name>.0.base`` with the trivialization).

    PyTorch equivalent: ``torch.nn.utils.parametrizations.orthogonal``.
    """
    shapes, _ = jax.eval_shape(module.init, jax.random.key(0))
    shape = tuple(getattr(shapes.get(name), "shape", ()))
    if len(shape) < 2:
        raise ValueError(f"orthogonal: expected a matrix or batch of matrices, got a parameter "
                         f"{name!r} of {len(shape)} dimensions ({_checks.fmt_shape(shape)})")
    if orthogonal_map is None:
        orthogonal_map = "matrix_exp" if shape[-2] == shape[-1] else "householder"
    if orthogonal_map not in _Orthogonal._MAPS:
        raise ValueError(f"orthogonal: orthogonal_map has to be one of \"matrix_exp\", \"cayley\", "
                         f"\"householder\", got {orthogonal_map!r}")
    return _register(module, name, _Orthogonal(orthogonal_map, use_trivialization))
