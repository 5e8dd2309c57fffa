# Paymetrics — every command a developer or CI needs. `make serve` and `make test` install what
# they need on a fresh machine (Debian, root or sudo, with rustup, node and python3).
SHELL := /bin/bash
.DEFAULT_GOAL := help

WASM_BINDGEN_VERSION := 0.2.130
PORT ?= 8080
CARGO_BIN := $(HOME)/.cargo/bin
export PATH := $(CARGO_BIN):$(CURDIR)/node_modules/.bin:$(PATH)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
WASM_TARGET := target/wasm32-unknown-unknown/wasm/paymetrics.wasm

.PHONY: help serve test dist wasm cli docs setup setup-rust setup-test screenshot test-rust test-wasm test-native test-browser test-oracle test-sql test-spark test-e2e test-fuzz fuzz setup-fuzz lint bench clean

help:
	@echo "make serve   build the page with the sample loaded and serve it on http://localhost:$(PORT)/"
	@echo "make test    run every test (Rust core, wasm boundary, DuckDB oracle, SQL export, browser end-to-end, fuzz)"
	@echo "make fuzz    fuzz the ingestion path and the formula language, FUZZ_SECONDS (300) each"
	@echo "make dist    build the static site into dist/"
	@echo "make cli     build the native CLI into target/release/paymetrics"

## ---- set-up: idempotent, installs only what is missing -------------------------------------
setup: setup-rust node_modules/.package-lock.json

# The wasm-bindgen CLI must match the wasm-bindgen crate pinned in Cargo.toml exactly.
# (Not --locked: its lock file pins a crate version that crates.io no longer serves.)
setup-rust:
	@rustup target list --installed | grep -qx wasm32-unknown-unknown || \
	  rustup target add wasm32-unknown-unknown
	@if [ "$$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $(WASM_BINDGEN_VERSION)" ]; then \
	  cargo install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION); fi

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

setup-test: setup
	@[ -x /usr/bin/chromium ] || ($(SUDO) apt-get update && $(SUDO) apt-get install -y chromium)
	@python3 -c "import duckdb" 2>/dev/null || python3 -m pip install --quiet duckdb

## ---- build -------------------------------------------------------------------------------------
cli:
	cargo build --release

# The time zones the page offers (TZ_NAMES in www/src/main.js: keep the two lists together), ~0.45 KB
# gzip each; any other zone is one of the page's UTC offsets. The CLI keeps the whole database.
# Etc/ and UTC forms are always kept by chrono-tz. (Session 7 cut ~85 zones the page never offered
# to make room for custom metrics and share links under the first-load budget: docs/size.md.)
TZ_FILTER := ^(UTC|GMT|Etc/.*|Asia/(Shanghai|Hong_Kong|Singapore|Kolkata)|Europe/(London|Berlin)|America/(New_York|Los_Angeles|Sao_Paulo)|Australia/Sydney)$$

# wasm-opt is npm's binaryen (package.json, installed by `npm ci`). Plain -Oz shrinks the raw file
# but grows it by ~23 KB under gzip; without inlining single-caller functions and packing memory
# segments it saves a little instead. Sizes and commands: docs/size.md.
WASM_OPT := -Oz --one-caller-inline-max-function-size=0 --skip-pass=memory-packing \
  --enable-simd --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
  --enable-mutable-globals

# The speed build (profile wasm-fast, opt-level 2) goes to www/pkg-fast with its own glue: the
# worker fetches it only when a large file is loaded, or the SQL panel is first opened (it alone
# has the SQL export, feature sql), so it is not part of the first load. No
# wasm-opt: its -O2, -O3 or -Oz made it no faster in Chromium and ~5 KB larger under gzip (and
# cost CI half a minute). Measurements: docs/size.md, "The speed build".
WASM_FAST_TARGET := target/wasm32-unknown-unknown/wasm-fast/paymetrics.wasm

# --no-default-features: no CLI, and no legacy-encoding tables (the worker decodes GB18030 with
# the browser's TextDecoder when the core asks it to; see src/ingest.rs). The two profiles have
# their own directories under target/, so each stays cached.
WASM_CARGO := CHRONO_TZ_TIMEZONE_FILTER='$(TZ_FILTER)' RUSTFLAGS="-C target-feature=+simd128" \
  cargo build --lib --target wasm32-unknown-unknown --no-default-features
WASM_BINDGEN := wasm-bindgen --target web --no-typescript --remove-name-section --remove-producers-section

wasm: setup
	$(WASM_CARGO) --profile wasm
	$(WASM_BINDGEN) $(WASM_TARGET) --out-dir www/pkg
	wasm-opt $(WASM_OPT) www/pkg/paymetrics_bg.wasm -o www/pkg/paymetrics_bg.wasm
	$(WASM_CARGO) --profile wasm-fast --features parts,sql,stream
	$(WASM_BINDGEN) $(WASM_FAST_TARGET) --out-dir www/pkg-fast --out-name paymetrics_fast

dist: wasm
	vite build

serve: dist
	vite preview --port $(PORT) --strictPort

## ---- tests -------------------------------------------------------------------------------------
# Two chains side by side: the native checks, and the page (its two release wasm builds, then the
# browser tests). Each chain is mostly one busy core at a time (linking, LTO, one test process), so
# on a 2-core machine the pair takes ~the time of the longer one instead of their sum. -Otarget
# prints each step's output in one piece when it ends.
test: setup-test
	$(MAKE) --no-print-directory -j2 -Otarget test-native test-browser

test-native:
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory test-rust
	$(MAKE) --no-print-directory test-wasm
	$(MAKE) --no-print-directory test-oracle
	$(MAKE) --no-print-directory test-sql
	$(MAKE) --no-print-directory test-fuzz

