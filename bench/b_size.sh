#!/usr/bin/env bash
# The board builds' size (make cross): the stripped agent and controller per
# triplet, and each library's share of it, read from the link map the static
# build writes beside each program (-Wl,-Map, see CMakeLists.txt FM_STATIC).
# Sizes are deterministic for a given build: one measurement, no median.
# The budget is 2.5 MB each (asserted by tests/check_cross.sh); the goal
# 1.5 MB.
set -euo pipefail
build=${1:?usage: b_size.sh BUILD_DIR}
top=$(cd "$(dirname "$0")/.." && pwd)
parent=$(dirname "$(readlink -f "$build")")
triplets="aarch64-linux-gnu arm-linux-gnueabihf"
# The board builds beside BUILD_DIR, brought up to date (cached dependencies,
# an incremental build when nothing changed).
make -C "$top" cross BUILD="$parent" >&2
for t in $triplets; do
    [ -f "$parent/$t/firmware-agent/fleetmedic-agent.map" ] ||
        { echo "b_size: no board build in $parent/$t (make cross)" >&2; exit 1; }
done

# The bytes of each input file's allocated sections in the output, grouped by
# library. Sections gc-sections dropped are listed before the memory map and
# not counted; .bss takes no room in the file.
# With BY=glibc: only glibc's objects, grouped by what they are there for.
shares() { # MAP [BY] -> "group bytes" lines, biggest first
    awk -v by="${2:-library}" '
    function libc_part(n) {
        sub(/.*libc\.a\(/, "", n); sub(/\.o\)$/, "", n)
        if (n ~ /^(dl-|nss|nscd|res_|resolv|dns-|files-|getaddrinfo|gethst|ns_|check_pf|ifaddrs|inet|getservby|netlink|libc_dlopen|sdl|dl_|rtld)/) return "name lookup and static dlopen: NSS and the resolver (getaddrinfo), dlopen (NSS and iconv modules)"
        if (n ~ /^(C-|C_|gconv|translit|loadlocale|findlocale|setlocale|xlocale|lc-|wcsmbs|mbrtowc|mbsrtowcs|wcrtomb|localealias|loadarchive|dcigettext|loadmsgcat|plural|finddomain|textdomain|l10nflist|explodename|iconv|wc|btowc|mbrlen|mbsnrtowcs|wcsnrtombs|localeconv|global-locale|nl_langinfo|catgets|hash-string|dcgettext)/) return "locale, iconv, gettext (multibyte: regex, wide printf)"
        if (n ~ /^(vf|printf|vprintf|fprintf|sprintf|snprintf|vsnprintf|asprintf|vasprintf|dprintf|scanf|isoc99|vfscanf|strto|fpioconst|mul|add_n|sub_n|lshift|rshift|divrem|mpn|dbl2mpn|ldbl2mpn|printf_|_itoa|itowa|_i18n|fxprintf|iovsprintf|iovsscanf|vsscanf|sscanf|fscanf|grouping|outdigit)/) return "printf, scanf, number conversion (scanf: libsystemd)"
        if (n ~ /^regex/) return "regex (fm_rules: ERE)"
        if (n ~ /^(malloc|arena|morecore|alloc_buffer|scratch_buffer|dynarray|reallocarray)/) return "malloc"
        if (n ~ /^(fileops|genops|wfileops|wgenops|strops|wstrops|memstream|fmemopen|vtables|stdfiles|stdio|libc_fatal|io)/) return "stdio"
        if (n ~ /^(tz|strftime|mktime|localtime|gmtime|time|offtime|alt_digit|era)/) return "time and time zones"
        return "the rest (start-up, threads, strings, system calls)"
    }
    function group(f) {
        if (by == "glibc") return f ~ /\/libc\.a\(/ ? libc_part(f) : (f ~ /libgcc_eh\.a/ ? "libgcc_eh: the unwinder (cancellation, backtrace)" : "")
        if (f ~ /ltrans|libfm(core|net|diag|sources|report|daemon)\.a|libhal\.a|libfccontroller\.a|main\.c\.o/) return "fleetmedic (agent, hal, controller; LTO)"
        if (f ~ /libmbed(tls|x509|crypto)\.a/) return "Mbed TLS"
        if (f ~ /libcoap-3\.a/) return "libcoap"
        if (f ~ /libcjson\.a/) return "cJSON"
        if (f ~ /libsystemd\.a/) return "libsystemd"
        if (f ~ /libzstd\.a/) return "zstd"
        if (f ~ /liblz4\.a/) return "lz4"
        if (f ~ /liblzma\.a/) return "xz (liblzma)"
        if (f ~ /libcap\.a/) return "libcap"
        if (f ~ /libyaml\.a/) return "libyaml"
        if (f ~ /libsqlite3\.a/) return "SQLite"
        if (f ~ /libnghttp2\.a/) return "nghttp2"
        if (f ~ /libprotobuf-c\.a/) return "protobuf-c"
        if (f ~ /libfmcriproto\.a/) return "the CRI messages (protoc-c)"
        if (f ~ /\/lib(c|m|pthread|rt|dl|resolv|gcc|gcc_eh)\.a|crt[a-zA-Z0-9]*\.o/) return "glibc + libgcc"
        return "other"
    }
    function hex(h,   i, n, c) { # mawk has no strtonum
        n = 0; h = tolower(substr(h, 3))
        for (i = 1; i <= length(h); i++) n = n * 16 + index("0123456789abcdef", substr(h, i, 1)) - 1
        return n
    }
    function add(size, file) {
        if (osec ~ /^\.(bss|tbss|comment|debug|stab|gnu\.attributes|ARM\.attributes)/) return
        sum[group(file)] += hex(size)
    }
    /^Linker script and memory map/ { go = 1; next }
    !go { next }
    /^[^ ]/ { osec = $1; isec = ""; next }
    /^ [^ *]/ {
        isec = $1
        if (NF >= 4 && $2 ~ /^0x[0-9a-f]+$/ && $3 ~ /^0x[0-9a-f]+$/) { add($3, $4); isec = "" }
        next
    }
    /^  +0x/ {
        if (isec != "" && NF == 3 && $2 ~ /^0x[0-9a-f]+$/ && $3 ~ /[\/.]/) add($2, $3)
        isec = ""
        next
    }
    END { for (g in sum) if (g != "" && sum[g] > 0) printf "%s\t%d\n", g, sum[g] }
    ' "$1" | sort -t"$(printf '\t')" -k2,2nr
}

echo "## Size of the board builds (make cross)"
echo
echo "Command: \`make cross\`, then \`stat -c %s\` of the stripped static programs in"
echo "\`build/TRIPLET/\`, and each library's share: the sizes of its input sections"
echo "that stay in the program (after \`--gc-sections\`; .bss and debug sections not"
echo "counted), summed per library from the link map \`build/TRIPLET/*/PROGRAM.map\`."
echo "Our own code is one group: with LTO it is linked as ltrans objects. Deterministic"
echo "for a given build: one measurement. The agent's budget 2.5 MB (2621440 bytes,"
echo "asserted by tests/check_cross.sh), goal 1.5 MB (1572864); the controller has no"
echo "budget (it runs on the fleet's server, or a board beside the agent), its size is"
echo "said for the record. Mbed TLS trimmed by toolchains/mbedtls-target.h; zstd"
echo "(decompress-only, ZSTD_LIB_MINIFY), lz4, libyaml, nghttp2 and protobuf-c compiled"
echo "again from their Debian 12 source for size by toolchains/deps.sh (-Os, a section a"
echo "function, no unwind tables); no xz (no supported journald writes it: deps.sh);"
echo "data aligned to 16 kB pages on ARM, not 64 kB (CMakeLists.txt, FM_STATIC)."
echo
echo "| triplet | program | stripped bytes | budget 2.5 MB | goal 1.5 MB |"
echo "| --- | --- | --- | --- | --- |"
for t in $triplets; do
    for p in firmware-agent/fleetmedic-agent fleet-controller/fleetmedic-controller; do
        s=$(stat -c %s "$parent/$t/$p")
        if [ "$(basename "$p")" = fleetmedic-agent ]; then
            verdicts="$( [ "$s" -le 2621440 ] && echo met || echo MISSED ) | $( [ "$s" -le 1572864 ] && echo met || echo not yet )"
        else
            verdicts="(the agent's; not the controller's) | "
        fi
        echo "| $t | $(basename "$p") | $s ($(awk -v s="$s" 'BEGIN { printf "%.2f MB", s / 1048576 }')) | $verdicts |"
    done
done
echo
for t in $triplets; do
    s=$(stat -c %s "$parent/$t/firmware-agent/fleetmedic-agent")
    echo "- goal the $t agent ≤ 1.7 MB (1782579 bytes; issue 27): $( [ "$s" -le 1782579 ] && echo met || echo "NOT met" ) ($(awk -v s="$s" 'BEGIN { printf "%.2f MB", s / 1048576 }'))"
done
a64map="$parent/aarch64-linux-gnu/firmware-agent/fleetmedic-agent.map"
a64=$(stat -c %s "$parent/aarch64-linux-gnu/firmware-agent/fleetmedic-agent")
libc=$(shares "$a64map" glibc | awk -F'\t' '{ s += $2 } END { print s }')
echo
echo "### What is left in the aarch64 agent, and what 1.7 and 1.5 MB would take"
echo
echo "glibc and libgcc's unwinder, static, are $libc of the agent's $a64 bytes; by what"
echo "they are there for (object files of libc.a grouped by name, each with its"
echo "unwind tables, which glibc is built with):"
echo
echo "| glibc part | bytes |"
echo "| --- | --- |"
shares "$a64map" glibc | awk -F'\t' '{ printf "| %s | %d |\n", $1, $2 }'
echo
echo "- $(( a64 - 1782579 > 0 ? a64 - 1782579 : 0 )) bytes more would have to go for 1.7 MB, $(( a64 - 1572864 )) for 1.5 MB."
echo "- Name lookup is the biggest glibc part, for getaddrinfo on one name at a time"
echo "  (the controller's, a kubeconfig's server): without it the agent would take"
echo "  only addresses (and iconv would still keep part of static dlopen); a"
echo "  resolver of our own is what the project's rules forbid."
echo "- Mbed TLS's server side (ssl_tls12_server, ssl_tls13_server) is linked because"
echo "  one handshake function serves both ends and libcoap configures both: an"
echo "  agent-only Mbed TLS and libcoap without MBEDTLS_SSL_SRV_C (a second build of"
echo "  both, the structures differ) is the next lever, about 35 kB."
echo "- musl instead of glibc would halve the C library, but libsystemd (systemd"
echo "  252) builds only against glibc."
echo "- The agent's own code is LTO -Os already; the rules it embeds lose their"
echo "  comments (rules/embed.cmake)."

for t in $triplets; do
    for p in firmware-agent/fleetmedic-agent fleet-controller/fleetmedic-controller; do
        map="$parent/$t/$p.map"
        total=$(shares "$map" | awk -F'\t' '{ s += $2 } END { print s }')
        echo
        echo "### $(basename "$p"), $t: share of each library"
        echo
        echo "| library | bytes | share |"
        echo "| --- | --- | --- |"
        shares "$map" | awk -F'\t' -v total="$total" '{ printf "| %s | %d | %.1f %% |\n", $1, $2, 100 * $2 / total }'
        echo "| (sum of input sections; the file adds headers, alignment, linker-made tables) | $total | |"
    done
done
