/* fm_report: the uplink's compact JSON (report/PROTOCOL.md): heartbeats,
 * and delta reports built from fm_diag_track's changes.
 *
 * A change becomes an item: a raised or changed diagnosis the object
 *   {"c":code,"s":1..3,"k":key,"m":summary,"e":[…],"x":[…],"f":[…]}
 * and a resolved one the pair [code, key]. Items are what the offline queue
 * (fm_queue) keeps and merges; a report is a run of items with a header
 * (q, t, i; t left out when it goes as it is made) and never encodes to more than FM_REPORT_MAX
 * bytes: items that do not fit go to the next report, and one diagnosis that alone would not fit
 * has its evidence cut first, then its summary; never c, s, k or f.
 *
 * Keys longer than FM_REPORT_KEY_MAX bytes (kubelet's container names run to
 * ~100) are sent compacted: their first 20 bytes, '~', and the FNV-1a 32 of
 * the whole key in 8 hex digits; where the summary repeats such a key, the
 * compact key stands in. (c, compact k) identifies a diagnosis on the wire,
 * in the heartbeat's hash and at the controller.
 */
#ifndef FM_REPORT_H
#define FM_REPORT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Payload caps (PROTOCOL.md). */
#define FM_REPORT_MAX	 1024
#define FM_HEARTBEAT_MAX 64
/* Keys up to this many bytes go as they are. */
#define FM_REPORT_KEY_MAX 32
/* Board ids longer than this are cut. */
#define FM_REPORT_BOARD_MAX 32

/* FNV-1a 32 over len bytes, continuing from h (start with
 * FM_REPORT_FNV_INIT). */
#define FM_REPORT_FNV_INIT 2166136261u
uint32_t fm_report_fnv(uint32_t h, const void *data, size_t len);

/* "critical" 3, "warning" 2, "info" 1, anything else 0. */
int fm_report_severity(const char *severity);

/* The key as sent (see above) into out (at least FM_REPORT_KEY_MAX + 1
 * bytes). */
void fm_report_key(const char *key, char *out, size_t size);

/* The heartbeat's h: FNV-1a 32 of the sorted lines
 * "code\x1fcompact-key\x1fS\n" (S the severity digit 1..3) of the raised
 * set. active: fm_diag_track_active's long form, or compact items (c, k, s)
 * as the controller holds them: both give the same hash. */
uint32_t fm_report_hash(const cJSON *active);

/* Writes the heartbeat {"q","n","w","h","i"} for the raised set active
 * (long form) into buf (NUL-terminated), and "u":1 when waiting (reports
 * wait in the queue). Returns its length (at most
 * FM_HEARTBEAT_MAX), or -EMSGSIZE when size is too small. */
int fm_report_heartbeat(char *buf, size_t size, uint32_t last_q, const cJSON *active,
			uint32_t interval_s, bool waiting);

/* The item of one fm_diag_track change ("change": raised, changed or
 * resolved), as a new cJSON (caller owns), or NULL for something that is not
 * a change / on allocation failure. A diagnosis item is cut (e, then m) to
 * encode in at most FM_REPORT_MAX minus the largest header. */
cJSON *fm_report_item(const cJSON *change);

/* Marks with "z":1 each raised item of one batch of changes (items, as
 * fm_report_item made them) whose x codes are, after the batch, raised
 * nowhere on the node (active: the long form after the change) while the
 * batch resolves some diagnosis of one of them: the controller then
 * resolves the node's diagnoses of those codes itself, and the encoder
 * leaves the matching resolved pairs out (PROTOCOL.md, "z"). */
void fm_report_mark_absorbing(cJSON *items, const cJSON *active);

/* Whether item is a resolved pair ([c, k]) rather than a diagnosis. */
bool fm_report_item_resolved(const cJSON *item);
/* The code and compact key of an item (borrowed from it); false when the
 * item is neither form. */
bool fm_report_item_id(const cJSON *item, const char **code, const char **key);

/* The header of a report (the board goes with GET /me instead). */
struct fm_report_head {
	uint32_t q;
	int64_t t;   /* when the agent made it */
	bool t_left; /* t not sent: the report goes as it is made, and the
		      * controller's clock says when (PROTOCOL.md, "t") */
	bool insecure;
};
/* A report sent within this many seconds of being made goes without t. */
#define FM_REPORT_FRESH_S 2

/* The board id as it goes on the wire (GET /me's b=): letters, digits,
 * '-', '_' and '.' kept, anything else '_', cut to FM_REPORT_BOARD_MAX;
 * out holds FM_REPORT_BOARD_MAX + 1 bytes. */
void fm_report_board(const char *board, char *out);

/* Encodes the report of head and as many of items[0..n) as fit in
 * FM_REPORT_MAX bytes (at least one: fm_report_item's cut guarantees it
 * fits), "d" then "r" (the controller applies d before r). Returns the
 * payload (caller frees) and *used, the number of items taken; NULL on
 * allocation failure. */
char *fm_report_encode(const struct fm_report_head *head, const cJSON *const *items, size_t n,
		       size_t *used);

/* What the controller's answers to the agent carry (PROTOCOL.md): GET /me's
 * {"q":LAST_STORED_SEQ,...}, a heartbeat's {"t":N} (N > 0: triage
 * questions wait, poll for them). */
struct fm_report_answer {
	bool has_q;
	uint32_t q;
	bool waiting;
};
/* Decodes an answer's payload (JSON, at most FM_REPORT_MAX bytes): a field
 * that is missing or out of range (q not 0..2^32-1) is left unset, so a
 * hostile or garbled answer moves nothing. 0, or -EINVAL (empty, too large,
 * not a JSON object: *a all unset). Borrows data. */
int fm_report_answer(const void *data, size_t len, struct fm_report_answer *a);

#endif
