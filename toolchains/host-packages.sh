#!/usr/bin/env bash
# Installs the Debian 12 packages fleetmedic's build, tests and demo need.
# Runs apt-get only when something is missing, so a second `make test` costs
# one dpkg-query. Needs root (as `make test` on a fresh machine is run).
set -euo pipefail

pkgs=(
  # build
  build-essential cmake pkg-config dpkg-dev bzip2 xz-utils ca-certificates
  # dependencies taken as Debian -dev packages (versions checked by deps.sh)
  libyaml-dev libsystemd-dev libsqlite3-dev libcmocka-dev
  # the CRI's gRPC (issue 22): HTTP/2 and protobuf, and protoc-c for the
  # C code of the CRI's messages, generated at build time
  libnghttp2-dev libprotobuf-c-dev protobuf-c-compiler
  # real servers and tools used by the tests and the demo
  etcd-server etcd-client openssl procps iproute2 python3
  # a real Docker engine (started privately by the tests), and busybox-static
  # for the root filesystem of the test image (`docker import`: no registry)
  docker.io busybox-static
  # a real containerd with its CRI plugin and runc (started privately by the
  # tests, tests/harness/fmh_containerd), and what the tests' independent CRI
  # client (tests/harness/cri_client.py) generates its gRPC stubs with
  containerd runc python3-grpcio python3-grpc-tools
  # journal files built from export-format fixtures; journalctl for the bench
  systemd-journal-remote systemd
  # real ext4 images on loop devices (mkfs, debugfs, losetup)
  e2fsprogs util-linux file
  # make cross: Debian's cross compilers and static C libraries, qemu-user for
  # the tests of the board builds, and what systemd's meson build of
  # libsystemd.a needs (toolchains/deps.sh TRIPLET)
  gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf libc6-dev-arm64-cross libc6-dev-armhf-cross
  qemu-user-static meson ninja-build gperf python3-jinja2
  # an independent CoAP/DTLS peer for the controller tests (coap-client-openssl)
  libcoap3-bin
  # make bench: the anchor started on loopback (bench/b_node_exporter.sh; on
  # a host booted with systemd its package also enables a service on :9100)
  # and captures of what goes over lo (bench/lib.sh bench_capture_*)
  prometheus-node-exporter tcpdump
  # the controller's HTTP side (issue 24): what the tests talk to it with
  # (curl), and what operators point at it: a real Prometheus and
  # Alertmanager, started privately by the tests on loopback (on a host
  # booted with systemd their packages also enable services on :9090/:9093)
  curl prometheus prometheus-alertmanager
  # and a real headless browser loading the fleet's pages (tests/integration/test_chromium.c)
  chromium fonts-dejavu-core
  # and one without JavaScript at all (the pages must work there too)
  w3m
  # make fuzz: clang and its runtimes (libclang_rt.fuzzer-x86_64.a is in libclang-rt-14-dev)
  clang libclang-rt-14-dev
  # the unit's sandbox checked against what the agent does (tests/check_unit.sh)
  strace
  # the board in a box (tests/board/): Debian arm64/armhf root file systems
  # built with mmdebstrap (arch-test: its foreign-architecture check; the
  # maintainer scripts run under qemu-user-static through binfmt_misc),
  # booted in qemu-system-aarch64/-arm, each run on a qcow2 overlay
  mmdebstrap arch-test qemu-system-arm qemu-utils
  # the controller's shared store (issue 28): libpq to build with, and a real
  # PostgreSQL 15 server the tests start privately (tests/harness/fmh_pg:
  # initdb into a temporary directory, a unix socket only); psql comes with
  # it (postgresql-client-15). Its package makes a cluster "main" of its own,
  # which nothing here uses (on a host booted with systemd, also started on
  # :5432)
  libpq-dev postgresql-15
)

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "host-packages.sh: missing packages: ${missing[*]}" >&2
    echo "host-packages.sh: run 'make deps' as root, or install them with apt-get" >&2
    exit 1
fi
echo "host-packages.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2
apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
