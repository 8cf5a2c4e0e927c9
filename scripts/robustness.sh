#!/usr/bin/env bash
# How the shipped model holds up when the same documents are written differently: the
# variants of scripts/perturb.py (links, capitals, soft hyphens, no-break spaces, Windows
# line ends, typewriter quotes, Markdown bold, wrapped lines, small letters, quoted mail,
# double spaces, umlauts written in ASCII, decomposed accents, HTML character references)
# of the gold
# documents, each scored with the shipped input rules and, where a rule exists for it, with
# that rule switched off. Prints Markdown.
# Usage: scripts/robustness.sh [GOLD.jsonl...]   (default: data/test.jsonl and the
# held-back documents, target/held-back.jsonl, which `make eval-held-back` writes)
# One model pass per row: about 14 minutes for the 23 rows on the 128 default documents.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -gt 0 ]; then GOLD=("$@"); else GOLD=(data/test.jsonl target/held-back.jsonl); fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat "${GOLD[@]}" > "$tmp/as-written.jsonl"
# variant | the `fintag eval` flag that switches its input rule off (empty: no rule)
rows=(
  "as-written|"
  "links|--show-addresses"
  "caps-headline|--no-shouting-fold"
  "soft-hyphen|--read-invisible"
  "nbsp|"
  "crlf|"
  "quotes|"
  "bold|--read-emphasis"
  "wrap72|--no-unwrap"
  "lowercase|--keep-small-letters"
  "quoted-mail|--read-quote-marks"
  "double-space|"
  "ascii-umlauts|--keep-ascii-umlauts"
  "nfd|"
  "html-entities|--keep-references"
)
echo "| text | input rules | entity micro-F1 | PROMO char F1 | sentence macro-F1 | document macro-F1 | clickbait F1 at 0.5 |"
echo "|---|---|---|---|---|---|---|"
for row in "${rows[@]}"; do
  name="${row%%|*}"
  flag="${row#*|}"
  if [ "$name" != as-written ]; then scripts/perturb.py "$name" "$tmp/$name.jsonl" "$tmp/as-written.jsonl" 2>/dev/null; fi
  for f in "" $flag; do
    target/release/fintag eval "$tmp/$name.jsonl" --json "$tmp/r.json" $f >/dev/null
    python3 - "$tmp/r.json" "$name" "${f:-shipped}" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
cells = [r["entities_exact"]["micro"]["f1"], r["promo_char"]["f1"], r["sentence_sentiment"]["macro_f1"],
         r["document_sentiment"]["macro_f1"], r["clickbait"]["at_threshold"]["f1"]]
rules = sys.argv[3] if sys.argv[3] == "shipped" else f"`{sys.argv[3]}`"
print(f"| {sys.argv[2]} | {rules} | " + " | ".join(f"{x:.3f}" for x in cells) + " |")
PY
  done
done
