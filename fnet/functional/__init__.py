"""Twins of ``torch.nn.functional``: pure ``jax.numpy`` functions with torch's names,
argument names and defaults.

The implementations live in one private file per family (``_activation.py``,
``_loss.py``, ``_conv.py``, ...) and are re-exported here, so ``import
fnet.functional as F`` reads like ``import torch.nn.functional as F``.
"""

from . import _activation, _distance, _dropout, _embedding, _linear, _loss, _norm, _padding, _upsampling
from ._activation import *  # noqa: F401,F403
from ._distance import *  # noqa: F401,F403
from ._dropout import *  # noqa: F401,F403
from ._embedding import *  # noqa: F401,F403
from ._linear import *  # noqa: F401,F403
from ._loss import *  # noqa: F401,F403
from ._norm import *  # noqa: F401,F403
from ._padding import *  # noqa: F401,F403
from ._upsampling import *  # noqa: F401,F403

_FAMILIES = (_activation, _distance, _dropout, _embedding, _linear, _loss, _norm, _padding, _upsampling)

__all__ = [name for family in _FAMILIES for name in family.__all__]
