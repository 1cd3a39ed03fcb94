#!/usr/bin/env bash
# Set up r21d-edu (see setup.sh) and open the tutorials in JupyterLab: tutorial 00 opens first,
# and the file browser shows the whole repository (README, benchmarks, experiments, notebooks).
set -euo pipefail
# The explicit "" (no extras) keeps this script's own arguments, meant for JupyterLab,
# from reaching setup.sh: a sourced script without arguments sees its caller's.
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh" ""
# Mark the tutorials shipped with this checkout as trusted, so JupyterLab draws their
# saved widgets before they are re-run (untrusted outputs show as plain text). Trusting
# takes seconds, so it is done again only when a notebook changed since the last time.
trusted_stamp="$(python -c 'import sys; print(sys.prefix)')/.r21d-edu-trusted"
notebooks_hash="$(cat notebooks/*.ipynb | python -c 'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')"
if [ ! -f "$trusted_stamp" ] || [ "$(cat "$trusted_stamp")" != "$notebooks_hash" ]; then
  python -m jupyter trust notebooks/*.ipynb >/dev/null
  echo "$notebooks_hash" >"$trusted_stamp"
fi
lab_args=(
  --ServerApp.root_dir="$repo_root"
  --LabApp.default_url=/lab/tree/notebooks/00_start_here.ipynb
)
# Jupyter refuses to run as root unless told to (containers and Binder-like machines run as root).
if [ "$(id -u)" = 0 ]; then lab_args+=(--allow-root); fi
echo "r21d-edu: starting JupyterLab on tutorial 00 (stop it with Ctrl+C)"
exec python -m jupyter lab "${lab_args[@]}" "$@"
