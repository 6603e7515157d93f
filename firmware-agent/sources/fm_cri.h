/* fm_cri: the container runtime through the CRI (issue 22): containerd
 * (kubeadm since Kubernetes 1.24), k3s's own containerd, CRI-O, asked the
 * way kubelet asks them: runtime.v1.RuntimeService over gRPC on the unix
 * socket (fm_grpc), messages from the interface definition in cri/
 * (protobuf-c).
 *
 * This first part collects once: Version, ListPodSandbox, ListContainers,
 * and ContainerStatus for the control-plane containers that are not
 * running (their exit code and reason). Facts (kind, id):
 *   cri.runtime (the endpoint, "unix:///run/containerd/containerd.sock"):
 *     state "ok" or the failure ("refused", "timeout", "grpc-status",
 *     "protocol"), "absent" when no runtime socket was found, "no-cri" for
 *     a gRPC server without the CRI (Docker's own containerd); reason,
 *     runtime_name ("containerd"), runtime_version, runtime_api_version
 *     ("v1"), origin (where the endpoint came from), sandboxes,
 *     sandboxes_ready, containers, running, exited, created, unknown,
 *     elapsed_ms (Version, the connection's set-up included).
 *   cri.sandbox (12-hex short id): one per control-plane pod sandbox
 *     (kube-system etcd, kube-apiserver, kube-controller-manager,
 *     kube-scheduler): full_id, pod, namespace, uid, attempt, state
 *     ("ready", "notready"), created_at (unix seconds).
 *   cri.container (12-hex short id): one per control-plane container, the
 *     fields of every runtime's (fm_containers.h; container, pod,
 *     namespace, uid from kubelet's io.kubernetes.* labels; state
 *     "created", "running", "exited", "unknown"; exit_code, started_at,
 *     exited_at, oom_killed and error (the runtime's reason and message)
 *     from ContainerStatus when not running), and runtime (the runtime's
 *     own name: "containerd", "cri-o").
 *   cri.stale_attempt, cri.crashloop: as docker.stale_attempt and
 *     docker.crashloop (fm_docker.h), the restart count read from the
 *     attempt.
 * Other pods and containers are counted, not described.
 */
#ifndef FM_CRI_H
#define FM_CRI_H

#include "fm_docker_json.h"
#include "fm_facts.h"
#include "fm_loop.h"
#include "fm_probe.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The runtime sockets looked for under the root prefix, in this order:
 * k3s's own containerd, containerd, CRI-O. */
#define FM_CRI_K3S_SOCKET	 "/run/k3s/containerd/containerd.sock"
#define FM_CRI_CONTAINERD_SOCKET "/run/containerd/containerd.sock"
#define FM_CRI_CRIO_SOCKET	 "/var/run/crio/crio.sock"

/* The CRI endpoint: opt (--runtime-endpoint, "unix:///PATH" as crictl
 * takes it) as given, else the first of the sockets above that exists
 * under root. 0 with "unix://..." in out and where it came from in origin;
 * -ENOENT when there is none (origin says what was looked for); -EINVAL
 * for an opt that is not unix:///PATH. */
int fm_cri_endpoint(const char *opt, const char *root, char *out, size_t size, char *origin, size_t origin_size);

/* One collection on the loop (never waits): done(ctx, rc) when it is over,
 * rc 0 when the runtime answered, -1 otherwise (the facts say why);
 * perhaps before fm_cri_collection_new returns. Borrows loop and facts
 * until deleted. NULL: out of memory or a malformed endpoint (done is
 * never called; the cri.runtime fact says why). */
struct fm_cri_collection;
struct fm_cri_collection *fm_cri_collection_new(struct fm_loop *loop, const char *endpoint, const char *origin,
						const struct fm_collect_opts *co, struct fm_facts *facts,
						fm_collected_fn done, void *ctx);
bool fm_cri_collection_ended(const struct fm_cri_collection *k);
/* Frees *k and NULLs it, canceling what runs (done is not called then);
 * not from inside done. Accepts NULL. */
void fm_cri_collection_delete(struct fm_cri_collection **k);

/* The pure parts: each reads one answer's protobuf bytes (hostile input:
 * any bytes, any length) into facts as the collection does; the fuzz
 * target (tests/fuzz/fuzz_cri.c) feeds them anything. -EBADMSG when the
 * bytes are not that message (nothing put). */
struct fm_cri_counts {
	long sandboxes, sandboxes_ready, containers, running, exited, created, unknown;
};
/* VersionResponse: its fields added to the runtime fact f. */
int fm_cri_parse_version(cJSON *f, const uint8_t *msg, size_t len);
/* ListPodSandboxResponse: a cri.sandbox per control-plane sandbox;
 * counts. */
