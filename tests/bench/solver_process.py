"""Whole-process timing of `ampflux-solve` and of a pandapower script on the same document
(imports, reading, solving, writing the result), for test_solver_bench.

Each is a fresh `python` process: CPU time (user + system, from the children's rusage) is
reported beside wall time because wall time on a shared machine mostly measures the queue.
"""

from __future__ import annotations

import json
import math
import resource
import subprocess
import sys
import time
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


def run_timed(cmd: list[str]) -> tuple[float, float, float]:
    """(wall s, CPU s, children's max RSS MB so far) of one run of `cmd`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, after.ru_maxrss / 1024.0


def ours(doc_path: Path, out_path: Path, repeats: int = 3) -> dict[str, float]:
    """Best of `repeats` runs of `python -m ampflux_simulation.cli DOC -o OUT`."""
    best = {"wall_s": math.inf, "cpu_s": math.inf, "rss_mb": 0.0}
    for _ in range(repeats):
        wall, cpu, rss = run_timed([sys.executable, "-m", "ampflux_simulation.cli", str(doc_path), "-o", str(out_path)])
        best = {"wall_s": min(best["wall_s"], wall), "cpu_s": min(best["cpu_s"], cpu), "rss_mb": rss}
    return best


def pandapower(doc_path: Path, out_path: Path) -> dict[str, float]:
    """One run of the pandapower script (it takes minutes at 10k buses)."""
    script = PANDAPOWER_SCRIPT.format(bench_dir=str(Path(__file__).resolve().parent))
    wall, cpu, rss = run_timed([sys.executable, "-c", script, str(doc_path), str(out_path)])
    return {"wall_s": wall, "cpu_s": cpu, "rss_mb": rss}


def write_document(doc: dict[str, Any], path: Path) -> Path:
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path
