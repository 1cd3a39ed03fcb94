"""Study plans: which (model, seed) runs a study trains and which differences it tests.

A comparison fixed *before* any of its runs is a test; one chosen after
looking is a description. A plan writes the first kind down in code, so the
experiment trains exactly what it says and the analysis reports exactly the
comparisons it names, each with its role:

- ``primary`` — the one question the study is sized for (its seeds come from
  a power calculation); its 95 % interval is the headline, whatever it is;
- ``secondary`` — planned too, judged together with Holm's correction so that
  the chance of any false "exceeds the noise" among them stays at 5 %;
- ``exploratory`` — reported for what it suggests, never as a finding.

`CONFIRMATORY` is the plan of ``experiments/confirmatory/`` (its PROTOCOL.md
gives the reasoning, the power calculation and the budget). A run of the
experiment without ``--plan`` trains ``--models`` × ``--seeds`` and reports
`EXPLORATORY_COMPARISONS` (the 3-seed study of ``experiments/family/``).
"""

from __future__ import annotations

from dataclasses import dataclass

from .family import FAMILY

__all__ = [
    "CONFIRMATORY",
    "EXPLORATORY_COMPARISONS",
    "PLANS",
    "Comparison",
    "StudyPlan",
]

ROLES = ("primary", "secondary", "exploratory")
METRICS = ("test_accuracy", "train_error")


@dataclass(frozen=True)
class Comparison:
    """One paired difference ``a - b`` of one metric, and what it asks.

    Fields:
        a, b: family members; the difference is a − b, seed by seed.
        metric: ``"test_accuracy"`` or ``"train_error"``.
        role: ``"primary"``, ``"secondary"`` or ``"exploratory"``.
        question: what the difference answers, in words.
    """

    a: str
    b: str
    metric: str
    role: str
    question: str

    def __post_init__(self) -> None:
        for name in (self.a, self.b):
            if name not in FAMILY:
                raise ValueError(f"unknown model {name!r}; the family is {', '.join(FAMILY)}")
        if self.metric not in METRICS:
            raise ValueError(f"metric must be one of {METRICS}, got {self.metric!r}")
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got {self.role!r}")


@dataclass(frozen=True)
class StudyPlan:
    """What a study trains and tests.

    Fields:
        name: the plan's name (``--plan``), recorded in results.json.
        runs: ``(model, seeds)`` pairs; the runs are every model at each of its seeds.
        comparisons: the planned differences.
        target_half_width: the primary interval's planned half-width (a
            fraction: 0.10 is 10 points), reported beside the one obtained.
    """

    name: str
    runs: tuple[tuple[str, tuple[int, ...]], ...]
    comparisons: tuple[Comparison, ...]
    target_half_width: float | None = None

    @property
    def pairs(self) -> list[tuple[str, int]]:
        """Every (model, seed) the plan trains."""
        return [(model, seed) for model, seeds in self.runs for seed in seeds]

    @property
    def primary(self) -> Comparison:
        """The plan's one primary comparison."""
        (primary,) = [c for c in self.comparisons if c.role == "primary"]
        return primary


#: The comparisons of the exploratory 3-seed study (``experiments/family``).
EXPLORATORY_COMPARISONS: tuple[Comparison, ...] = tuple(
    Comparison(a, b, metric, "exploratory", question)
    for a, b, question in (
        ("r2plus1d", "r3d", "does (2+1)D train better than 3D at matched parameters?"),
        ("r2plus1d-linear", "r2plus1d", "what do the middle BN + ReLU add together?"),
        ("r2plus1d-rank4", "r2plus1d", "what does a quarter of the rank cost?"),
    )
    for metric in METRICS
)

_ABLATIONS = ("r2plus1d-no-relu", "r2plus1d-no-bn", "r2plus1d-linear")
_ASKS = {
    ("r2plus1d-no-relu", "r2plus1d"): "what does the middle ReLU add, given the BN?",
    ("r2plus1d-no-bn", "r2plus1d"): "what does the middle BN add, given the ReLU?",
    ("r2plus1d-linear", "r2plus1d"): "what do the middle BN and ReLU add together?",
    ("r2plus1d-no-relu", "r3d"): "does a normalized but linear factorization beat 3D?",
    ("r2plus1d-no-bn", "r3d"): "does the extra non-linearity alone beat 3D?",
    ("r2plus1d-linear", "r3d"): "does the factorized parameterization alone beat 3D?",
}

#: Fresh seeds: the exploratory study used 0-2 and its pilot 100, so these have never been seen.
CONFIRMATORY_SEEDS = tuple(range(1000, 1022))     # 22: the power calculation's 80 % assurance
ABLATION_SEEDS = CONFIRMATORY_SEEDS[:12]          # 12: the budget's share, see PROTOCOL.md

CONFIRMATORY = StudyPlan(
    name="confirmatory",
    runs=(("r3d", CONFIRMATORY_SEEDS), ("r2plus1d", CONFIRMATORY_SEEDS),
          *((name, ABLATION_SEEDS) for name in _ABLATIONS)),
    comparisons=(
        Comparison("r2plus1d", "r3d", "test_accuracy", "primary",
                   "does (2+1)D reach a higher test accuracy than 3D at matched parameters?"),
        Comparison("r2plus1d", "r3d", "train_error", "secondary",
                   "does (2+1)D reach a lower training error than 3D (the paper's Fig. 3)?"),
        *(Comparison(a, b, "test_accuracy", "secondary", _ASKS[a, b])
          for b in ("r2plus1d", "r3d") for a in _ABLATIONS),
        *(Comparison(a, b, "train_error", "exploratory", _ASKS[a, b])
          for b in ("r2plus1d", "r3d") for a in _ABLATIONS),
        Comparison("r2plus1d-no-relu", "r2plus1d-linear", "test_accuracy", "exploratory",
                   "what does the BN alone add to a linear factorization?"),
        Comparison("r2plus1d-no-bn", "r2plus1d-linear", "test_accuracy", "exploratory",
                   "what does the ReLU alone add to a linear factorization?"),
    ),
    target_half_width=0.10,
)

#: The plans ``python -m r21d_edu.experiment --plan NAME`` knows.
PLANS: dict[str, StudyPlan] = {CONFIRMATORY.name: CONFIRMATORY}
