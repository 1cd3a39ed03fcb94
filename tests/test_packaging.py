"""The conda/Binder environment and the pip package ask for the same things."""

import re
from pathlib import Path

import yaml

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
# conda-forge names for PyPI names that differ; PyTorch's CPU build keeps Binder small.
CONDA_NAME = {"torch": "pytorch-cpu"}
REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$")


def split(requirement: str) -> tuple[str, str]:
    name, spec = REQUIREMENT.match(requirement).groups()
    return name.lower(), spec.replace(" ", "")


def pyproject_dependencies() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return dict(split(r) for r in project["dependencies"])


def environment() -> dict:
    return yaml.safe_load((ROOT / "environment.yml").read_text())


def conda_dependencies() -> dict[str, str]:
    entries = [d for d in environment()["dependencies"] if isinstance(d, str)]
    return dict(split(d) for d in entries if not d.startswith(("python", "pip")))


def test_every_runtime_dependency_is_in_the_conda_environment_with_the_same_bound():
    expected = {CONDA_NAME.get(name, name): spec for name, spec in pyproject_dependencies().items()}
    assert conda_dependencies() == expected


def test_conda_environment_uses_conda_forge_and_installs_this_package():
    env = environment()
    assert env["channels"] == ["conda-forge"]
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pip_section == ["-e ."]


def test_python_floor_matches():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    python = next(d for d in environment()["dependencies"] if str(d).startswith("python"))
    assert python == "python" + project["requires-python"]


def test_the_version_has_one_source():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "r21d_edu.__version__"}
    import r21d_edu

    assert re.fullmatch(r"\d+\.\d+\.\d+", r21d_edu.__version__)