test-browser: test-e2e

lint:
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings

test-rust:
	cargo test

test-wasm: setup-rust
	CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
	  cargo test --target wasm32-unknown-unknown --no-default-features --features stream --test wasm

# `cargo build --tests`, not `cargo build`: the binary `cargo test` built already (with the features
# the dev-dependencies unify), instead of a second build of every dependency (~1 min on a clean clone).
test-oracle:
	cargo build --tests
	python3 tests/oracle/duckdb_oracle.py --selftest
	python3 tests/oracle/duckdb_oracle.py target/debug/paymetrics target/oracle

# The SQL export, verified by running it: the DuckDB script of several views of a generated file
# and of the fixtures, executed with DuckDB, must give the report's numbers (docs/sql.md).
test-sql:
	cargo build --tests
	python3 tests/oracle/sql_check.py target/debug/paymetrics target/sql-check

# Optional, not part of `make test`: the Spark SQL script of a few views run with pyspark (local,
# one core; needs Java 17+), compared the same way. Installs pyspark (~300 MB) when missing.
test-spark:
	cargo build
	@java -version >/dev/null 2>&1 || { echo "test-spark needs Java (apt-get install default-jre-headless)"; exit 1; }
	@python3 -c "import pyspark" 2>/dev/null || python3 -m pip install --quiet pyspark
	python3 tests/oracle/sql_check.py --engine=spark target/debug/paymetrics target/sql-check-spark

test-e2e: setup-test dist
	node --test tests/e2e/

# Fuzzing (fuzz/, cargo fuzz: libFuzzer on nightly) of the ingestion path (bytes -> table ->
# report) and of the formula language (parser, planner, evaluation); seeds: the fixtures in
# tests/data and fuzz/seeds/formula. `make fuzz` runs each target FUZZ_SECONDS (default 5 min);
# `make test` runs each for 20 s. A crash is saved under fuzz/artifacts/TARGET/ and the target
# fails: reproduce it with `cargo +nightly fuzz run -O -a -s none TARGET FILE` and make it a
# regression test in the core (the first: `a_character_cut_by_a_delimiter_is_replaced_not_joined`).
# -s none: no AddressSanitizer. The core has no unsafe code, and without it the build takes half
# the time and runs ~2x the inputs; -a keeps debug assertions and overflow checks on.
FUZZ_SECONDS ?= 300
FUZZ_TARGETS := ingest formula
FUZZ_SEEDS_ingest := tests/data
FUZZ_SEEDS_formula := fuzz/seeds/formula
FUZZ_MAX_LEN_ingest := 65536
FUZZ_MAX_LEN_formula := 4096

setup-fuzz:
	@cargo +nightly --version >/dev/null 2>&1 || rustup toolchain install nightly --profile minimal
	@cargo fuzz --version >/dev/null 2>&1 || cargo install cargo-fuzz --version 0.13.2

fuzz: setup-fuzz
	cargo +nightly fuzz build -O -a -s none
	@for target in $(FUZZ_TARGETS); do $(MAKE) --no-print-directory fuzz-$$target || exit 1; done

fuzz-%:
	@mkdir -p fuzz/corpus/$*
	cargo +nightly fuzz run -O -a -s none $* fuzz/corpus/$* $(FUZZ_SEEDS_$*) -- \
	  -max_total_time=$(FUZZ_SECONDS) -max_len=$(FUZZ_MAX_LEN_$*) -print_final_stats=1 2>&1 | \
	  grep -vE '^#[0-9]+ +(NEW|REDUCE|pulse)'; exit $${PIPESTATUS[0]}

test-fuzz:
	$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=20

# Refreshes the README's picture of the page with the sample loaded.
screenshot: setup-test dist
	@fc-list :lang=zh | grep -q . || ($(SUDO) apt-get install -y fonts-noto-cjk)
	PAYMETRICS_SCREENSHOT=docs/screenshot.png node --test tests/e2e/

# docs/metrics.md is generated from the metric catalog (a test fails when it is stale).
docs:
	cargo run --quiet -- metrics > docs/metrics.md

## ---- benchmark (issue 5): timings are printed and recorded, never asserted ------------------------
# Paymetrics vs DuckDB-WASM on the core dashboard in one headless Chromium page, plus the tokenise
# floor (bench/floor: csv-core in wasm); fails if the two engines' numbers differ. Then the 1.1 GB,
# 8M-row file dropped on the page (bench/big.mjs: streamed, timed, its wasm memory; its totals
# compared with `paymetrics report --stream`; BENCH_BIG=0 skips it). Writes bench/results.json. The
# datasets (~1.3 GB, git-ignored) are generated once.
bench: setup-test cli dist
	@[ -f bench/data/100k/transactions.csv ] || \
	  target/release/paymetrics gen --rows 100000 --seed 1 --out bench/data/100k
	@[ -f bench/data/1m/transactions.csv ] || \
	  target/release/paymetrics gen --rows 1000000 --seed 1 --out bench/data/1m
	RUSTFLAGS="-C target-feature=+simd128" cargo build --release --locked --target wasm32-unknown-unknown \
	  --manifest-path bench/floor/Cargo.toml --target-dir target/bench-floor
	node bench/run.mjs
	@[ "$(BENCH_BIG)" = 0 ] || [ -f bench/data/8m/transactions.csv ] || \
	  target/release/paymetrics gen --rows 8000000 --seed 3 --out bench/data/8m
	node bench/big.mjs

clean:
	rm -rf target dist www/pkg www/pkg-fast node_modules
