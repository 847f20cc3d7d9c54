"""Twins of ``torch.nn.functional``: pure ``jax.numpy`` functions with torch's names,
argument names and defaults.

The implementations live in one private file per family (``_activation.py``,
``_loss.py``, ``_conv.py``, ...) and are re-exported here, so ``import
fnet.functional as F`` reads like ``import torch.nn.functional as F``.
"""

from ._activation import *  # noqa: F401,F403
from ._attention import *  # noqa: F401,F403
from ._attention import __all__ as _attention_all
from ._activation import __all__ as _activation_all
from ._linear import *  # noqa: F401,F403
from ._linear import __all__ as _linear_all
from ._norm import *  # noqa: F401,F403
from ._norm import __all__ as _norm_all

__all__ = [*_activation_all, *_linear_all, *_attention_all, *_norm_all]
