#!/bin/sh
# src/ as it was at a commit, for a gateway or embedded bench variant that runs older code
# in the same run as the current one:
#   sh bench/tree_at.sh d7a2c0e DIR  ->  --variant old=DIR/src
set -eu
rev=${1:?usage: bench/tree_at.sh REV DIR}
out=${2:?usage: bench/tree_at.sh REV DIR}
rm -rf "$out" && mkdir -p "$out"
git archive "$rev" src | tar -x -C "$out"
