# Thin wrapper around CMake and the scripts in toolchains/, tests/ and bench/.
# Every target installs what it needs first (apt-get as root on Debian 12).

BUILD      ?= build
JOBS       ?= $(shell nproc)
DEPS        = $(shell toolchains/deps.sh --print-prefix)
CMAKE_ARGS ?=

.PHONY: all deps build test demo cross bench fuzz format clean help

all: build

help:
	@echo "make demo    install, build, run the local demo (real etcd + fleetmedic-agent)"
	@echo "make test    install, build with ASan+UBSan, run every test"
	@echo "make build   build the agent and the controller into $(BUILD)/host"
	@echo "make deps    install host packages and build the pinned dependencies"
	@echo "make cross | bench | fuzz | format | clean"

deps:
	toolchains/host-packages.sh
	toolchains/deps.sh

build: deps
	cmake -S . -B $(BUILD)/host -DFM_DEPS_PREFIX=$(DEPS) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS)
	cmake --build $(BUILD)/host -j $(JOBS)

test: deps
	cmake -S . -B $(BUILD)/asan -DFM_DEPS_PREFIX=$(DEPS) -DFM_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug $(CMAKE_ARGS)
	cmake --build $(BUILD)/asan -j $(JOBS)
	cd $(BUILD)/asan && ctest --output-on-failure --no-tests=error -j $(JOBS)

demo: build
	tests/harness/demo.sh $(BUILD)/host/firmware-agent/fleetmedic-agent

cross:
	@echo "make cross: the static aarch64/armhf builds are not implemented yet (issue 9)" >&2; exit 2

bench:
	@echo "make bench: the benchmarks are not implemented yet (issue 10)" >&2; exit 2

fuzz:
	@echo "make fuzz: the fuzz targets are not implemented yet (issue 11)" >&2; exit 2

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD)
