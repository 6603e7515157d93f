/* fc_wire: the agent's uplink payloads (firmware-agent/report/PROTOCOL.md),
 * decoded and validated into C structs before anything is stored.
 *
 * Every payload is hostile until proven otherwise: it is refused when it is
 * longer than FC_WIRE_PAYLOAD_MAX, nested deeper than FC_WIRE_DEPTH_MAX, not
 * one JSON object, when a required key is missing or of the wrong type or
 * range, when a string is longer than its cap or holds control characters
 * (codes and keys), or when an array is longer than its cap. Unknown keys
 * are ignored (forward compatibility). A refusal says why in one line.
 */
#ifndef FC_WIRE_H
#define FC_WIRE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FC_WIRE_PAYLOAD_MAX 1024
#define FC_WIRE_DEPTH_MAX 32
#define FC_WIRE_DIAG_MAX 32	/* d[] */
#define FC_WIRE_RESOLVED_MAX 64 /* r[] */
#define FC_WIRE_LIST_MAX 16	/* d[].e, d[].x, d[].f */
#define FC_WIRE_CODE_MAX 64	/* [a-z0-9-] */
#define FC_WIRE_KEY_MAX 256
#define FC_WIRE_TEXT_MAX 512	/* m, items of e, x, f, b */
#define FC_WIRE_HB_INTERVAL_MAX 86400
#define FC_WIRE_BOARD_MAX	32 /* GET /me's b= */

/* POST /hb */
struct fc_hb {
	uint32_t q; /* last report sequence sent */
	uint32_t n; /* diagnoses raised */
	int w;	    /* worst severity 0..3 */
	char h[9];  /* 8 lowercase hex digits */
	uint32_t i; /* heartbeat interval, s (1..FC_WIRE_HB_INTERVAL_MAX) */
	bool bare;  /* an empty heartbeat: alive, the rest as last given */
	bool waiting; /* "u": reports wait in the node's queue */
};

/* One entry of d[]. Strings and arrays borrow from the report's tree. */
struct fc_diag {
	const char *code;
	int severity; /* 1..3 */
	const char *key;
	const char *summary;   /* "" when absent */
	const cJSON *evidence; /* array of strings, or NULL */
	const cJSON *explains; /* array of codes, or NULL */
	const char *component; /* what it is about ("kube-apiserver" ...), "" when absent */
	const cJSON *explains_components; /* the component of each explains item, or NULL */
	const cJSON *remedy;   /* array of strings, or NULL */
	bool absorbs;	       /* "z": after it, none of its explains codes is raised on the node */
};

struct fc_resolved {
	const char *code, *key;
};

/* POST /rp */
struct fc_report {
	uint32_t q;	   /* >= 1 */
	int64_t t;	   /* agent's clock, s since the epoch; 0: not sent */
	const char *board; /* NULL when absent */
	bool insecure;
	struct fc_diag d[FC_WIRE_DIAG_MAX];
	size_t nd;
	struct fc_resolved r[FC_WIRE_RESOLVED_MAX];
	size_t nr;
	cJSON *root; /* owns everything above */
};

/* Formats a one-line reason into why (size bytes; NULL or 0: nothing) and
 * returns rc, so a failure path reads `return fc_why(why, size, -EINVAL,
 * "...")`. Every controller module says why this way. */
int fc_why(char *why, size_t size, int rc, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Decodes a heartbeat. 0, or -EINVAL / -EMSGSIZE with why filled (one line).
 * An empty one (len 0) is bare: the node is alive and the rest is as it
 * said last. Borrows data. */
int fc_wire_hb(const void *data, size_t len, struct fc_hb *hb, char *why, size_t why_size);

/* Decodes a report into r (zeroed first). 0 (free with fc_wire_report_free),
 * or -EINVAL / -EMSGSIZE / -ENOMEM with why filled; r then holds nothing to
 * free. Borrows data. */
int fc_wire_report(const void *data, size_t len, struct fc_report *r, char *why, size_t why_size);
void fc_wire_report_free(struct fc_report *r);
/* One item of a report's d (idx for the reason) into d, borrowing o: what
 * fc_wire_report checks of each, also for a resync's set (fc_server). 0, or
 * -EINVAL with why filled. */
int fc_wire_diag(const cJSON *o, int idx, struct fc_diag *d, char *why, size_t why_size);

/* The raised set's hash as PROTOCOL.md defines it: FNV-1a 32 over the lines
 * `code \x1f key \x1f severity \n`, sorted bytewise. Feed the lines in
 * sorted order (as ORDER BY code, key does for codes and keys without
 * control characters, which fc_wire refuses): start from FC_WIRE_HASH_INIT,
 * fold each line in with fc_wire_hash_line, print with "%08x". */
#define FC_WIRE_HASH_INIT 0x811c9dc5u
uint32_t fc_wire_hash_line(uint32_t h, const char *code, const char *key, int severity);

/* Whether s is a diagnosis code's shape ([a-z0-9-], 1..FC_WIRE_CODE_MAX). */
bool fc_wire_code_ok(const char *s);

/* The value of key in a request's query (libcoap joins its Uri-Query
 * options with '&'): its length, copied into out (NUL-terminated); -1
 * when absent; -2 when it does not fit in size bytes or holds a NUL. */
int fc_wire_query(const void *query, size_t len, const char *key, char *out, size_t size);

/* A board id as GET /me's b= may carry it: 1..FC_WIRE_BOARD_MAX of
 * [A-Za-z0-9._-]. */
bool fc_wire_board_ok(const char *board);

#endif
