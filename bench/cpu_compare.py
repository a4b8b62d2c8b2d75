"""bench/cpu.py for several trees side by side: rounds, each tree once per round (the
order rotating), and per scenario the cheapest run of each tree — noise only adds time.

    python bench/cpu_compare.py before=/tmp/before/src start=/tmp/start/src now= [--rounds 3]

``NAME=PYTHONPATH`` per tree (empty: the installed checkout). Trees come from
``sh bench/tree_at.sh REV DIR``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

CPU = Path(__file__).resolve().parent / "cpu.py"


def run_once(pythonpath: str, out: Path) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    subprocess.run([sys.executable, str(CPU), "--json", str(out)], env=env, check=True,
                   stdout=subprocess.DEVNULL, timeout=900)  # fmt: skip
    return json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("trees", nargs="+", metavar="NAME=PYTHONPATH")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", help="write every run's figures to this file")
    args = parser.parse_args()
    trees = [tuple(tree.split("=", 1)) for tree in args.trees]
    runs: dict[str, list[dict[str, float]]] = {name: [] for name, _ in trees}
    with tempfile.TemporaryDirectory() as scratch:
        for round_index in range(args.rounds):
            shift = round_index % len(trees)
            for name, path in trees[shift:] + trees[:shift]:
                runs[name].append(run_once(path, Path(scratch) / f"{name}.json"))
                print(f"round {round_index + 1}: {name} done", file=sys.stderr, flush=True)
    scenarios = list(runs[trees[0][0]][0])
    names = [name for name, _ in trees]
    print(f"| CPU per request (cheapest of {args.rounds} runs) | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for scenario in scenarios:
        cells = [f"{min(run[scenario] for run in runs[name]):,.0f} µs" for name in names]
        print(f"| {scenario} | " + " | ".join(cells) + " |")
    if args.json:
        Path(args.json).write_text(json.dumps(runs, indent=1))


if __name__ == "__main__":
    main()
