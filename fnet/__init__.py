"""fnet: PyTorch's deep-learning building blocks as pure JAX functions.

    import jax, fnet
    from fnet import nn
    import fnet.functional as F

    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    params, state = model.init(jax.random.key(0))
    out, state = model.apply(params, state, x)

Parameter trees are torch ``state_dict``s, nested; see ``fnet.state_dict``,
``fnet.load_state_dict``, ``fnet.save`` and ``fnet.load``.
"""

from . import config, functional, init, nn
from . import optim
from .io import CheckpointError, StateDictError, load, load_state_dict, save, state_dict, summary
from ._port import Ported, UnsupportedOpsError, port

__version__ = "0.1.0"

__all__ = ["nn", "functional", "init", "config", "state_dict", "load_state_dict", "save", "load",
           "summary", "StateDictError", "CheckpointError", "optim", "port", "Ported",
           "UnsupportedOpsError"]
