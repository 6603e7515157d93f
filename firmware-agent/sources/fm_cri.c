/* The CRI as a source of facts (fm_cri.h). The only file that includes the
 * CRI's generated messages. */
#include "fm_cri.h"

#include "containerd_events_v1.pb-c.h"
#include "cri_runtime_v1.pb-c.h"
#include "fm_containers.h"
#include "fm_docker_json.h"
#include "fm_grpc.h"
#include "fm_log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define SMALL_MSG  (64 * 1024)
#define LIST_MSG   (4 * 1024 * 1024) /* gRPC's default cap: a node's lists fit */
#define MAX_CTRS   32		     /* control-plane containers described (kubelet keeps 2 per container) */
#define CRASHLOOP_EXITS 3
#define CRASHLOOP_WINDOW_S 600
#define SERVICE	   "/runtime.v1.RuntimeService/"

int fm_cri_endpoint(const char *opt, const char *root, char *out, size_t size, char *origin, size_t origin_size)
{
	static const struct {
		const char *path, *what;
	} known[] = {
		{FM_CRI_K3S_SOCKET, "k3s's containerd"},
		{FM_CRI_CONTAINERD_SOCKET, "containerd"},
		{FM_CRI_CRIO_SOCKET, "CRI-O"},
	};
	if (opt) {
		if (strncmp(opt, "unix:///", 8) != 0) {
			snprintf(origin, origin_size, "--runtime-endpoint %s: not unix:///PATH", opt);
			return -EINVAL;
		}
		snprintf(out, size, "%s", opt);
		snprintf(origin, origin_size, "--runtime-endpoint");
		return 0;
	}
	const char *r = root && strcmp(root, "/") != 0 ? root : "";
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		char path[4096];
		struct stat st;
		snprintf(path, sizeof(path), "%s%s", r, known[i].path);
		if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
			snprintf(out, size, "unix://%s", path);
			snprintf(origin, origin_size, "default (%s)", known[i].what);
			return 0;
		}
	}
	snprintf(origin, origin_size, "no CRI socket under %s (%s, %s, %s)", r[0] ? r : "/", FM_CRI_K3S_SOCKET,
		 FM_CRI_CONTAINERD_SOCKET, FM_CRI_CRIO_SOCKET);
	return -ENOENT;
}

/* --- the messages, read ------------------------------------------------------- */

static const char *label(size_t n, Runtime__V1__Container__LabelsEntry **l, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (l[i]->key && strcmp(l[i]->key, key) == 0)
			return l[i]->value ? l[i]->value : "";
	return NULL;
}

/* The sandbox's labels have their own generated type, the same layout. */
static const char *sandbox_label(const Runtime__V1__PodSandbox *s, const char *key)
{
	for (size_t i = 0; i < s->n_labels; i++)
		if (s->labels[i]->key && strcmp(s->labels[i]->key, key) == 0)
			return s->labels[i]->value ? s->labels[i]->value : "";
	return NULL;
}

static void short_id(char *out, const char *id)
{
	snprintf(out, 13, "%s", id ? id : "");
}

static double seconds(int64_t ns)
{
	return (double)(ns / 1000000000);
}

int fm_cri_parse_version(cJSON *f, const uint8_t *msg, size_t len)
{
	Runtime__V1__VersionResponse *v = runtime__v1__version_response__unpack(NULL, len, msg);
	if (!v)
		return -EBADMSG;
	cJSON_AddStringToObject(f, "runtime_name", v->runtime_name ? v->runtime_name : "");
	cJSON_AddStringToObject(f, "runtime_version", v->runtime_version ? v->runtime_version : "");
	cJSON_AddStringToObject(f, "runtime_api_version", v->runtime_api_version ? v->runtime_api_version : "");
	runtime__v1__version_response__free_unpacked(v, NULL);
	return 0;
}

int fm_cri_parse_sandboxes(struct fm_facts *facts, const uint8_t *msg, size_t len, struct fm_cri_counts *k)
{
	Runtime__V1__ListPodSandboxResponse *r = runtime__v1__list_pod_sandbox_response__unpack(NULL, len, msg);
	if (!r)
		return -EBADMSG;
	for (size_t i = 0; i < r->n_items; i++) {
		const Runtime__V1__PodSandbox *s = r->items[i];
		bool ready = s->state == RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY;
		k->sandboxes++;
		k->sandboxes_ready += ready;
		const Runtime__V1__PodSandboxMetadata *m = s->metadata;
		struct fm_docker_name kn = {.attempt = m ? (long)m->attempt : 0, .sandbox = true};
		snprintf(kn.container, sizeof(kn.container), "POD");
		snprintf(kn.pod, sizeof(kn.pod), "%s", m && m->name ? m->name : "");
		snprintf(kn.ns, sizeof(kn.ns), "%s", m && m->namespace_ ? m->namespace_ : "");
		snprintf(kn.uid, sizeof(kn.uid), "%s", m && m->uid ? m->uid : "");
		if (!fm_docker_name_control_plane(&kn))
			continue;
		char sid[13];
		short_id(sid, s->id);
		cJSON *f = cJSON_CreateObject();
		cJSON_AddStringToObject(f, "full_id", s->id ? s->id : "");
		cJSON_AddStringToObject(f, "pod", kn.pod);
		cJSON_AddStringToObject(f, "namespace", kn.ns);
		cJSON_AddStringToObject(f, "uid", kn.uid);
		cJSON_AddNumberToObject(f, "attempt", (double)kn.attempt);
		cJSON_AddStringToObject(f, "state", ready ? "ready" : "notready");
		cJSON_AddNumberToObject(f, "created_at", seconds(s->created_at));
		const char *cfg = sandbox_label(s, "io.kubernetes.pod.name");
		if (cfg && strcmp(cfg, kn.pod) != 0)
			cJSON_AddStringToObject(f, "label_pod", cfg);
		fm_facts_put(facts, "cri.sandbox", sid, f);
	}
	runtime__v1__list_pod_sandbox_response__free_unpacked(r, NULL);
	return 0;
}

