"""Twins of ``torch.nn`` layers as frozen configuration objects with pure ``init``/``apply``.

One private file per layer family; everything public is re-exported here.
"""

from . import (_activation, _adaptive, _attention, _container, _conv, _distance, _dropout, _embedding,
               _flatten, _lazy, _linear, _loss, _module, _norm, _padding, _pool, _rnn, _transformer,
               _upsampling)
from ._activation import *  # noqa: F401,F403
from ._adaptive import *  # noqa: F401,F403
from ._attention import *  # noqa: F401,F403
from ._container import *  # noqa: F401,F403
from ._conv import *  # noqa: F401,F403
from ._distance import *  # noqa: F401,F403
from ._dropout import *  # noqa: F401,F403
from ._embedding import *  # noqa: F401,F403
from ._flatten import *  # noqa: F401,F403
from ._lazy import *  # noqa: F401,F403
from ._linear import *  # noqa: F401,F403
from ._loss import *  # noqa: F401,F403
from ._norm import *  # noqa: F401,F403
from ._padding import *  # noqa: F401,F403
from ._pool import *  # noqa: F401,F403
from ._rnn import *  # noqa: F401,F403
from ._transformer import *  # noqa: F401,F403
from ._upsampling import *  # noqa: F401,F403
from ._module import Buffer, Context, Module, Parameter

from .. import init  # torch.nn.init twins, reachable as fnet.nn.init like torch.nn.init
from . import utils  # torch.nn.utils twins: fnet.nn.utils.clip_grad_norm_, .parametrizations, .rnn

_FAMILIES = (_activation, _adaptive, _attention, _container, _conv, _distance, _dropout, _embedding, _flatten,
             _lazy, _linear, _loss, _norm, _padding, _pool, _rnn, _transformer, _upsampling)

__all__ = ["Module", "Context", "Parameter", "Buffer",
           *(name for family in _FAMILIES for name in family.__all__)]
