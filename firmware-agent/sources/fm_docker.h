/* fm_docker: the Docker engine as a source of facts, over its Engine API on
 * the unix socket (DOCKER_HOST, --docker-host).
 *
 * The watcher lives on the agent's loop and never polls: it asks /version
 * (the API version it speaks is min(the daemon's, FM_DOCKER_API_NEWEST)),
 * subscribes to /events, then lists every container and inspects the
 * control-plane ones; every container event after that updates the facts
 * (a die at once, from the event itself; the details from a re-list). When
 * the daemon stops answering or the socket goes away, docker.daemon says so
 * (container-runtime-down evidence), the watcher backs off exponentially,
 * reconnects and re-lists, and asks /events since the last event it saw, so
 * what happened meanwhile is not lost.
 *
 * Facts (kind, id):
 *   docker.daemon (host URL): state "ok" or the failure ("refused", "timeout",
 *     "closed", "malformed", "http-status" ...) with reason; version,
 *     api_version (the daemon's), api_used ("1.41"; "" = unversioned, for
 *     daemons older than API 1.40, with api_note), running, exited, total,
 *     events_refused (event lines that were not JSON or too long).
 *   docker.container (12-hex short id, as `docker ps` shows): one per
 *     container of a kube-system control-plane static pod (etcd,
 *     kube-apiserver, kube-controller-manager, kube-scheduler and their
 *     k8s_POD_ sandboxes): full_id, name, container, pod, namespace, uid,
 *     attempt, sandbox, state (the container's: running, exited ...),
 *     exit_code, started_at, exited_at, oom_killed, error, restart_count,
 *     inspect_error (the daemon's message when it cannot inspect it).
 *   docker.stale_attempt (short id of the stale one): an exited container of
 *     a pod/container that also has a newer attempt: stale_id, stale_full_id,
 *     stale_attempt, stale_name, newer_id, newer_full_id, newer_attempt,
 *     newer_state, newer_name, consecutive (attempts N and N+1), sandbox,
 *     pod, namespace, container, uid.
 *   docker.crashloop ("namespace/pod/container"): at least crashloop_exits
 *     exits within crashloop_window_s: exits, window_s, last_exit_code,
 *     last_exit_at.
 *   docker.exited (host URL): exited (count), running, total.
 *   docker.logs (short id), from fm_docker_logs: lines, or state and error
 *     (the daemon's text, verbatim) when the logs cannot be read.
 * Other containers are counted, not described.
 */
#ifndef FM_DOCKER_H
#define FM_DOCKER_H

#include "fm_facts.h"
#include "fm_loop.h"
#include "fm_probe.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FM_DOCKER_DEFAULT_SOCKET "/var/run/docker.sock"

/* The Engine API URL: opt (--docker-host) as given, else $DOCKER_HOST, else
 * unix://ROOT/var/run/docker.sock (the socket under the root prefix, like
 * every other host path). tcp://H:P is taken as http://H:P. 0, or -EINVAL
 * with the reason in out. */
int fm_docker_host(char *out, size_t size, const char *opt, const char *root);

/* Whether this node runs no Docker at all (containerd, k3s): no host given
 * (opt, $DOCKER_HOST), and neither the default socket nor /var/lib/docker
 * under root. A dockerd that stopped cleanly removes its socket but leaves
 * /var/lib/docker, so it is down, not absent. */
bool fm_docker_absent(const char *opt, const char *root);

struct fm_docker_opts {
	const char *host;          /* URL (fm_docker_host); borrowed for new() */
	int timeout_ms;            /* per request; 0: 2000 */
	uint64_t backoff_min_ms;   /* first retry after a failure; 0: 250 */
	uint64_t backoff_max_ms;   /* cap of the doubling; 0: 30000 */
	int crashloop_exits;       /* 0: 3 */
	int crashloop_window_s;    /* 0: 600 */
	bool once;                 /* no /events: one sync, then idle (collect) */
	long long (*now_s)(void);  /* wall clock in unix seconds; NULL: time() */
};

struct fm_docker_watch;

/* Starts watching on loop: the first connection is tried at once. Borrows
 * loop and facts (both must outlive it). NULL with the reason in err when
 * the host URL is not usable or memory runs out. */
struct fm_docker_watch *fm_docker_watch_new(struct fm_loop *loop, const struct fm_docker_opts *o,
					    struct fm_facts *facts, char *err, size_t errlen);
/* Stops, closes its connections, frees and NULLs *w; accepts NULL. The
 * facts it put stay in the set. */
void fm_docker_watch_delete(struct fm_docker_watch **w);
/* A full list (and inspection) finished since the last (re)connect. */
bool fm_docker_watch_synced(const struct fm_docker_watch *w);
/* The daemon has failed since the watcher was made (or last synced). */
bool fm_docker_watch_failed(const struct fm_docker_watch *w);

/* probe docker: one sync (the watcher with once), then the logs of exited
 * control-plane containers (at most 8, tail 20). 0 when the daemon answered,
 * -1 when it did not (the verdict of probe). */
int fm_docker_collect(struct fm_loop *loop, const char *host, const struct fm_collect_opts *co,
		      struct fm_facts *facts);

/* Puts docker.logs for container id (a name or id): the last tail lines of
 * its stdout and stderr, or the daemon's error when it cannot give them
 * (incident 2: "stat /var/lib/docker/overlay2/...: no such file or
 * directory"). Runs on loop until done. 0, or -1 when the logs could not be
 * read (the fact says why). */
int fm_docker_logs(struct fm_loop *loop, const char *host, const char *id, int tail,
		   const struct fm_collect_opts *co, struct fm_facts *facts);

/* What the agent's configuration allows the Docker source to change. Filled
 * by the configuration (not parsed yet: main uses the zeroed default). */
struct fm_docker_policy {
	bool allow_remove; /* default false: fm_docker_remove refuses */
};

/* The one remediation primitive: removes one stopped container, given by
 * its id (12 to 64 hex digits, naming exactly one container). Refused
 * (-EPERM) unless policy allows it; -EINVAL for an id that is not hex;
 * -ENOENT when no single container has it; -EBUSY for a running one; -EIO
 * when the daemon refuses (its message in reason). Every call, allowed or
 * refused, is audited at NOTICE through fm_log (stderr: the journal under
 * systemd). 0 when removed. reason gets a sentence either way. */
int fm_docker_remove(struct fm_loop *loop, const char *host, const char *id,
		     const struct fm_docker_policy *policy, const struct fm_collect_opts *co,
		     char *reason, size_t reason_size);

#endif