static const char *state_name(Runtime__V1__ContainerState s)
{
	switch (s) {
	case RUNTIME__V1__CONTAINER_STATE__CONTAINER_CREATED: return "created";
	case RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING: return "running";
	case RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED: return "exited";
	default: return "unknown";
	}
}

static void count_container(struct fm_cri_counts *k, Runtime__V1__ContainerState s)
{
	k->containers++;
	k->running += s == RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING;
	k->exited += s == RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED;
	k->created += s == RUNTIME__V1__CONTAINER_STATE__CONTAINER_CREATED;
	k->unknown += s != RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING &&
		      s != RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED &&
		      s != RUNTIME__V1__CONTAINER_STATE__CONTAINER_CREATED;
}

/* kubelet's labels on a container: whose it is. */
static void container_name(const Runtime__V1__Container *c, struct fm_docker_name *kn)
{
	const char *v;
	memset(kn, 0, sizeof(*kn));
	snprintf(kn->container, sizeof(kn->container), "%s",
		 (v = label(c->n_labels, c->labels, "io.kubernetes.container.name")) ? v
		 : c->metadata && c->metadata->name				       ? c->metadata->name
											       : "");
	snprintf(kn->pod, sizeof(kn->pod), "%s", (v = label(c->n_labels, c->labels, "io.kubernetes.pod.name")) ? v : "");
	snprintf(kn->ns, sizeof(kn->ns), "%s",
		 (v = label(c->n_labels, c->labels, "io.kubernetes.pod.namespace")) ? v : "");
	snprintf(kn->uid, sizeof(kn->uid), "%s", (v = label(c->n_labels, c->labels, "io.kubernetes.pod.uid")) ? v : "");
	kn->attempt = c->metadata ? (long)c->metadata->attempt : 0;
}

int fm_cri_parse_containers(const uint8_t *msg, size_t len, struct fm_cri_counts *k, struct fm_docker_ctr *ctrs,
			    size_t max, size_t *n)
{
	Runtime__V1__ListContainersResponse *r = runtime__v1__list_containers_response__unpack(NULL, len, msg);
	if (!r)
		return -EBADMSG;
	for (size_t i = 0; i < r->n_containers; i++) {
		const Runtime__V1__Container *c = r->containers[i];
		struct fm_docker_name kn;
		count_container(k, c->state);
		container_name(c, &kn);
		if (!fm_docker_name_control_plane(&kn) || *n >= max)
			continue;
		struct fm_docker_ctr *o = &ctrs[(*n)++];
		memset(o, 0, sizeof(*o));
		snprintf(o->id, sizeof(o->id), "%s", c->id ? c->id : "");
		snprintf(o->pod_sandbox, sizeof(o->pod_sandbox), "%s", c->pod_sandbox_id ? c->pod_sandbox_id : "");
		o->kn = kn;
		o->kubelet = true;
		/* The name the runtime reserves for it: what a conflict quotes. */
		snprintf(o->name, sizeof(o->name), "%s_%s_%s_%s_%ld", c->metadata && c->metadata->name ? c->metadata->name : kn.container,
			 kn.pod, kn.ns, kn.uid, kn.attempt);
		snprintf(o->state, sizeof(o->state), "%s", state_name(c->state));
		o->created = (long long)seconds(c->created_at);
	}
	runtime__v1__list_containers_response__free_unpacked(r, NULL);
	return 0;
}

/* Unix nanoseconds as RFC 3339 (UTC), as Docker's inspect writes times. */
static void rfc3339(char *out, size_t size, int64_t ns)
{
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;
	if (ns <= 0 || !gmtime_r(&t, &tm) || !strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm))
		out[0] = '\0';
}

int fm_cri_parse_status(const uint8_t *msg, size_t len, struct fm_docker_ctr *ctrs, size_t n)
{
	Runtime__V1__ContainerStatusResponse *r = runtime__v1__container_status_response__unpack(NULL, len, msg);
	if (!r)
		return -EBADMSG;
	const Runtime__V1__ContainerStatus *s = r->status;
	for (size_t i = 0; s && s->id && i < n; i++) {
		struct fm_docker_ctr *o = &ctrs[i];
		if (strcmp(o->id, s->id) != 0)
			continue;
		o->inspected = true;
		snprintf(o->state, sizeof(o->state), "%s", state_name(s->state));
		o->exit_code = s->exit_code;
		o->oom_killed = s->reason && strcmp(s->reason, "OOMKilled") == 0;
		o->restart_count = (int)o->kn.attempt;
		rfc3339(o->started_at, sizeof(o->started_at), s->started_at);
		rfc3339(o->finished_at, sizeof(o->finished_at), s->finished_at);
		o->finished_s = s->finished_at > 0 ? (long long)seconds(s->finished_at) : 0;
		if ((s->reason && s->reason[0]) || (s->message && s->message[0]))
			snprintf(o->error, sizeof(o->error), "%s%s%s", s->reason ? s->reason : "",
				 s->reason && s->reason[0] && s->message && s->message[0] ? ": " : "",
				 s->message ? s->message : "");
		break;
	}
	runtime__v1__container_status_response__free_unpacked(r, NULL);
	return 0;
}

