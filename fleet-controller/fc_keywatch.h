/* fc_keywatch: serve's key store kept current without a restart. The keys
 * file is read again on SIGHUP and whenever it changes (inotify on its
 * directory: enroll and revoke replace it by a rename, an editor may write
 * it in place), and handed to fc_server, which closes the sessions of
 * revoked nodes and of nodes whose key was replaced at once, and leaves
 * every other session alone. A file that cannot be read or does not load
 * keeps the keys in use; why is logged once (again only when it changes).
 */
#ifndef FC_KEYWATCH_H
#define FC_KEYWATCH_H

#include <stddef.h>

struct fm_loop;
struct fc_keys;
struct fc_server;
struct fc_keywatch;

/* Watches path (keys: what was loaded from it, taken over: freed by
 * fc_keywatch_delete, after the server that borrows it is gone). NULL with
 * why filled; keys is then still the caller's. */
struct fc_keywatch *fc_keywatch_new(struct fm_loop *loop, const char *path, struct fc_keys *keys,
				    struct fc_server *server, char *why, size_t why_size);
/* Reads the file again now (cause goes into the log line). */
void fc_keywatch_reload(struct fc_keywatch *w, const char *cause);
void fc_keywatch_delete(struct fc_keywatch **w);

#endif
