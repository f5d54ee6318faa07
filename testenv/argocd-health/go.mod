// The Argo CD Lua harness (see main.go). hack/build-tools.sh builds it in a copy of this folder:
// it sets the Argo CD version from hack/versions.env (ARGOCD_VERSION), copies Argo CD's own
// replace directives (Go ignores a dependency's replaces) and runs go mod tidy there, so no
// go.sum is kept here.
module conductor-operator.io/testenv/argocd-health

go 1.27.0

require github.com/argoproj/argo-cd/v3 v3.6.1
