#!/usr/bin/env bash
# Builds data/{train,dev,test}.jsonl from the hand-written sources:
#   data/raw/*.ann             split into train/dev/test (seeded, stratified by genre and
#                              clickbait, near-duplicate texts kept in the same split)
#   data/raw/train-only/*.ann  later batches, added to train only, so dev and test stay the
#                              same documents; refused if one repeats a dev/test text
# Every rule of ANNOTATION.md is checked on the whole corpus first (ids unique across files).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=target/release/fintag
$BIN data import --from ann data/raw/*.ann --out target/corpus-all.jsonl
extra=()
if compgen -G "data/raw/train-only/*.ann" > /dev/null; then
  $BIN data import --from ann data/raw/train-only/*.ann --out target/corpus-train-only.jsonl
  extra=(--train-only target/corpus-train-only.jsonl)
  $BIN data check target/corpus-all.jsonl target/corpus-train-only.jsonl > /dev/null
else
  $BIN data check target/corpus-all.jsonl > /dev/null
fi
$BIN data split target/corpus-all.jsonl --out-dir data --dev 0.13 --test 0.13 --seed 7 "${extra[@]}"
$BIN data check data/train.jsonl data/dev.jsonl data/test.jsonl
