"""Training: a jitted train-step builder, ``evaluate``, and ``fit`` with progress, NaN and
value checks, multi-process checkpoints, exact resume and a plottable history.

The step alone, or the whole loop::

    step = fnet.train.make_train_step(model, F.cross_entropy, fnet.optim.SGD(lr=0.1))
    params, state, opt_state, metrics = step(params, state, opt_state, (x, y), key)

    result = fnet.train.fit(model, params, state, optimizer, train_loader, F.cross_entropy,
                            epochs=5, eval_loader=test_loader, checkpoint_dir="ckpt")
    fnet.train.plot_history(result.history, "history.png")

One small file per piece: ``_step`` (the jitted train and eval steps, the non-finite
check), ``_evaluate``, ``_fit`` (the loop), ``_checkpoint`` (training checkpoints:
per-process shards keyed by tree path, committed by process 0), ``_progress``,
``_plot``. ``fnet.save`` stays the torch-loadable export format for a trained model.
"""

from ._checkpoint import CheckpointError, ResumeError, TrainingCheckpoint, latest_checkpoint, load_checkpoint
from ._evaluate import evaluate
from ._fit import FitResult, fit
from ._plot import plot_history
from ._step import NonFiniteError, batch_metrics, make_eval_step, make_train_step

__all__ = ["make_train_step", "make_eval_step", "evaluate", "fit", "FitResult", "plot_history",
           "NonFiniteError", "latest_checkpoint", "batch_metrics", "load_checkpoint", "TrainingCheckpoint",
           "ResumeError", "CheckpointError"]
