#!/usr/bin/env bash
# Prepare a Python environment for r21d-edu. Sourced by start.sh and test.sh:
#   source scripts/setup.sh [EXTRAS]      e.g. EXTRAS=test
#
# - uses the active virtual environment, or creates and activates ./.venv;
# - installs the PyTorch build that suits this machine, unless torch is already there;
# - installs this package in editable mode, with the optional extras asked for.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
extras="${1:-}"

if [ -z "${VIRTUAL_ENV:-}" ]; then
  if [ ! -x .venv/bin/python ]; then
    echo "r21d-edu: creating a virtual environment in .venv"
    python3 -m venv .venv
  fi
  # shellcheck disable=SC1091
  source .venv/bin/activate
fi

if ! python -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
  echo "r21d-edu needs Python >= 3.10; this is $(python --version 2>&1)" >&2
  exit 1
fi

if ! python -c 'import torch' 2>/dev/null; then
  if command -v nvidia-smi >/dev/null 2>&1; then
    # An NVIDIA GPU: PyPI's default wheel carries CUDA.
    python -m pip install "torch>=2.2"
  else
    # No NVIDIA GPU: PyTorch's CPU-only build is a tenth of the size of the CUDA one.
    # Ask PyTorch's CPU index alone (PIP_CONFIG_FILE=/dev/null drops configured extra
    # indexes, which would offer CUDA builds). Where that index can't be reached, a
    # pinned release is asked for: mirrors that carry a local CPU wheel serve it
    # ("2.13.0+cpu" sorts above "2.13.0"), where a bare "torch" would pull CUDA.
    echo "r21d-edu: no NVIDIA GPU found; installing PyTorch's CPU build"
    PIP_CONFIG_FILE=/dev/null python -m pip install --retries 0 --timeout 20 \
        --index-url https://download.pytorch.org/whl/cpu "torch>=2.2" \
      || python -m pip install "torch==2.13.0"
  fi
fi

if [ -n "$extras" ]; then
  python -m pip install -e ".[$extras]"
else
  python -m pip install -e .
fi
