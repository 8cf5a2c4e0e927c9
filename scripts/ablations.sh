#!/usr/bin/env bash
# The README's ablation table: `fintag eval` on a gold file (default data/test.jsonl) with
# the shipped decoder and with one decoding or input rule switched off per row. Prints Markdown.
# Usage: scripts/ablations.sh [GOLD.jsonl] [MODEL_DIR [BASE_DIR]]
# One model pass per row: about 6 minutes for the 18 rows on data/test.jsonl (2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
GOLD="${1:-data/test.jsonl}"
MODEL="${2:-models/fintag-de}"
BASE="${3:-models/base}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# one row per decoder: the `fintag eval` flags that switch a rule off | what that keeps
rows=(
  "|shipped decoder"
  "--entity-viterbi false|token-by-token tags from B+I label mass, an I after O opens a span"
  "--entity-viterbi false --entity-argmax|token-by-token plain argmax"
  "--no-unit-check|keep MONEY/PERCENT spans without a currency or percent unit"
  "--no-name-trim|keep leading lower-case words and trailing bare numbers in names, no dot after a surname initial"
  "--no-quoted-titles|keep a quoted product title as tagged instead of up to the closing quote"
  "--no-entity-snap|spans straight from tokens, no word widening / edge trimming"
  "--no-entity-merge|keep same-label pieces split by one space or hyphen apart"
  "--no-whole-addresses|keep entity spans inside web and e-mail addresses, let PROMO clause edges cut them"
  "--no-sign-join|leave a sign written before an amount out of its span"
  "--no-weekday-join|keep a weekday and the date after it as two DATE spans"
  "--no-whole-wkn|keep the pieces of a WKN written with a colon (\"WKN\" + \"716460\") as the model tagged them"
  "--show-addresses|the model reads web and e-mail addresses"
  "--no-shouting-fold|the model reads lines in capitals as written"
  "--read-invisible|the model reads soft hyphens and other invisible characters"
  "--read-emphasis|the model reads Markdown emphasis markers"
  "--read-quote-marks|the model reads the quote marks of mail replies"
  "--no-unwrap|every line break of hard-wrapped text ends a line"
  "--keep-small-letters|lines in small letters are read as written"
  "--keep-ascii-umlauts|words written without umlauts are read as written"
  "--keep-references|HTML character references are read as written"
  "--no-promo-sentences|raw token runs instead of per-sentence decisions"
  "--promo-threshold 0.5|PROMO spans also in documents the clickbait head does not flag"
)
echo "| decoder | entity micro-F1 (P / R) | PRODUCT F1 | PROMO char F1 | PROMO span F1 |"
echo "|---|---|---|---|---|"
for row in "${rows[@]}"; do
  flags="${row%%|*}"
  name="${row#*|}"
  if [ -n "$flags" ]; then name="\`$flags\` ($name)"; fi
  # shellcheck disable=SC2086 # the flags are meant to split
  target/release/fintag eval "$GOLD" --model "$MODEL" --base "$BASE" --json "$tmp/r.json" $flags >/dev/null
  python3 - "$tmp/r.json" "$name" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
m = r["entities_exact"]["micro"]
product = r["entities_exact"]["per_label"]["PRODUCT"]["f1"]
print(f"| {sys.argv[2]} | {m['f1']:.3f} ({m['precision']:.3f} / {m['recall']:.3f}) | {product:.3f} "
      f"| {r['promo_char']['f1']:.3f} | {r['promo_span_overlap']['f1']:.3f} |")
PY
done
