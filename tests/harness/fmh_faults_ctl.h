/* fmh_faults_ctl: what the fault tests on the uplink, the state dir and
 * signals share (tests/faults/, issue 11): a node of real files (a board
 * tree the hal source reads, journal files written by
 * systemd-journal-remote, a PSK file) whose `fleetmedic-agent run` reports
 * to a real `fleetmedic-controller serve` on loopback; the board's ext4
 * error counters to raise and resolve diagnoses on demand; the controller's
 * history checked for order and duplicates; the agent's CPU and memory read
 * from /proc; the one FAULT line a fault test prints (tests/faults/README.md).
 */
#ifndef FMH_FAULTS_CTL_H
#define FMH_FAULTS_CTL_H

#include "fmh_controller.h"
#include "fmh_faults.h" /* fmh_fault_line */

#include <cjson/cJSON.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct fmh_fnode {
	struct fmh_controller ctl;
	char identity[64];    /* its PSK identity (FMH_NODE_A unless given) */
	char dir[PATH_MAX];   /* tmpdir: everything below */
	char root[PATH_MAX];  /* --root: a copy of the generic-aarch64 board tree */
	char jdir[PATH_MAX];  /* --journal-dir */
	char jfile[PATH_MAX]; /* jdir/remote.journal */
	char psk[PATH_MAX];   /* FMH_KEY_A in hex, 0600 */
	char state[PATH_MAX]; /* --state-dir (dir/state unless given) */
	char conf[PATH_MAX];  /* dir/agent.conf (written by the test when it wants one) */
};

/* Makes the node in a fresh tmpdir and starts its controller (DTLS-PSK).
 * state: the state dir (NULL: dir/state). 0 or -errno. */
int fmh_fnode_init(struct fmh_fnode *n, const char *state);
/* The same as node identity with its text key (FMH_NODE_B/FMH_KEY_B, ...),
 * reporting to ctl (copied, not started: its owner stops it) when given. */
int fmh_fnode_init_as(struct fmh_fnode *n, const char *state, const char *identity, const char *key,
		      const struct fmh_controller *ctl);

/* Starts `run` for n with the node's paths (etcd and apiserver: the URLs
 * given, NULL: a refusing port) and the NULL-terminated extra arguments (at
 * most 24) appended (extra starting with "--config FILE": the controller is
 * the file's, not the command line's); its log is n->dir/log_name (path into log, PATH_MAX).
 * Waits until it says it reports. The pid, or fails the test. */
pid_t fmh_fnode_agent(struct fmh_fnode *n, const char *log_name, char *log, const char *etcd,
		      const char *apiserver, const char *const extra[]);

/* Sets the board's ext4 error counter of dev (created when missing): a
 * count > 0 raises fs-corruption keyed dev, 0 resolves it. */
void fmh_fnode_ext4_errors(const struct fmh_fnode *n, const char *dev, unsigned count);

/* The controller's `show NODE --history 1000` (caller frees), or NULL. */
cJSON *fmh_fnode_show(const struct fmh_fnode *n);

/* In show's history: how many rows have this key (or this code) and event. */
int fmh_history_count(const cJSON *show, const char *key, const char *event);
/* Fails the test unless the history's seq never goes down. */
void fmh_history_ordered(const cJSON *show);
/* The index in show's history of the row with key and event, -1 if none. */
int fmh_history_index(const cJSON *show, const char *key, const char *event);

/* The diagnosis in show's "diagnoses" (the active ones) whose key or code
 * is key, or NULL. Borrowed from show. */
const cJSON *fmh_show_active(const cJSON *show, const char *key);

/* Fails the test unless each of the n (key or code, event) pairs of want is
 * in show's history exactly once, in want's order. */
void fmh_history_once_in_order(const cJSON *show, const char *const want[][2], size_t n);

/* Waits (at most ms) until the history holds key/event; fails otherwise.
 * Returns the show (caller frees). */
cJSON *fmh_fnode_wait_history(const struct fmh_fnode *n, const char *key, const char *event, uint64_t ms);

/* The process's CPU time (user + system) and anonymous resident set
 * (RssAnon: heap and stacks, not mapped files), from /proc. */

/* How many TCP connections to port are established or connecting, seen
 * from the client's side (against a listener that never accepts: requests
 * that wait for an answer). */
int fmh_tcp_waiting(int port);

/* How many lines of the file at path contain needle (0 when none or no file). */
int fmh_log_count(const char *path, const char *needle);

/* Appends ASAN's quarantine cap (1 MB) to ASAN_OPTIONS for the agents
 * started after it: the RSS the memory checks read is then the agent's,
 * not freed memory ASan holds back. */
void fmh_asan_small_quarantine(void);


/* Waits (at most ms) for needle in the log at path (pid: the writer, 0:
 * none), or fails the test with the log's tail and, when given, another's. */
void fmh_wait_for(const char *path, const char *needle, pid_t pid, int ms, const char *other);

/* One integer a statement gives on a connection of its own to a
 * controller's store (db: the file or the connection string; committed
 * rows only), text bound to ?1 when arg is given; -1: no row. Fails the
 * test when the store cannot be read. */
int64_t fmh_store_peek(const char *db, const char *sql, const char *arg);

/* bench/coap_load ($FM_COAP_LOAD) against ctl: nodes simulated agents'
 * keys added to its keys file (reloaded), then `run --kind rp --acked`
 * reporting back to back; returns once the first and the last node have 20
 * reports stored. log and acked (PATH_MAX + 16 each) get dir/coap_load.log
 * and dir/acked. The generator's pid (stop it with SIGTERM: it then writes
 * acked). Fails the test otherwise. */
pid_t fmh_load_start(const struct fmh_controller *ctl, const char *dir, int nodes, char *log, char *acked);

/* The generator's acked file against the store db: per node, what it was
 * told is stored (2.04) and what last_seq the store holds. */
struct fmh_acked {
	int nodes;
	unsigned long acked, stored;
	unsigned long lost; /* acknowledged, not stored */
	unsigned long over; /* nodes with more than one stored past the acknowledged */
};
void fmh_load_acked(const char *db, const char *acked, struct fmh_acked *a);

#endif
