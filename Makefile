# pushlab: build, test, experiments and benchmarks. Every target installs what it needs first, so
# a fresh clone can run `make run-experiment` or `make test` directly.

SCENARIO ?= default
VITEST_ARGS ?=
NODE ?= node

INSTALL_STAMP := node_modules/.pushlab-installed
GENERATED := src/gen/pushlab.js
# The TUN addon of the packet-level emulator; built with npm's bundled node-gyp against the
# installed Node headers, so no download is needed.
NATIVE := native/tun/build/Release/pushlab_tun.node

.PHONY: all install build native typecheck test run-experiment bench clean

all: build

# npm ci refuses this lock file: @matrixai/quic lists macOS and Windows binaries at versions the
# registry does not have, so they are absent from the lock. npm install follows the lock for
# everything else and leaves it unchanged.
$(INSTALL_STAMP): package.json package-lock.json
	npm install --no-audit --no-fund
	@touch $@

$(GENERATED): proto/pushlab.proto $(INSTALL_STAMP)
	$(NODE) scripts/gen-proto.mjs

install: $(INSTALL_STAMP) $(GENERATED)

$(NATIVE): native/tun/binding.gyp $(wildcard native/tun/src/*)
	npm run build --prefix native/tun

native: $(NATIVE)

build: install native
	npx tsc -p tsconfig.json

typecheck: build

test: build
	npx vitest run $(VITEST_ARGS)

# The packet-level backend is optional for experiments: without the addon they use the relay.
run-experiment: install
	-@$(MAKE) --no-print-directory native
	$(NODE) --import tsx src/experiment/main.ts --scenario experiments/$(SCENARIO).json

bench: install
	$(NODE) --import tsx bench/run-all.ts

clean:
	rm -rf src/gen results .tmp native/tun/build
