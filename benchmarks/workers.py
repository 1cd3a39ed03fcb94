"""Wall time of one small study with ``--workers 1`` and ``--workers 2``, side by side.

    python benchmarks/workers.py --out benchmarks/cpu-intel-xeon

Runs of different (model, seed) are independent, so ``python -m
r21d_edu.experiment --workers N`` trains N of them at once, one thread each.
This script runs the same small study (r3d and r2plus1d, seeds 0 and 1,
2 epochs: four runs) three times in one sitting, one configuration after the
other, each in a fresh folder:

- ``workers=1, threads=1``: the runs one after another on one core;
- ``workers=1, threads=2``: one after another, each using both cores;
- ``workers=2, threads=1``: two at a time, one core each.

It records each configuration's wall time, the load average before and after,
and whether every number its runs computed (``results.csv`` without the
columns that are timings: ``train_seconds``, ``clips_per_second``) is the same
text as the one of ``workers=1, threads=1`` (it must be: the worker count never
changes a number; two threads may, since a reduction split over threads adds
in another order). It writes
``workers.csv`` and ``workers.json`` into ``--out``; the folders of the runs
themselves are kept in a temporary directory and removed.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from r21d_edu.timing import environment

STUDY = ["--models", "r3d", "r2plus1d", "--seeds", "0", "1", "--epochs", "2",
         "--no-progress", "--no-figure"]
CONFIGURATIONS = [(1, 1), (1, 2), (2, 1)]  # (workers, threads per run)
TIMING_COLUMNS = ("train_seconds", "clips_per_second")


def _computed(path: Path) -> list[dict]:
    """The rows of a results.csv without its timing columns: what the runs computed."""
    with open(path, newline="") as f:
        return [{k: v for k, v in row.items() if k not in TIMING_COLUMNS}
                for row in csv.DictReader(f)]


def _run(workers: int, threads: int, out: Path) -> float:
    command = [sys.executable, "-m", "r21d_edu.experiment", "--out", str(out), *STUDY,
               "--workers", str(workers), "--threads", str(threads)]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True,
                        help="folder for workers.csv and workers.json")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        reference = None
        for workers, threads in CONFIGURATIONS:
            folder = Path(scratch) / f"w{workers}-t{threads}"
            load_before = round(os.getloadavg()[0], 2)
            wall = _run(workers, threads, folder)
            results = _computed(folder / "results.csv")
            reference = results if reference is None else reference
            rows.append({"workers": workers, "threads_per_run": threads,
                         "wall_s": round(wall, 1), "load_before": load_before,
                         "load_after": round(os.getloadavg()[0], 2),
                         "same_numbers_as_sequential_one_thread": results == reference})
            print(f"workers={workers} threads={threads}: {wall:7.1f} s  "
                  f"same results: {rows[-1]['same_numbers_as_sequential_one_thread']}")
    base = rows[0]["wall_s"]
    for row in rows:
        row["speed_up_vs_sequential_one_thread"] = round(base / row["wall_s"], 2)
    env = environment("cpu")
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "workers.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (args.out / "workers.json").write_text(json.dumps({
        "command": "python benchmarks/workers.py --out " + args.out.as_posix(),
        "study": "python -m r21d_edu.experiment " + " ".join(STUDY),
        "cpu": env.cpu_model, "cores": os.cpu_count(), "torch": env.torch,
        "date": time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()),
        "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
