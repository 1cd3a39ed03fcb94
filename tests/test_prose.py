"""Every number in the tutorials' prose is accounted for, and none contradicts what it describes.

The rules are in `tests/_prose.py`: a number in a markdown cell is a reference, a given
size or count, printed by a strictly compared output, set or asserted by the notebook's
code, checked by a `Claim` below against committed results or the library, or on the
small allow-list below with its reason. Anything else fails, with a hint of how to bind it.

When a re-run changes a result, the test names the sentence that now says something else;
when you add a sentence with a new number, it asks you to bind it. A claim computes what the
prose must say; it never types the number in.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from collections import Counter
from functools import cache
from pathlib import Path

import nbformat
import pytest
from _notebooks import notebooks, sanitizers
from _prose import FAILING, Claim, Found, Listed, NotebookText, classify

from r21d_edu.stats import t_quantile_975

ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------------------
# Where the claims get their numbers
# ---------------------------------------------------------------------------


def committed(path: str, root: Path = ROOT) -> dict:
    return json.loads((root / path).read_text())


def percent(share: float, decimals: int = 1) -> str:
    return f"{100 * share:.{decimals}f}"


def output_of(notebook: str, snippet: str) -> str:
    """The committed text output of the code cell whose source contains `snippet`."""
    cells = nbformat.read(ROOT / "notebooks" / f"{notebook}.ipynb", as_version=4).cells
    cell = next(c for c in cells if c.cell_type == "code" and snippet in c.source)
    return "".join(o.get("text", "") for o in cell.outputs)


@cache
def networks() -> dict:
    """Counts of the networks the prose describes, built on the meta device (no memory)."""
    import torch
    from torch import nn

    from r21d_edu import mc3_18, r2plus1d_18, r3d_18, summarize_network
    from r21d_edu.counting import intermediate_channels_table
    from r21d_edu.netfactor import is_eligible

    with torch.device("meta"):
        r3d, mc3 = r3d_18(), mc3_18()
        table = intermediate_channels_table({"torchvision": r2plus1d_18(),
                                             "paper": r2plus1d_18(convention="paper")})
    convs = [m for m in r3d.modules() if isinstance(m, nn.Conv3d)]
    return {"r3d_params": sum(p.numel() for p in r3d.parameters()), "r3d_convs": len(convs),
            "r3d_eligible": sum(map(is_eligible, convs)),
            "r3d_kernels": {name: m.weight.shape for name, m in r3d.named_modules()
                            if isinstance(m, nn.Conv3d)},
            "mc3_params": sum(p.numel() for p in mc3.parameters()),
            "mc3_macs": summarize_network(mc3, (1, 3, 16, 112, 112)).macs,
            "differing": len(table.differing), "rows": len(table.rows)}


def m_over_c_in(root: Path) -> list[str]:
    from r21d_edu import intermediate_channels

    return [f"{intermediate_channels(64, 64, 3) / 64:.2f}"]


def paper_m_512(root: Path) -> list[str]:
    from r21d_edu import intermediate_channels

    return [str(intermediate_channels(512, 512, 3))]


def conv3d_weights(root: Path) -> list[str]:
    from r21d_edu import ConvSpec, count_parameters

    return [f"{count_parameters(ConvSpec('3d', 64, 64, 3, bias=False)).weights:,}"]


def kinetics_classes(root: Path) -> list[str]:
    from r21d_edu import KINETICS400_CLASSES

    return [str(len(KINETICS400_CLASSES))]


def m_shortfall(root: Path) -> list[str]:
    """How much less torchvision's M (once per block) spends on layer2.0's second conv."""
    from r21d_edu import intermediate_channels

    return [percent(1 - intermediate_channels(64, 128, 3) / intermediate_channels(128, 128, 3), 0)]


def h100(root: Path) -> list[str]:
    import torch

    from r21d_edu.timing import KNOWN_DEVICES

    device = KNOWN_DEVICES["H100 SXM"]
    return [f"{device.peak_for(torch.bfloat16, tf32=False):.0f}", f"{device.bandwidth_tbs:g}"]


def svd_cost_ratio(root: Path) -> list[str]:
    """How many times layer4's unfolded kernel costs layer1's in an SVD (m·n·min(m, n))."""
    def cost(shape):
        out, inp, t, h, w = shape
        m, n = out * t, inp * h * w
        return m * n * min(m, n)

    kernels = networks()["r3d_kernels"]
    return [f"{cost(kernels['layer4.0.conv2.0']) / cost(kernels['layer1.0.conv1.0']):.0f}"]


def random_ranks(root: Path) -> list[tuple[str, int, int, int]]:
    """(layer, full rank, random rank, trained rank) from tutorial 08's committed table."""
    text = output_of("08_factorize_a_network", "random_plan, trained_plan")
    return [(name, int(full), int(rnd), int(trained)) for name, full, rnd, trained in re.findall(
        r"^(\S+)\s+full rank\s+(\d+):\s+random\s+(\d+)\s+trained\s+(\d+)", text, flags=re.M)]


