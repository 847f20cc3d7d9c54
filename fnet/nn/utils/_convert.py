"""``parameters_to_vector`` / ``vector_to_parameters``: a parameter tree as one flat vector."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from ... import _checks

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters: Any) -> jax.Array:
    """Concatenates every array of ``parameters``, flattened, into one vector.

    Args:
        parameters: a pytree of arrays (leaves in ``jax.tree`` order: dict keys sorted)
            or a list of arrays (in the order given; pass
            ``list(fnet.state_dict(params).values())`` for torch's ``parameters()`` order).

    Returns:
        ``(total number of elements,)``.

    PyTorch equivalent: ``torch.nn.utils.parameters_to_vector``.
    """
    leaves = jax.tree.leaves(parameters)
    if not leaves:
        return jnp.zeros((0,))
    return jnp.concatenate([jnp.ravel(leaf) for leaf in leaves])


def vector_to_parameters(vec: jax.Array, parameters: Any) -> Any:
    """The arrays of ``parameters`` refilled from a flat vector (the inverse of
    :func:`parameters_to_vector`).

    Args:
        vec: ``(total number of elements,)``.
        parameters: the tree (or list) giving the structure, shapes and dtypes.

    Returns:
        A tree like ``parameters`` with the values of ``vec`` (torch copies them into the
        parameters in place and returns None; fnet returns the new tree).

    PyTorch equivalent: ``torch.nn.utils.vector_to_parameters``.
    """
    where = "vector_to_parameters"
    vec = jnp.asarray(vec)
    if vec.ndim != 1:
        raise TypeError(f"{where}: expected a 1-D vector, got shape {_checks.fmt_shape(vec.shape)}")
    leaves, treedef = jax.tree.flatten(parameters)
    total = sum(int(jnp.size(leaf)) for leaf in leaves)
    if vec.shape[0] != total:
        raise ValueError(f"{where}: the vector has {vec.shape[0]} elements, the parameters {total}")
    out, offset = [], 0
    for leaf in leaves:
        n = int(jnp.size(leaf))
        out.append(vec[offset:offset + n].reshape(jnp.shape(leaf)).astype(jnp.asarray(leaf).dtype))
        offset += n
    return jax.tree.unflatten(treedef, out)
