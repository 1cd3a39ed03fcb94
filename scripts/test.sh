#!/usr/bin/env bash
# Set up r21d-edu with its test extras (see setup.sh) and run every test:
# unit, property (hypothesis), notebooks (nbval, strict) and browser (Playwright).
# Extra arguments go to pytest, e.g.  bash scripts/test.sh -k layers
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh" test
python -m pytest "$@"