def rank_share(root: Path) -> list[str]:
    shares = [rnd / full for _, full, rnd, _ in random_ranks(root)]
    return [percent(min(shares), 0), percent(max(shares), 0)]


def stem_ranks(root: Path) -> list[str]:
    name, full, rnd, trained = random_ranks(root)[0]
    assert name.startswith("stem")
    return [str(trained), str(full), str(rnd)]


def tradeoff(root: Path) -> tuple[dict, dict]:
    study = committed("experiments/tradeoff/results.json", root)
    return study, {(p["variant"], p["energy"]): p for p in study["points"]}


def half_energy(root: Path) -> list[str]:
    study, points = tradeoff(root)
    base, half = points["3d", 1.0], points["linear", 0.5]
    gaps = {p["energy"]: base["accuracy_after_mean"] - p["accuracy_after_mean"]
            for p in study["points"] if p["variant"] != "3d"}
    within = 0.02  # the sentence's "within 2 points": find where that starts to hold
    start = min(e for e in gaps if all(g < within for f, g in gaps.items() if f >= e))
    worst = max(g for e, g in gaps.items() if e >= start)
    return ["50", percent(half["params"] / base["params"], 0), percent(half["macs"] / base["macs"], 0),
            percent(half["accuracy_before"]), percent(half["accuracy_after_mean"]),
            percent(half["accuracy_after_std"]), percent(base["accuracy_after_mean"]),
            percent(base["accuracy_after_std"]), percent(start, 0), str(math.ceil(100 * worst))]


def bn_relu_cost(root: Path) -> list[str]:
    study, points = tradeoff(root)
    energies = sorted({e for v, e in points if v == "linear"})
    gains = [d["mean"] for d in study["differences"]]
    macs = [points["bn-relu", e]["macs"] / points["linear", e]["macs"] - 1 for e in energies]
    latency = [points["bn-relu", e]["batch_ms"] / points["linear", e]["batch_ms"] for e in energies]
    return [percent(min(gains)), percent(max(gains)),
            str(sum(d["exceeds_noise"] for d in study["differences"])), str(len(gains)),
            percent(min(macs), 0), percent(max(macs), 0), f"{min(latency):.1f}", f"{max(latency):.1f}"]


def family(root: Path) -> dict:
    return committed("experiments/family/results.json", root)


# ---------------------------------------------------------------------------
# The claims and the allow-list
# ---------------------------------------------------------------------------

T01, T02, T03, T04 = ("01_from_3d_to_2plus1d", "02_parameter_budget", "03_timing",
                      "04_resnet_to_r2plus1d")
T06, T07, T08, T09 = ("06_low_rank_view", "07_does_factorization_train_better",
                      "08_factorize_a_network", "09_your_own_clip")

