"""Whole-process timing of `ampflux-solve` and of a pandapower script on the same document
(imports, reading, solving, writing the result), for test_solver_bench.

Each is a fresh `python` process: CPU time (user + system, from the children's rusage) is
reported beside wall time because wall time on a shared machine mostly measures the queue.

The processes run with a bytecode cache of their own (PYTHONPYCACHEPREFIX in the test's
temporary folder, PYTHONDONTWRITEBYTECODE removed) and one untimed start first, as an
installed Python runs from its second start on. Without it, where PYTHONDONTWRITEBYTECODE=1
is set and nothing was compiled at install, every start compiles numpy, pydantic and the
rest from source: +0.25 s of CPU for ampflux-solve. (With the prefix set, Python reads only
the prefix's cache, so the figures do not depend on how the venv was installed.)
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

# The pandapower side as a user would write it: import, read the document, build the net,
# 3ph (ip, ith) and 1ph max at every bus, write the two result tables as JSON.
PANDAPOWER_SCRIPT = """
import json, sys
sys.path.insert(0, {bench_dir!r})
import pandapower.shortcircuit as sc
from test_solver_bench import pandapower_net
doc = json.load(open(sys.argv[1]))
net = pandapower_net(doc)
sc.calc_sc(net, fault="3ph", case="max", ip=True, ith=True, kappa_method="C", tk_s=1.0)
r3 = net.res_bus_sc.copy()
sc.calc_sc(net, fault="1ph", case="max")
with open(sys.argv[2], "w") as out:
    json.dump({{"3ph": json.loads(r3.to_json()), "1ph": json.loads(net.res_bus_sc.to_json())}}, out)
"""


def process_env(bytecode_dir: Path) -> dict[str, str]:
    """The environment of the timed processes: a bytecode cache in `bytecode_dir`."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(bytecode_dir)
    return env


# Starts the timed command and reports its own rusage: see run_timed.
_LAUNCHER = """
import json, os, subprocess, sys, time
t0 = time.perf_counter()
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(proc.pid, 0)
wall = time.perf_counter() - t0
print(json.dumps({"code": os.waitstatus_to_exitcode(status), "wall": wall,
                  "cpu": usage.ru_utime + usage.ru_stime, "rss_kib": usage.ru_maxrss}))
"""


def run_timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, float]:
    """(wall s, CPU s, max RSS MB) of one run of `cmd`, from that process's own rusage.

    Started from a small launcher process, not from this one: Linux carries the peak memory of
    the address space a process was exec'd from (its parent's, as subprocess forks with vfork)
    into the new program's max RSS, and this process holds gigabytes once pandapower has run in
    it, which became every command's figure. Nor RUSAGE_CHILDREN: that is the largest child so far.
    """
    launched = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, *cmd], check=True, capture_output=True, text=True, env=env
    )
    report = json.loads(launched.stdout)
    if report["code"] != 0:
        raise subprocess.CalledProcessError(report["code"], cmd, stderr=launched.stderr)
    return report["wall"], report["cpu"], report["rss_kib"] / 1024.0


def ours(doc_path: Path, out_path: Path, bytecode_dir: Path, repeats: int = 5) -> dict[str, float]:
    """Best of `repeats` runs of `python -m ampflux_simulation.cli DOC -o OUT`, after one untimed run."""
    cmd = [sys.executable, "-m", "ampflux_simulation.cli", str(doc_path), "-o", str(out_path)]
    env = process_env(bytecode_dir)
    run_timed(cmd, env)  # fills the bytecode cache
    best = {"wall_s": math.inf, "cpu_s": math.inf, "rss_mb": 0.0}
    for _ in range(repeats):
        wall, cpu, rss = run_timed(cmd, env)
        best = {"wall_s": min(best["wall_s"], wall), "cpu_s": min(best["cpu_s"], cpu), "rss_mb": rss}
    return best


def pandapower(doc_path: Path, out_path: Path, bytecode_dir: Path) -> dict[str, float]:
    """One run of the pandapower script (it takes minutes at 10k buses), after an untimed
    import of what it imports (fills the bytecode cache, as `ours` does)."""
    bench_dir = str(Path(__file__).resolve().parent)
    env = process_env(bytecode_dir)
    warm = f"import sys; sys.path.insert(0, {bench_dir!r}); import pandapower.shortcircuit, test_solver_bench"
    subprocess.run([sys.executable, "-c", warm], check=True, env=env)
    script = PANDAPOWER_SCRIPT.format(bench_dir=bench_dir)
    wall, cpu, rss = run_timed([sys.executable, "-c", script, str(doc_path), str(out_path)], env)
    return {"wall_s": wall, "cpu_s": cpu, "rss_mb": rss}


def write_document(doc: dict[str, Any], path: Path) -> Path:
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path