int fm_cri_parse_sandboxes(struct fm_facts *facts, const uint8_t *msg, size_t len, struct fm_cri_counts *k);
/* ListContainersResponse: counts; the control-plane containers into
 * ctrs (at most max; *n; in the runtime's order), as kubelet's containers
 * whichever runtime (fm_containers.h): name is the one the runtime
 * reserves ("kube-apiserver_kube-apiserver-pi-master1_kube-system_UID_7"). */
int fm_cri_parse_containers(const uint8_t *msg, size_t len, struct fm_cri_counts *k, struct fm_docker_ctr *ctrs,
			    size_t max, size_t *n);
/* ContainerStatusResponse: the exit (code, times, reason, message) of the
 * container of ctrs it is about, if one is. */
int fm_cri_parse_status(const uint8_t *msg, size_t len, struct fm_docker_ctr *ctrs, size_t n);
/* The containers as facts: a cri.container each, cri.stale_attempt for an
 * exited attempt beside a newer one, cri.crashloop for a container kubelet
 * has restarted at least crashloop_exits times whose last exit is at most
 * window_s before now (the restart count is the attempt: the CRI keeps no
 * history of exits). runtime: the runtime's name (Version's
 * runtime_name), each fact's "runtime". */
void fm_cri_put_containers(struct fm_facts *facts, const struct fm_docker_ctr *ctrs, size_t n, long long now,
			   int crashloop_exits, int window_s, const char *runtime);

/* The runtime's live exits, where it has them: the CRI's own event
 * stream (GetContainerEvents: containerd 1.7+, CRI-O), else containerd's
 * events service (Subscribe to /tasks/exit in k8s.io: containerd 1.6,
 * whose CRI has none). on_event(arg, what) for each exit ("exit"), when
 * the stream ends ("down": the runtime went away) and when the runtime
 * answers again after that ("up"); the caller collects then. An exit from
 * containerd's events is told twice: at once, and again once the CRI no
 * longer lists the container running (its plugin deletes the task first);
 * a collection in between takes it as exited, with the event's status
 * (the process's one watch: run's). Reconnects
 * with back-off (250 ms doubling to backoff_max_ms). A runtime with
 * neither stream is left alone once it says so (UNIMPLEMENTED): the
 * collection's relist is all there is. */
struct fm_cri_watch_opts {
	const char *endpoint; /* "unix:///..." (copied) */
	uint64_t backoff_max_ms; /* 0: 30000 */
	void (*on_event)(void *arg, const char *what);
	void *arg;
	/* When set: an exit containerd tells marks that container's
	 * cri.container fact there exited (the event's status and time) at
	 * once, before on_event, where the fact says it is running: the
	 * collection on_event asks for confirms it ~50 ms later, when the CRI
	 * has caught up (issue 27: the agent within 10 % of `ctr events`). */
	struct fm_facts *facts;
};
struct fm_cri_watch;
/* NULL with the reason in err (a malformed endpoint, out of memory). */
struct fm_cri_watch *fm_cri_watch_new(struct fm_loop *loop, const struct fm_cri_watch_opts *o, char *err,
				      size_t errlen);
void fm_cri_watch_delete(struct fm_cri_watch **w);
/* Exits seen since it was made (for the tests and the log). */
uint64_t fm_cri_watch_exits(const struct fm_cri_watch *w);

/* The remediation primitive through the CRI, as fm_docker_remove for
 * Docker: removes one container the runtime holds and does not run. id is
 * its full id (64 hex digits, as the cri.container fact's full_id); state
 * is what the facts say of it (only "exited" and "created" are removed:
 * -EBUSY otherwise). Refused (-EPERM) unless allowed. Runs on loop until
 * done (a private one: the triage handler's); audited at NOTICE. 0, or
 * -ENOENT (the runtime does not know it), -EIO (it refused: its message in
 * reason). reason gets a sentence either way. */
int fm_cri_remove(struct fm_loop *loop, const char *endpoint, const char *id, const char *state, bool allowed,
		  char *reason, size_t reason_size);

/* One ContainerEventResponse's bytes (hostile): 1 and the container's id
 * when it says the container stopped, 0 for another event, -EBADMSG. */
int fm_cri_parse_container_event(const uint8_t *msg, size_t len, char *id, size_t idlen);

/* One event envelope's bytes (hostile): 1 and the exited container's id
 * and status when it is a /tasks/exit, 0 when it is another event,
 * -EBADMSG when it is not an envelope. */
int fm_cri_parse_event(const uint8_t *msg, size_t len, char *id, size_t idlen, uint32_t *exit_status);

#endif
