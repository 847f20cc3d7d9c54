"""Twins of ``torch.nn.functional``: pure ``jax.numpy`` functions with torch's names,
argument names and defaults.

The implementations live in one private file per family (``_activation.py``,
``_loss.py``, ``_conv.py``, ...) and are re-exported here, so ``import
fnet.functional as F`` reads like ``import torch.nn.functional as F``.
"""

from . import (_activation, _attention, _conv, _ctc, _distance, _dropout, _embedding, _fractional_pool,
               _grid, _linear, _linear_cross_entropy, _loss, _norm, _padding, _pool, _unpool, _upsampling)
from ._activation import *  # noqa: F401,F403
from ._attention import *  # noqa: F401,F403
from ._conv import *  # noqa: F401,F403
from ._ctc import *  # noqa: F401,F403
from ._distance import *  # noqa: F401,F403
from ._dropout import *  # noqa: F401,F403
from ._embedding import *  # noqa: F401,F403
from ._fractional_pool import *  # noqa: F401,F403
from ._grid import *  # noqa: F401,F403
from ._linear import *  # noqa: F401,F403
from ._linear_cross_entropy import *  # noqa: F401,F403
from ._loss import *  # noqa: F401,F403
from ._norm import *  # noqa: F401,F403
from ._padding import *  # noqa: F401,F403
from ._pool import *  # noqa: F401,F403
from ._unpool import *  # noqa: F401,F403
from ._upsampling import *  # noqa: F401,F403

_FAMILIES = (_activation, _attention, _conv, _ctc, _distance, _dropout, _embedding, _fractional_pool,
             _grid, _linear, _linear_cross_entropy, _loss, _norm, _padding, _pool, _unpool, _upsampling)

__all__ = [name for family in _FAMILIES for name in family.__all__]
