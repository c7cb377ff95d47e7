# pushlab: build, test, experiments and benchmarks. Every target installs what it needs first, so
# a fresh clone can run `make run-experiment` or `make test` directly.

SCENARIO ?= default
VITEST_ARGS ?=
NODE ?= node

INSTALL_STAMP := node_modules/.pushlab-installed
GENERATED := src/gen/pushlab.js

.PHONY: all install build typecheck test run-experiment bench clean

all: build

$(INSTALL_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

$(GENERATED): proto/pushlab.proto $(INSTALL_STAMP)
	$(NODE) scripts/gen-proto.mjs

install: $(INSTALL_STAMP) $(GENERATED)

build: install
	npx tsc -p tsconfig.json

typecheck: build

test: build
	npx vitest run $(VITEST_ARGS)

run-experiment: install
	$(NODE) --import tsx src/experiment/main.ts --scenario experiments/$(SCENARIO).json

bench: install
	$(NODE) --import tsx bench/run-all.ts

clean:
	rm -rf src/gen results .tmp