/* The newest attempt of c's pod/container among ctrs, and the last exit of
 * the group (the newest exited attempt). */
static void group_of(const struct fm_docker_ctr *ctrs, size_t n, const struct fm_docker_ctr *c,
		     const struct fm_docker_ctr **newest, const struct fm_docker_ctr **last_exit)
{
	*newest = *last_exit = NULL;
	for (size_t j = 0; j < n; j++) {
		const struct fm_docker_ctr *o = &ctrs[j];
		if (strcmp(o->kn.ns, c->kn.ns) || strcmp(o->kn.pod, c->kn.pod) || strcmp(o->kn.container, c->kn.container))
			continue;
		if (!*newest || o->kn.attempt > (*newest)->kn.attempt)
			*newest = o;
		if (o->finished_s && (!*last_exit || o->finished_s > (*last_exit)->finished_s))
			*last_exit = o;
	}
}

void fm_cri_put_containers(struct fm_facts *facts, const struct fm_docker_ctr *ctrs, size_t n, long long now,
			   int crashloop_exits, int window_s, const char *runtime)
{
	for (size_t i = 0; i < n; i++) {
		char sid[13];
		short_id(sid, ctrs[i].id);
		char sbx[13];
		short_id(sbx, ctrs[i].pod_sandbox);
		cJSON *f = fm_containers_fact(&ctrs[i]);
		cJSON_AddStringToObject(f, "sandbox_id", sbx);
		cJSON_AddStringToObject(f, "runtime", runtime);
		fm_facts_put(facts, "cri.container", sid, f);
	}
	fm_containers_put_stale(facts, "cri.stale_attempt", ctrs, n);
	for (size_t i = 0; i < n; i++) {
		const struct fm_docker_ctr *newest, *last;
		group_of(ctrs, n, &ctrs[i], &newest, &last);
		char key[400];
		snprintf(key, sizeof(key), "%s/%s/%s", ctrs[i].kn.ns, ctrs[i].kn.pod, ctrs[i].kn.container);
		if (newest != &ctrs[i] || !last || newest->kn.attempt < crashloop_exits ||
		    now - last->finished_s > window_s || fm_facts_get(facts, "cri.crashloop", key))
			continue;
		cJSON *f = cJSON_CreateObject();
		cJSON_AddStringToObject(f, "container", newest->kn.container);
		cJSON_AddStringToObject(f, "pod", newest->kn.pod);
		cJSON_AddStringToObject(f, "namespace", newest->kn.ns);
		cJSON_AddNumberToObject(f, "exits", (double)newest->kn.attempt);
		cJSON_AddNumberToObject(f, "window_s", window_s);
		cJSON_AddNumberToObject(f, "last_exit_code", last->exit_code);
		cJSON_AddNumberToObject(f, "last_exit_at", (double)last->finished_s);
		cJSON_AddStringToObject(f, "counted_from", "attempt");
		cJSON_AddStringToObject(f, "runtime", runtime);
		fm_facts_put(facts, "cri.crashloop", key, f);
	}
}

/* --- the collection -------------------------------------------------------------- */

enum step { ASK_VERSION, ASK_SANDBOXES, ASK_CONTAINERS, ASK_STATUS, DONE };

struct fm_cri_collection {
	struct fm_loop *loop;
	struct fm_grpc *g;
	struct fm_grpc_call *call;
	struct fm_facts *facts;
	struct fm_collect_opts co;
	fm_collected_fn done;
	void *done_ctx;
	char endpoint[128];
	cJSON *runtime; /* the cri.runtime fact, put at the end */
	struct fm_cri_counts k;
	enum step step;
	struct fm_docker_ctr ctrs[MAX_CTRS];
	size_t nctrs, at;
	bool answered, bad, ended, deleting;
	char bad_what[64];
};

static void ask_next(struct fm_cri_collection *k);

static bool on_msg(struct fm_grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	(void)call;
	struct fm_cri_collection *k = ctx;
	int rc = 0;
	switch (k->step) {
	case ASK_VERSION: rc = fm_cri_parse_version(k->runtime, msg, len); break;
	case ASK_SANDBOXES: rc = fm_cri_parse_sandboxes(k->facts, msg, len, &k->k); break;
	case ASK_CONTAINERS: rc = fm_cri_parse_containers(msg, len, &k->k, k->ctrs, MAX_CTRS, &k->nctrs); break;
	case ASK_STATUS: rc = fm_cri_parse_status(msg, len, k->ctrs, k->nctrs); break;
	default: break;
	}
	if (rc < 0 && !k->bad) {
		k->bad = true;
		snprintf(k->bad_what, sizeof(k->bad_what), "%s", k->step == ASK_VERSION	   ? "Version"
								 : k->step == ASK_SANDBOXES ? "ListPodSandbox"
								 : k->step == ASK_CONTAINERS ? "ListContainers"
											     : "ContainerStatus");
	}
	return rc == 0;
}

static void early_exits(struct fm_cri_collection *k);

