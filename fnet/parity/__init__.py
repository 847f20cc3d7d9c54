"""The parity engine and case registry: proof that fnet computes what PyTorch computes.

    report = fnet.parity.compare(fnet_model, torch_module, [x])
    print(report)            # max abs / rel error of every output and gradient
    report.assert_ok()

``python -m fnet.parity`` runs every registered case and prints the table. torch is
imported only when a comparison runs, so ``import fnet`` never needs it.
"""

from ._engine import TOLERANCES, Diff, Report, compare, compare_functions, precision, run_pair
from ._registry import (ParityCase, all_cases, case_seed, covered_names, families, function_case,
                        load_all, module_case, register)

__all__ = ["compare", "compare_functions", "run_pair", "precision", "Report", "Diff", "TOLERANCES",
           "ParityCase", "register", "module_case", "function_case", "all_cases", "load_all",
           "families", "covered_names", "case_seed"]
