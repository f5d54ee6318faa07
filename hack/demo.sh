#!/usr/bin/env bash
# Brings up kube-apiserver, etcd and Conductor on loopback, installs the CRDs, runs the operator
# and applies examples/. Ctrl-C stops everything. Pass --check to exit once the demo has run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash hack/bootstrap.sh
exec .venv/bin/python -m testenv demo "$@"