static void finish(struct fm_cri_collection *k, const struct fm_grpc_result *failed)
{
	cJSON *f = k->runtime;
	k->runtime = NULL;
	/* Version unimplemented: a gRPC server without the CRI, such as
	 * Docker's own containerd (its cri plugin disabled): not kubelet's
	 * runtime, so not a runtime that is down. */
	bool no_cri = failed && k->step == ASK_VERSION && failed->fail == FM_GRPC_STATUS && failed->grpc_status == 12;
	if (no_cri) {
		char why[300];
		snprintf(why, sizeof(why),
			 "%s serves no CRI (runtime.v1.RuntimeService is unimplemented): a containerd with its cri "
			 "plugin disabled, as Docker's own",
			 k->endpoint);
		cJSON_AddStringToObject(f, "state", "no-cri");
		cJSON_AddStringToObject(f, "reason", why);
		failed = NULL;
	} else if (failed) {
		cJSON_AddStringToObject(f, "state", fm_grpc_fail_name(failed->fail));
		cJSON_AddStringToObject(f, "reason", failed->reason);
		if (failed->grpc_status >= 0)
			cJSON_AddNumberToObject(f, "grpc_status", failed->grpc_status);
	} else if (k->bad) {
		char why[128];
		snprintf(why, sizeof(why), "the runtime's %s answer is not the CRI's message", k->bad_what);
		cJSON_AddStringToObject(f, "state", "malformed");
		cJSON_AddStringToObject(f, "reason", why);
	} else {
		cJSON_AddStringToObject(f, "state", "ok");
	}
	if (k->answered) {
		cJSON_AddNumberToObject(f, "sandboxes", (double)k->k.sandboxes);
		cJSON_AddNumberToObject(f, "sandboxes_ready", (double)k->k.sandboxes_ready);
		cJSON_AddNumberToObject(f, "containers", (double)k->k.containers);
		cJSON_AddNumberToObject(f, "running", (double)k->k.running);
		cJSON_AddNumberToObject(f, "exited", (double)k->k.exited);
		cJSON_AddNumberToObject(f, "created", (double)k->k.created);
		cJSON_AddNumberToObject(f, "unknown", (double)k->k.unknown);
	}
	/* The runtime, then its containers (its sandboxes were put as their
	 * list came). */
	const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "runtime_name"));
	char runtime[64];
	snprintf(runtime, sizeof(runtime), "%s", name && name[0] ? name : "cri");
	fm_facts_put(k->facts, "cri.runtime", k->endpoint, f);
	if (k->answered)
		early_exits(k);
	if (k->answered)
		fm_cri_put_containers(k->facts, k->ctrs, k->nctrs, (long long)time(NULL), CRASHLOOP_EXITS,
				      CRASHLOOP_WINDOW_S, runtime);
	fm_debug("cri: %s: %s%s%s", k->endpoint, failed ? fm_grpc_fail_name(failed->fail) : "answered",
		 failed ? ": " : "", failed ? failed->reason : "");
	k->step = DONE;
	k->ended = true;
	k->done(k->done_ctx, failed || k->bad ? -1 : 0); /* last */
}

static void on_done(const struct fm_grpc_result *res, void *ctx)
{
	struct fm_cri_collection *k = ctx;
	k->call = NULL;
	if (k->deleting)
		return; /* canceled by fm_cri_collection_delete: nobody to tell */
	if (k->step == ASK_VERSION && res->fail == FM_GRPC_OK) {
		k->answered = true;
		cJSON_AddNumberToObject(k->runtime, "elapsed_ms", (double)res->elapsed_ms);
	}
	/* A container gone between the list and its status is no failure. */
	bool gone = k->step == ASK_STATUS && res->fail == FM_GRPC_STATUS && res->grpc_status == 5;
	if (res->fail != FM_GRPC_OK && !gone) {
		finish(k, res);
		return;
	}
	if (k->bad) {
		finish(k, NULL);
		return;
	}
	ask_next(k);
}

/* One request message, packed into buf (at most size bytes). */
static size_t pack(const ProtobufCMessage *m, uint8_t *buf, size_t size)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	return n <= size ? protobuf_c_message_pack(m, buf) : 0;
}

static void ask(struct fm_cri_collection *k, const char *method, const ProtobufCMessage *m, size_t max_msg)
{
	uint8_t buf[256];
	char path[96];
	snprintf(path, sizeof(path), SERVICE "%s", method);
	struct fm_grpc_req r = {.path = path, .msg = buf, .len = pack(m, buf, sizeof(buf)), .max_msg = max_msg,
				.timeout_ms = k->co.timeout_ms > 0 ? k->co.timeout_ms : 2000, .on_msg = on_msg,
				.on_done = on_done, .ctx = k};
	int rc = fm_grpc_call(k->g, &r, &k->call);
	if (rc < 0) {
		struct fm_grpc_result res = {.fail = FM_GRPC_CONNECT, .grpc_status = -1};
		snprintf(res.reason, sizeof(res.reason), "%s: cannot start the call: %s", path, strerror(-rc));
		finish(k, &res);
	}
}

