/* fc_page: the fleet's pages as the controller serves them (issue 24),
 * rendered on the server from the store's JSON (`nodes --json`, `show
 * --json`): plain HTML and a little CSS, no script, nothing fetched from
 * anywhere else; they refresh themselves (meta refresh) and read on a
 * phone (viewport, one column under 700 px).
 *
 *   /                  every node, worst first: board, last seen, state,
 *                      worst severity and codes; ?code=C&severity=S filter
 *   /nodes/NODE        its diagnoses, the cause first: what it explains,
 *                      the evidence, the fix as commands to copy; its history
 *
 * Every string that came from a node or the store is escaped (fc_page_esc).
 */
#ifndef FC_PAGE_H
#define FC_PAGE_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#define FC_PAGE_REFRESH_S 10

struct fc_page_filter {
	const char *code;     /* NULL: any */
	const char *severity; /* "critical", "warning", "info", NULL: any */
};

/* The fleet page of nodes (fc_store_nodes's array). A new string (free()),
 * NULL on allocation failure. */
char *fc_page_fleet(const cJSON *nodes, const struct fc_page_filter *f, int64_t now);

/* A node's page (fc_store_show's object). The same. */
char *fc_page_node(const cJSON *show, int64_t now);

/* s escaped for HTML text and attribute values (& < > " '), into a new
 * string (free()); NULL on allocation failure. */
char *fc_page_esc(const char *s);

#endif
