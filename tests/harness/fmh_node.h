/* fmh_node: the agent's side of a node as the tests set it up (issue 11's
 * soak and privilege tests, the fleet scenario, the uplink test): its
 * configuration file as an installer writes it, and the board fixture's
 * ext4 error counters. */
#ifndef FMH_NODE_H
#define FMH_NODE_H

#include <stddef.h>

/* Writes dir/psk (FMH_KEY_A in hex, mode 0600) and dir/fleetmedic.conf:
 * controller = url, psk-identity = FMH_NODE_A, psk-file, state-dir =
 * dir/state, allow-actions = rm, then the lines of extra (NULL: none). The
 * config file's path into conf. 0 or -errno. Borrows everything. */
int fmh_node_conf(const char *dir, const char *url, const char *extra, char *conf, size_t size);

/* Writes count into root/sys/fs/ext4/DEV/errors_count (the board fixture's
 * counter the hal source reads). 0 or -errno. */
int fmh_node_ext4_errors(const char *root, const char *dev, const char *count);

#endif
