"""Twins of ``torch.nn.functional``: pure ``jax.numpy`` functions with torch's names,
argument names and defaults.

The implementations live in one private file per family (``_activation.py``,
``_loss.py``, ``_conv.py``, ...) and are re-exported here, so ``import
fnet.functional as F`` reads like ``import torch.nn.functional as F``.
"""

from ._activation import *  # noqa: F401,F403
from ._activation import __all__ as _activation_all
from ._linear import *  # noqa: F401,F403
from ._linear import __all__ as _linear_all
from ._norm import *  # noqa: F401,F403
from ._norm import __all__ as _norm_all
from ._conv import *  # noqa: F401,F403
from ._conv import __all__ as _conv_all
from ._pool import *  # noqa: F401,F403
from ._pool import __all__ as _pool_all

__all__ = [*_activation_all, *_linear_all, *_norm_all, *_conv_all, *_pool_all]
