"""ampflux-solve as a user runs it: a file in, results or errors out, an exit status.

Two tests run the real command in a subprocess (it ends without the interpreter's teardown,
so they check that everything reaches stdout, stderr and the files); the others call the same
`main()` with the same arguments in this process, with stdout and stderr captured (an interpreter start with
numpy and scipy costs seconds per call).
"""

import contextlib
import csv
import gzip
import io
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ampflux_shared.circuit import validate_circuit
from ampflux_simulation import cli
from ampflux_simulation.cli import dumps_results, print_table
from ampflux_testing.circuits import CASES_DIR

REPO_ROOT = Path(__file__).resolve().parents[2]
CASE_NAMES = ["edge_parallel_transformers", "ind480_radial", "mv_meshed_20kv"]


def reference_case(name: str) -> dict[str, Any]:
    if not CASES_DIR.is_dir():
        pytest.fail(f"reference circuits not found at {CASES_DIR}")
    return json.loads((CASES_DIR / f"{name}.json").read_text(encoding="utf-8"))


def run_command(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """`python -m ampflux_simulation.cli ARGS` in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "ampflux_simulation.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
    )


def run_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """What `run_command` gives, from `main()` in this process (stdout is not a terminal here either)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main([str(arg) for arg in args])
        except SystemExit as exit_:  # argparse refusing a flag
            code = exit_.code if isinstance(exit_.code, int) else 1
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())


def write(path: Path, data: dict[str, Any]) -> Path:
    text = json.dumps(data).encode("utf-8")
    path.write_bytes(gzip.compress(text) if path.name.endswith(".gz") else text)
    return path


def broken_radial_plant() -> dict[str, Any]:
    data = reference_case("ind480_radial")
    data["lines"][1]["to_bus"] = "MCC-9"
    data["lines"][2]["id"] = data["lines"][0]["id"]
    data["lines"][3]["length_km"] = -0.05
    data["transformers"][0]["vn_lv_kv"] = 4.16
    data["buses"].append({"id": "SPARE", "vn_kv": 0.48})
    del data["transformers"][1]["vk0_percent"]
    del data["ext_grids"][0]["rx_min"]
    return data


def stderr_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return result.stderr.splitlines()


# --- rejected input: no solver needed -----------------------------------------------------


@pytest.mark.parametrize("name", ["broken.json", "broken.json.gz"])
def test_invalid_document_exits_2_with_every_problem_on_stderr(tmp_path: Path, name: str) -> None:
    data = broken_radial_plant()

    result = run_cli(write(tmp_path / name, data))

    assert result.returncode == 2
    assert result.stdout == ""
    expected = [f"{problem.path}: {problem.message}" for problem in validate_circuit(data)]
    assert stderr_lines(result) == expected
    assert [line.split(":")[0] for line in expected] == [
        "buses[8]",
        "ext_grids[0].rx_min",
        "lines[1].to_bus",
        "lines[2].id",
        "lines[3].length_km",
        "transformers[0].vn_lv_kv",
        "transformers[1].vk0_percent",
    ]


def test_faults_flag_replaces_the_study_faults(tmp_path: Path) -> None:
    data = reference_case("ind480_radial")
    data["study"]["faults"] = ["3ph"]
    for line in data["lines"]:
        del line["r0_ohm_per_km"]
    path = write(tmp_path / "no_zero_sequence.json", data)

    result = run_cli(path, "--faults", "3ph,1ph")

    assert result.returncode == 2 and result.stdout == ""
    assert stderr_lines(result) == [
        f"lines[{index}].r0_ohm_per_km: missing: needed for 1ph faults" for index in range(len(data["lines"]))
    ]


def test_cases_flag_replaces_the_study_cases(tmp_path: Path) -> None:
    data = reference_case("edge_parallel_transformers")
    data["study"]["cases"] = ["max"]
    del data["ext_grids"][0]["s_sc_min_mva"]
    path = write(tmp_path / "no_min_data.json", data)

    result = run_cli(path, "--cases", "min")

    assert result.returncode == 2 and result.stdout == ""
    assert stderr_lines(result) == ["ext_grids[0].s_sc_min_mva: missing: needed for the min case"]


