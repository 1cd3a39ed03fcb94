"""The folder a long run writes its results to: ready before the run, never half-written.

`r21d_edu.experiment` (the family's comparison) and `r21d_edu.tradeoff` (the
factorization study) both train for many minutes and write results as they
go. They share what makes that safe:

- `prepare_out` proves the folder writable before any training starts;
- `write_atomically` replaces a file in one step (a temporary file, then
  `os.replace`), so an interrupt leaves either the old or the new file;
- `load_previous` refuses to overwrite finished results unless ``--resume``
  was asked for, and then only continues results of the same protocol (naming
  every setting that differs) from a results file that holds what it should;
- `environment_record` says which machine, versions and load a result came from;
- `run_reporting_errors` turns a refusal into one line on stderr (exit 2) and
  an interrupt into a pointer to ``--resume`` (exit 130);
- `csv_text`, the argparse types `positive_int`, `seed_int` and
  `finite_float`, and `HelpFormatter` (defaults in ``--help``, but no
  "(default: None)" on a flag that is required or has no default).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import platform
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import torch

__all__ = [
    "HelpFormatter",
    "ResultsFolderError",
    "csv_text",
    "differences",
    "finite_float",
    "environment_record",
    "run_reporting_errors",
    "load_previous",
    "positive_int",
    "prepare_out",
    "seed_int",
    "write_atomically",
]


class ResultsFolderError(RuntimeError):
    """A setting or an output folder a long run cannot work with."""


def positive_int(text: str) -> int:
    """argparse type: a whole number >= 1, with a message that says what came."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """``--help`` with each flag's default, except where there is none to show."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.required or action.default in (None, argparse.SUPPRESS) \
                or action.default is False:
            return action.help or ""
        return super()._get_help_string(action)


def finite_float(text: str) -> float:
    """argparse type: a finite number (``nan`` and ``inf`` are refused, not trained with)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def seed_int(text: str) -> int:
    """argparse type: a seed, a whole number >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a seed is a whole number >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"a seed is a whole number >= 0, got {value}")
    return value


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` with `text` in one step: readers see the old file or the new one."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def csv_text(rows: list[dict], columns: tuple[str, ...]) -> str:
    """Rows as CSV with a header of `columns` (keys outside them are left out)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def prepare_out(out: Path) -> None:
    """Create `out` and prove it is writable now, not after an hour of training."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as error:
        raise ResultsFolderError(f"--out {out} is not a writable folder "
                                 f"({error.strerror or error}); choose a folder you can write "
                                 "to") from error


def environment_record(device: str = "cpu", processes: int = 1) -> dict:
    """Versions, processor, threads and load average, for a results file."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info
                       if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {
        "torch": torch.__version__, "python": platform.python_version(),
        "platform": platform.platform(), "cpu": cpu, "cpu_count": os.cpu_count(),
        "threads_per_process": torch.get_num_threads(), "processes": processes,
        "device": device,
        "gpu": torch.cuda.get_device_name() if device == "cuda" else None,
        "load_average_at_start": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def load_previous(out: Path, protocol: dict, resume: bool,
                  what: str = "task, training settings or view") -> dict | None:
    """The results already in `out`, if the run may continue them; else a clear refusal.

    Args:
        out: the results folder.
        protocol: this run's protocol, as JSON stores it.
        resume: whether ``--resume`` was given.
        what: what a protocol holds, for the message when it differs.

    Returns:
        results.json's content, or None when there is nothing to continue.

    Raises:
        ResultsFolderError: results (or checkpoints of unfinished runs) are there
            and ``resume`` is False; results.json is unreadable; or it was
            written under another protocol.
    """
    path = out / "results.json"
    if not path.exists():
        unfinished = sorted((out / "checkpoints").glob("*.pt"))
        if unfinished and not resume:
            raise ResultsFolderError(
                f"{out} holds checkpoints of unfinished runs ({unfinished[0].name}, ...); pass "
                "--resume to continue them, or choose another --out")
        return None
    if not resume:
        raise ResultsFolderError(f"{out} already holds results (results.json); pass --resume "
                                 "to continue them, or choose another --out")
    try:
        previous = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ResultsFolderError(f"cannot read {path} to resume ({error}); move it away to "
                                 "start afresh") from error
    if not isinstance(previous, dict) or not isinstance(previous.get("runs"), list) \
            or not all(isinstance(run, dict) for run in previous["runs"]):
        raise ResultsFolderError(
            f"{path} does not hold results (expected an object with a 'runs' list, got "
            f"{_shape_of(previous)}); it is damaged or not a results file. Move it away to "
            "start afresh")
    if previous.get("protocol") != protocol:
        changed = differences(previous.get("protocol"), protocol)
        raise ResultsFolderError(f"{path} was written with another protocol ({what}) than this "
                                 f"command's: {'; '.join(changed)}. --resume only adds runs of "
                                 "the same protocol: restore those settings, or use another "
                                 "--out")
    return previous


def _shape_of(value: object) -> str:
    if isinstance(value, dict):
        return f"an object with keys {sorted(value)[:6]}"
    return "null" if value is None else f"a {type(value).__name__}"


def differences(old: object, new: object, prefix: str = "") -> list[str]:
    """Where two JSON-like values differ, one ``"key: old -> new"`` line per leaf."""
    if isinstance(old, dict) and isinstance(new, dict):
        lines = []
        for key in sorted(set(old) | set(new), key=str):
            lines += differences(old.get(key), new.get(key), f"{prefix}{key}.")
        return lines
    if old != new:
        return [f"{prefix.rstrip('.') or 'value'}: {old!r} there, {new!r} now"]
    return []


def run_reporting_errors(prog: str, run: Callable[[], dict], saved_in: str,
                         refusals: tuple[type[BaseException], ...] = ()) -> tuple[int, dict | None]:
    """Run a long command; return ``(exit status, results)``.

    A `ResultsFolderError`, a `ValueError` or one of `refusals` prints
    ``prog: error: ...`` and gives 2; Ctrl+C says where the finished runs are
    (`saved_in`) and gives 130, as shells expect after an interrupt.
    """
    try:
        return 0, run()
    except (ResultsFolderError, ValueError, MemoryError, *refusals) as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2, None
    except OSError as error:  # a full disk, a folder that vanished: one line, not a traceback
        where = f" ({error.filename})" if error.filename else ""
        print(f"{prog}: error: cannot write the results{where}: {error.strerror or error}; "
              f"finished runs are saved in {saved_in}, continue with --resume once fixed",
              file=sys.stderr)
        return 2, None
    except KeyboardInterrupt:
        print(f"\ninterrupted: finished runs are saved in {saved_in}; continue with --resume",
              file=sys.stderr)
        return 130, None
