"""`ampflux-solve`: run the short-circuit study of a circuit document from the command line.

    ampflux-solve CIRCUIT.json [-o RESULTS.json] [--faults 3ph,2ph,1ph,2phg] [--cases max,min]
                  [--bus ID ...] [--branches BUS_ID] [--scenario ID] [--line-fault LINE@FRACTION ...]
                  [--table] [--duty] [--duty-csv DUTY.csv]

Exit status: 0 solved; 1 the solver failed (its message on stderr); 2 bad flags, an
unreadable circuit file, an invalid document (every problem on stderr, one `path: message`
per line, nothing on stdout) or an unwritable -o file, so a script can tell "fix your
input" from "solver trouble".
"""

from __future__ import annotations

import argparse
import gc
import gzip
import math
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

EXIT_SOLVER_ERROR = 1
EXIT_BAD_INPUT = 2


def main(argv: Sequence[str] | None = None, *, keep: list[Any] | None = None) -> int:
    """Run the command with `argv` (default: the process's) and return its exit status.

    `keep` (for `run`): a list the run's document and results are left in, so they are
    not freed one object at a time when this returns."""
    # One short-lived run: the cyclic collector's passes over the growing document and result
    # trees were ~8 % of the process's CPU, and whatever it could free goes at exit anyway.
    # Off before the circuit model and the solver are imported: building the model's classes
    # makes tens of thousands of objects too.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _run(argv, keep)
    finally:
        if collecting:
            gc.enable()


def run() -> NoReturn:
    """The process's entry (`ampflux-solve`, `python -m ampflux_simulation.cli`): `main()`, then
    the end of the process without the interpreter's teardown. Freeing a large study's document
    and results object by object, and every module after them, cost ~0.03 s of CPU at 8.7k
    buses, for memory the operating system takes back at once anyway. Nothing is lost:
    the results are written and closed, and the standard streams are flushed here.

    Pydantic's plugins are off here unless PYDANTIC_DISABLE_PLUGINS says otherwise (set it
    to an empty value to load them): looking for them reads the entry points of every
    installed distribution (~0.01 s of CPU) on each start, and a plugin observes the
    validation of a long-running service, not of one command."""
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    code = main(keep=[])
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader gone (EPIPE) or a closed stream: as Python's own exit
            code = code or 1
    os._exit(code)


def _run(argv: Sequence[str] | None, keep: list[Any] | None = None) -> int:
    # Imported here, after main() has paused the collector (see there).
    from ampflux_shared.circuit import (
        MAX_DOCUMENT_BYTES,
        CircuitFileError,
        CircuitValidationError,
        load_circuit_file,
        parse_circuit,
    )

    args = _parser().parse_args(argv)
    try:
        # The services' bound: a small gzip bomb must not unpack into gigabytes here either.
        data = load_circuit_file(args.circuit, max_bytes=MAX_DOCUMENT_BYTES)
    except CircuitFileError as error:
        print(error, file=sys.stderr)
        return EXIT_BAD_INPUT

    errors = [f"{flag}: unknown bus {bus_id!r}" for flag, bus_id in _unknown_flag_buses(args, data)]
    errors += _apply_switching_flags(args, data)
    try:
        doc = parse_circuit(data, faults=args.faults, cases=args.cases)
    except CircuitValidationError as error:
        doc = None
        errors = [str(problem) for problem in error.problems] + errors  # "path: message"
    if errors or doc is None:
        print("\n".join(errors), file=sys.stderr)
        return EXIT_BAD_INPUT
    # The raw document is not needed past validation: its memory is reused by the solve
    # (fewer fresh pages: ~7 MB at 8.7k buses).
    del data

    # Imported here: the solver pulls in numpy and scipy, which a rejected document never needs.
    from ampflux_simulation.solver import SolverError, solve_study

    try:
        result = solve_study(
            doc,
            faults=args.faults,
            cases=args.cases,
            buses=args.buses,
            branches_for=args.branches,
            duty=True if args.duty or args.duty_csv is not None else None,
        )
    except SolverError as error:
        print(f"ampflux-solve: {error}", file=sys.stderr)
        return EXIT_SOLVER_ERROR

    payload = {"circuit_id": doc.id, "result_sets": result.to_result_sets()}
    if keep is not None:
        keep += [doc, result, payload]
    if args.output is not None:
        try:
            _write_json(args.output, payload)
        except OSError as error:
            print(f"{args.output}: cannot write: {error.strerror or error}", file=sys.stderr)
            return EXIT_BAD_INPUT
    if args.duty_csv is not None:
        # the same table as the results download's table=duty
        from ampflux_simulation.domain.export import duty_csv, duty_rows

        try:
            args.duty_csv.write_text(duty_csv(duty_rows(payload["result_sets"])), encoding="utf-8")
        except OSError as error:
            print(f"{args.duty_csv}: cannot write: {error.strerror or error}", file=sys.stderr)
            return EXIT_BAD_INPUT
    try:
        if args.table:
            print_table(payload["result_sets"], sys.stdout)
        elif args.output is None:
            _print_json(payload, sys.stdout)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader (`| head`) left early. Point stdout at /dev/null so the interpreter's
        # final flush does not print a traceback, and exit as Python does on EPIPE.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return 0