def test_unknown_buses_in_flags_are_reported_with_the_document_problems(tmp_path: Path) -> None:
    data = reference_case("edge_parallel_transformers")
    data["lines"][0]["length_km"] = 0
    path = write(tmp_path / "circuit.json", data)

    result = run_cli(path, "--bus", "LV-1", "LV-7", "--branches", "MV-2")

    assert result.returncode == 2 and result.stdout == ""
    assert stderr_lines(result) == [
        "lines[0].length_km: Input should be greater than 0",
        "--bus: unknown bus 'LV-7'",
        "--branches: unknown bus 'MV-2'",
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "cannot read"), (b'{"format": ', "invalid JSON at line 1"), (b"[]", "must be a JSON object")],
)
def test_unreadable_file_exits_2(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "circuit.json"
    if content is not None:
        path.write_bytes(content)

    result = run_cli(path)

    assert result.returncode == 2 and result.stdout == ""
    assert str(path) in result.stderr and message in result.stderr


@pytest.mark.parametrize("flags", [["--faults", "4ph"], ["--cases", "max,avg"], ["--faults", ""]])
def test_bad_flag_values_exit_2(tmp_path: Path, flags: list[str]) -> None:
    result = run_cli(write(tmp_path / "c.json", reference_case("ind480_radial")), *flags)

    assert result.returncode == 2 and result.stdout == ""
    assert "choose from" in result.stderr


def test_table_aligns_every_column() -> None:
    result_sets = reference_case("mv_meshed_20kv")["expected"]["result_sets"][:2]
    out = io.StringIO()

    print_table(result_sets, out)

    blocks = out.getvalue().strip().split("\n\n")
    assert [block.splitlines()[0] for block in blocks] == ["3ph fault, max case", "3ph fault, min case"]
    for block, result_set in zip(blocks, result_sets, strict=True):
        header, rule, *rows = block.splitlines()[2:]
        assert header.split() == ["bus", *result_set["quantities"]]
        assert [row.split()[0] for row in rows] == list(result_set["buses"])
        assert len({len(header), len(rule), *map(len, rows)}) == 1


def test_table_summarises_branch_currents_and_voltages_for_the_fault_bus() -> None:
    result_set = {
        "fault": "1ph",
        "case": "max",
        "quantities": ["ikss_ka"],
        "omitted": {"ip_ka": "not computed"},
        "buses": {"LV": {"ikss_ka": 30.5}, "MV": {"ikss_ka": 11.5}},
        "branches": {
            "LV": {"T1": {"ikss_hv_ka": 0.6, "ia_hv_ka": 0.6, "ikss_lv_ka": 30.5}, "L1": {"ikss_from_ka": 0.0}}
        },
        "voltages": {"LV": {"MV": {"va_pu": 1.02, "v1_pu": 1.0, "vb_pu": 1.05, "vc_pu": 1.05}}},
    }
    out = io.StringIO()

    print_table([result_set], out)

    text = out.getvalue()
    assert "(ip_ka omitted: not computed)" in text
    branch_table = text.split("branch currents, fault at LV\n")[1].split("\n\n")[0].splitlines()
    assert branch_table[0].split() == ["branch", "ikss_hv_ka", "ikss_lv_ka", "ikss_from_ka"]
    assert branch_table[2].split() == ["T1", "0.6", "30.5", "-"]
    voltage_table = text.split("bus voltages, fault at LV\n")[1].splitlines()
    assert voltage_table[0].split() == ["bus", "va_pu", "vb_pu", "vc_pu"]
    assert voltage_table[2].split() == ["MV", "1.02", "1.05", "1.05"]


def test_the_table_names_rated_devices_a_restricted_study_did_not_check():
    result_set = {
        "fault": "3ph",
        "case": "max",
        "quantities": ["ikss_ka"],
        "buses": {"LV": {"ikss_ka": 30.5}},
        "duty": [],
        "duty_not_checked": [
            {
                "id": "CB-MV",
                "kind": "breaker",
                "reason": "not solved: the study is restricted to other buses (MV left out)",
            }
        ],
    }
    out = io.StringIO()

    print_table([result_set], out)

    assert "(breaker CB-MV not checked: not solved: the study is restricted to other buses (MV left out))" in (
        out.getvalue()
    )


# --- solving: runs once the solver package is importable -----------------------------------


@pytest.fixture
def solver() -> None:
    pytest.importorskip("ampflux_simulation.solver")


def close(actual: Any, expected: Any) -> bool:
    if isinstance(expected, str) or isinstance(actual, str):
        return actual == expected
    return math.isclose(actual, expected, rel_tol=1e-4, abs_tol=1e-9)


@pytest.mark.usefixtures("solver")
@pytest.mark.parametrize("name", CASE_NAMES)
def test_solves_reference_circuit_to_its_expected_results(tmp_path: Path, name: str) -> None:
    data = reference_case(name)
    output = tmp_path / "results.json"

    result = run_cli(CASES_DIR / f"{name}.json", "-o", output)

    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    results = json.loads(output.read_text(encoding="utf-8"))
    assert results["circuit_id"] == data["id"]
    got = {(rs["fault"], rs["case"]): rs for rs in results["result_sets"]}
    wanted = {(rs["fault"], rs["case"]): rs for rs in data["expected"]["result_sets"]}
    assert got.keys() == wanted.keys()
    for key, expected_set in wanted.items():
        actual_set = got[key]
        assert set(expected_set["quantities"]) <= set(actual_set["quantities"]), key
        assert actual_set["buses"].keys() == expected_set["buses"].keys(), key
        for bus_id, expected_values in expected_set["buses"].items():
            for quantity, value in expected_values.items():
                actual = actual_set["buses"][bus_id][quantity]
                assert close(actual, value), (key, bus_id, quantity, actual, value)


@pytest.mark.usefixtures("solver")
def test_flags_select_faults_cases_and_buses_of_a_gzipped_document(tmp_path: Path) -> None:
    data = reference_case("edge_parallel_transformers")
    path = write(tmp_path / "edge.json.gz", data)

    result = run_cli(path, "--faults", "2ph", "--cases", "min", "--bus", "LV-1", "--bus", "LV-2")

    assert result.returncode == 0, result.stderr
    results = json.loads(result.stdout)
    assert [(rs["fault"], rs["case"]) for rs in results["result_sets"]] == [("2ph", "min")]
    (result_set,) = results["result_sets"]
    assert list(result_set["buses"]) == ["LV-1", "LV-2"]
    expected = next(rs for rs in data["expected"]["result_sets"] if (rs["fault"], rs["case"]) == ("2ph", "min"))
    for bus_id in ("LV-1", "LV-2"):
        assert close(result_set["buses"][bus_id]["ikss_ka"], expected["buses"][bus_id]["ikss_ka"])


@pytest.mark.usefixtures("solver")
def test_table_and_file_output_together(tmp_path: Path) -> None:
    output = tmp_path / "results.json.gz"

    # The real command, once: the module runs as a program and exits with main()'s status.
    result = run_command(CASES_DIR / "ind480_radial.json", "--faults", "3ph", "--table", "-o", output)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("3ph fault, max case\n")
    assert "SWBD" in result.stdout
    results = json.loads(gzip.decompress(output.read_bytes()))
    assert {rs["fault"] for rs in results["result_sets"]} == {"3ph"}


@pytest.mark.usefixtures("solver")
def test_branch_contributions_for_a_chosen_fault_bus(tmp_path: Path) -> None:
    circuit = CASES_DIR / "edge_parallel_transformers.json"
    result = run_cli(circuit, "--faults", "3ph", "--cases", "max", "--branches", "LV-1")

    assert result.returncode == 0, result.stderr
    (result_set,) = json.loads(result.stdout)["result_sets"]
    branches = result_set["branches"]["LV-1"]
    assert branches, "no branch contributions for LV-1"
    assert {"ikss_from_ka", "ikss_to_ka"} <= branches["C-DB1"].keys()

    table = run_cli(circuit, "--faults", "3ph", "--branches", "LV-1", "--table")
    assert table.returncode == 0, table.stderr
    assert "branch currents, fault at LV-1" in table.stdout


@pytest.mark.usefixtures("solver")
def test_solver_error_exits_1_with_its_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import ampflux_simulation.solver as solver_module
    from ampflux_simulation import cli

    # No valid document is known to make the solver fail, so stand in a solver that does.
    def failing_solve(*args: Any, **kwargs: Any) -> Any:
        raise solver_module.SolverError("the admittance matrix is singular")

    monkeypatch.setattr(solver_module, "solve_study", failing_solve)
    path = write(tmp_path / "c.json", reference_case("edge_parallel_transformers"))

    assert cli.main([str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "ampflux-solve: the admittance matrix is singular\n"


@pytest.mark.usefixtures("solver")
def test_unwritable_output_exits_2(tmp_path: Path) -> None:
    output = tmp_path / "missing-folder" / "results.json"

    result = run_cli(CASES_DIR / "edge_parallel_transformers.json", "--faults", "3ph", "-o", output)

    assert result.returncode == 2 and result.stdout == ""
    assert f"{output}: cannot write" in result.stderr


def test_a_gzip_bomb_is_refused_without_unpacking_it(tmp_path, capsys):
    from ampflux_shared.circuit import MAX_DOCUMENT_BYTES
    from ampflux_simulation.cli import main

    # About 20 KB on disk, more than the document limit once unpacked (a real bomb would be GBs).
    bomb = tmp_path / "bomb.json.gz"
    with gzip.open(bomb, "wb") as f:
        f.write(b'{"pad": "')
        for _ in range(MAX_DOCUMENT_BYTES // (1 << 20) + 1):
            f.write(b" " * (1 << 20))
        f.write(b'"}')
    assert bomb.stat().st_size < 100_000

    assert main([str(bomb)]) == 2
    assert f"larger than {MAX_DOCUMENT_BYTES} bytes" in capsys.readouterr().err


def test_results_json_is_compact_and_spells_non_finite_numbers_as_strings() -> None:
    payload = {"circuit_id": "c", "result_sets": [{"buses": {"B": {"ikss_ka": 1.5, "rk0_ohm": math.inf}}}]}
    text = dumps_results(payload)
    assert text.endswith("\n") and "\n" not in text[:-1] and " " not in text
    want = {"circuit_id": "c", "result_sets": [{"buses": {"B": {"ikss_ka": 1.5, "rk0_ohm": "inf"}}}]}
    assert json.loads(text) == want
    assert json.loads(dumps_results(payload, pretty=True)) == json.loads(text)
    assert dumps_results(payload, pretty=True).count("\n") > 5


# --- switching states and faults along lines ---------------------------------------------


def switched_network() -> dict[str, Any]:
    """mv_meshed_20kv with a fuse in front of distribution transformer DT-A13 and a scenario that blows it."""
    data = reference_case("mv_meshed_20kv")
    data.pop("expected", None)
    data["switches"] = [{"id": "F-DT", "bus": "A1-3", "element": "DT-A13", "kind": "fuse"}]
    data["scenarios"] = [{"id": "fuse-blown", "name": "DT-A13 fuse blown", "switches": {"F-DT": "open"}}]
    return data


def test_scenario_flag_solves_that_switching_state_and_reports_cut_off_buses(tmp_path: Path) -> None:
    circuit = write(tmp_path / "c.json", switched_network())

    normal = run_cli(circuit, "--faults", "3ph", "--cases", "max")
    blown = run_cli(circuit, "--faults", "3ph", "--cases", "max", "--scenario", "fuse-blown")

    assert normal.returncode == 0 and blown.returncode == 0, blown.stderr
    before, after = json.loads(normal.stdout)["result_sets"][0], json.loads(blown.stdout)["result_sets"][0]
    assert "LV-A13" in before["buses"] and "LV-A13" not in after["buses"]
    assert after["scenario"] == "fuse-blown" and "scenario" not in before
    assert "open switch(es) F-DT" in after["unsupplied"]["LV-A13"]


def test_line_fault_flag_reports_the_point_by_line_and_fraction(tmp_path: Path) -> None:
    data = reference_case("ind480_radial")
    data.pop("expected", None)
    line = data["lines"][0]
    circuit = write(tmp_path / "c.json", data)

    done = run_cli(circuit, "--faults", "3ph", "--line-fault", f"{line['id']}@0.5", f"{line['id']}@0.25", "--table")

    assert done.returncode == 0, done.stderr
    rows = {row.split()[0]: row.split() for row in done.stdout.splitlines() if row.startswith(line["id"] + "@")}
    assert set(rows) == {f"{line['id']}@0.5", f"{line['id']}@0.25"}
    # nearer to the source end, more current
    ik_quarter, ik_half = float(rows[f"{line['id']}@0.25"][1]), float(rows[f"{line['id']}@0.5"][1])
    assert math.isfinite(ik_half) and ik_quarter > ik_half > 0


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--scenario", "nope"], "--scenario: unknown scenario 'nope'"),
        (["--line-fault", "NOPE@0.5"], "--line-fault: unknown line 'NOPE'"),
    ],
)
def test_flags_naming_unknown_scenarios_or_lines_exit_2(tmp_path: Path, flags: list[str], message: str) -> None:
    done = run_cli(write(tmp_path / "c.json", switched_network()), *flags)

    assert done.returncode == 2 and done.stdout == ""
    assert message in done.stderr


@pytest.mark.parametrize("value", ["L1", "L1@1.0", "L1@0", "L1@x", "@0.5"])
def test_a_malformed_line_fault_is_refused_by_the_parser(tmp_path: Path, value: str) -> None:
    done = run_cli(write(tmp_path / "c.json", switched_network()), "--line-fault", value)

    assert done.returncode == 2 and "LINE@FRACTION" in done.stderr


INDUSTRIAL = REPO_ROOT / "simulation-service" / "tests" / "data" / "industrial_duty.json"


@pytest.mark.usefixtures("solver")
def test_duty_of_an_industrial_network_as_json_table_and_csv(tmp_path: Path) -> None:
    data = json.loads(INDUSTRIAL.read_text(encoding="utf-8"))
    data["study"]["duty"] = False  # the flag asks for it
    circuit = write(tmp_path / "plant.json", data)
    output, duty_file = tmp_path / "results.json", tmp_path / "duty.csv"

    result = run_cli(circuit, "--faults", "3ph", "--duty-csv", duty_file, "-o", output)

    assert result.returncode == 0, result.stderr
    (result_set,) = [rs for rs in json.loads(output.read_text())["result_sets"] if rs["case"] == "max"]
    failing = {(row["kind"], row["id"]) for row in result_set["duty"] if not row["pass"]}
    assert failing == {("breaker", "CB-M1"), ("cable", "C-M1")}
    rows = list(csv.DictReader(duty_file.read_text(encoding="utf-8").splitlines()))
    assert {(r["case"], r["kind"], r["id"]) for r in rows if r["pass"] == "false"} >= {
        ("max", "breaker", "CB-M1"),
        ("max", "cable", "C-M1"),
    }
    assert len(rows) == sum(len(rs["duty"]) for rs in json.loads(output.read_text())["result_sets"])

    table = run_cli(circuit, "--faults", "3ph", "--cases", "max", "--duty", "--table")
    assert table.returncode == 0, table.stderr
    duty_lines = table.stdout.split("equipment duty\n", 1)[1].splitlines()
    assert duty_lines[0].split() == ["device", *cli._DUTY_COLUMNS, "pass"]
    failed = {line.split()[0] for line in duty_lines[2:] if line.endswith("FAIL")}
    assert failed == {"CB-M1", "C-M1"}

    plain = run_cli(circuit, "--faults", "3ph")
    assert all("duty" not in rs for rs in json.loads(plain.stdout)["result_sets"])


@pytest.mark.usefixtures("solver")
def test_unwritable_duty_csv_exits_2(tmp_path: Path) -> None:
    result = run_cli(INDUSTRIAL, "--faults", "3ph", "--cases", "max", "--duty-csv", tmp_path / "no" / "duty.csv")
    assert result.returncode == 2
    assert "cannot write" in result.stderr


def test_main_pauses_the_cyclic_collector_only_while_it_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI turns the garbage collector off for its one run (speed) and gives an
    in-process caller back the state it had."""
    import gc

    case = tmp_path / "case.json"
    data = reference_case("mv_meshed_20kv")
    data.pop("expected", None)
    case.write_text(json.dumps(data), encoding="utf-8")
    during: list[bool] = []
    real_run = cli._run

    def spy(argv: Any, keep: Any = None) -> int:
        during.append(gc.isenabled())
        return real_run(argv, keep)

    monkeypatch.setattr(cli, "_run", spy)
    try:
        gc.enable()
        assert cli.main([str(case), "-o", str(tmp_path / "out.json")]) == 0
        assert gc.isenabled()
        gc.disable()
        assert cli.main([str(case), "-o", str(tmp_path / "out.json")]) == 0
        assert not gc.isenabled()
    finally:
        gc.enable()
    assert during == [False, False]
    assert json.loads((tmp_path / "out.json").read_text())["result_sets"]


@pytest.mark.usefixtures("solver")
def test_the_command_ends_only_after_its_output_is_out(tmp_path: Path) -> None:
    """The process ends with os._exit (no teardown): results on a pipe, an -o file and the
    problems of a rejected document all arrive whole, with the exit status of main()."""
    case = CASES_DIR / "mv_meshed_20kv.json"
    piped = run_command(case, "--faults", "3ph,1ph", "--cases", "max")
    assert piped.returncode == 0, piped.stderr
    from_pipe = json.loads(piped.stdout)  # a cut-off text would not parse
    assert [(rs["fault"], rs["case"]) for rs in from_pipe["result_sets"]] == [("3ph", "max"), ("1ph", "max")]
    in_process = run_cli(case, "--faults", "3ph,1ph", "--cases", "max")
    assert piped.stdout == in_process.stdout

    output = tmp_path / "out.json"
    written = run_command(case, "--faults", "3ph,1ph", "--cases", "max", "-o", output)
    assert written.returncode == 0 and written.stdout == ""
    assert json.loads(output.read_text()) == from_pipe

    rejected = run_command(write(tmp_path / "broken.json", broken_radial_plant()))
    assert rejected.returncode == 2 and rejected.stdout == ""
    assert stderr_lines(rejected) == stderr_lines(run_cli(tmp_path / "broken.json"))
    assert len(stderr_lines(rejected)) >= 5


@pytest.mark.parametrize(("preset", "seen"), [(None, "__all__"), ("", ""), ("logfire", "logfire")])
def test_the_process_entry_ends_with_mains_status_and_pydantic_plugins_off_by_default(
    monkeypatch: pytest.MonkeyPatch, preset: str | None, seen: str
) -> None:
    """run() passes main()'s status to os._exit, and turns pydantic's plugin search off
    unless the environment already says what to do."""
    if preset is None:
        monkeypatch.delenv("PYDANTIC_DISABLE_PLUGINS", raising=False)
    else:
        monkeypatch.setenv("PYDANTIC_DISABLE_PLUGINS", preset)
    during: list[str | None] = []

    def fake_main(argv: Any = None, *, keep: Any = None) -> int:
        during.append(os.environ.get("PYDANTIC_DISABLE_PLUGINS"))
        assert keep == []
        return 3

    def fake_exit(code: int) -> None:
        raise SystemExit(code)

    monkeypatch.setattr(cli, "main", fake_main)
    monkeypatch.setattr(cli.os, "_exit", fake_exit)
    with pytest.raises(SystemExit) as ended:
        cli.run()
    assert ended.value.code == 3
    assert during == [seen]
