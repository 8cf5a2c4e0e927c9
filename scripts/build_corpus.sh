#!/usr/bin/env bash
# Builds data/{train,dev,test}.jsonl from the hand-written sources in data/raw/*.ann:
# import (.ann → JSONL), check every rule, then a seeded split stratified by genre and
# clickbait that keeps near-duplicate texts in the same split.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=target/release/fintag
$BIN data import --from ann data/raw/*.ann --out target/corpus-all.jsonl
$BIN data check target/corpus-all.jsonl > /dev/null
$BIN data split target/corpus-all.jsonl --out-dir data --dev 0.13 --test 0.13 --seed 7
$BIN data check data/train.jsonl data/dev.jsonl data/test.jsonl
