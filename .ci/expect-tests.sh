#!/usr/bin/env bash
# .ci/expect-tests.sh BUILD_DIR: fails unless every test group that must run
# is registered in BUILD_DIR's ctest (a group that silently did not register
# -- the board builds missing, a harness not built -- would otherwise pass
# as "nothing failed"). Prints what it counted.
#   CTEST_LIST: the command that lists the tests (default "ctest -N"); a
#   throwaway value shows this script failing (see issue 26's note).
set -euo pipefail
build=${1:?usage: .ci/expect-tests.sh BUILD_DIR}
list=$(cd "$build" && ${CTEST_LIST:-ctest -N} | sed -n 's/^ *Test *#[0-9]*: //p')
status=0
need() { # PATTERN MIN WHAT
    local n
    n=$(grep -cE "$1" <<<"$list" || true)
    if [ "$n" -lt "$2" ]; then
        echo ".ci/expect-tests: $3: $n registered, at least $2 expected ($1)" >&2
        status=1
    else
        echo ".ci/expect-tests: $3: $n"
    fi
}
need '^unit/' 20 "unit tests"
need '^integration/' 25 "integration tests"
need '^integration/test_incident(1|2)$' 2 "the incidents' scenarios"
need '^integration/test_incident1_fleet$' 1 "the fleet scenario"
need '^fault/' 10 "fault tests"
need '^fuzz-replay/' 22 "fuzz corpus replays"
need '^cross/qemu/' 2 "board builds under qemu"
need '^cross/(static|deps|package|install)/' 8 "board build checks"
need '^check/' 5 "build checks"
need '_pg$' 11 "the controller's tests on PostgreSQL (issue 28)"
need '^(integration/test_peers|fault/test_fault_pg_restart|fault/test_fault_serve_failover|integration/test_failover)$' 4 \
    "several serves and agents failing over (issue 28)"
exit $status
