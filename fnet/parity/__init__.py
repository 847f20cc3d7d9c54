"""The parity engine: proof that fnet computes what PyTorch computes, for fnet's layers and yours.

One comparison loads the torch module's weights into the fnet model, runs both on the
same inputs, and compares every output and the gradient of a scalar loss with respect to
every input and parameter, tensor by tensor, by torch name::

    import numpy as np
    import torch
    import fnet
    from fnet import nn

    x = np.random.default_rng(0).standard_normal((4, 3))
    report = fnet.parity.compare(nn.Linear(3, 2), torch.nn.Linear(3, 2), [x])
    print(report)            # per tensor: abs and rel error, the tolerance, the verdict
    report.assert_ok()       # AssertionError carrying the report when anything differs

In a test suite, :func:`assert_close` is the one-line form, :func:`compare_training`
compares whole training runs (losses and parameters after every step), and
:func:`register` / :func:`module_case` / :func:`function_case` add your own cases to the
registry that ``python -m fnet.parity`` runs (``--cases your_package.parity_cases``).

torch is imported only when a comparison runs, so ``import fnet`` never needs it.
"""

from ._engine import (TOLERANCES, Diff, Report, assert_close, compare, compare_functions, precision,
                      run_pair)
from ._registry import (ParityCase, all_cases, case, case_seed, covered_names, families, function_case,
                        load_all, module_case, register)
from ._summary import summary_markdown
from ._training import TRAINING_TOLERANCES, TrainingReport, TrainingStep, compare_training

__all__ = ["compare", "compare_functions", "assert_close", "compare_training", "run_pair", "precision",
           "Report", "Diff", "TrainingReport", "TrainingStep", "TOLERANCES", "TRAINING_TOLERANCES",
           "ParityCase", "register", "case", "module_case", "function_case", "all_cases", "load_all",
           "families", "covered_names", "case_seed", "summary_markdown"]
