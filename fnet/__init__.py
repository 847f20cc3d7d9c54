"""fnet: PyTorch's deep-learning building blocks as pure JAX functions.

A model is written like a torch module; its arrays live in two nested dicts whose
flattened names are torch's ``state_dict`` keys::

    import jax, jax.numpy as jnp
    import fnet
    from fnet import nn
    import fnet.functional as F

    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    params, state = model.init(jax.random.key(0))
    x = jnp.ones((3, 4))
    out, state = model.apply(params, state, x)          # pure: (output, new_state)
    print(out.shape, sorted(fnet.state_dict(params)))   # (3, 2) ['0.bias', '0.weight', '2.bias', '2.weight']

See ``fnet.state_dict``, ``fnet.load_state_dict``, ``fnet.save`` and ``fnet.load`` for
checkpoints. Every public subpackage is reachable from ``import fnet``: ``fnet.nn``,
``fnet.functional``, ``fnet.init``, ``fnet.optim``, ``fnet.config`` and ``fnet.debug`` are
imported with it; ``fnet.data``, ``fnet.train``, ``fnet.sharding``, ``fnet.precision``,
``fnet.models`` and ``fnet.parity`` on first use (none of them imports torch).
"""

from __future__ import annotations

import importlib
from typing import Any

from . import config, debug, functional, init, nn
from . import optim
from .io import CheckpointError, StateDictError, load, load_state_dict, save, state_dict, summary
from ._port import Ported, UnsupportedOpsError, port

__version__ = "0.1.0"

# Imported on first attribute access, to keep `import fnet` fast.
_LAZY_SUBPACKAGES = ("data", "train", "sharding", "precision", "models", "parity")

__all__ = ["nn", "functional", "init", "config", "debug", "optim", *_LAZY_SUBPACKAGES, "state_dict",
           "load_state_dict", "save", "load", "summary", "StateDictError", "CheckpointError", "port", "Ported",
           "UnsupportedOpsError"]


def __getattr__(name: str) -> Any:
    if name in _LAZY_SUBPACKAGES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'fnet' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY_SUBPACKAGES))
