#!/usr/bin/env bash
# make bench: runs every bench/b_*.sh and rewrites bench/RESULTS.md.
#
# Each b_*.sh is called with the build directory (an optimised build, not
# the sanitizer one) and prints one Markdown section on stdout: its figures,
# the command that produced them and the anchor beside them. Its stderr goes
# to the terminal. A script that fails is reported in RESULTS.md as failed,
# and `make bench` exits non-zero after running the others.
set -uo pipefail

build=$(readlink -f "${1:?usage: bench/run.sh BUILD-DIR}")
here=$(cd "$(dirname "$0")" && pwd)
only=${BENCH_ONLY:-}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

{
    echo "# Benchmark results"
    echo
    echo "Written by \`make bench\` (bench/run.sh); do not edit by hand."
    echo
    echo "- date: $(date -u +%Y-%m-%dT%H:%MZ)"
    echo "- machine: $(nproc) cores, $(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo), $(awk '/MemTotal/{printf "%.1f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r)"
    echo "- commit: $(git -C "$here/.." rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo
    echo "The machine is shared and noisy: figures are medians of repeated runs,"
    echo "and comparisons are ratios measured in the same run."
} >"$out"

# The build just wrote the binaries: flush them, or their dirty page-cache
# pages count as Private_Dirty of every process that maps them.
sync

failed=0
for b in "$here"/b_*.sh; do
    [ -e "$b" ] || continue
    name=$(basename "$b" .sh)
    if [ -n "$only" ] && [[ ",$only," != *",${name#b_},"* ]]; then continue; fi
    echo "bench: $name" >&2
    sec=$(mktemp)
    FM_BUILD="$build" bash "$b" "$build" >"$sec"
    rc=$?
    if [ "$rc" -eq 0 ]; then
        { echo; cat "$sec"; } >>"$out"
    else
        failed=1
        echo "bench: $name failed (exit status $rc)" >&2
        { echo; echo "## $name"; echo; echo "FAILED (exit status $rc); see the output of make bench."; } >>"$out"
    fi
    rm -f "$sec"
done

# Commands are said relative to the checkout: RESULTS.md is committed, and
# this machine's path means nothing in another clone.
top=$(cd "$here/.." && pwd)
sed -i "s|$top/||g" "$out"

# BENCH_ONLY: the sections run replace their namesakes in RESULTS.md (or
# are added at its end); the others stay as the last full run left them,
# and the header says which sections are newer.
if [ -n "$only" ] && [ -f "$here/RESULTS.md" ]; then
    python3 - "$here/RESULTS.md" "$out" "$only" "$(date -u +%Y-%m-%dT%H:%MZ)" \
        "$(git -C "$here/.." rev-parse --short HEAD 2>/dev/null || echo unknown)" <<'PY'
import re, sys
path, new, only, date, commit = sys.argv[1:]
def sections(text):
    parts = re.split(r'(?m)^(?=## )', text)
    return parts[0], parts[1:]
head, old = sections(open(path).read())
_, fresh = sections(open(new).read())
title = lambda s: s.splitlines()[0]
fresh = [s.rstrip('\n') + '\n\n' for s in fresh]
by_title = {title(s): s for s in fresh}
out = [by_title.pop(title(s), s) for s in old]
out += list(by_title.values())
# one line per set of sections re-run, the newest last (a set run again
# replaces its line)
head = re.sub(r'(?m)^- re-run \(BENCH_ONLY=%s\):.*\n' % re.escape(only), '', head)
line = '- re-run (BENCH_ONLY=%s): %s, commit %s\n' % (only, date, commit)
runs = list(re.finditer(r'(?m)^- (commit|re-run \(BENCH_ONLY=[^)]*\)): .*\n', head))
head = head[:runs[-1].end()] + line + head[runs[-1].end():] if runs else head + line
open(path, 'w').write(head + ''.join(out))
PY
    echo "bench: replaced the sections of $only in bench/RESULTS.md" >&2
else
    cp "$out" "$here/RESULTS.md"
    echo "bench: wrote bench/RESULTS.md" >&2
fi

# Goals at a glance: every section states each of its goals as one line
# "- goal WHAT: VERDICT (FIGURE)", VERDICT met or NOT met (or both, for a
# goal judged at two moments); the table at the top is those lines, made
# again from the whole file each time (so a BENCH_ONLY run keeps it true).
python3 - "$here/RESULTS.md" <<'PY'
import re, sys
path = sys.argv[1]
text = open(path).read()
text = re.sub(r'(?ms)^## Goals at a glance\n.*?(?=^## )', '', text)
head, *secs = re.split(r'(?m)^(?=## )', text)
rows = []
for sec in secs:
    title = sec.splitlines()[0][3:].strip()
    for m in re.finditer(r'(?m)^- goal (.+?): (.*)$', sec):
        what, verdict = m.group(1), m.group(2).strip()
        mark = 'NOT met' if 'NOT met' in verdict else ('met' if re.search(r'\bmet\b', verdict) else '?')
        rows.append('| %s | %s | %s | %s |' % (what, mark, verdict.replace('|', '\\|'), title))
table = ['## Goals at a glance', '',
         'Every "- goal" line of the sections below, in their order; a section not run',
         'since it began stating its goals this way is missing here.', '',
         '| goal | verdict | as the section says it | section |', '| --- | --- | --- | --- |'] + rows
open(path, 'w').write(head.rstrip('\n') + '\n\n' + '\n'.join(table) + '\n\n' + ''.join(secs))
PY
exit $failed
