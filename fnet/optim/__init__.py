"""``torch.optim`` twins as optax ``GradientTransformation``s, and ``lr_scheduler`` twins.

In a training step::

    import optax, fnet

    opt = fnet.optim.AdamW(lr=1e-3, weight_decay=0.01,
                           param_groups=[{"params": ["*.bias", "*LayerNorm*"], "weight_decay": 0.0}])
    opt_state = opt.init(params)
    updates, opt_state = opt.update(grads, opt_state, params)
    params = optax.apply_updates(params, updates)

Constructors take torch's arguments, defaults and update rules, without ``params``
(parameters arrive in ``init``/``update``); ``lr`` may be a float or a schedule
``step -> lr`` such as :mod:`fnet.optim.lr_scheduler`'s. Parameter groups select
parameters by their torch state_dict names (see :mod:`fnet.optim._groups`). Each
optimizer is composed from optax's transforms where they compute exactly torch's rule,
and from small transforms of its own where optax differs (each says why).
"""

from . import lr_scheduler, swa_utils
from ._adadelta import Adadelta
from ._adafactor import Adafactor
from ._adagrad import Adagrad
from ._adam import Adam, Adamax, AdamW, NAdam, RAdam
from ._asgd import ASGD
from ._clip import clip_grad_norm, clip_grad_norm_, clip_grad_value, clip_grad_value_
from ._lbfgs import LBFGS
from ._muon import Muon
from ._rmsprop import RMSprop
from ._rprop import Rprop
from ._sgd import SGD
from ._sparse_adam import SparseAdam
from ._torch_state import load_state_dict

__all__ = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam", "Rprop", "ASGD",
           "Adafactor", "Muon", "SparseAdam", "LBFGS", "load_state_dict", "clip_grad_norm_", "clip_grad_value_",
           "clip_grad_norm", "clip_grad_value", "lr_scheduler", "swa_utils"]
