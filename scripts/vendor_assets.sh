#!/usr/bin/env bash
# Copies the front-end files pinned in package.json / package-lock.json into the places the platform
# serves or the browser tests read them from, each with its licence. The copies are committed: running
# the platform, or its tests, needs no npm and nothing from the internet. Run this only to change a
# version: edit package.json, `npm install --package-lock-only --ignore-scripts`, then this script.
#
#   uplot     (MIT)     -> dashboards/static/dashboards/vendor/uplot/   the dashboards' charts
#   axe-core  (MPL-2.0) -> tests/browser/vendor/axe-core/               accessibility checks, tests only
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Install into a scratch folder from the lock file exactly, running no package scripts.
cp "$root/package.json" "$root/package-lock.json" "$work/"
(cd "$work" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
modules="$work/node_modules"

copy() {  # copy <package> <destination folder> <file in the package>...
    local package="$1" destination="$2"
    shift 2
    rm -rf "$destination"
    mkdir -p "$destination"
    for file in "$@"; do
        cp "$modules/$package/$file" "$destination/"
    done
    cp "$modules/$package/LICENSE" "$destination/LICENSE"
    local version
    version="$(node -p "require('$modules/$package/package.json').version")"
    printf '%s %s, copied from the npm registry by scripts/vendor_assets.sh\n' "$package" "$version" >"$destination/VERSION"
    echo "vendored $package $version -> ${destination#"$root"/}"
}

copy uplot "$root/dashboards/static/dashboards/vendor/uplot" dist/uPlot.iife.min.js dist/uPlot.min.css
copy axe-core "$root/tests/browser/vendor/axe-core" axe.min.js
