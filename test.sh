#!/usr/bin/env bash
# nonstop's test suite: installs itself (and its test tools) into .venv, lints, then runs pytest.
set -euo pipefail
cd "$(dirname "$0")"
scripts/bootstrap.sh test
.venv/bin/ruff check src tests benchmarks
exec .venv/bin/python -m pytest "$@"
