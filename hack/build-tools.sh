#!/usr/bin/env bash
# Builds kube-apiserver, kubectl, etcd, helm 3 and helm 4 from the Go module proxy and fetches
# the Conductor server boot jar from Maven Central. Everything lands in a cache outside
# the work tree, keyed by version, so later runs (and CI on the same machine) reuse it.
#
#   hack/build-tools.sh              build whatever the demo needs and is missing, print the cache folder
#   hack/build-tools.sh test-tools   also what only the tests use: helm 4 and the Argo CD Lua harness
#                                    (testenv/argocd-health), each a long cold build
#   hack/build-tools.sh TOOL         one of them (kubernetes, etcd, helm, helm4, conductor, argocd-health)
#   CONDUCTOR_OPERATOR_CACHE=DIR   use another cache folder
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
cache=${CONDUCTOR_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/conductor-operator}
bin="$cache/bin"
mkdir -p "$bin"

log() { printf '[build-tools] %s\n' "$*" >&2; }
fail() { printf '[build-tools] FAILED: %s\n' "$*" >&2; exit 1; }

command -v go >/dev/null || fail "go is not installed (needed to build kube-apiserver, etcd, helm)"

# A throwaway main module whose go.mod requires the real module and pins every staging
# module k8s.io/kubernetes replaces with a local path (Go ignores a dependency's replaces).
build_kubernetes() {
  local apiserver="$bin/kube-apiserver-$KUBERNETES_VERSION" kubectl="$bin/kubectl-$KUBERNETES_VERSION"
  [[ -x $apiserver && -x $kubectl ]] && return
  log "building kube-apiserver and kubectl $KUBERNETES_VERSION (cold: several minutes)"
  local work="$cache/src/kubernetes-$KUBERNETES_VERSION"
  rm -rf "$work" && mkdir -p "$work" && cd "$work"
  go mod init conductor-operator.io/testenv/kubernetes >/dev/null 2>&1
  local gomod
  gomod=$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')
  [[ -f $gomod ]] || fail "could not download k8s.io/kubernetes@$KUBERNETES_VERSION from the Go module proxy"
  local staging=v0.${KUBERNETES_VERSION#v1.}
  go mod edit -require="k8s.io/kubernetes@$KUBERNETES_VERSION"
  # Every "k8s.io/x => ./staging/src/k8s.io/x" line becomes "k8s.io/x => k8s.io/x v0.N.M".
  local mod
  for mod in $(sed -n 's#^[[:space:]]*\(k8s.io/[^ ]*\) => ./staging/.*#\1#p' "$gomod"); do
    go mod edit -replace="$mod=$mod@$staging"
  done
  # go.mod of kubernetes names the Go version it needs: inherit it so the toolchain matches.
  go mod edit -go="$(sed -n 's/^go //p' "$gomod")"
  cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
  go mod tidy >/dev/null 2>&1 || fail "go mod tidy for kubernetes $KUBERNETES_VERSION (see go output above)"
  local minor=${KUBERNETES_VERSION#v1.}; minor=${minor%%.*}
  local ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
  CGO_ENABLED=0 go build -tags tools -ldflags "$ldflags" -o "$apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver \
    || fail "go build kube-apiserver $KUBERNETES_VERSION"
  CGO_ENABLED=0 go build -tags tools -ldflags "$ldflags" -o "$kubectl.tmp" k8s.io/kubernetes/cmd/kubectl \
    || fail "go build kubectl $KUBERNETES_VERSION"
  mv "$apiserver.tmp" "$apiserver" && mv "$kubectl.tmp" "$kubectl"
}

build_etcd() {
  local out="$bin/etcd-$ETCD_VERSION"
  [[ -x $out ]] && return
  log "building etcd $ETCD_VERSION"
  local work="$cache/src/etcd-$ETCD_VERSION"
  rm -rf "$work" && mkdir -p "$work" && cd "$work"
  go mod init conductor-operator.io/testenv/etcd >/dev/null 2>&1
  cat > tools.go <<'GO'
//go:build tools

package tools

import _ "go.etcd.io/etcd/server/v3"
GO
  go mod edit -require="go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  go mod tidy >/dev/null 2>&1 || fail "go mod tidy for etcd $ETCD_VERSION"
  CGO_ENABLED=0 go build -tags tools -ldflags "-s -w" -o "$out.tmp" go.etcd.io/etcd/server/v3 || fail "go build etcd $ETCD_VERSION"
  mv "$out.tmp" "$out"
}

# Helm by major version (its module path, its own binary name): 3 for the chart tests, 4 beside it because its
# --wait is kstatus, which tests/e2e/test_helm4_wait.py holds the CRDs' status to.
build_helm_major() {
  local major=$1 version=$2
  local out="$bin/helm-$version"
  [[ -x $out ]] && return
  log "building helm $version (cold: several minutes)"
  local gobin="$cache/src/helm-$version"
  mkdir -p "$gobin"
  CGO_ENABLED=0 GOBIN="$gobin" go install -ldflags "-s -w -X helm.sh/helm/v$major/internal/version.version=$version" \
    "helm.sh/helm/v$major/cmd/helm@$version" || fail "go install helm $version"
  mv "$gobin/helm" "$out"
}
build_helm() { build_helm_major 3 "$HELM_VERSION"; }
build_helm4() { build_helm_major 4 "$HELM4_VERSION"; }

fetch_conductor() {
  local out="$bin/conductor-server-$CONDUCTOR_VERSION-boot.jar"
  [[ -s $out ]] && return
  log "fetching conductor-server $CONDUCTOR_VERSION boot jar from Maven Central"
  command -v mvn >/dev/null || fail "mvn is not installed (needed to fetch the Conductor server jar)"
  mvn -q -B dependency:copy "-Dartifact=org.conductoross:conductor-server:$CONDUCTOR_VERSION:jar:boot" \
    "-DoutputDirectory=$cache/src/conductor" -Dmdep.overWriteReleases=true \
    || fail "mvn could not fetch org.conductoross:conductor-server:$CONDUCTOR_VERSION:jar:boot"
  mv "$cache/src/conductor/conductor-server-$CONDUCTOR_VERSION-boot.jar" "$out"
}

# The Argo CD Lua harness (testenv/argocd-health): a copy of its go.mod and main.go, with the Argo CD
# version of versions.env and Argo CD's own replace directives (Go ignores a dependency's
# replaces), built with the Go toolchain Argo CD asks for (GOTOOLCHAIN=auto fetches it from the
# module proxy). The binary is keyed by the Argo CD version and a hash of the harness source.
argocd_health_binary() {
  local src="$here/../testenv/argocd-health"
  echo "$bin/argocd-health-$ARGOCD_VERSION-$(cat "$src/go.mod" "$src/main.go" | sha256sum | cut -c1-12)"
}

build_argocd_health() {
  local out src="$here/../testenv/argocd-health"
  out=$(argocd_health_binary)
  [[ -x $out ]] && return
  log "building the Argo CD $ARGOCD_VERSION Lua harness (cold: up to 45 minutes on a busy 2-core machine)"
  local work="$cache/src/argocd-health-$ARGOCD_VERSION"
  rm -rf "$work" && mkdir -p "$work" && cp "$src/go.mod" "$src/main.go" "$work/" && cd "$work"
  local gomod
  gomod=$(GOTOOLCHAIN=auto go mod download -json "github.com/argoproj/argo-cd/v3@$ARGOCD_VERSION" \
    | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')
  [[ -f $gomod ]] || fail "could not download github.com/argoproj/argo-cd/v3@$ARGOCD_VERSION from the Go module proxy"
  GOTOOLCHAIN=auto go mod edit -require="github.com/argoproj/argo-cd/v3@$ARGOCD_VERSION" -go="$(sed -n 's/^go //p' "$gomod")"
  # "old [version] => new version" lines, in replace blocks or single replace lines; a local
  # path (no version) is left out.
  local old new
  while read -r old new; do
    GOTOOLCHAIN=auto go mod edit -replace="$old=$new"
  done < <(awk '
    /^replace[ \t]*\(/ { block = 1; next }
    block && /^\)/ { block = 0; next }
    { line = $0; sub(/\/\/.*/, "", line) }
    (block || line ~ /^replace[ \t]/) && line ~ /=>/ {
      sub(/^replace[ \t]+/, "", line); split(line, side, "=>")
      n = split(side[1], l, " "); m = split(side[2], r, " ")
      if (m == 2) print (n == 2 ? l[1] "@" l[2] : l[1]), r[1] "@" r[2]
    }' "$gomod")
  GOTOOLCHAIN=auto go mod tidy || fail "go mod tidy for the Argo CD $ARGOCD_VERSION harness"
  CGO_ENABLED=0 GOTOOLCHAIN=auto go build -trimpath -ldflags "-s -w" -o "$out.tmp" . \
    || fail "go build of the Argo CD $ARGOCD_VERSION harness"
  mv "$out.tmp" "$out"
}

only=${1:-all}
case $only in
  all) fetch_conductor; build_etcd; build_helm; build_kubernetes ;;
  test-tools) build_helm4; build_argocd_health ;;
  kubernetes) build_kubernetes ;;
  etcd) build_etcd ;;
  helm) build_helm ;;
  helm4) build_helm4 ;;
  conductor) fetch_conductor ;;
  argocd-health) build_argocd_health ;;
  *) fail "unknown tool '$only' (all, test-tools, kubernetes, etcd, helm, helm4, conductor, argocd-health)" ;;
esac
echo "$bin"
