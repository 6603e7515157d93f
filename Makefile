# Thin wrapper around CMake and the scripts in toolchains/, tests/ and bench/.
# Every target installs what it needs first (apt-get as root on Debian 12).

BUILD      ?= build
JOBS       ?= $(shell nproc)
DEPS        = $(shell toolchains/deps.sh --print-prefix)
CMAKE_ARGS ?=
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_CI_SECONDS ?= 30
FUZZ_TARGETS ?= kubeconfig hal rules kmsg docker report triage http promtext etcd apiserver manifest certs conf answer queue state keys control diagnose grpc cri httpapi
# The boards: 64-bit ARM (Pi 3/4/5 64-bit, Jetson) and ARMv7 (Pi OS 32-bit).
# cross-x86_64-linux-gnu is no board: the same static configuration for this
# machine, which bench/b_agent.sh (make bench) builds and measures beside
# the dynamic agent.
CROSS_TRIPLETS ?= aarch64-linux-gnu arm-linux-gnueabihf
# make install: which build goes into DESTDIR (a board's root file system).
TRIPLET ?= aarch64-linux-gnu

.PHONY: all deps build test demo cross package install bench fuzz fuzz-build soak format clean help board-test


all: build

help:
	@echo "make demo    install, build, reproduce incident 1 with real parts and diagnose it (root)"
	@echo "make test    install, build with ASan+UBSan, run every test, then every fuzz target FUZZ_CI_SECONDS (30)"
	@echo "make build   build the agent and the controller into $(BUILD)/host"
	@echo "make deps    install host packages, build the pinned dependencies, fetch the test tools"
	@echo "make fuzz    build the libFuzzer targets with clang, run each FUZZ_SECONDS (60)"
	@echo "make soak    the agent's run under mixed activity SOAK_SECONDS (1800) twice: optimised"
	@echo "             (RSS growth after warm-up <= 10 %), then ASan+LSan (exit 0, no leak)"
	@echo "make cross   static, stripped agent and controller for $(CROSS_TRIPLETS)"
	@echo "             into $(BUILD)/TRIPLET, and the agent's .deb (also: make package)"
	@echo "make board-test  the .deb of make cross installed and run under systemd in a Debian 12"
	@echo "             VM per board architecture (qemu-system, arm64 and armhf; image cached)"
	@echo "make install DESTDIR=/mnt/root [TRIPLET=arm-linux-gnueabihf]"
	@echo "             the agent, its unit (enabled) and config into a board's root"
	@echo "make bench | format | clean"

deps:
	toolchains/host-packages.sh
	toolchains/deps.sh
	toolchains/test-tools.sh

build: deps
	cmake -S . -B $(BUILD)/host -DFM_WERROR=ON -DFM_DEPS_PREFIX=$(DEPS) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS)
	cmake --build $(BUILD)/host -j $(JOBS)

# The cross builds first: their checks and qemu tests are part of the suite
# (registered when $(BUILD)/TRIPLET exists).
test: deps cross
	cmake -S . -B $(BUILD)/asan -DFM_WERROR=ON -DFM_DEPS_PREFIX=$(DEPS) -DFM_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug \
		-DFM_CROSS_BUILD=$(abspath $(BUILD)) $(CMAKE_ARGS)
	cmake --build $(BUILD)/asan -j $(JOBS)
	cd $(BUILD)/asan && ctest --output-on-failure --no-tests=error -j $(JOBS)
	$(MAKE) --no-print-directory fuzz-build
	tests/fuzz/run.sh $(BUILD)/fuzz $(FUZZ_CI_SECONDS) $(FUZZ_TARGETS)
	$(MAKE) --no-print-directory board-test

# The board in a box (tests/board/): per architecture in BOARD_ARCHS, a
# Debian 12 VM under qemu-system (software emulation, no network device)
# with systemd as PID 1 installs make cross's .deb and runs it under the
# shipped unit; the VM's image is built once into ~/.cache/fleetmedic/board.
# Results: $(BUILD)/board/ARCH/share/guest.log. Run after the other suites
# (it keeps both cores busy for minutes).
BOARD_ARCHS ?= arm64 armhf
board-test: cross
	toolchains/host-packages.sh
	@set -e; for a in $(BOARD_ARCHS); do tests/board/run.sh $$a $(BUILD) $(BUILD)/board/$$a; done

