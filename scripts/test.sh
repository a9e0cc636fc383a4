#!/usr/bin/env bash
# The one test command (README's second command; .ci/run calls it): installs what the tests
# need (Debian's redis-server, postgresql, etcd-server, prometheus; the project with every
# extra), then lint, types and the whole pytest suite. Tests start their own servers on free
# loopback ports with data in temp dirs and stop them afterwards.
#
# Options (environment): TIERCONF_SOAK=1 runs the long soak/fuzz variants (see README).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install-test-deps.sh

echo "== ruff" >&2
lint_dirs=()
for d in src tests scripts benchmarks examples; do [ -d "$d" ] && lint_dirs+=("$d"); done
python3 -m ruff check "${lint_dirs[@]}"
echo "== mypy (strict)" >&2
python3 -m mypy src/tierconf
echo "== pytest" >&2
python3 -m pytest -q "$@"
