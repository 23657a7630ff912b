"""The one exception the solver raises for a network it cannot solve."""


class SolverError(Exception):
    """A network the solver cannot compute: singular or ill-conditioned admittance matrix,
    a bus without a source, or a non-finite result. The message is meant for the user."""