# Incident 1 from real parts (etcd, dockerd, journal files) watched by run,
# reported to a local controller: nodes, show, triage, check, the fix applied
# from the controller; everything started is stopped at the end
# (tests/harness/demo_incident1.c, the scenario tests' own set-up).
demo: build
	$(BUILD)/host/tests/fmh_demo $(BUILD)/host/firmware-agent/fleetmedic-agent \
		$(BUILD)/host/fleet-controller/fleetmedic-controller

# One static build per triplet (toolchains/TRIPLET.cmake, dependencies from
# toolchains/deps.sh TRIPLET), then its .deb with CPack.
cross: $(addprefix cross-,$(CROSS_TRIPLETS))
package: cross

cross-%:
	toolchains/host-packages.sh
	toolchains/deps.sh $*
	cmake -S . -B $(BUILD)/$* -DCMAKE_TOOLCHAIN_FILE=$(CURDIR)/toolchains/$*.cmake \
		-DFM_WERROR=ON -DFM_DEPS_PREFIX=$$(toolchains/deps.sh --print-prefix $*) -DFM_STATIC=ON -DFM_TESTS=OFF \
		-DCMAKE_BUILD_TYPE=MinSizeRel
	cmake --build $(BUILD)/$* -j $(JOBS)
	cd $(BUILD)/$* && cpack -G DEB >/dev/null && ls -1 $(abspath $(BUILD))/$*/*.deb

# Into a mounted Raspberry Pi OS or L4T root: no systemctl against a foreign
# root, the unit is enabled with the symlink systemctl would make.
install: cross-$(TRIPLET)
	@[ -n "$(DESTDIR)" ] || { echo "usage: make install DESTDIR=/mnt/root [TRIPLET=...]" >&2; exit 2; }
	toolchains/install-root.sh $(BUILD)/$(TRIPLET) $(DESTDIR)

# Every bench/b_*.sh against an optimised build; rewrites bench/RESULTS.md.
# BENCH_ONLY=flood,journal runs some of them and replaces only their sections.
bench: build
	bench/run.sh $(BUILD)/host

# One libFuzzer target per parser (tests/fuzz), built with clang into
# $(BUILD)/fuzz and run FUZZ_SECONDS each from its seed corpus; a crash fails.
# `make test` runs them too, FUZZ_CI_SECONDS each (CI runs only make test).
# Per target, the inputs tried and the corpus size: $(BUILD)/fuzz/fuzz-results.tsv.
fuzz: deps fuzz-build
	tests/fuzz/run.sh $(BUILD)/fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-build:
	cmake -S . -B $(BUILD)/fuzz -DCMAKE_C_COMPILER=$(FUZZ_CC) -DFM_FUZZ=ON \
		-DFM_WERROR=ON -DFM_DEPS_PREFIX=$(DEPS) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS)
	cmake --build $(BUILD)/fuzz -j $(JOBS) --target $(addprefix fuzz_,$(FUZZ_TARGETS))

# The agent's run under mixed activity (tests/soak/soak.c), SOAK_SECONDS
# long, twice: the optimised agent (RSS growth after warm-up at most 10 %),
# then the ASan+LSan build (no leak, no sanitizer report; its RSS, which
# counts ASan's own bookkeeping, is printed, not bounded). ctest runs the
# ASan one 90 s with the bound (label soak).
SOAK_SECONDS ?= 1800
soak: build
	cmake -S . -B $(BUILD)/asan -DFM_WERROR=ON -DFM_DEPS_PREFIX=$(DEPS) -DFM_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug $(CMAKE_ARGS)
	cmake --build $(BUILD)/asan -j $(JOBS) --target fm_soak
	SOAK_SECONDS=$(SOAK_SECONDS) FM_SOAK_BUILD=host FM_AGENT=$(abspath $(BUILD))/host/firmware-agent/fleetmedic-agent \
		FM_CONTROLLER=$(abspath $(BUILD))/host/fleet-controller/fleetmedic-controller \
		$(BUILD)/host/tests/fm_soak
	SOAK_SECONDS=$(SOAK_SECONDS) FM_SOAK_GROWTH_MAX=- FM_AGENT=$(abspath $(BUILD))/asan/firmware-agent/fleetmedic-agent \
		FM_CONTROLLER=$(abspath $(BUILD))/asan/fleet-controller/fleetmedic-controller \
		$(BUILD)/asan/tests/fm_soak

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD)