/* The next question, or the end. */
static void ask_next(struct fm_cri_collection *k)
{
	switch (k->step) {
	case ASK_VERSION: {
		k->step = ASK_SANDBOXES;
		Runtime__V1__ListPodSandboxRequest m = RUNTIME__V1__LIST_POD_SANDBOX_REQUEST__INIT;
		ask(k, "ListPodSandbox", &m.base, LIST_MSG);
		return;
	}
	case ASK_SANDBOXES: {
		k->step = ASK_CONTAINERS;
		Runtime__V1__ListContainersRequest m = RUNTIME__V1__LIST_CONTAINERS_REQUEST__INIT;
		ask(k, "ListContainers", &m.base, LIST_MSG);
		return;
	}
	case ASK_CONTAINERS:
	case ASK_STATUS:
		/* The exit of each that does not run: one at a time. */
		while (k->at < k->nctrs && strcmp(k->ctrs[k->at].state, "running") == 0)
			k->at++;
		if (k->at < k->nctrs) {
			k->step = ASK_STATUS;
			Runtime__V1__ContainerStatusRequest m = RUNTIME__V1__CONTAINER_STATUS_REQUEST__INIT;
			m.container_id = k->ctrs[k->at++].id;
			ask(k, "ContainerStatus", &m.base, SMALL_MSG);
			return;
		}
		finish(k, NULL);
		return;
	default: return;
	}
}

struct fm_cri_collection *fm_cri_collection_new(struct fm_loop *loop, const char *endpoint, const char *origin,
						const struct fm_collect_opts *co, struct fm_facts *facts,
						fm_collected_fn done, void *ctx)
{
	char err[300];
	struct fm_cri_collection *k = calloc(1, sizeof(*k));
	cJSON *f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "origin", origin ? origin : "");
	fm_facts_drop(facts, "cri.");
	if (!k || !(k->g = fm_grpc_new(loop, endpoint, err, sizeof(err)))) {
		cJSON_AddStringToObject(f, "state", "config");
		cJSON_AddStringToObject(f, "reason", k ? err : "out of memory");
		fm_facts_put(facts, "cri.runtime", endpoint, f);
		free(k);
		return NULL;
	}
	*k = (struct fm_cri_collection){.loop = loop, .g = k->g, .facts = facts, .co = *co, .done = done,
					.done_ctx = ctx, .runtime = f, .step = ASK_VERSION};
	snprintf(k->endpoint, sizeof(k->endpoint), "%s", endpoint);
	Runtime__V1__VersionRequest m = RUNTIME__V1__VERSION_REQUEST__INIT;
	m.version = "v1";
	ask(k, "Version", &m.base, SMALL_MSG);
	return k;
}

bool fm_cri_collection_ended(const struct fm_cri_collection *k)
{
	return k->ended;
}

void fm_cri_collection_delete(struct fm_cri_collection **kp)
{
	struct fm_cri_collection *k = *kp;
	if (!k)
		return;
	k->deleting = true; /* the canceled call's on_done goes no further */
	fm_grpc_delete(&k->g);
	cJSON_Delete(k->runtime);
	free(k);
	*kp = NULL;
}

/* --- live exits (containerd's events) ------------------------------------- */

#define EVENTS_PATH "/containerd.services.events.v1.Events/Subscribe"
/* kubelet's containers live in containerd's k8s.io namespace. */
#define EXIT_FILTER "namespace==k8s.io,topic==\"/tasks/exit\""
#define BACKOFF_MIN_MS 250

int fm_cri_parse_event(const uint8_t *msg, size_t len, char *id, size_t idlen, uint32_t *exit_status)
{
	Containerd__Services__Events__V1__Envelope *e =
		containerd__services__events__v1__envelope__unpack(NULL, len, msg);
	if (!e)
		return -EBADMSG;
	int rc = 0;
	if (e->topic && strcmp(e->topic, "/tasks/exit") == 0 && e->event) {
		Containerd__Services__Events__V1__TaskExit *x = containerd__services__events__v1__task_exit__unpack(
			NULL, e->event->value.len, e->event->value.data);
		if (x) {
			snprintf(id, idlen, "%s", x->container_id ? x->container_id : "");
			*exit_status = x->exit_status;
			containerd__services__events__v1__task_exit__free_unpacked(x, NULL);
			rc = 1;
		} else {
			rc = -EBADMSG;
		}
	}
	containerd__services__events__v1__envelope__free_unpacked(e, NULL);
	return rc;
}

#define MAX_PENDING 8
#define SETTLE_MS   50
#define SETTLE_TRIES 200 /* 10 s (a loaded node's shim is slow to clean up): then told anyway */

int fm_cri_parse_container_event(const uint8_t *msg, size_t len, char *id, size_t idlen)
{
	Runtime__V1__ContainerEventResponse *e = runtime__v1__container_event_response__unpack(NULL, len, msg);
	if (!e)
		return -EBADMSG;
	int rc = e->container_event_type == RUNTIME__V1__CONTAINER_EVENT_TYPE__CONTAINER_STOPPED_EVENT;
	snprintf(id, idlen, "%s", e->container_id ? e->container_id : "");
	runtime__v1__container_event_response__free_unpacked(e, NULL);
	return rc;
}

/* Which event stream the watch reads. */
enum events { CRI_EVENTS, CONTAINERD_EVENTS, NO_EVENTS };

struct fm_cri_watch {
	struct fm_loop *loop;
	struct fm_grpc *g;
	struct fm_cri_watch_opts o;
	char endpoint[128];
	struct fm_timer retry, settle, recheck;
	/* Exits told by the events service, told on at once and again once
	 * the CRI says so too: containerd's CRI plugin takes the same event,
	 * deletes the task and only then updates its container (~50 ms
	 * later), so a collection meanwhile would still list it running;
	 * early_exits() takes these as exited. */
	struct pending {
		char id[65];
		uint32_t status;
		long long at_s;
	} pending[MAX_PENDING];
	int npending, tries;
	bool asking;
	uint64_t backoff_ms, exits;
	bool down;	   /* the stream ended: "up" is told when the runtime answers again */
	enum events events; /* the CRI's own first, else containerd's, else none */
	bool deleting;
};

