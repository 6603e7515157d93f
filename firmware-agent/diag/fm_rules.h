/* fm_rules: the log rules (data, not code) and what they found.
 *
 * A rule says which log sources it applies to, a literal that every line it
 * matches contains (the fast reject: memmem before any regexec), a POSIX ERE
 * whose groups may be named (?<name>...) to extract fields (container name,
 * blocking container id, path, device ...), a severity and the signal it
 * stands for (the name the diagnosis keys on, e.g. container-name-conflict).
 *
 * Rule files are blocks of "key value" lines (rules/default.rules documents
 * the format and is built into the agent); a directory of extra *.rules files
 * adds to them.
 *
 * Matches are aggregated in a fixed-size table (struct fm_rules_hits), keyed
 * by rule and the rule's key field: a line logged 10,000 times is one entry
 * with count 10000, first and last time, the last message (capped). Nothing
 * allocates per line.
 */
#ifndef FM_RULES_H
#define FM_RULES_H

#include "fm_facts.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The log sources rules apply to: the followed units, and the kernel. */
enum fm_rules_source {
	FM_RULES_SRC_KUBELET,
	FM_RULES_SRC_DOCKER,
	FM_RULES_SRC_CONTAINERD,
	FM_RULES_SRC_ETCD,
	FM_RULES_SRC_K3S,
	FM_RULES_SRC_KERNEL,
	FM_RULES_SRC_COUNT,
};

/* The unit of a source ("kubelet.service"), "kernel" for the kernel. */
const char *fm_rules_source_name(enum fm_rules_source src);
/* The source whose unit is unit[0..len) ("kubelet.service"), or -1. */
int fm_rules_source_of_unit(const char *unit, size_t len);
/* The source a person names: its unit ("kubelet.service"), the unit
 * without ".service" ("kubelet"), or "kernel"; -1 for any other. */
int fm_rules_source_named(const char *name);

#define FM_RULES_MAX        256 /* rules in a set */
#define FM_RULES_MAX_FIELDS 6   /* named groups in a rule */
#define FM_RULES_MAX_TEXT   (256 * 1024) /* one rule file */

struct fm_rules;

/* An empty set; NULL on allocation failure. */
struct fm_rules *fm_rules_new(void);
/* Frees and NULLs *rs; accepts NULL. */
void fm_rules_delete(struct fm_rules **rs);

/* Parses rule text (borrowed) and adds its rules. origin names it in
 * errors ("default.rules"). 0, or -EINVAL with err saying which line and why
 * (nothing of that text is added then), -E2BIG (too many rules, text too
 * long) or -ENOMEM. */
int fm_rules_load(struct fm_rules *rs, const char *text, size_t len, const char *origin, char *err,
		  size_t err_size);
/* The rules built into the agent (every rules/NAME.rules, at build time). */
int fm_rules_load_default(struct fm_rules *rs, char *err, size_t err_size);
/* Adds every *.rules file of dir, in name order. As fm_rules_load; -errno
 * when dir or a file cannot be read. */
int fm_rules_load_dir(struct fm_rules *rs, const char *dir, char *err, size_t err_size);

size_t fm_rules_count(const struct fm_rules *rs);
/* Rule i's id, signal and severity ("info", "warning", "critical"); valid
 * while rs lives. */
const char *fm_rules_id(const struct fm_rules *rs, size_t i);
const char *fm_rules_signal(const struct fm_rules *rs, size_t i);
const char *fm_rules_severity(const struct fm_rules *rs, size_t i);
/* The index of the rule with that id, or -1. */
int fm_rules_find(const struct fm_rules *rs, const char *id);

/* What a match extracted: field i is name[i] = text[off[i] .. off[i]+len[i]),
 * where text is the line's plain text (klog's quoting removed, see
 * fm_rules_match), valid until the next fm_rules_match on the same rules;
 * a group that did not take part has len 0. */
struct fm_rules_match {
	const char *text;
	size_t nfields;
	const char *name[FM_RULES_MAX_FIELDS];
	size_t off[FM_RULES_MAX_FIELDS];
	size_t len[FM_RULES_MAX_FIELDS];
};

/* The first rule with index >= from that applies to src and matches
 * msg[0..len) (need not be NUL-terminated), with m filled; -1 when none
 * does. Rules match the plain text: a run of backslashes before a quote
 * counts as the quote (klog writes a '"' as ", \", \\\" ... by how deep
 * kubelet nested the error that holds it), any other run of backslashes as
 * one; fields come out of that text, unescaped. Call again with from = result + 1 for the next. Allocates nothing
 * but a rule's compiled regex, once, on the first line that holds its
 * literal (kept until fm_rules_delete; rules loaded are checked in full, so
 * only ENOMEM can fail it, and that line then counts as not matched). */
int fm_rules_match(const struct fm_rules *rs, size_t from, enum fm_rules_source src, const char *msg,
		   size_t len, struct fm_rules_match *m);

/* "RPC: fragment too large: N": N is the first four bytes a peer sent to an
 * RPC port, read as an RPC record marker (big-endian, high bit = last
 * fragment). Writes them as text (non-printable bytes as '.') into text[5]
 * and returns the protocol they belong to: "java-rmi" ("JRMI"), "http"
 * ("GET ", "POST" ...), "tls", "ssh" or "unknown". */
const char *fm_rules_rpc_marker(uint64_t n, char text[5]);

/* The match table ------------------------------------------------------------ */
#define FM_RULES_HITS_MAX 64 /* distinct (rule, key) pairs kept */

struct fm_rules_hits;

/* An empty table for the rules rs (borrowed: it must outlive the table).
 * NULL on allocation failure. */
struct fm_rules_hits *fm_rules_hits_new(const struct fm_rules *rs);
void fm_rules_hits_delete(struct fm_rules_hits **h);

/* Counts one match of rule (from fm_rules_match on msg) logged by source at
 * realtime_us. A new (rule, key) pair takes a free entry; when none is left it
 * is counted in fm_rules_hits_dropped instead. 0 or -ENOSPC. */
int fm_rules_hits_add(struct fm_rules_hits *h, int rule, const struct fm_rules_match *m,
		      const char *source, uint64_t realtime_us, const char *msg, size_t len);
/* Matches not kept because the table was full. */
uint64_t fm_rules_hits_dropped(const struct fm_rules_hits *h);
/* Every match counted so far (kept or dropped). */
uint64_t fm_rules_hits_total(const struct fm_rules_hits *h);

/* Puts every entry changed since the last call as a fact of that kind
 * ("journal.match", "kmsg.match"), id "<rule>" or "<rule>/<key>". Returns
 * how many were put. */
size_t fm_rules_hits_publish(struct fm_rules_hits *h, const char *kind, struct fm_facts *facts);

/* The whole table as a JSON array (for the state file); caller owns it. */
cJSON *fm_rules_hits_json(const struct fm_rules_hits *h);
/* Replaces the table by what fm_rules_hits_json wrote (entries of rules
 * that no longer exist are left out); every entry is then "changed". 0 or
 * -EINVAL. Borrows arr. */
int fm_rules_hits_restore(struct fm_rules_hits *h, const cJSON *arr);

#endif
