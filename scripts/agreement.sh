#!/usr/bin/env bash
# Inter-annotator agreement on the independently re-annotated 10% sample:
# data/agreement/second.ann (second annotator, same texts) is scored against the corpus gold
# with fintag's own metrics (entity exact-span F1, PROMO character F1, sentiment).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=target/release/fintag
tmp=$(mktemp -d)
$BIN data import --from ann data/agreement/second.ann --out "$tmp/second.jsonl" 2>/dev/null
python3 - "$tmp/second.jsonl" "$tmp/pred.jsonl" "$tmp/ids" <<'PY'
import json, sys
with open(sys.argv[2], "w") as out, open(sys.argv[3], "w") as ids:
    for line in open(sys.argv[1]):
        d = json.loads(line)
        ids.write(d["id"] + "\n")
        probs = {"positive": 0.0, "negative": 0.0, "neutral": 0.0}
        probs[d["sentiment"]] = 1.0
        out.write(json.dumps({"id": d["id"], "sentiment": d["sentiment"], "sentiment_scores": probs,
            "clickbait": 1.0 if d["clickbait"] else 0.0,
            "sentences": [dict(s, score=1.0) for s in d["sentences"]],
            "spans": [dict(s, score=1.0, text=d["text"][s["start"]:s["end"]]) for s in d["spans"]]}, ensure_ascii=False) + "\n")
PY
cat data/train.jsonl data/dev.jsonl data/test.jsonl | grep -F -f <(sed 's/.*/"id": "&"/; s/"id": "/"id":"/' "$tmp/ids") > "$tmp/gold.jsonl" || true
$BIN eval "$tmp/gold.jsonl" --pred "$tmp/pred.jsonl"
rm -rf "$tmp"