CLAIMS = [
    Claim((T01, T03), r"(2\.25)(?:× the input's 64|·C channels)", m_over_c_in,
          "M / C_in = 144 / 64 from the paper's formula"),
    Claim((T02,), r"\((\d+) of (\d+) convs\)",
          lambda root: [str(networks()["differing"]), str(networks()["rows"])],
          "the convs whose M differs between the conventions, counted on the meta device"),
    Claim((T03,), r"— (\d+) TFLOP/s, (\d+\.\d+) TB/s —", h100,
          "the H100's bf16 peak and bandwidth in r21d_edu.timing.KNOWN_DEVICES"),
    Claim((T03, "solutions"), r"512 channels, M = (\d+)", paper_m_512, "the paper's formula"),
    Claim((T04,), r"torchvision's M = 230 spends (\d+) % less", m_shortfall,
          "1 - 230 / 288 from the formula, per block and per conv"),
    Claim((T04,), r"\(33,371,472 / ([\d,]+) / 31,505,325 parameters; 40\.697 / (\d+\.\d+) / 40\.519",
          lambda root: [f"{networks()['mc3_params']:,}", f"{networks()['mc3_macs'] / 1e9:.3f}"],
          "mc3_18 counted on the meta device"),
    Claim((T04,), r"\*more\* MACs \((\d+\.\d) G\)",
          lambda root: [f"{networks()['mc3_macs'] / 1e9:.1f}"], "mc3_18 counted on the meta device"),
    Claim((T06,), r"a third more than the 3D conv's ([\d,]+)", conv3d_weights,
          "count_parameters of the 64 → 64 3D conv"),
    Claim((T07,), r"the default task \(([\d,]+) training clips\), (\d+) epochs",
          lambda root: [f"{family(root)['protocol']['task']['train']:,}",
                        str(family(root)["protocol"]["train"]["epochs"])],
          "the committed protocol in experiments/family/results.json"),
    Claim((T07,), r"the interval is (\d\.\d\d) × s on each side",
          lambda root: [f"{t_quantile_975(2) / math.sqrt(3):.2f}"],
          "t(0.975, 2) / √3, the half-width of a 3-seed paired interval in units of s"),
    Claim((T08,), r"needs? (\d+)–(\d+) % of the full rank", rank_share,
          "random rank / full rank per layer, from the committed table of tutorial 08"),
    Claim((T08,), r"the trained stem needs (\d+) of (\d+) instead of (\d+)", stem_ranks,
          "the stem's row of the committed table of tutorial 08"),
    Claim((T08,), r"R3D-18 has (\d+\.\d) M parameters;",
          lambda root: [f"{networks()['r3d_params'] / 1e6:.1f}"], "r3d_18 counted on the meta device"),
    Claim((T08,), r"costs (\d+) times one of layer1's", svd_cost_ratio,
          "m·n·min(m, n) of the unfolded kernels of r3d_18's layer4 and layer1"),
    Claim((T08,), r"keeping (\d+) % of each layer's energy leaves (\d+) % of the parameters and "
          r"(\d+) % of the MACs and scores (\d+\.\d) % as factorized, \*\*(\d+\.\d) ± (\d+\.\d) %\*\* "
          r"after a one-epoch fine-tune — but the same fine-tune lifts the unfactorized network to "
          r"(\d+\.\d) ± (\d+\.\d) %\. From (\d+) % energy up the fine-tuned factorizations are "
          r"within (\d+) points", half_energy, "experiments/tradeoff/results.json"),
    Claim((T08,), r"scored (\d\.\d)–(\d\.\d) points above the linear factorization after the "
          r"fine-tune at every energy \(beyond seed noise at (\d+) of (\d+)\), at (\d+)–(\d+) % more "
          r"MACs and (\d\.\d)–(\d\.\d)× the 32-clip latency", bn_relu_cost,
          "experiments/tradeoff/results.json"),
    Claim((T09,), r"names (\d+) human actions", kinetics_classes, "len(KINETICS400_CLASSES)"),
]

