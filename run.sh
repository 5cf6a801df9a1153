#!/usr/bin/env bash
# nonstop's main job on the embedded default: installs itself into .venv, then runs `nonstop run`.
set -euo pipefail
cd "$(dirname "$0")"
scripts/bootstrap.sh ""
exec .venv/bin/nonstop run "$@"