static void subscribe(struct fm_cri_watch *w);

static void ask_settled(struct fm_cri_watch *w);

/* The process's watch (run has one; check none): the collections take its
 * pending exits. */
static struct fm_cri_watch *the_watch;

/* A container the CRI still lists running whose exit the events service
 * told: exited, with the event's status, now. */
static void early_exits(struct fm_cri_collection *k)
{
	for (int p = 0; the_watch && p < the_watch->npending; p++) {
		const struct pending *e = &the_watch->pending[p];
		for (size_t i = 0; i < k->nctrs; i++) {
			struct fm_docker_ctr *o = &k->ctrs[i];
			if (strcmp(o->id, e->id) != 0 || strcmp(o->state, "running") != 0)
				continue;
			snprintf(o->state, sizeof(o->state), "exited");
			o->exit_code = (int)e->status;
			o->finished_s = e->at_s;
			rfc3339(o->finished_at, sizeof(o->finished_at), (int64_t)e->at_s * 1000000000);
			if (k->k.running > 0)
				k->k.running--;
			k->k.exited++;
		}
	}
}

/* One call of the watch's own beside its stream (2 s at most): 0, or
 * -errno when it cannot start (on_done is not called then). */
static int watch_call(struct fm_cri_watch *w, const char *method, const ProtobufCMessage *m, size_t max_msg,
		      fm_grpc_msg_fn msg_fn, fm_grpc_done_fn done_fn)
{
	uint8_t buf[160];
	char path[96];
	snprintf(path, sizeof(path), SERVICE "%s", method);
	struct fm_grpc_req q = {.path = path, .msg = buf, .len = pack(m, buf, sizeof(buf)), .max_msg = max_msg,
				.timeout_ms = 2000, .on_msg = msg_fn, .on_done = done_fn, .ctx = w};
	return fm_grpc_call(w->g, &q, NULL);
}

/* The first pending exit is told on: the CRI agrees, or gave up asking. */
static void settled(struct fm_cri_watch *w)
{
	memmove(&w->pending[0], &w->pending[1], (size_t)(w->npending - 1) * sizeof(w->pending[0]));
	w->npending--;
	w->tries = 0;
	w->o.on_event(w->o.arg, "exit");
	if (w->npending)
		ask_settled(w);
}

static bool on_status_msg(struct fm_grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	(void)call;
	struct fm_cri_watch *w = ctx;
	Runtime__V1__ContainerStatusResponse *r = runtime__v1__container_status_response__unpack(NULL, len, msg);
	/* still running for the CRI: asked again shortly */
	w->tries = r && r->status && r->status->state == RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING
			   ? w->tries + 1
			   : -1;
	if (r)
		runtime__v1__container_status_response__free_unpacked(r, NULL);
	return true;
}

static void on_status_done(const struct fm_grpc_result *res, void *ctx)
{
	struct fm_cri_watch *w = ctx;
	if (w->deleting)
		return;
	w->asking = false;
	/* told on when the CRI agrees, does not know it (a sandbox, a
	 * container gone), or after SETTLE_TRIES; a slow answer is asked
	 * again */
	bool unknown = res->fail == FM_GRPC_STATUS && res->grpc_status == 5;
	if (res->fail != FM_GRPC_OK && !unknown)
		w->tries++;
	if (unknown || w->tries < 0 || w->tries >= SETTLE_TRIES)
		settled(w);
	else
		fm_timer_arm(&w->settle, SETTLE_MS, 0);
}

static void ask_settled(struct fm_cri_watch *w)
{
	Runtime__V1__ContainerStatusRequest m = RUNTIME__V1__CONTAINER_STATUS_REQUEST__INIT;
	m.container_id = w->pending[0].id;
	w->asking = true;
	if (watch_call(w, "ContainerStatus", &m.base, SMALL_MSG, on_status_msg, on_status_done) < 0) {
		w->asking = false;
		settled(w);
	}
}

static void on_settle(struct fm_timer *t)
{
	struct fm_cri_watch *w = container_of(t, struct fm_cri_watch, settle);
	if (w->npending && !w->asking)
		ask_settled(w);
}

/* The container's cri.container fact in facts, if it says running:
 * exited, with the event's status and time (what early_exits gives the
 * collection that follows). */
static void mark_exited(struct fm_facts *facts, const struct pending *e)
{
	char sid[13];
	short_id(sid, e->id);
	const cJSON *c = fm_facts_get(facts, "cri.container", sid);
	const char *state = c ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "state")) : NULL;
	if (!state || strcmp(state, "running") != 0)
		return;
	char at[40];
	rfc3339(at, sizeof(at), (int64_t)e->at_s * 1000000000);
	cJSON *f = fm_containers_exited(c, e->status, at);
	if (!f)
		return;
	fm_facts_put(facts, "cri.container", sid, f);
}

