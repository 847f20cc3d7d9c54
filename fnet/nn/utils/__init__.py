"""Twins of ``torch.nn.utils``: gradient clipping, parameter vectors, parametrizations
(``fnet.nn.utils.parametrizations``) and packed sequences (``fnet.nn.utils.rnn``).

Functions that torch applies in place (``clip_grad_norm_`` scales ``p.grad``,
``vector_to_parameters`` copies into the parameters) take the tree and return the new
one; the names keep torch's trailing underscore so ported code reads the same.
"""

from . import parametrizations, rnn
from ._clip import clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_, get_total_norm
from ._convert import parameters_to_vector, vector_to_parameters

__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_",
           "parameters_to_vector", "vector_to_parameters", "parametrizations", "rnn"]
