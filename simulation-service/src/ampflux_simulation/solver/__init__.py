"""IEC 60909 short-circuit solver: a pure library (numpy/scipy, no I/O).

    from ampflux_simulation.solver import solve_study, StudyResult, SolverError
    result = solve_study(doc)              # doc: ampflux_shared.circuit.CircuitDocument
    result.to_result_sets()                # FORMAT.md `expected.result_sets` shape

Modules by job: `elements` (per-sequence element models), `superlu` (sparse matrices and
SuperLU without importing scipy.sparse), `network` (sparse Y, LU,
diagonal / columns of Z), `sequences` (the factorized networks of a case), `factors`
(c, K_T, K_G, K_S, K_SO), `faults` (fault formulas), `peak` (κ, ip), `thermal` (m, n,
Ith), `breaking` (μ, q, Ib), `contributions` (branch currents, post-fault voltages),
`topology` (multiply-fed buses for κ method B), `result`, `solve`.
"""

import os

# One BLAS thread, set before numpy is first imported. The solver's work is sparse (SuperLU is
# single-threaded) and its few dense products are small, so OpenBLAS's extra threads did no
# useful work and only spun after each call: 0.15-0.2 s of the CPU of an 8.7k-bus
# `ampflux-solve` run, and a second worker's CPU taken from the first. The tier scales by
# processes instead. A deployment that wants otherwise sets the variable itself.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from .errors import SolverError
from .result import ResultSet, StudyResult
from .solve import solve_study

__all__ = ["ResultSet", "SolverError", "StudyResult", "solve_study"]
