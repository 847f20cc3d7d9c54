"""The filled operator table: importing this module imports every ``_ops_*.py`` file once,
which registers its handlers in ``_optable.HANDLERS``.

Kept apart from ``_optable`` (which the handler files import for ``@op``) so that no
module imports one that imports it back.
"""

from __future__ import annotations

from . import _ops_nn, _ops_pointwise, _ops_reduce, _ops_shape, _ops_sym  # noqa: F401 - they register
from ._optable import HANDLERS, Handler


def load() -> dict[str, Handler]:
    """The table of every handler, by ATen overload name."""
    return HANDLERS