static bool on_event_msg(struct fm_grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	(void)call;
	struct fm_cri_watch *w = ctx;
	char id[80];
	uint32_t status = 0;
	if (fm_cri_parse_event(msg, len, id, sizeof(id), &status) == 1) {
		w->exits++;
		fm_info("cri: container %.12s exited (status %u)", id, status);
		if (w->npending < MAX_PENDING) { /* else a burst: told at once only */
			struct pending *p = &w->pending[w->npending++];
			snprintf(p->id, sizeof(p->id), "%.64s", id);
			p->status = status;
			p->at_s = (long long)time(NULL);
			if (w->o.facts)
				mark_exited(w->o.facts, p);
			if (w->npending == 1 && !w->asking && !fm_timer_armed(&w->settle))
				ask_settled(w);
		}
		w->o.on_event(w->o.arg, "exit");
	}
	w->backoff_ms = BACKOFF_MIN_MS; /* the stream works */
	return true;
}

/* The CRI's own stream: a stopped container is told at once (the CRI
 * that says so is the one the collection asks). */
static bool on_cri_event_msg(struct fm_grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	(void)call;
	struct fm_cri_watch *w = ctx;
	char id[80];
	if (fm_cri_parse_container_event(msg, len, id, sizeof(id)) == 1) {
		w->exits++;
		fm_info("cri: container %.12s stopped (the CRI's event)", id);
		w->o.on_event(w->o.arg, "exit");
	}
	w->backoff_ms = BACKOFF_MIN_MS;
	return true;
}

static void retry_later(struct fm_cri_watch *w)
{
	fm_timer_arm(&w->retry, w->backoff_ms, 0);
	w->backoff_ms = w->backoff_ms * 2 < w->o.backoff_max_ms ? w->backoff_ms * 2 : w->o.backoff_max_ms;
}

static void on_stream_end(const struct fm_grpc_result *res, void *ctx)
{
	struct fm_cri_watch *w = ctx;
	if (w->deleting)
		return;
	if (res->fail == FM_GRPC_STATUS && res->grpc_status == 12) {
		/* Unimplemented: the CRI's stream (containerd before 1.7),
		 * then containerd's own (CRI-O has none). */
		if (w->events == CRI_EVENTS) {
			w->events = CONTAINERD_EVENTS;
			fm_info("cri: %s has no CRI event stream: containerd's events instead", w->endpoint);
			subscribe(w);
		} else {
			w->events = NO_EVENTS;
			fm_info("cri: %s has no event stream: its containers are seen at each collection", w->endpoint);
		}
		return;
	}
	if (!w->down) {
		fm_info("cri: the event stream of %s ended: %s", w->endpoint, res->reason);
		w->down = true;
		w->o.on_event(w->o.arg, "down");
	}
	retry_later(w);
}

static void ask_up(struct fm_cri_watch *w);

/* Whether a step of ask_up answered while the runtime is still thought
 * down; when it failed, asked again after the back-off. */
static bool answered_down(struct fm_cri_watch *w, const struct fm_grpc_result *res)
{
	if (w->deleting || !w->down)
		return false;
	if (res->fail != FM_GRPC_OK) {
		fm_timer_arm(&w->recheck, w->backoff_ms, 0);
		return false;
	}
	return true;
}

/* The runtime's lists answer again: it is back (containerd answers its
 * Version before its CRI plugin has recovered its state; a collection
 * then would only fail again). Else asked again after the back-off. */
static void on_listed(const struct fm_grpc_result *res, void *ctx)
{
	struct fm_cri_watch *w = ctx;
	if (!answered_down(w, res))
		return;
	w->down = false;
	w->backoff_ms = BACKOFF_MIN_MS;
	fm_info("cri: %s answers again", w->endpoint);
	w->o.on_event(w->o.arg, "up");
}

static void on_version(const struct fm_grpc_result *res, void *ctx)
{
	struct fm_cri_watch *w = ctx;
	if (!answered_down(w, res))
		return;
	Runtime__V1__ListPodSandboxRequest m = RUNTIME__V1__LIST_POD_SANDBOX_REQUEST__INIT;
	if (watch_call(w, "ListPodSandbox", &m.base, LIST_MSG, NULL, on_listed) < 0)
		fm_timer_arm(&w->recheck, w->backoff_ms, 0);
}

/* Beside the new stream, after the old one ended: whether the runtime
 * answers again (Version, then a list). */
static void ask_up(struct fm_cri_watch *w)
{
	Runtime__V1__VersionRequest v = RUNTIME__V1__VERSION_REQUEST__INIT;
	if (watch_call(w, "Version", &v.base, SMALL_MSG, NULL, on_version) < 0)
		fm_timer_arm(&w->recheck, w->backoff_ms, 0);
}

static void on_recheck(struct fm_timer *t)
{
	struct fm_cri_watch *w = container_of(t, struct fm_cri_watch, recheck);
	if (w->down)
		ask_up(w);
}

static void subscribe(struct fm_cri_watch *w)
{
	uint8_t buf[128];
	struct fm_grpc_req r = {.msg = buf, .max_msg = SMALL_MSG, .timeout_ms = 0, .on_done = on_stream_end, .ctx = w};
	if (w->events == CRI_EVENTS) {
		/* A ContainerEventResponse carries the pod's and containers'
		 * statuses: larger than an envelope. */
		Runtime__V1__GetEventsRequest m = RUNTIME__V1__GET_EVENTS_REQUEST__INIT;
		r.path = SERVICE "GetContainerEvents";
		r.len = pack(&m.base, buf, sizeof(buf));
		r.max_msg = LIST_MSG;
		r.on_msg = on_cri_event_msg;
	} else {
		char *filters[] = {EXIT_FILTER};
		Containerd__Services__Events__V1__SubscribeRequest m = CONTAINERD__SERVICES__EVENTS__V1__SUBSCRIBE_REQUEST__INIT;
		m.n_filters = 1;
		m.filters = filters;
		r.path = EVENTS_PATH;
		r.len = pack(&m.base, buf, sizeof(buf));
		r.on_msg = on_event_msg;
	}
	if (fm_grpc_call(w->g, &r, NULL) < 0) {
		retry_later(w);
		return;
	}
	if (w->down && !fm_timer_armed(&w->recheck))
		ask_up(w);
}

