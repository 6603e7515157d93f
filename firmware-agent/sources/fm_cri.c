/* The CRI as a source of facts (fm_cri.h). The only file that includes the
 * CRI's generated messages. */
#include "fm_cri.h"

#include "cri_runtime_v1.pb-c.h"
#include "fm_docker_json.h"
#include "fm_grpc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SMALL_MSG  (64 * 1024)
#define LIST_MSG   (4 * 1024 * 1024) /* gRPC's default cap: a node's lists fit */
#define MAX_STATUS 16		     /* control-plane containers asked for their exit */
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
		cJSON_AddStringToObject(f, "runtime", "cri");
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

int fm_cri_parse_containers(struct fm_facts *facts, const uint8_t *msg, size_t len, struct fm_cri_counts *k,
			    char (*ids)[65], size_t max, size_t *n)
{
	Runtime__V1__ListContainersResponse *r = runtime__v1__list_containers_response__unpack(NULL, len, msg);
	if (!r)
		return -EBADMSG;
	for (size_t i = 0; i < r->n_containers; i++) {
		const Runtime__V1__Container *c = r->containers[i];
		struct fm_docker_name kn;
		count_container(k, c->state);
		container_name(c, &kn);
		if (!fm_docker_name_control_plane(&kn))
			continue;
		char cid[13], sid[13];
		short_id(cid, c->id);
		short_id(sid, c->pod_sandbox_id);
		cJSON *f = cJSON_CreateObject();
		cJSON_AddStringToObject(f, "full_id", c->id ? c->id : "");
		cJSON_AddStringToObject(f, "name", c->metadata && c->metadata->name ? c->metadata->name : "");
		cJSON_AddStringToObject(f, "container", kn.container);
		cJSON_AddStringToObject(f, "pod", kn.pod);
		cJSON_AddStringToObject(f, "namespace", kn.ns);
		cJSON_AddStringToObject(f, "uid", kn.uid);
		cJSON_AddNumberToObject(f, "attempt", (double)kn.attempt);
		cJSON_AddStringToObject(f, "sandbox_id", sid);
		cJSON_AddStringToObject(f, "state", state_name(c->state));
		cJSON_AddNumberToObject(f, "created_at", seconds(c->created_at));
		cJSON_AddStringToObject(f, "runtime", "cri");
		fm_facts_put(facts, "cri.container", cid, f);
		if (c->state != RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING && *n < max && c->id)
			snprintf(ids[(*n)++], 65, "%s", c->id);
	}
	runtime__v1__list_containers_response__free_unpacked(r, NULL);
	return 0;
}

int fm_cri_parse_status(struct fm_facts *facts, const uint8_t *msg, size_t len)
{
	Runtime__V1__ContainerStatusResponse *r = runtime__v1__container_status_response__unpack(NULL, len, msg);
	if (!r)
		return -EBADMSG;
	const Runtime__V1__ContainerStatus *s = r->status;
	char cid[13];
	short_id(cid, s ? s->id : NULL);
	const cJSON *old = s ? fm_facts_get(facts, "cri.container", cid) : NULL;
	if (old) {
		cJSON *f = cJSON_Duplicate(old, 1);
		cJSON_DeleteItemFromObjectCaseSensitive(f, "kind");
		cJSON_DeleteItemFromObjectCaseSensitive(f, "id");
		cJSON_ReplaceItemInObjectCaseSensitive(f, "state", cJSON_CreateString(state_name(s->state)));
		cJSON_AddNumberToObject(f, "exit_code", s->exit_code);
		if (s->started_at)
			cJSON_AddNumberToObject(f, "started_at", seconds(s->started_at));
		if (s->finished_at)
			cJSON_AddNumberToObject(f, "finished_at", seconds(s->finished_at));
		if (s->reason && s->reason[0])
			cJSON_AddStringToObject(f, "reason", s->reason);
		if (s->message && s->message[0])
			cJSON_AddStringToObject(f, "message", s->message);
		cJSON_AddBoolToObject(f, "oom_killed", s->reason && strcmp(s->reason, "OOMKilled") == 0);
		fm_facts_put(facts, "cri.container", cid, f);
	}
	runtime__v1__container_status_response__free_unpacked(r, NULL);
	return 0;
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
	char ids[MAX_STATUS][65];
	size_t nids, at;
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
	case ASK_CONTAINERS:
		rc = fm_cri_parse_containers(k->facts, msg, len, &k->k, k->ids, MAX_STATUS, &k->nids);
		break;
	case ASK_STATUS: rc = fm_cri_parse_status(k->facts, msg, len); break;
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

static void finish(struct fm_cri_collection *k, const struct fm_grpc_result *failed)
{
	cJSON *f = k->runtime;
	k->runtime = NULL;
	if (failed) {
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
	/* First in the set: the runtime, then what it holds. */
	fm_facts_put(k->facts, "cri.runtime", k->endpoint, f);
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
		if (k->at < k->nids) {
			k->step = ASK_STATUS;
			Runtime__V1__ContainerStatusRequest m = RUNTIME__V1__CONTAINER_STATUS_REQUEST__INIT;
			m.container_id = k->ids[k->at++];
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
