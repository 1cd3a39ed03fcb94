#!/usr/bin/env bash
# Set up r21d-edu (see setup.sh) and open the tutorials in JupyterLab.
set -euo pipefail
# The explicit "" (no extras) keeps this script's own arguments, meant for JupyterLab,
# from reaching setup.sh: a sourced script without arguments sees its caller's.
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh" ""
# Mark the tutorials shipped with this checkout as trusted, so JupyterLab draws their
# saved widgets before they are re-run (untrusted outputs show as plain text).
python -m jupyter trust notebooks/*.ipynb >/dev/null
lab_args=(notebooks/00_start_here.ipynb)
# Jupyter refuses to run as root unless told to (containers and Binder-like machines run as root).
if [ "$(id -u)" = 0 ]; then lab_args+=(--allow-root); fi
exec python -m jupyter lab "${lab_args[@]}" "$@"
