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

from .factorized_family import MATCHINGS, STUDY_MODELS
from .family import FAMILY

__all__ = [
    "CONFIRMATORY",
    "EXPLORATORY_COMPARISONS",
    "FACTORIZATIONS",
    "FACTORIZATIONS_DEPTHWISE",
    "PLANS",
    "Comparison",
    "StudyPlan",
]

ROLES = ("primary", "secondary", "exploratory")
METRICS = ("test_accuracy", "train_error")
#: Every model a plan may name: the family and the factorization study's member@matching.
KNOWN_MODELS: tuple[str, ...] = FAMILY + tuple(m for m in STUDY_MODELS if m not in FAMILY)


@dataclass(frozen=True)
class Comparison:
    """One paired difference ``a - b`` of one metric, and what it asks.

    Fields:
        a, b: family members; the difference is a − b, seed by seed.
        metric: ``"test_accuracy"`` or ``"train_error"``.
        role: ``"primary"``, ``"secondary"`` or ``"exploratory"``.
        question: what the difference answers, in words.
        group: the comparisons Holm's correction is applied within (``""``: one
            group, the whole plan; the factorization study has one per matching).
    """

    a: str
    b: str
    metric: str
    role: str
    question: str
    group: str = ""

    def __post_init__(self) -> None:
        for name in (self.a, self.b):
            if name not in KNOWN_MODELS:
                raise ValueError(f"unknown model {name!r}; the family is {', '.join(FAMILY)}, "
                                 f"the factorization study's models "
                                 f"{', '.join(m for m in KNOWN_MODELS if m not in FAMILY)}")
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
        seed_major: train every model's first seed before any second seed, so an
            interrupted study is balanced across models (default: model by model).
        smoke_models: the models ``--smoke`` trains with this plan (tiny, for CI);
            empty: the plan has no smoke run.
    """

    name: str
    runs: tuple[tuple[str, tuple[int, ...]], ...]
    comparisons: tuple[Comparison, ...]
    target_half_width: float | None = None
    seed_major: bool = False
    smoke_models: tuple[str, ...] = ()

    @property
    def models(self) -> list[str]:
        """The plan's models, in its order."""
        return [model for model, _ in self.runs]

    @property
    def pairs(self) -> list[tuple[str, int]]:
        """Every (model, seed) the plan trains, in the order it trains them."""
        pairs = [(model, seed) for model, seeds in self.runs for seed in seeds]
        if self.seed_major:
            rank = {seed: i for i, seed in enumerate(dict.fromkeys(s for _, s in pairs))}
            order = {model: i for i, model in enumerate(self.models)}
            pairs.sort(key=lambda pair: (rank[pair[1]], order[pair[0]]))
        return pairs

    @property
    def primary(self) -> Comparison:
        """The plan's one primary comparison."""
        (primary,) = [c for c in self.comparisons if c.role == "primary"]
        return primary

    def smoke(self, seeds: tuple[int, ...]) -> StudyPlan:
        """The plan cut to `smoke_models` at `seeds`, with the comparisons among them."""
        if not self.smoke_models:
            raise ValueError(f"the plan {self.name!r} has no smoke run; run --smoke without "
                             "--plan")
        kept = set(self.smoke_models)
        return StudyPlan(
            name=self.name, runs=tuple((m, tuple(seeds)) for m in self.models if m in kept),
            comparisons=tuple(c for c in self.comparisons if {c.a, c.b} <= kept),
            target_half_width=self.target_half_width, seed_major=self.seed_major)


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


# --------------------------------------------------------------------------
# The factorization study (experiments/factorizations/PROTOCOL.md)
# --------------------------------------------------------------------------

#: Fresh seeds: no run of any earlier study used 2000-2002.
FACTORIZATION_SEEDS = (2000, 2001, 2002)
#: Trained in `FACTORIZATIONS`: s3d is left out because its layer is P3D-A's, module
#: for module, so ``s3d@m`` and ``p3d-a@m`` are one network (tested); p3d-a stands for both.
LIGHT_MEMBERS = ("p3d-a", "p3d-b", "p3d-c", "s3d-g", "tsm")
#: The depthwise members: 7-30x r3d's time per step on this CPU, so a plan of their own.
DEPTHWISE_MEMBERS = ("ip-csn", "ir-csn", "dw-2plus1d")


def _factorization_plan(name: str, members: tuple[str, ...]) -> StudyPlan:
    models = ("r3d", "r2plus1d", *(f"{m}@{matching}" for matching in MATCHINGS
                                   for m in members))
    comparisons = []
    for matching in MATCHINGS:
        for member in members:
            model = f"{member}@{matching}"
            for reference in ("r3d", "r2plus1d"):
                comparisons.append(Comparison(
                    model, reference, "test_accuracy", "secondary",
                    f"does {member} at matched {matching} reach another test accuracy than "
                    f"{reference}?", group=matching))
        for member in members:
            model = f"{member}@{matching}"
            comparisons.append(Comparison(
                model, "r3d", "train_error", "exploratory",
                f"does {member} at matched {matching} train to another error than r3d?",
                group=matching))
    for member in members:
        comparisons.append(Comparison(
            f"{member}@macs", f"{member}@params", "test_accuracy", "exploratory",
            f"what does {member} gain or lose between its two matchings?", group="between"))
    return StudyPlan(name=name, runs=tuple((m, FACTORIZATION_SEEDS) for m in models),
                     comparisons=tuple(comparisons), seed_major=True,
                     smoke_models=("r3d", f"{members[0]}@params",
                                   f"{members[-1]}@macs"))


FACTORIZATIONS = _factorization_plan("factorizations", LIGHT_MEMBERS)
FACTORIZATIONS_DEPTHWISE = _factorization_plan("factorizations-depthwise", DEPTHWISE_MEMBERS)

#: The plans ``python -m r21d_edu.experiment --plan NAME`` knows.
PLANS: dict[str, StudyPlan] = {plan.name: plan for plan in (CONFIRMATORY, FACTORIZATIONS,
                                                           FACTORIZATIONS_DEPTHWISE)}
