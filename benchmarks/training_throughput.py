"""Training throughput of the family, side by side: clips per second of forward + backward.

    python benchmarks/training_throughput.py --out benchmarks/cpu-amd-epyc/training_throughput.csv

Every member of `r21d_edu.family` is timed on the experiment's batch (32 clips
of 1 x 8 x 32 x 32) with `r21d_edu.timing.time_side_by_side` in training mode
(forward and backward; the optimizer step, the same small cost for all, is
left out), taking the members' samples in turns so that a busy neighbour slows
all of them alike. The CSV gets one row per member and threads setting, with
the median, the interquartile range and clips/s, plus the load average.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path

import torch

from r21d_edu.family import FAMILY, family_model
from r21d_edu.timing import Variant, environment, time_side_by_side

BATCH = (32, 1, 8, 32, 32)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="CSV file to write")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2],
                        help="thread counts to time")
    parser.add_argument("--repeats", type=int, default=15, help="samples per member")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    # The method only picks a figure colour: (2+1)D members in the (2+1)D colour, the rest 3D.
    variants = [Variant(name, family_model(name),
                        method="2plus1d" if name.startswith("r2plus1d") else "3d")
                for name in FAMILY]
    rows = []
    load_before = os.getloadavg()[0]
    for threads in args.threads:
        results = time_side_by_side(variants, BATCH, mode="training", threads=threads,
                                    repeats=args.repeats)
        for name, result in zip(FAMILY, results):
            rows.append({"model": name, "threads": threads,
                         "median_ms": round(result.median_ms, 2),
                         "q25_ms": round(result.q25_ms, 2), "q75_ms": round(result.q75_ms, 2),
                         "clips_per_second": round(result.clips_per_s, 1)})
            print(f"{threads} thread(s)  {name:16s} {rows[-1]['clips_per_second']:8.1f} clips/s")
    env = environment("cpu")
    for row in rows:
        row.update({"cpu": env.cpu_model, "torch": env.torch,
                    "load_before": load_before, "load_after": os.getloadavg()[0]})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="") as f:
        writer = csv.DictWriter(f, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
