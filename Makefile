# align's build, test, benchmark, fuzz and lint targets. `make help` lists them.
SHELL    := /bin/bash
GO       ?= go
BIN      ?= bin/align
FUZZTIME ?= 30s
PKGS     ?= ./...

.PHONY: help build test test-short bench fuzz lint mutate ollama-start ollama-stop clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

build: ## build bin/align (the SIMD kernels are in a plain go build)
	$(GO) build -o $(BIN) ./cmd/align

test: ## go vet plus every test, with a real Ollama server (built and started by scripts/ollama.sh)
	bash scripts/test.sh

test-short: ## unit tests only, no server needed
	ALIGN_SKIP_OLLAMA=1 ALIGN_SKIP_CHROMIUM=1 ALIGN_SKIP_NODE=1 $(GO) test -short $(PKGS)

bench: ## go benchmarks, then `align bench kernels`
	$(GO) test -run '^$$' -bench . -benchtime 200ms $(PKGS)
	$(GO) run ./cmd/align bench kernels

fuzz: ## run every fuzz target for FUZZTIME each (e.g. make fuzz FUZZTIME=5m)
	bash scripts/fuzz.sh $(FUZZTIME)

# Mutation testing (docs/benchmarks.md, "Mutation testing"): gremlins, efficacy gates 97% on
# objectives/ and 95% on pairs/. A large timeout coefficient keeps a mutant's compile from
# counting as a time-out on a loaded machine.
GREMLINS        ?= $(shell $(GO) env GOPATH)/bin/gremlins
MUTATE_WORKERS  ?= 2
MUTATE_TIMEOUT  ?= 60
MUTATE_FLAGS     = --workers $(MUTATE_WORKERS) --test-cpu 1 --timeout-coefficient $(MUTATE_TIMEOUT)

mutate: ## mutation testing of objectives/ and pairs/ with gremlins (pairs/ against a real Ollama server)
	GREMLINS="$(GREMLINS)" MUTATE_FLAGS="$(MUTATE_FLAGS)" bash scripts/mutate.sh

lint: ## gofmt, go vet, and a check that generated assembly is current
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	@tmp=$$(mktemp -d); trap 'rm -rf $$tmp' EXIT; \
	  (cd kernels/internal/asmgen && $(GO) run . -out $$tmp/simd_amd64.s -stubs $$tmp/simd_stub_amd64.go -pkg kernels) || exit 1; \
	  for f in simd_amd64.s simd_stub_amd64.go; do \
	    cmp -s <(tail -n +2 $$tmp/$$f) <(tail -n +2 kernels/$$f) || { echo "kernels/$$f is stale: run go generate ./kernels"; exit 1; }; \
	  done

ollama-start: ## build (cached) and start a local Ollama on 127.0.0.1:11434 with the test models
	bash scripts/ollama.sh start

ollama-stop: ## stop the server started by ollama-start
	bash scripts/ollama.sh stop

clean:
	rm -rf bin
