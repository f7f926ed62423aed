#!/usr/bin/env bash
# Re-vendors the front-end assets from the npm registry. The app never loads them
# from a CDN: whitenoise serves these copies. Bump a version here, run this script,
# commit the result.
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fetch() {  # fetch NAME VERSION -> unpacks into $work/NAME
  (cd "$work" && npm pack --silent "$1@$2" >/dev/null && mkdir -p "$1" && tar xzf ./*"$2".tgz -C "$1" && rm ./*.tgz)
}

fetch bootstrap 5.3.9
rm -rf bootstrap && mkdir -p bootstrap
cp "$work"/bootstrap/package/dist/css/bootstrap.min.css "$work"/bootstrap/package/dist/js/bootstrap.bundle.min.js "$work"/bootstrap/package/LICENSE bootstrap/

fetch bootstrap-icons 1.13.2
rm -rf bootstrap-icons && mkdir -p bootstrap-icons/fonts
cp "$work"/bootstrap-icons/package/font/bootstrap-icons.min.css "$work"/bootstrap-icons/package/LICENSE bootstrap-icons/
cp "$work"/bootstrap-icons/package/font/fonts/bootstrap-icons.woff2 "$work"/bootstrap-icons/package/font/fonts/bootstrap-icons.woff bootstrap-icons/fonts/

fetch htmx.org 2.0.11
rm -rf htmx && mkdir -p htmx
cp "$work"/htmx.org/package/dist/htmx.min.js "$work"/htmx.org/package/LICENSE htmx/

fetch chart.js 4.6.1
rm -rf chartjs && mkdir -p chartjs
cp "$work"/chart.js/package/dist/chart.umd.min.js "$work"/chart.js/package/LICENSE.md chartjs/

# Drop source-map references: the maps are not vendored, and the manifest storage
# of collectstatic refuses references to files that do not exist.
find . -name '*.js' -o -name '*.css' | xargs sed -i -E '/sourceMappingURL=/d'

echo "vendored: bootstrap 5.3.9, bootstrap-icons 1.13.2, htmx.org 2.0.11, chart.js 4.6.1"
