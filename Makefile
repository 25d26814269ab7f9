# Entry points; see README.md. Every target installs what it needs first.

# cargo's target directory lives outside _build, so `dune clean` does not
# throw away the (slow) libsql build.
export TURSO_CARGO_TARGET_DIR ?= $(CURDIR)/rust/target
export PATH := $(HOME)/.cargo/bin:$(PATH)

DUNE = dune

.PHONY: all deps build demo test test-ocaml5 bench bench-remote bench-synced bench-encryption clean release test-release

all: build

deps:
	@sh tools/install-deps.sh

build: deps
	$(DUNE) build

demo: build
	$(DUNE) exec -- ./bin/demo.exe

# The synced-mode tests need tursodb: installed (pinned, hash-checked) into
# a cache outside the repository; without it they say so (fail under CI).
test: deps
	TURSODB_BIN="$$(sh tools/install-tursodb.sh)" $(DUNE) build @runtest --force

# The same tests under OCaml 5.3, in a Debian 13 root (needs root; see the
# script). CI runs both.
test-ocaml5:
	bash tools/ocaml5-leg.sh

# The release profile, as opam builds the package: the dev profile compiles
# with -opaque (no cross-module inlining), which would understate the OCaml side.
# bench/rusqlite is a Cargo package of its own (plain SQLite, the ceiling
# for any binding): its crates stay out of the stub's lock file and the
# release archive.
bench: deps
	cd rust && cargo build --release --locked --features native-bench --bin native_bench \
	  --target-dir "$(TURSO_CARGO_TARGET_DIR)"
	cd bench/rusqlite && cargo build --release --locked --target-dir "$(TURSO_CARGO_TARGET_DIR)/rusqlite-bench"
	$(DUNE) build --profile release ./bench/bench.exe
	./_build/default/bench/bench.exe all \
	  --native "$(TURSO_CARGO_TARGET_DIR)/release/native_bench" \
	  --rusqlite "$(TURSO_CARGO_TARGET_DIR)/rusqlite-bench/release/rusqlite_bench"

# Against a running sqld (or Turso) at SQLD_URL, e.g.
#   make bench-remote SQLD_URL=http://127.0.0.1:8080
bench-remote: deps
	@test -n "$(SQLD_URL)" || { echo "set SQLD_URL to the server's http:// URL"; exit 2; }
	cd rust && cargo build --release --locked --features native-bench --bin native_bench \
	  --target-dir "$(TURSO_CARGO_TARGET_DIR)"
	$(DUNE) build --profile release ./bench/bench.exe
	./_build/default/bench/bench.exe remote "$(SQLD_URL)" \
	  --native "$(TURSO_CARGO_TARGET_DIR)/release/native_bench"

# Synced databases (#16) against tursodb --sync-server and sqld, both
# already running (tools/install-tursodb.sh prints the tursodb path):
#   make bench-synced SYNCED_URL=http://127.0.0.1:8081 SQLD_URL=http://127.0.0.1:8080
bench-synced: deps
	@test -n "$(SYNCED_URL)" -a -n "$(SQLD_URL)" || { echo "set SYNCED_URL (tursodb) and SQLD_URL (sqld)"; exit 2; }
	cd rust && cargo build --release --locked --features native-bench --bin native_bench \
	  --target-dir "$(TURSO_CARGO_TARGET_DIR)"
	$(DUNE) build --profile release ./bench/bench.exe
	./_build/default/bench/bench.exe synced "$(SYNCED_URL)" "$(SQLD_URL)" \
	  --native "$(TURSO_CARGO_TARGET_DIR)/release/native_bench"

# Encryption's cost on the local workloads: plain vs encrypted file,
# interleaved rounds.
bench-encryption: deps
	$(DUNE) build --profile release ./bench/bench.exe
	./_build/default/bench/bench.exe encryption --runs 7

clean:
	$(DUNE) clean

VERSION := $(shell sed -n 's/^(version \(.*\))$$/\1/p' dune-project)

# The source archive for opam, with the crates vendored (tools/release.sh),
# and the proof that it builds offline and installs (tools/test-release.sh).
release:
	sh tools/release.sh $(VERSION)

test-release: deps release
	sh tools/test-release.sh _release/turso-$(VERSION).tar.gz