def _parser() -> argparse.ArgumentParser:
    from ampflux_shared.circuit import CASES, FAULTS

    parser = argparse.ArgumentParser(
        prog="ampflux-solve",
        description="IEC 60909 short-circuit study of a circuit document (FORMAT.md v1).",
        epilog="Exit status: 0 solved, 1 solver error, 2 bad flags, files or document.",
    )
    parser.add_argument("circuit", type=Path, metavar="CIRCUIT.json", help="circuit document (.json or .json.gz)")
    parser.add_argument(
        "-o", "--output", type=Path, metavar="RESULTS.json", help="write the results here (gzip if it ends in .gz)"
    )
    parser.add_argument(
        "--faults",
        type=_choice_list(FAULTS),
        metavar=",".join(FAULTS),
        help="fault types to compute, replacing the document's study.faults",
    )
    parser.add_argument(
        "--cases",
        type=_choice_list(CASES),
        metavar=",".join(CASES),
        help="cases to compute, replacing the document's study.cases",
    )
    parser.add_argument(
        "--bus",
        dest="buses",
        nargs="+",
        action="extend",
        metavar="ID",
        help="report only these buses (default: all)",
    )
    parser.add_argument("--branches", metavar="BUS_ID", help="add branch contributions for a fault at this bus")
    parser.add_argument(
        "--scenario", metavar="ID", help="solve the document's scenario ID (switch states, elements out of service)"
    )
    parser.add_argument(
        "--line-fault",
        dest="line_faults",
        nargs="+",
        action="extend",
        type=_line_fault,
        metavar="LINE@FRACTION",
        help="also fault this line at a fraction (0..1, from its from_bus) of its length, e.g. L12@0.3; "
        "replaces the document's study.line_faults",
    )
    parser.add_argument("--table", action="store_true", help="print an aligned table instead of JSON on stdout")
    parser.add_argument(
        "--duty",
        action="store_true",
        help="add the equipment duty of every rated device (breakers, busbars, cables, transformers), "
        "as the document's study.duty does",
    )
    parser.add_argument(
        "--duty-csv", type=Path, metavar="DUTY.csv", help="write the equipment duty table as CSV here (implies --duty)"
    )
    return parser


def _line_fault(text: str) -> dict[str, Any]:
    line, at, fraction = text.rpartition("@")
    try:
        value = float(fraction)
    except ValueError:
        value = math.nan
    if not at or not line or not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"{text!r}: give LINE@FRACTION with 0 < FRACTION < 1, e.g. L12@0.3")
    return {"line": line, "fraction": value}


def _apply_switching_flags(args: argparse.Namespace, data: dict[str, Any]) -> list[str]:
    """--scenario and --line-fault go into the document's study (checked here, so an error names the flag)."""
    errors = []
    study = data.get("study")
    if args.scenario is not None:
        scenarios = data.get("scenarios")
        known = {s.get("id") for s in scenarios if isinstance(s, dict)} if isinstance(scenarios, list) else set()
        if args.scenario not in known:
            errors.append(f"--scenario: unknown scenario {args.scenario!r}")
        elif isinstance(study, dict):
            study["scenario"] = args.scenario
    if args.line_faults:
        lines = data.get("lines")
        known = {ln.get("id") for ln in lines if isinstance(ln, dict)} if isinstance(lines, list) else set()
        errors += [f"--line-fault: unknown line {f['line']!r}" for f in args.line_faults if f["line"] not in known]
        if isinstance(study, dict):
            study["line_faults"] = args.line_faults
    return errors


def _choice_list(choices: Sequence[str]) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        values = [value.strip() for value in text.split(",") if value.strip()]
        unknown = [value for value in values if value not in choices]
        if unknown or not values:
            raise argparse.ArgumentTypeError(f"{text!r}: choose from {','.join(choices)}")
        return list(dict.fromkeys(values))  # a repeated name would compute the same set twice

    return parse


def _unknown_flag_buses(args: argparse.Namespace, data: Mapping[str, Any]) -> list[tuple[str, str]]:
    asked = [("--bus", bus_id) for bus_id in args.buses or ()]
    if args.branches is not None:
        asked.append(("--branches", args.branches))
    if not asked:
        return []  # no flag names a bus: the document's ids need not be collected
    buses = data.get("buses")
    known = {bus.get("id") for bus in buses if isinstance(bus, dict)} if isinstance(buses, list) else set()
    return [(flag, bus_id) for flag, bus_id in asked if bus_id not in known]


def encode_results(payload: Mapping[str, Any], *, pretty: bool = False) -> bytes:
    """The payload as UTF-8 JSON with a final newline (`domain.result_json`)."""
    from ampflux_simulation.domain.result_json import encode_json

    return encode_json(payload, pretty=pretty) + b"\n"


