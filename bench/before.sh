#!/bin/sh
# A copy of src/ with the files the CPU fixes changed as they were before them (commit
# d296971 holds the fixes), for bench/cpu.py's "before" figures:
#   sh bench/before.sh DIR  ->  PYTHONPATH=DIR/src .venv/bin/python bench/cpu.py
set -eu
out=${1:?usage: bench/before.sh DIR}
rm -rf "$out" && mkdir -p "$out"
cp -r src "$out"/
for file in src/llm_api/streaming.py src/llm_api/services/chat_format.py \
  src/llm_api/dependencies.py src/llm_api/resilience.py; do
  git show "d296971^:$file" > "$out/$file"
done
find "$out" -name __pycache__ -prune -exec rm -rf {} +
