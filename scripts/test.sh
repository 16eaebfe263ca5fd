#!/usr/bin/env bash
# One command for a fresh Debian machine: set up (scripts/setup.sh), then run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
