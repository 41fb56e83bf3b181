# bpfsig: the two entry points are `make demo` and `make test`.
BUILD      ?= build
BUILD_ASAN ?= build-asan
CMAKE_ARGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo
JOBS       ?= $(shell nproc)

.PHONY: all deps build demo test test-asan check bench fuzz clean install
.PHONY: fuzz-ci vm vm-report

# What the VM suite measured: each kernel's boot time and the errno table
# (the real kernel's answers, equal to verify --kernel's predictions).
vm-report:
	@if [ -x $(BUILD)/test_qemu ] && [ -d $(BUILD)/vm ] && [ ! -e $(BUILD)/vm/skipped ]; then \
	  for f in $(BUILD)/vm/*/boot-seconds; do \
	    echo "VM suite: Linux $$(basename $$(dirname $$f)): $$(wc -l < $$(dirname $$f)/results.jsonl) cases in one boot of $$(cat $$f) s"; \
	  done; \
	  $(BUILD)/test_qemu --gtest_brief=1 --gtest_filter='Qemu.VerifyPredictsEveryKernelAnswer' | grep '^|'; \
	  $(BUILD)/test_qemu --gtest_brief=1 --gtest_filter='Qemu.EnforceOverheadIsMeasured' | grep '^enforcer overhead'; \
	elif [ -e $(BUILD)/vm/skipped ]; then echo "VM suite skipped: $$(cat $(BUILD)/vm/skipped)"; fi

# The VM suite alone: boot the kernels of scripts/vm/kernels.list under QEMU (docs/vm-tests.md).
vm: build
	cd $(BUILD) && ctest --output-on-failure -R '^(qemu_suite|Qemu\.)'


all: build

deps:
	@./scripts/deps.sh

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja $(CMAKE_ARGS)

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	@./scripts/demo.sh $(BUILD)

# The whole suite, then again under AddressSanitizer + UBSan.
test: build
	@date -u +"%T test: the suite"
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	@$(MAKE) --no-print-directory vm-report
	@date -u +"%T test: the suite under ASan + UBSan"
	$(MAKE) test-asan
	@date -u +"%T test: the fuzz targets"
	$(MAKE) fuzz-ci
	@date -u +"%T test: done"

test-asan: deps
	cmake -S . -B $(BUILD_ASAN) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DBPFSIG_SANITIZE=ON -DBPFSIG_BENCH=OFF -DBPFSIG_VM_TESTS=OFF
	cmake --build $(BUILD_ASAN) -j $(JOBS)
	cd $(BUILD_ASAN) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS)

# cmake --install: PREFIX (default /usr/local) and DESTDIR as usual (docs/install.md).
PREFIX ?= /usr/local
install: build
	DESTDIR=$(DESTDIR) cmake --install $(BUILD) --prefix $(PREFIX)

bench: build
	$(BUILD)/bpfsig_bench

fuzz: deps
	cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang-14 \
	  -DCMAKE_CXX_COMPILER=clang++-14 -DBPFSIG_FUZZ=ON -DBPFSIG_TESTS=OFF -DBPFSIG_BENCH=OFF
	cmake --build build-fuzz -j $(JOBS)

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) build-fuzz

# Every fuzz/*.cpp target for FUZZ_SECONDS (default 30) over its seed corpus
# (fuzz/corpus/<target>/); any crash, leak or timeout fails (scripts/fuzz-ci.sh).
FUZZ_SECONDS ?= 30
fuzz-ci: fuzz
	FUZZ_SECONDS=$(FUZZ_SECONDS) ./scripts/fuzz-ci.sh build-fuzz