PAPER = "published by Tran et al. 2018 (arXiv 1711.11248), cited as theirs"
QUESTION = "quoted from the question that started the package (one cold call each), cited as theirs"
LISTED = [
    Listed(T01, r"58 ms against 18 ms", QUESTION),
    Listed(T02, r"The paper's own figures are 33\.4 M parameters for R3D-18 and 33\.3 M", PAPER),
    Listed(T02, r"the paper itself reports 33\.3 M", PAPER),
    Listed(T02, r"torchvision's published 40\.697 and 40\.519 GFLOPS",
           "torchvision's published figures, which the exercise compares with"),
    Listed(T03, r"18 ms (?:vs|against) 58 ms", QUESTION),
    Listed(T03, r"around 10 FLOP/byte", "an order of magnitude from the sentence's own "
           "assumptions: a few hundred GFLOP/s over tens of GB/s"),
    Listed(T03, r"moves 1 GiB", "the exercise's target, an input"),
    Listed(T03, r"\(2 × multiply-accumulates\)", "the definition FLOPs = 2 × MACs"),
    Listed(T03, r"`SpatioTemporalConv` with M = 83", "the exercise's input (the stem's M)"),
    Listed(T04, r"The paper's own figures are 33\.4 M parameters for R3D-18 and 33\.3 M", PAPER),
    Listed(T07, r"Kinetics is 240,000 videos", "the dataset's size (Kay et al. 2017), an order "
           "of magnitude for the reader"),
    Listed(T07, r"widths 16-128", "the family's default widths, an input of family_model"),
    Listed(T09, r"resize to 128×171, centre-crop 112", "the preprocessing torchvision's weights "
           "were trained with, an input of preprocess_clip"),
]



def _more(kind: str) -> list:
    """Claims and allow-list entries of later tutorials, each in a file of its own.

    A tutorial's author keeps its entries in ``tests/prose_claims_<name>.py`` (a
    module defining ``CLAIMS`` and/or ``LISTED``), so tutorials written side by
    side never edit this file at once.
    """
    import importlib.util

    found = []
    for path in sorted(Path(__file__).parent.glob("prose_claims_*.py")):
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        found += list(getattr(module, kind, []))
    return found


CLAIMS += _more("CLAIMS")
LISTED += _more("LISTED")


# ---------------------------------------------------------------------------
# The tests
# ---------------------------------------------------------------------------


@cache
def classified(name: str) -> tuple[Found, ...]:
    path = next(p for p in notebooks() if p.stem == name)
    return tuple(classify(NotebookText.read(path), CLAIMS, LISTED, ROOT))


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.stem)
def test_every_number_in_the_prose_is_accounted_for(path: Path) -> None:
    failing = [f for f in classified(path.stem) if f.kind in FAILING]
    assert not failing, "numbers in the prose that nothing keeps true:\n" + "\n".join(map(str, failing))


def test_every_allow_list_entry_is_still_used() -> None:
    texts = {p.stem: NotebookText.read(p) for p in notebooks()}
    unused = [item for item in LISTED
              if not any(re.search(item.pattern, s) for s in texts[item.notebook].markdown.values())]
    assert not unused, f"allow-list entries whose sentence is gone: {unused}"


def planted(tmp_path: Path, markdown: str, code: str = "print(response)",
            printed: str = "largest response 0.7071 at 4 px/frame\n") -> NotebookText:
    """A two-cell notebook: a code cell with a committed output, then a markdown cell."""
    cell = nbformat.v4.new_code_cell(code, execution_count=1,
                                     outputs=[nbformat.v4.new_output("stream", text=printed)])
    path = tmp_path / "planted.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[cell, nbformat.v4.new_markdown_cell(markdown)]),
                   path)
    return NotebookText.read(path, [])


def kinds(found: list[Found]) -> dict[str, str]:
    return {f.number.text: f.kind for f in found}


def test_a_number_that_its_output_prints_passes(tmp_path: Path) -> None:
    text = planted(tmp_path, "The largest response, 0.7071 (about 0.71), comes at 4 px/frame.")
    assert kinds(classify(text)) == {"0.7071": "output", "0.71": "output", "4": "shape"}


def test_a_planted_contradiction_with_an_output_fails(tmp_path: Path) -> None:
    found = classify(planted(tmp_path, "The largest response is 0.7072, at 4 px/frame."))
    assert kinds(found)["0.7072"] == "unbound"
    assert "render the sentence" in str(next(f for f in found if f.number.text == "0.7072"))


