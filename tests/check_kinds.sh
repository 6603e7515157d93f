#!/usr/bin/env bash
# Every kind of fact is defined once, in firmware-agent/diag/fm_kinds.h
# (issue 21). This finds every kind the agent's code spells -- where facts
# are put, looked up, removed, dropped by prefix or tested (kind_is,
# has_evidence, evidence_of) -- and every "namespace.name" literal of a
# kind's namespace anywhere in the agent, and fails on one that is not in
# the list: a misspelled kind, on the side that puts it or on the side that
# reads it. A kind in the list that nothing puts is reported too. The same
# for the diagnosis codes of fm_diagnose.c.
set -euo pipefail
src=${1:?usage: check_kinds.sh SOURCE_DIR}
agent=$src/firmware-agent
list=$(sed -n 's/^[[:space:]]*X("\([^"]*\)".*/\1/p' "$agent/diag/fm_kinds.h" | sort -u)
[ -n "$list" ] || { echo "check_kinds: no kinds in fm_kinds.h" >&2; exit 1; }
files=$(find "$agent" -name '*.c' -o -name '*.h' | grep -v '/fm_kinds.h$')
# Literals of a kind's namespace that are not kinds: unit and file names.
not_kinds='^(docker\.service|etcd\.service|docker\.sock|journal\.state|kmsg\.state|agent\.state\.json)$'

status=0
known() { grep -qxF "$1" <<<"$list"; }

# 1. "ns.name" literals of the kinds' namespaces, anywhere
ns='(agent|apiserver|check|docker|etcd|hal|journal|kmsg|cri|runtime)'
dotted=$(grep -hoE "\"$ns\.[a-z_]+\"" $files | tr -d '"' | sort -u)
# 2. the single-word kinds and everything else, where a kind goes
placed=$(grep -hoE '(fm_facts_(put|get|remove)|kind_is|has_evidence|evidence_of|fm_probe_put_endpoint|fm_rules_hits_publish|put)\([^,()"]+, *"[a-z_.]+"' $files |
	 sed -E 's/.*"([a-z_.]+)"$/\1/' | sort -u)
for k in $(printf '%s\n%s\n' "$dotted" "$placed" | sort -u); do
	[[ $k =~ $not_kinds ]] && continue
	if ! known "$k"; then
		echo "check_kinds: \"$k\" is spelled in the agent but is not a kind of fm_kinds.h:" >&2
		grep -nF "\"$k\"" $files | sed 's/^/  /' >&2
		status=1
	fi
done
# 3. prefixes (fm_facts_drop, the collected kinds): each one a prefix of a kind
prefixes=$(grep -hoE 'fm_facts_drop\([^,]+, "[a-z_.]+"' $files | sed -E 's/.*"([a-z_.]+)"$/\1/' | sort -u)
prefixes+=$'\n'$(grep -hE '_kinds\[\] = \{' $files | grep -oE '"[a-z_.]+"' | tr -d '"' | sort -u)
for p in $prefixes; do
	grep -q "^${p//./\\.}" <<<"$list" || { echo "check_kinds: prefix \"$p\" matches no kind" >&2; status=1; }
done
# 4. every kind listed is put somewhere (spelled in the agent)
for k in $list; do
	grep -qF "\"$k\"" $files || { echo "check_kinds: \"$k\" is listed but nothing spells it" >&2; status=1; }
done
# 5. diagnosis codes: defined once, in fm_diagnose.c's codes[] table; every
#    code the rules emit, look up or compare (ac/bc: a cause's and a
#    symptom's code) is one of them.
diag=$agent/diag/fm_diagnose.c
codes=$(awk '/codes\[\] = \{/{on=1; next} on && /^\};/{exit} on' "$diag" |
	grep -oE '^\s*\{"[a-z-]+",' | grep -oE '"[a-z-]+"' | tr -d '"' | sort -u)
[ -n "$codes" ] || { echo "check_kinds: no codes in fm_diagnose.c's table" >&2; exit 1; }
used=$(grep -oE '(emit\(c, |is\((ac|bc), |find\([^,]+, )"[a-z]+(-[a-z]+)+"' "$diag" | grep -oE '"[a-z-]+"$' | tr -d '"' | sort -u)
for k in $used; do
	grep -qxF "$k" <<<"$codes" || { echo "check_kinds: code \"$k\" is used in fm_diagnose.c but not in codes[]" >&2; status=1; }
done
[ $status = 0 ] && echo "check_kinds: $(wc -l <<<"$list") kinds, every one spelled in the agent is listed; $(wc -l <<<"$codes") codes, every one emitted or compared is in the table"
exit $status
