"""Keeps the rule of DEVELOPERS.md ("Errors"): code raises the named problems of
`ampflux_shared.errors`, never `ProblemError(<status>, ...)` of its own, so a problem's status
cannot drift from its kind. Only errors.py, where the named problems live, constructs one."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HOME = Path("shared/src/ampflux_shared/errors.py")

# Modules allowed to construct ProblemError directly, with how many times: none is left, and
# an entry (a named problem waiting) would have to say why.
PENDING: dict[str, int] = {}


def _constructions(path: Path) -> list[int]:
    """Lines where `ProblemError(...)` (or `errors.ProblemError(...)`) is called."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
            if name == "ProblemError":
                found.append(node.lineno)
    return sorted(found)


def _all_constructions() -> dict[str, list[int]]:
    sources = sorted(p for src in ROOT.glob("*/src") for p in src.rglob("*.py"))
    assert len(sources) > 100, "the scan found too few modules: is ROOT the repository?"
    out = {}
    for path in sources:
        relative = path.relative_to(ROOT)
        if relative != HOME and (lines := _constructions(path)):
            out[relative.as_posix()] = lines
    return out


def test_no_module_but_errors_py_constructs_a_problem_error():
    found = _all_constructions()
    offending = [
        f"{module}:{line}" for module, lines in found.items() if len(lines) > PENDING.get(module, 0) for line in lines
    ]
    assert not offending, (
        "raise a named problem of ampflux_shared.errors (not_found, conflict, forbidden, unauthorized, "
        "unprocessable, too_large, too_many_requests, unavailable, bad_gateway, gateway_timeout, ...) "
        "instead of ProblemError(<status>, ...); add a named problem there if none fits:\n" + "\n".join(offending)
    )
    stale = {m: (n, len(found.get(m, []))) for m, n in PENDING.items() if len(found.get(m, [])) < n}
    assert not stale, f"lower these allowances to what is left (allowed, found): {stale}"


def test_the_scan_sees_a_construction_in_every_form(tmp_path):
    module = tmp_path / "m.py"
    module.write_text(
        "from ampflux_shared import errors\n"
        "from ampflux_shared.errors import ProblemError\n"
        "def a() -> ProblemError:\n"
        "    return ProblemError(409, 'x')\n"
        "def b():\n"
        "    raise errors.ProblemError(\n"
        "        502, 'y')\n"
        "try:\n"
        "    a()\n"
        "except ProblemError:\n"
        "    pass\n"
    )
    # Annotations, imports and `except` clauses are fine; calls are not.
    assert _constructions(module) == [4, 6]
