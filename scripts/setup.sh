#!/usr/bin/env bash
# Prepare a Python environment for r21d-edu. Sourced by start.sh and test.sh:
#   source scripts/setup.sh [EXTRAS]      e.g. EXTRAS=test
#
# - uses the active virtual environment, or creates and activates ./.venv;
# - installs the PyTorch build that suits this machine, unless torch is already there;
# - installs this package in editable mode, with the optional extras asked for;
# - on a ready environment does none of that: a stamp in the environment records the hash of
#   pyproject.toml (and the extras) of the last install, so pip only runs when it changed.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
extras="${1:-}"

say() { echo "r21d-edu: $*"; }

if [ -z "${VIRTUAL_ENV:-}" ]; then
  if [ ! -x .venv/bin/python ]; then
    say "creating a virtual environment in .venv"
    python3 -m venv .venv
  fi
  # shellcheck disable=SC1091
  source .venv/bin/activate
fi

if ! python -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
  echo "r21d-edu needs Python >= 3.10; this is $(python --version 2>&1)" >&2
  exit 1
fi

# The stamp lives in the environment, so a new or another environment installs afresh.
stamp="$(python -c 'import sys; print(sys.prefix)')/.r21d-edu-install-stamp"
want="$(python - "$repo_root" <<'PY'
import hashlib, sys
from pathlib import Path
root = Path(sys.argv[1])
# This checkout's pyproject.toml and its path (an editable install points at one checkout).
print(hashlib.sha256(root.joinpath("pyproject.toml").read_bytes() + str(root).encode()).hexdigest())
PY
)"

environment_is_current() {
  [ -f "$stamp" ] || return 1
  # "<hash> <extras>": the base install is covered by any extras' install of the same hash.
  local hash have
  read -r hash have <"$stamp" || true
  [ "$hash" = "$want" ] || return 1
  [ -z "$extras" ] || [ "$have" = "$extras" ] || return 1
  # Cheap checks, without importing torch (seconds): both packages still resolve here.
  python - "$repo_root" <<'PY'
import importlib.util, sys
from pathlib import Path
torch, ours = importlib.util.find_spec("torch"), importlib.util.find_spec("r21d_edu")
ok = torch is not None and ours is not None and Path(ours.origin).is_relative_to(sys.argv[1])
sys.exit(0 if ok else 1)
PY
}

if environment_is_current; then
  say "environment up to date (pyproject.toml unchanged since the last install): skipping pip"
  return 0 2>/dev/null || exit 0
fi

if ! python -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("torch") is None)'; then
  if command -v nvidia-smi >/dev/null 2>&1; then
    # An NVIDIA GPU: PyPI's default wheel carries CUDA.
    say "NVIDIA GPU found: installing PyTorch with CUDA (about 2.5 GB; pip shows its progress)"
    python -m pip install "torch>=2.2"
  else
    # No NVIDIA GPU: PyTorch's CPU-only build is a tenth of the size of the CUDA one.
    # Ask PyTorch's CPU index alone (PIP_CONFIG_FILE=/dev/null drops configured extra
    # indexes, which would offer CUDA builds). Where that index can't be reached, a
    # pinned release is asked for: mirrors that carry a local CPU wheel serve it
    # ("2.13.0+cpu" sorts above "2.13.0"), where a bare "torch" would pull CUDA.
    # The index is probed first, so a machine without access gets one line, not pip's
    # retries and a bare "ERROR: No matching distribution found".
    cpu_index=https://download.pytorch.org/whl/cpu
    if python -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + '/torch/', timeout=10)" \
         "$cpu_index" >/dev/null 2>&1; then
      say "no NVIDIA GPU: installing PyTorch's CPU build from $cpu_index (about 200 MB)"
      PIP_CONFIG_FILE=/dev/null python -m pip install --retries 0 --timeout 20 \
          --index-url "$cpu_index" "torch>=2.2" \
        || { say "PyTorch's CPU index failed midway: installing torch==2.13.0 from your default index instead"
             python -m pip install "torch==2.13.0"; }
    else
      say "no NVIDIA GPU, and PyTorch's CPU index ($cpu_index) is out of reach: installing torch==2.13.0 from your default index instead"
      python -m pip install "torch==2.13.0"
    fi
  fi
fi

say "installing r21d-edu${extras:+[$extras]} in editable mode with its dependencies (JupyterLab, matplotlib, plotly, PyAV, ...; a minute or two the first time)"
started=$SECONDS
if [ -n "$extras" ]; then
  python -m pip install -e ".[$extras]"
else
  python -m pip install -e .
fi
echo "$want $extras" >"$stamp"
say "environment ready in $((SECONDS - started)) s; the next start skips this step until pyproject.toml changes"