def dumps_results(payload: Mapping[str, Any], *, pretty: bool = False) -> str:
    """`encode_results` as text."""
    return encode_results(payload, pretty=pretty).decode("utf-8")


def _write_json(path: Path, payload: Mapping[str, Any]) -> None:
    """`encode_results` into `path` (gzip if it ends in .gz). The final newline is written
    after the text, not appended to it: a copy of a large study's JSON cost more than its
    write (~6 ms and 9 MB of fresh pages at 8.7k buses)."""
    from ampflux_simulation.domain.result_json import encode_json

    raw = encode_json(payload)
    with path.open("wb") as out:
        if path.name.endswith(".gz"):
            with gzip.GzipFile(filename="", fileobj=out, mode="wb") as zipped:  # no name in the header, as before
                zipped.write(raw)
                zipped.write(b"\n")
        else:
            out.write(raw)
            out.write(b"\n")


def _print_json(payload: Mapping[str, Any], out: TextIO) -> None:
    """The results on `out`, indented for a person at a terminal, compact (and fast) for a
    pipe; as bytes straight to the stream's buffer where it has one (no 9 MB decode and
    re-encode at 8.7k buses)."""
    raw = encode_results(payload, pretty=out.isatty())
    buffer = getattr(out, "buffer", None)
    if buffer is None:
        out.write(raw.decode("utf-8"))
        return
    out.flush()
    buffer.write(raw)


# --- table output ---------------------------------------------------------------------


# The JSON carries every branch and voltage detail; a person first wants these columns.
_BRANCH_SUMMARY = ("ikss_",)
_VOLTAGE_SUMMARY = ("va_pu", "vb_pu", "vc_pu")


def print_table(result_sets: Iterable[Mapping[str, Any]], out: TextIO) -> None:
    """One block per (fault, case): a row per bus, a column per quantity; then, for the
    chosen fault bus, the branch currents and the phase voltages it leaves behind."""
    blocks = []
    for result_set in result_sets:
        title = f"{result_set['fault']} fault, {result_set['case']} case"
        if result_set.get("scenario"):
            title += f", scenario {result_set['scenario']}"
        lines = [title, "=" * len(title)]
        for quantity, reason in (result_set.get("omitted") or {}).items():
            lines.append(f"({quantity} omitted: {reason})")
        for bus_id, reason in (result_set.get("unsupplied") or {}).items():
            lines.append(f"({bus_id}: {reason})")
        quantities = list(result_set.get("quantities") or [])
        rows = {bus_id: [values.get(q) for q in quantities] for bus_id, values in result_set["buses"].items()}
        lines += _aligned(["bus", *quantities], rows)
        for fault_bus, branches in (result_set.get("branches") or {}).items():
            lines += ["", f"branch currents, fault at {fault_bus}", *_summary("branch", branches, _BRANCH_SUMMARY)]
        for fault_bus, voltages in (result_set.get("voltages") or {}).items():
            lines += ["", f"bus voltages, fault at {fault_bus}", *_summary("bus", voltages, _VOLTAGE_SUMMARY)]
        if result_set.get("duty") is not None:
            lines += ["", "equipment duty", *_duty_table(result_set["duty"])]
        for device in result_set.get("duty_not_checked") or []:
            lines.append(f"({device['kind']} {device['id']} not checked: {device['reason']})")
        blocks.append("\n".join(lines))
    out.write("\n\n".join(blocks) + "\n")


_DUTY_COLUMNS = ("kind", "check", "location", "fault_position", "required_ka", "rated_ka", "margin_percent")


def _duty_table(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """One line per device and check; failing ones say FAIL."""
    table = [(row["id"], [*(row[c] for c in _DUTY_COLUMNS), "ok" if row["pass"] else "FAIL"]) for row in rows]
    return _aligned(["device", *_DUTY_COLUMNS, "pass"], table)


def _summary(label: str, items: Mapping[str, Mapping[str, Any]], wanted: tuple[str, ...]) -> list[str]:
    columns = [key for key in dict.fromkeys(k for values in items.values() for k in values) if key.startswith(wanted)]
    return _aligned([label, *columns], {name: [values.get(c) for c in columns] for name, values in items.items()})


def _aligned(header: list[str], rows: Mapping[str, list[Any]] | Iterable[tuple[str, list[Any]]]) -> list[str]:
    # (name, values) pairs where a name may repeat (a device with several checks)
    pairs = rows.items() if isinstance(rows, Mapping) else rows
    cells = [header, *([name, *map(_cell, values)] for name, values in pairs)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]

    def render(row: list[str]) -> str:
        # Names left-aligned, numbers right-aligned so their digits line up.
        first, *rest = row
        return "  ".join(
            [first.ljust(widths[0]), *(cell.rjust(width) for cell, width in zip(rest, widths[1:], strict=False))]
        )

    return [render(cells[0]), render(["-" * width for width in widths]), *map(render, cells[1:])]


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.5g}"
    return str(value)


if __name__ == "__main__":
    run()
