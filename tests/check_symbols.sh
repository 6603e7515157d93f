#!/usr/bin/env bash
# Every symbol our libraries export carries its module prefix (STYLE.md 12):
# fm_ for the agent, hal_ for hal/, fc_ for the controller. A missing `static` shows up here.
set -euo pipefail
status=0
for lib in "$@"; do
    case "$(basename "$lib")" in
        libhal.a) re='^(hal_|board_)' ;;
        libfccontroller.a) re='^fc_' ;;
        *) re='^(fm_|fmh_)' ;;
    esac
    # ASan adds an ODR indicator "__odr_asan.<name>" beside every exported
    # variable: the name after the dot is what is checked.
    bad=$(nm --defined-only -g "$lib" | awk 'NF == 3 && $2 ~ /[TDBRC]/ { print $3 }' |
          sed 's/^__odr_asan\.//' |
          grep -Ev "$re" || true)
    if [ -n "$bad" ]; then
        echo "$(basename "$lib"): exported symbols without the prefix:" >&2
        echo "$bad" | sed 's/^/  /' >&2
        status=1
    else
        echo "$(basename "$lib"): every exported symbol matches $re"
    fi
done
exit $status
