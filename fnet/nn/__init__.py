"""Twins of ``torch.nn`` layers as frozen configuration objects with pure ``init``/``apply``.

One private file per layer family; everything public is re-exported here.
"""

from . import _activation, _container, _linear, _module, _norm
from . import _attention, _transformer
from ._activation import *  # noqa: F401,F403
from ._attention import *  # noqa: F401,F403
from ._transformer import *  # noqa: F401,F403
from ._container import *  # noqa: F401,F403
from ._linear import *  # noqa: F401,F403
from ._norm import *  # noqa: F401,F403
from ._module import Buffer, Context, Module, Parameter

from .. import init  # torch.nn.init twins, reachable as fnet.nn.init like torch.nn.init

_FAMILIES = (_activation, _container, _linear, _norm, _attention, _transformer)

__all__ = ["Module", "Context", "Parameter", "Buffer",
           *(name for family in _FAMILIES for name in family.__all__)]
