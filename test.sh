#!/usr/bin/env bash
# nonstop's test suite: installs itself (and its test tools) into .venv, lints, then runs pytest.
set -euo pipefail
cd "$(dirname "$0")"
scripts/bootstrap.sh test
.venv/bin/ruff check src tests benchmarks
# the browser tests drive Debian's Chromium (CI runs as root); a no-op once it is installed
command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
exec .venv/bin/python -m pytest "$@"
