#!/usr/bin/env bash
# Create .venv (if missing) and install nonstop with the given extras; re-installs when pyproject.toml changes.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
python="${PYTHON:-python3}"
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "nonstop needs Python 3.11 or newer (found: $("$python" --version 2>&1))" >&2
  exit 1
fi
[ -x .venv/bin/python ] || "$python" -m venv .venv
stamp=.venv/.nonstop-installed
want="$(sha256sum pyproject.toml | cut -c1-16)${extras:+[$extras]}"
if [ ! -f "$stamp" ] || ! grep -qxF "$want" "$stamp"; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".${extras:+[$extras]}"
  echo "$want" >> "$stamp"
fi
