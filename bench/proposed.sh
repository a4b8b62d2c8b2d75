#!/bin/sh
# A copy of src/ with bench/patches/*.diff applied (the fixes proposed for files this
# change does not own), for the gateway and CPU benches' "+patches" figures:
#   sh bench/proposed.sh DIR  ->  DIR/src/llm_api, importable with PYTHONPATH=DIR/src
set -eu
out=${1:?usage: bench/proposed.sh DIR}
rm -rf "$out" && mkdir -p "$out"
cp -r src pyproject.toml "$out"/
for patch in bench/patches/*.diff; do
  (cd "$out" && patch --quiet -p1) < "$patch"
done
find "$out" -name __pycache__ -prune -exec rm -rf {} +