static void on_retry(struct fm_timer *t)
{
	struct fm_cri_watch *w = container_of(t, struct fm_cri_watch, retry);
	subscribe(w);
}

struct fm_cri_watch *fm_cri_watch_new(struct fm_loop *loop, const struct fm_cri_watch_opts *o, char *err,
				      size_t errlen)
{
	struct fm_cri_watch *w = calloc(1, sizeof(*w));
	if (!w) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	w->loop = loop;
	w->o = *o;
	if (!w->o.backoff_max_ms)
		w->o.backoff_max_ms = 30000;
	w->backoff_ms = BACKOFF_MIN_MS;
	w->events = CRI_EVENTS;
	w->retry = (struct fm_timer)FM_TIMER_INIT;
	w->settle = (struct fm_timer)FM_TIMER_INIT;
	w->recheck = (struct fm_timer)FM_TIMER_INIT;
	snprintf(w->endpoint, sizeof(w->endpoint), "%s", o->endpoint);
	w->o.endpoint = w->endpoint;
	if (!(w->g = fm_grpc_new(loop, o->endpoint, err, errlen)) || fm_timer_init(loop, &w->retry, on_retry) < 0 ||
	    fm_timer_init(loop, &w->settle, on_settle) < 0 || fm_timer_init(loop, &w->recheck, on_recheck) < 0) {
		if (w->g)
			snprintf(err, errlen, "cannot make a timer");
		fm_cri_watch_delete(&w);
		return NULL;
	}
	subscribe(w);
	the_watch = w;
	return w;
}

void fm_cri_watch_delete(struct fm_cri_watch **wp)
{
	struct fm_cri_watch *w = *wp;
	if (!w)
		return;
	w->deleting = true;
	if (the_watch == w)
		the_watch = NULL;
	fm_grpc_delete(&w->g);
	fm_timer_close(&w->retry);
	fm_timer_close(&w->settle);
	fm_timer_close(&w->recheck);
	free(w);
	*wp = NULL;
}

uint64_t fm_cri_watch_exits(const struct fm_cri_watch *w)
{
	return w->exits;
}

/* --- remove ---------------------------------------------------------------------------- */

struct removing {
	struct fm_grpc_result res;
	bool done;
};

static void on_removed(const struct fm_grpc_result *res, void *ctx)
{
	struct removing *rm = ctx;
	rm->res = *res;
	rm->done = true;
}

int fm_cri_remove(struct fm_loop *loop, const char *endpoint, const char *id, const char *state, bool allowed,
		  char *reason, size_t reason_size)
{
	int rc;
	size_t n = strlen(id);
	bool hex = n == 64;
	for (size_t i = 0; hex && i < n; i++)
		hex = (id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f');
	if (!allowed) {
		snprintf(reason, reason_size, "removing containers is not enabled in the agent's configuration");
		rc = -EPERM;
	} else if (!hex) {
		snprintf(reason, reason_size, "'%.80s' is not a container's full id", id);
		rc = -EINVAL;
	} else if (strcmp(state, "exited") != 0 && strcmp(state, "created") != 0) {
		snprintf(reason, reason_size, "container %.12s is %s: only stopped containers are removed", id, state);
		rc = -EBUSY;
	} else {
		char err[300];
		uint8_t buf[128];
		struct removing rm = {0};
		struct fm_grpc *g = fm_grpc_new(loop, endpoint, err, sizeof(err));
		Runtime__V1__RemoveContainerRequest m = RUNTIME__V1__REMOVE_CONTAINER_REQUEST__INIT;
		m.container_id = (char *)id;
		struct fm_grpc_req r = {.path = SERVICE "RemoveContainer", .msg = buf, .len = pack(&m.base, buf, sizeof(buf)),
					.max_msg = SMALL_MSG, .timeout_ms = 2000, .on_done = on_removed, .ctx = &rm};
		if (!g || fm_grpc_call(g, &r, NULL) < 0) {
			snprintf(reason, reason_size, "%s", g ? "cannot ask the runtime" : err);
			rc = -EIO;
		} else {
			fm_loop_run_until(loop, &rm.done);
			if (!rm.done)
				fm_grpc_delete(&g); /* canceled: rm is told now */
			rc = rm.res.fail == FM_GRPC_OK ? 0 : rm.res.grpc_status == 5 ? -ENOENT : -EIO;
			if (rc == 0)
				snprintf(reason, reason_size, "removed container %.12s through the CRI", id);
			else
				snprintf(reason, reason_size, "the runtime did not remove %.12s: %s", id, rm.res.reason);
		}
		fm_grpc_delete(&g);
	}
	fm_notice("cri: audit: remove container %.64s on %s: %s: %s", id, endpoint, rc == 0 ? "done" : "refused", reason);
	return rc;
}

