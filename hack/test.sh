#!/usr/bin/env bash
# The project's test command: static checks, then every test (unit, component, and end-to-end
# against a real kube-apiserver, etcd and Conductor started on loopback). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash hack/bootstrap.sh --for-tests
export PATH="$PWD/.venv/bin:$PATH"

echo "== ruff"; ruff check operator testenv tests bench
echo "== import layers"; lint-imports --no-cache
echo "== CRDs in sync with the models"; python -m conductor_operator.api.crdgen --check
echo "== pytest"; python -m pytest "$@"
