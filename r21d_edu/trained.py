"""Trained members of the family, as the experiment saved them: load one and use it.

``python -m r21d_edu.experiment --save-weights`` keeps every finished run's
weights in ``<out>/weights/``: the state_dict in float16 (half the bytes of
float32; the test accuracy of the float16 copy is recorded beside the
float32 one, so what the rounding costs is measured, not assumed) and a
``manifest.json`` with each file's SHA-256. `load_trained` checks that digest
before it reads a byte with ``torch.load(..., weights_only=True)``, builds the
member with `r21d_edu.family.family_model`, loads the weights strictly and
returns it in float32, in eval mode.

The repository commits the seed-0 weights of every member under
``experiments/trained/weights`` (`TRAINED_FOLDER`), which the tutorials show.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .family import FAMILY, family_model

__all__ = ["TRAINED_FOLDER", "TrainedWeightsError", "TrainedEntry", "load_trained",
           "trained_entries"]

#: Where a checkout of the repository keeps the committed weights.
TRAINED_FOLDER = Path(__file__).resolve().parent.parent / "experiments" / "trained" / "weights"


class TrainedWeightsError(RuntimeError):
    """A weights folder or file that is missing, damaged or not what the manifest says."""


@dataclass(frozen=True)
class TrainedEntry:
    """One line of a weights manifest."""

    model: str
    seed: int
    file: str
    sha256: str
    bytes: int
    params: int
    test_accuracy: float
    test_accuracy_float16: float


def trained_entries(folder: Path | str | None = None) -> list[TrainedEntry]:
    """The manifest of a weights folder (default `TRAINED_FOLDER`)."""
    folder = Path(folder) if folder is not None else TRAINED_FOLDER
    manifest = folder / "manifest.json"
    if not manifest.is_file():
        raise TrainedWeightsError(
            f"no trained weights in {folder} (no manifest.json there); they come with a "
            "checkout of the repository, or run python -m r21d_edu.experiment --save-weights "
            "--out DIR and pass folder=DIR/weights")
    try:
        rows = json.loads(manifest.read_text())
        return [TrainedEntry(**row) for row in rows]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, TypeError) as error:
        raise TrainedWeightsError(f"{manifest} is damaged or not a weights manifest "
                                  f"({type(error).__name__}: {error})") from error


def load_trained(name: str, seed: int = 0, folder: Path | str | None = None) -> nn.Module:
    """A trained member of the family, checked against its manifest, in float32 and eval mode.

    Args:
        name: one of `r21d_edu.family.FAMILY`.
        seed: the run's seed. Default: 0 (the committed weights).
        folder: a weights folder written by ``--save-weights``. Default: `TRAINED_FOLDER`.

    Shape:
        - Input: (N, 1, 8, 32, 32) clips of the direction task
        - Output: (N, 8) logits

    Raises:
        TrainedWeightsError: no such entry, a file whose SHA-256 differs from
            the manifest's (damaged or replaced), or weights that do not fit.

    Example::

        >>> model = load_trained("r2plus1d")          # doctest: +SKIP
        >>> model(torch.rand(2, 1, 8, 32, 32)).shape   # doctest: +SKIP
        torch.Size([2, 8])
    """
    if name not in FAMILY:
        raise ValueError(f"unknown model {name!r}; the family is {', '.join(FAMILY)}")
    folder = Path(folder) if folder is not None else TRAINED_FOLDER
    entries = trained_entries(folder)
    matching = [e for e in entries if e.model == name and e.seed == seed]
    if not matching:
        have = ", ".join(f"{e.model} seed {e.seed}" for e in entries) or "none"
        raise TrainedWeightsError(f"{folder} has no weights of {name} seed {seed}; it has: {have}")
    entry = matching[0]
    path = folder / entry.file
    try:
        data = path.read_bytes()
    except OSError as error:
        raise TrainedWeightsError(f"cannot read {path} ({error.strerror or error})") from error
    if hashlib.sha256(data).hexdigest() != entry.sha256:
        raise TrainedWeightsError(
            f"{path} is not the file its manifest describes (its SHA-256 differs): it is "
            "damaged or was replaced. Restore it (git checkout) or retrain with --save-weights")
    import io

    state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    model = family_model(name)
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        raise TrainedWeightsError(f"{path} does not hold {name}'s weights "
                                  f"({str(error).splitlines()[0]})") from error
    return model.float().eval()
