/* fc_peers: triage through any serve of several on one PostgreSQL store.
 *
 * Each serve records the nodes whose sessions it holds (fc_store_hold). A
 * triage request (the control socket, the HTTP API, the page) for a node
 * this serve has no fresh session for, whose session another live serve
 * holds, is handed to that serve through the database: a row in relay
 * (asker, holder, the request as the control socket's JSON line), then
 * NOTIFY fleetmedic_relay with the holder's id. The holder, LISTENing on
 * its own connection, takes the rows for it (UPDATE .. SET taken = 1 ..
 * RETURNING: a row is taken once), relays each to the node as its own
 * (fc_relay_submit, the time left of the asker's timeout), writes the
 * answer into the row and NOTIFYs the asker, which takes its answered rows
 * (DELETE .. RETURNING) and answers its client. So a request costs the
 * asker's timeout and a few milliseconds more, never a poll interval; the
 * tables are also read every second, so a notification lost with a
 * connection delays an answer by a second at most.
 *
 * Rows left by a serve that died are removed after FC_PEERS_ROW_MAX_S.
 * SQLite has one serve per file: fc_peers_new says -ENOTSUP.
 */
#ifndef FC_PEERS_H
#define FC_PEERS_H

#include <stddef.h>

struct fm_loop;
struct fc_relay;
struct fc_store;
struct fc_peers;

#define FC_PEERS_CHANNEL "fleetmedic_relay"
/* A relay row older than this is removed (its asker's timeout is long
 * past: a timeout is at most an hour). */
#define FC_PEERS_ROW_MAX_S 3700

/* Opens a connection of its own to db (a PostgreSQL target), LISTENs, and
 * offers relay the requests it cannot send itself (fc_relay_set_away).
 * store is serve's (to ask which serve holds a node); id is this serve's
 * (fc_server_id). Borrows everything. NULL with why filled (errno
 * ENOTSUP: db is not PostgreSQL). */
struct fc_peers *fc_peers_new(struct fm_loop *loop, const char *db, struct fc_store *store, struct fc_relay *relay,
			      const char *id, char *why, size_t why_size);
void fc_peers_delete(struct fc_peers **p);

#endif