def test_a_number_only_a_timing_prints_fails(tmp_path: Path) -> None:
    text = planted(tmp_path, "The second net was slower, 58.3 ms.",
                   code="# NBVAL_IGNORE_OUTPUT\nprint(ms)", printed="median 58.3 ms\n")
    assert kinds(classify(text))["58.3"] == "machine"


def test_counts_of_results_and_ends_of_ranges_need_a_claim(tmp_path: Path) -> None:
    text = planted(tmp_path, "Beyond the noise at 4 of 8 energies, at 1.7–2.8× the latency.",
                   printed="4 8 1.7 2.8\n")
    assert kinds(classify(text)) == {"4": "unbound", "8": "count", "1.7": "unbound",
                                     "2.8": "unbound"}


def test_the_result_of_arithmetic_must_be_printed(tmp_path: Path) -> None:
    text = planted(tmp_path, "Its formula gives M = 42 and M = 83; with M = 0 it is flagged.",
                   printed="M = 83\n")
    assert kinds(classify(text)) == {"42": "unbound", "83": "output", "0": "count"}


def test_a_claim_checks_its_sentence_against_a_committed_file(tmp_path: Path) -> None:
    (tmp_path / "results.json").write_text(json.dumps({"accuracy": 0.881}))
    claim = Claim(("planted",), r"reaches (\d+\.\d) %",
                  lambda root: [percent(committed("results.json", root)["accuracy"])], "a file")
    good = classify(planted(tmp_path, "R2D reaches 88.1 % in order."), [claim], root=tmp_path)
    assert kinds(good) == {"88.1": "claim"}
    bad = classify(planted(tmp_path, "R2D reaches 89.0 % in order."), [claim], root=tmp_path)
    assert kinds(bad) == {"89.0": "contradicted"} and "'88.1'" in bad[0].detail
    gone = classify(planted(tmp_path, "R2D reaches it in order."), [claim], root=tmp_path)
    assert [f.kind for f in gone] == ["stale"]


def test_references_sizes_and_listed_numbers_are_not_results(tmp_path: Path) -> None:
    text = planted(tmp_path, "Tran et al. 2018 (Sec. 3.5, Fig. 3) factor a 3×3×3 conv, 64 → 64, "
                   "in R(2+1)D-18 ([tutorial 06](06_low_rank_view.ipynb)); they report 33.3 M.")
    listed = [Listed("planted", r"they report 33\.3 M", PAPER)]
    assert set(kinds(classify(text, listed=listed)).values()) == {"shape", "listed"}


def test_a_planted_contradiction_in_a_real_tutorial_fails(tmp_path: Path) -> None:
    # Change one committed-result number of tutorial 07's prose, as a stale sentence would.
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "experiments/family").mkdir(parents=True)
    shutil.copy(ROOT / "experiments/family/results.json",
                tmp_path / "experiments/family/results.json")
    source = ROOT / "notebooks" / f"{T07}.ipynb"
    notebook = nbformat.read(source, as_version=4)
    cell = next(c for c in notebook.cells
                if c.cell_type == "markdown" and "(2,400 training clips)" in c.source)
    cell.source = cell.source.replace("(2,400 training clips)", "(2,401 training clips)")
    nbformat.write(notebook, tmp_path / "notebooks" / source.name)
    found = classify(NotebookText.read(tmp_path / "notebooks" / source.name, sanitizers()),
                     CLAIMS, LISTED, tmp_path)
    wrong = [f for f in found if f.kind == "contradicted"]
    assert [(f.number.text, f.detail) for f in wrong] == [("2,401", "the claim computes '2,400'")]


def test_the_check_covers_every_tutorial() -> None:
    counts = Counter(f.kind for p in notebooks() for f in classified(p.stem))
    assert len(notebooks()) >= 11 and counts["claim"] >= 40 and counts["output"] >= 100
    assert not FAILING & set(counts)
