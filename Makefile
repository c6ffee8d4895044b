# Two commands set up a fresh Debian 12 machine (as root) and use it:
#   make demo   install what is missing, build, run the demo one-shot job on 2 ranks
#   make test   install what is missing, build, run the whole suite through CTest
#   make test-sanitize   the whole suite under AddressSanitizer + UBSan (build-asan)
#   make test-valgrind   the serial unit tests under valgrind memcheck
#   make fuzz            the libFuzzer harnesses, FUZZ_SECONDS each (clang, build-fuzz)
# Other targets: deps, build, install, bench, clean. docs/hardening.md explains
# the hardening targets and what CI runs.

BUILD_DIR ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

# Debian 12 packages the build, the tests and the demo need. Node.js and npm
# (for ONNX Runtime, the reference runtime of the tests) come from Debian only
# when the machine has no node/npm already: Debian's npm conflicts with a
# Node.js installed from elsewhere.
DEB_PACKAGES = build-essential cmake pkg-config libopenmpi-dev openmpi-bin \
  libprotobuf-c-dev protobuf-c-compiler libhdf5-openmpi-dev hdf5-tools zlib1g-dev \
  libzip-dev libopenblas-dev libcunit1-dev libonnx-dev libonnx-testdata libjansson-dev \
  python3-numpy python3-onnx clang-14 libclang-rt-14-dev valgrind \
  slurmctld slurmd slurm-client munge dataset-fashion-mnist

export OMPI_ALLOW_RUN_AS_ROOT = 1
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM = 1
export OMPI_MCA_rmaps_base_oversubscribe = 1

ASAN_BUILD_DIR ?= build-asan
FUZZ_BUILD_DIR ?= build-fuzz
FUZZ_SECONDS ?= 20
# FUZZ_RUNS=N (with FUZZ_SEED, default 1): N inputs per harness, reproducibly.
FUZZ_RUNS ?=
FUZZ_SEED ?=
# Extra ctest flags for make fuzz, e.g. -R fuzz_onnx to run one harness.
FUZZ_CTEST_FLAGS ?=

.PHONY: all deps build test demo install bench clean test-sanitize test-valgrind fuzz

all: build

deps:
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q "ok installed" || echo $$p; done); \
	command -v node >/dev/null 2>&1 || missing="$$missing nodejs"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:" $$missing; \
	  apt-get -o DPkg::Lock::Timeout=600 update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $$missing; \
	else echo "Debian packages: all present"; fi
	@tools/setup_ort.sh

build:
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: deps build
	cd $(BUILD_DIR) && ctest --output-on-failure -j 2 --timeout 900

# Pass 1 runs everything with leak checking off (Open MPI leaks in every MPI
# program); pass 2 repeats the unit tests with it on.
test-sanitize: deps
	cmake -S . -B $(ASAN_BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSPARSIFY_SANITIZE=ON $(CMAKE_FLAGS)
	cmake --build $(ASAN_BUILD_DIR) -j $(JOBS)
	@# Pass 1: everything, leak checking off (Open MPI leaks in every MPI program).
	cd $(ASAN_BUILD_DIR) && \
	  ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:allocator_may_return_null=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j 2 --timeout 1200 -LE 'slurm|fuzz'
	@# Pass 2: the unit tests that never start MPI, with leak checking on.
	@# (unit_calib and unit_cli start MPI: LSan cannot name the dlclose'd Open
	@# MPI components their start-up leaks come from; test-valgrind checks
	@# those two for leaks with named suppressions instead.)
	cd $(ASAN_BUILD_DIR) && \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:allocator_may_return_null=1 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/sanitize/lsan.supp \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j 2 -R '^unit_' -E '^unit_(calib|cli)$$'

# Its own build without -march=native: valgrind 3.19 cannot decode the AVX-512
# instructions gcc emits for this CPU (SIGILL under valgrind).
VALGRIND_BUILD_DIR ?= build-valgrind
test-valgrind: deps
	cmake -S . -B $(VALGRIND_BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSPARSIFY_NATIVE=OFF $(CMAKE_FLAGS)
	cmake --build $(VALGRIND_BUILD_DIR) -j $(JOBS)
	tests/sanitize/valgrind.sh $(VALGRIND_BUILD_DIR)

fuzz: deps
	CC=clang-14 CXX=clang++-14 cmake -S . -B $(FUZZ_BUILD_DIR) -DCMAKE_BUILD_TYPE=Release -DSPARSIFY_FUZZ=ON \
	  -DSPARSIFY_FUZZ_SECONDS=$(FUZZ_SECONDS) $(CMAKE_FLAGS)
	cmake --build $(FUZZ_BUILD_DIR) -j $(JOBS) --target fuzz_onnx fuzz_npz fuzz_ckpt seed_ckpt
	cd $(FUZZ_BUILD_DIR) && FUZZ_RUNS=$(FUZZ_RUNS) FUZZ_SEED=$(FUZZ_SEED) ctest --output-on-failure -L fuzz $(FUZZ_CTEST_FLAGS)

# Level 0.5: about 51% sparsity plus INT8; one-shot prints the fidelity summary
# (dense vs compressed on the held-out samples), then eval scores both models
# on the demo's labelled samples side by side.
demo: deps build
	OPENBLAS_NUM_THREADS=1 mpirun -np 2 $(BUILD_DIR)/sparsify one-shot \
	  --use-case image_classification --zoo demo --model fashion-cnn --data fashion-cnn \
	  --optim-level 0.5 --output demo-output
	OPENBLAS_NUM_THREADS=1 $(BUILD_DIR)/sparsify eval -q --zoo demo --model fashion-cnn --data fashion-cnn \
	  --labels demo/fashion-cnn/labels.npy --compare demo-output/model.onnx
	@echo "demo output: demo-output/model.onnx demo-output/report.json"

install: build
	cmake --install $(BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR)
