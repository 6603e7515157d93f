#include "fm_apiserver.h"

#include "fm_certs.h"

#include "fm_httpc.h"
#include "fm_json.h"
#include "fm_tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CHECKS     64
#define CHECK_NAME_LEN 128 /* the longest kube-apiserver check name is ~70 */
#define CHECK_WHY_LEN  160
#define MESSAGE_LEN    512 /* a kubelet conflict message with its container id is ~330 */
#define MAX_NODES      256
#define MAX_PODS       256
#define MAX_CONTAINERS 16
#define SMALL_BODY     (64 * 1024)
#define LIST_BODY      (4 * 1024 * 1024)
/* The token rides in fm_httpc's 2 KiB request head with the request line,
 * Host and the rest. */
#define MAX_TOKEN   1536
#define PODS_NS	    "kube-system"
#define LIMIT_QUERY "?limit=256" /* MAX_NODES, MAX_PODS */

static const char *json_str(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const cJSON *json_obj(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsObject(v) ? v : NULL;
}

/* s, or a copy in out cut to fit size on a UTF-8 character boundary and
 * ending in "..." (pod and node messages are the server's free text). */
static const char *clip(char *out, size_t size, const char *s)
{
	size_t len = strlen(s);
	if (len < size)
		return s;
	size_t n = size - 4;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	memcpy(out, s, n);
	memcpy(out + n, "...", 4);
	return out;
}

static void add_clipped(cJSON *o, const char *key, const char *s)
{
	char buf[MESSAGE_LEN];
	if (s)
		cJSON_AddStringToObject(o, key, clip(buf, sizeof(buf), s));
}

/* len bytes of s as printable ASCII ('?' for anything else: the healthz
 * body is raw text, and a fact must stay valid UTF-8 JSON), cut to fit size
 * with "..." when longer. */
static void ascii(char *out, size_t size, const char *s, size_t len)
{
	bool cut = len >= size;
	if (cut)
		len = size - 4;
	for (size_t i = 0; i < len; i++)
		out[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	if (cut)
		memcpy(out + len, "...", 4);
	else
		out[len] = '\0';
}

/* One collection: the connection and what went wrong on it so far. */
/* --- /livez, /readyz ------------------------------------------------------- */

struct checks {
	cJSON *list;   /* [{name, ok, reason}], or NULL: not wanted */
	cJSON *failed; /* [name] */
	int total, n_failed;
};

/* One line of the Kubernetes healthz format (k8s.io/apiserver
 * pkg/server/healthz): "[+]NAME ok", "[+]NAME excluded: ok" or
 * "[-]NAME failed: REASON" (REASON is "reason withheld" on the public
 * endpoint). Other lines ("readyz check failed", "warn: ...") are not
 * checks. */
static void check_line(struct checks *ck, const char *p, size_t len)
{
	if (len > 0 && p[len - 1] == '\r')
		len--;
	if (len < 4 || p[0] != '[' || (p[1] != '+' && p[1] != '-') || p[2] != ']')
		return;
	bool ok = p[1] == '+';
	p += 3;
	len -= 3;
	const char *sp = memchr(p, ' ', len);
	size_t name_len = sp ? (size_t)(sp - p) : len;
	if (name_len == 0)
		return;
	ck->total++;
	if (!ok)
		ck->n_failed++;
	if (ck->total > MAX_CHECKS)
		return;

	char name[CHECK_NAME_LEN];
	ascii(name, sizeof(name), p, name_len);
	if (!ok)
		cJSON_AddItemToArray(ck->failed, cJSON_CreateString(name));
	if (!ck->list)
		return;
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "name", name);
	cJSON_AddBoolToObject(o, "ok", ok);
	if (!ok && sp) {
		const char *why = sp + 1;
		size_t why_len = len - name_len - 1;
		if (why_len >= 8 && memcmp(why, "failed: ", 8) == 0) {
			why += 8;
			why_len -= 8;
		}
		char buf[CHECK_WHY_LEN];
		ascii(buf, sizeof(buf), why, why_len);
		cJSON_AddStringToObject(o, "reason", buf);
	}
	cJSON_AddItemToArray(ck->list, o);
}

static void parse_checks(struct checks *ck, const char *p, size_t len)
{
	const char *end = p + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;
		check_line(ck, p, (size_t)(e - p));
		p = e + 1;
	}
}

int fm_apiserver_parse_health(struct fm_facts *facts, const char *url, const char *name,
			      bool detailed, int status, const char *body, size_t len)
{
	char kind[32], what[32];
	snprintf(kind, sizeof(kind), "apiserver.%s", name);
	snprintf(what, sizeof(what), "/%s", name);
	if (!body)
		body = "", len = 0;
	struct checks ck = {.list = detailed ? cJSON_CreateArray() : NULL,
			    .failed = cJSON_CreateArray()};
	parse_checks(&ck, body, len);

	/* A plain "ok" is the answer of a server that ignored ?verbose. */
	bool plain_ok = status == 200 && len >= 2 && memcmp(body, "ok", 2) == 0 &&
			(len == 2 || body[2] == '\n');
	if (ck.total == 0 && !plain_ok) {
		cJSON_Delete(ck.list);
		cJSON_Delete(ck.failed);
		return -ENODATA;
	}

	/* A failing check makes the server answer 500 with every line;
	 * that is its verdict, not a failed request. */
	bool healthy = status == 200 && ck.n_failed == 0;
	cJSON *f = cJSON_CreateObject();
	cJSON_AddBoolToObject(f, "healthy", healthy);
	cJSON_AddNumberToObject(f, "http_status", status);
	if (ck.list)
		cJSON_AddItemToObject(f, "checks", ck.list);
	cJSON_AddItemToObject(f, "failed", ck.failed);
	if (ck.total > MAX_CHECKS) {
		cJSON_AddNumberToObject(f, "check_count", ck.total);
		cJSON_AddBoolToObject(f, "truncated", true);
	}
	if (!healthy && ck.n_failed == 0) {
		char why[120];
		snprintf(why, sizeof(why), "%s answered HTTP %d with no failed check", what,
			 status);
		cJSON_AddStringToObject(f, "reason", why);
	}
	fm_facts_put(facts, kind, url, f);
	return healthy ? 1 : 0;
}

/* Whether a health fact lists check among its failed ones. */
static bool failed_on(const cJSON *fact, const char *check)
{
	const cJSON *c;
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(fact, "failed"))
	{
		if (cJSON_IsString(c) && strcmp(c->valuestring, check) == 0)
			return true;
	}
	return false;
}

/* Asks /NAME?verbose. kube-apiserver's etcd check waits
 * --etcd-healthcheck-timeout (2 s by default) for an etcd that hangs, then
 * answers "[-]etcd failed": worth the wait, it names the cause where a
 * timeout names nothing. */
static void send_health(struct fm_probe_run *r, const char *name)
{
	char path[32];
	snprintf(path, sizeof(path), "/%s?verbose", name);
	r->next_timeout_ms = FM_APISERVER_HEALTH_MS;
	fm_probe_send(r, "GET", path, NULL, SMALL_BODY);
}

/* Puts apiserver.NAME from the answer. detailed: every check with its
 * verdict, else only the failed ones. Returns 1 healthy, 0 unhealthy, -1
 * when no verdict could be read. */
static int read_health(struct fm_probe_run *r, struct fm_facts *facts, const char *name, bool detailed)
{
	char kind[32], what[32];
	snprintf(kind, sizeof(kind), "apiserver.%s", name);
	snprintf(what, sizeof(what), "/%s", name);
	enum fm_probe_asked a = r->asked;
	if (a != FM_PROBE_OK) {
		fm_facts_put(facts, kind, r->url, fm_probe_failed_fact(r, a, what));
		return -1;
	}
	int status = r->c->status;
	int verdict = fm_apiserver_parse_health(facts, r->url, name, detailed, status,
						r->c->body.data, r->c->body.len);
	if (verdict >= 0)
		return verdict;
	cJSON *f;
	if (fm_httpc_require_2xx(r->c) < 0) {
		/* 401 / 403 (anonymous access disabled), 404 (a server
		 * older than 1.16), a proxy's error page ... */
		f = fm_probe_failed_fact(r, FM_PROBE_FAILED, what);
	} else {
		char why[200];
		f = cJSON_CreateObject();
		cJSON_AddStringToObject(f, "state", "malformed");
		snprintf(why, sizeof(why),
			 "%s answered HTTP %d with neither \"ok\" nor check lines: not a "
			 "kube-apiserver?",
			 what, status);
		cJSON_AddStringToObject(f, "reason", why);
		cJSON_AddNumberToObject(f, "http_status", status);
	}
	fm_facts_put(facts, kind, r->url, f);
	return -1;
}

/* --- /version -------------------------------------------------------------- */

/* "1", "19+" (some distributions' minor): the leading digits. */
static bool leading_int(const char *s, int *out)
{
	if (!s || s[0] < '0' || s[0] > '9')
		return false;
	long v = strtol(s, NULL, 10);
	if (v > 100000)
		return false;
	*out = (int)v;
	return true;
}

int fm_apiserver_parse_version(struct fm_facts *facts, const char *url, const char *body,
			       size_t len)
{
	cJSON *j = fm_json_parse(body, len);
	const char *gv = json_str(j, "gitVersion");
	if (!cJSON_IsObject(j) || !gv) {
		cJSON_Delete(j);
		return -EBADMSG;
	}
	cJSON *f = cJSON_CreateObject();
	char buf[64];
	int n;
	cJSON_AddStringToObject(f, "git_version", clip(buf, sizeof(buf), gv));
	if (leading_int(json_str(j, "major"), &n))
		cJSON_AddNumberToObject(f, "major", n);
	if (leading_int(json_str(j, "minor"), &n))
		cJSON_AddNumberToObject(f, "minor", n);
	const char *pl = json_str(j, "platform");
	if (pl)
		cJSON_AddStringToObject(f, "platform", clip(buf, sizeof(buf), pl));
	cJSON_Delete(j);
	fm_facts_put(facts, "apiserver.version", url, f);
	return 0;
}

static void read_version(struct fm_probe_run *r, struct fm_facts *facts)
{
	enum fm_probe_asked a = fm_probe_asked_2xx(r, NULL);
	if (a == FM_PROBE_OK &&
	    fm_apiserver_parse_version(facts, r->url, r->c->body.data, r->c->body.len) < 0)
		a = FM_PROBE_NOT_JSON;
	if (a != FM_PROBE_OK)
		fm_facts_put(facts, "apiserver.version", r->url, fm_probe_failed_fact(r, a, "/version"));
}

/* --- credentials and the lists ---------------------------------------------- */

struct auth {
	const char *credentials; /* "client-cert", "token", "client-cert+token", "none" */
	bool answered;		 /* a list request got past authentication */
	int status;		 /* the first 401 / 403, 0 if none */
	char reason[512];
	char message[MESSAGE_LEN]; /* the server's Status message */
	cJSON *denied;		   /* ["list nodes", ...] */
};

/* A 401 / 403 to a list: the server's Status message, and the reason a
 * person can act on. */
static void note_denied(struct fm_probe_run *r, struct auth *au, const char *path, const char *what)
{
	cJSON_AddItemToArray(au->denied, cJSON_CreateString(what));
	if (au->status)
		return;
	au->status = r->c->status;
	cJSON *j = fm_probe_body_json(r->c);
	const char *msg = json_str(j, "message");
	au->message[0] = '\0';
	if (msg) {
		char buf[MESSAGE_LEN];
		snprintf(au->message, sizeof(au->message), "%s", clip(buf, sizeof(buf), msg));
	}
	cJSON_Delete(j);

	const char *hint;
	if (strcmp(au->credentials, "none") == 0)
		hint = "no client certificate or token for the apiserver was found (admin.conf or "
		       "--kubeconfig gives them), so it was asked anonymously";
	else if (au->status == 401)
		hint = "the apiserver does not accept our credentials: a client certificate not "
		       "signed by its client CA or expired, or a token it does not know";
	else
		hint = "the apiserver knows who we are but RBAC does not allow it";
	snprintf(au->reason, sizeof(au->reason), "GET %s answered HTTP %d %s%s%s; %s", path,
		 au->status, au->status == 401 ? "Unauthorized" : "Forbidden",
		 au->message[0] && strcmp(au->message, "Unauthorized") != 0 ? ": " : "",
		 strcmp(au->message, "Unauthorized") != 0 ? au->message : "", hint);
}

/* Reads one list answer into facts: fm_apiserver_parse_nodes / _pods. */
typedef int (*list_parse_fn)(struct fm_facts *facts, const char *url, const char *body,
			     size_t len);

/* Has parse put the list's facts; when there is no list, puts kind's
 * failure fact (with fields, which say what was asked), or notes the
 * refusal in au (401 / 403). Takes fields. */
static void read_list(struct fm_probe_run *r, struct fm_facts *facts, struct auth *au, const char *path,
		      const char *what, const char *kind, cJSON *fields, list_parse_fn parse)
{
	char where[160];
	snprintf(where, sizeof(where), "GET %s", path);
	enum fm_probe_asked a = r->asked;
	if (a == FM_PROBE_OK && (r->c->status == 401 || r->c->status == 403)) {
		note_denied(r, au, path, what);
		cJSON_Delete(fields);
		return;
	}
	if (a == FM_PROBE_OK)
		au->answered = true;
	if (a == FM_PROBE_OK && fm_httpc_require_2xx(r->c) < 0)
		a = FM_PROBE_FAILED;
	if (a == FM_PROBE_OK && parse(facts, r->url, r->c->body.data, r->c->body.len) < 0)
		a = FM_PROBE_NOT_JSON;
	if (a != FM_PROBE_OK) {
		cJSON *f = fm_probe_failed_fact(r, a, where);
		/* The fields said what was asked (namespace): keep them. */
		for (cJSON *c = fields->child; c; c = c->next)
			if (!cJSON_HasObjectItem(f, c->string))
				cJSON_AddItemToObject(f, c->string, cJSON_Duplicate(c, 1));
		fm_facts_put(facts, kind, r->url, f);
	}
	cJSON_Delete(fields);
}

/* body as a list answer (JSON with an "items" array), or NULL. Caller frees. */
static cJSON *list_json(const char *body, size_t len)
{
	cJSON *j = fm_json_parse(body, len);
	if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(j, "items"))) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

/* count, kept, truncated of a list whose first kept items became facts. */
static void put_list_fact(struct fm_facts *facts, const char *url, const char *kind, cJSON *f,
			  const cJSON *list, int kept)
{
	int n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(list, "items"));
	const cJSON *meta = json_obj(list, "metadata");
	const char *cont = json_str(meta, "continue");
	const cJSON *remaining = cJSON_GetObjectItemCaseSensitive(meta, "remainingItemCount");
	bool more = cont && cont[0];
	/* With more pages and no remainingItemCount the total is unknown. */
	if (!more)
		cJSON_AddNumberToObject(f, "count", n);
	else if (cJSON_IsNumber(remaining) && remaining->valuedouble >= 0)
		cJSON_AddNumberToObject(f, "count", n + remaining->valuedouble);
	cJSON_AddNumberToObject(f, "kept", kept);
	cJSON_AddBoolToObject(f, "truncated", more || kept < n);
	fm_facts_put(facts, kind, url, f);
}

/* Ready's status, the pressures' True / False. */
static void put_node(struct fm_facts *facts, const cJSON *item)
{
	static const char *const types[] = {"MemoryPressure", "DiskPressure", "PIDPressure",
					    "NetworkUnavailable"};
	static const char *const keys[] = {"memory_pressure", "disk_pressure", "pid_pressure",
					   "network_unavailable"};
	const char *name = json_str(json_obj(item, "metadata"), "name");
	if (!name || !name[0])
		return;
	const cJSON *ready = NULL, *pressure[4] = {NULL};
	const cJSON *c;
	cJSON_ArrayForEach(c,
			   cJSON_GetObjectItemCaseSensitive(json_obj(item, "status"), "conditions"))
	{
		const char *t = json_str(c, "type");
		if (!t)
			continue;
		if (strcmp(t, "Ready") == 0)
			ready = c;
		for (size_t i = 0; i < 4; i++)
			if (strcmp(t, types[i]) == 0)
				pressure[i] = c;
	}
	cJSON *f = cJSON_CreateObject();
	const char *rs = ready ? json_str(ready, "status") : NULL;
	char buf[MESSAGE_LEN];
	cJSON_AddBoolToObject(f, "ready", rs && strcmp(rs, "True") == 0);
	cJSON_AddStringToObject(f, "ready_status", rs ? clip(buf, 16, rs) : "absent");
	if (rs && strcmp(rs, "True") != 0) {
		add_clipped(f, "ready_reason", json_str(ready, "reason"));
		add_clipped(f, "ready_message", json_str(ready, "message"));
	}
	for (size_t i = 0; i < 4; i++) {
		const char *s = pressure[i] ? json_str(pressure[i], "status") : NULL;
		if (s && (strcmp(s, "True") == 0 || strcmp(s, "False") == 0))
			cJSON_AddBoolToObject(f, keys[i], strcmp(s, "True") == 0);
	}
	char id[256];
	snprintf(id, sizeof(id), "%s", name);
	fm_facts_put(facts, "node", id, f);
}

/* Puts a fact for each of a list's first max items; how many it put. */
static int put_items(struct fm_facts *facts, const cJSON *list, int max,
		     void (*put)(struct fm_facts *, const cJSON *))
{
	int kept = 0;
	const cJSON *item;
	cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(list, "items"))
	{
		if (kept == max)
			break;
		put(facts, item);
		kept++;
	}
	return kept;
}

int fm_apiserver_parse_nodes(struct fm_facts *facts, const char *url, const char *body,
			     size_t len)
{
	cJSON *list = list_json(body, len);
	if (!list)
		return -EBADMSG;
	int kept = put_items(facts, list, MAX_NODES, put_node);
	put_list_fact(facts, url, "apiserver.nodes", cJSON_CreateObject(), list, kept);
	cJSON_Delete(list);
	return 0;
}

static cJSON *container(const cJSON *cs, bool init)
{
	cJSON *o = cJSON_CreateObject();
	char buf[MESSAGE_LEN];
	const char *name = json_str(cs, "name");
	const cJSON *v;
	cJSON_AddStringToObject(o, "name", name ? clip(buf, sizeof(buf), name) : "");
	if (init)
		cJSON_AddBoolToObject(o, "init", true);
	cJSON_AddBoolToObject(o, "ready",
			      cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cs, "ready")));
	v = cJSON_GetObjectItemCaseSensitive(cs, "restartCount");
	cJSON_AddNumberToObject(o, "restarts", cJSON_IsNumber(v) ? v->valuedouble : 0);

	/* state holds one of waiting, running, terminated. */
	const cJSON *st = json_obj(cs, "state"), *s;
	if ((s = json_obj(st, "waiting"))) {
		cJSON_AddStringToObject(o, "state", "waiting");
		add_clipped(o, "waiting_reason", json_str(s, "reason"));
		add_clipped(o, "waiting_message", json_str(s, "message"));
	} else if ((s = json_obj(st, "running"))) {
		cJSON_AddStringToObject(o, "state", "running");
	} else if ((s = json_obj(st, "terminated"))) {
		cJSON_AddStringToObject(o, "state", "terminated");
		v = cJSON_GetObjectItemCaseSensitive(s, "exitCode");
		if (cJSON_IsNumber(v))
			cJSON_AddNumberToObject(o, "exit_code", v->valuedouble);
		add_clipped(o, "terminated_reason", json_str(s, "reason"));
	}
	if ((s = json_obj(json_obj(cs, "lastState"), "terminated"))) {
		v = cJSON_GetObjectItemCaseSensitive(s, "exitCode");
		if (cJSON_IsNumber(v))
			cJSON_AddNumberToObject(o, "last_exit_code", v->valuedouble);
		add_clipped(o, "last_reason", json_str(s, "reason"));
	}
	return o;
}

static void put_pod(struct fm_facts *facts, const cJSON *item)
{
	static const char *const lists[] = {"initContainerStatuses", "containerStatuses"};
	const cJSON *meta = json_obj(item, "metadata"), *st = json_obj(item, "status");
	const char *name = json_str(meta, "name"), *ns = json_str(meta, "namespace");
	if (!name || !name[0])
		return;
	if (!ns)
		ns = PODS_NS;
	char id[320];
	snprintf(id, sizeof(id), "%s/%s", ns, name);

	cJSON *f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "namespace", ns);
	cJSON_AddStringToObject(f, "name", name);
	add_clipped(f, "node", json_str(json_obj(item, "spec"), "nodeName"));
	add_clipped(f, "phase", json_str(st, "phase"));
	add_clipped(f, "reason", json_str(st, "reason"));
	add_clipped(f, "message", json_str(st, "message"));
	cJSON *out = cJSON_AddArrayToObject(f, "containers");
	int n = 0;
	bool more = false;
	for (size_t i = 0; i < 2; i++) {
		const cJSON *cs;
		cJSON_ArrayForEach(cs, cJSON_GetObjectItemCaseSensitive(st, lists[i]))
		{
			if (!cJSON_IsObject(cs))
				continue;
			if (n == MAX_CONTAINERS) {
				more = true;
				break;
			}
			cJSON_AddItemToArray(out, container(cs, i == 0));
			n++;
		}
	}
	if (more)
		cJSON_AddBoolToObject(f, "containers_truncated", true);
	fm_facts_put(facts, "pod", id, f);
}

int fm_apiserver_parse_pods(struct fm_facts *facts, const char *url, const char *body, size_t len)
{
	cJSON *list = list_json(body, len);
	if (!list)
		return -EBADMSG;
	int kept = put_items(facts, list, MAX_PODS, put_pod);
	cJSON *f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "namespace", PODS_NS);
	put_list_fact(facts, url, "apiserver.pods", f, list, kept);
	cJSON_Delete(list);
	return 0;
}

static void put_auth(struct fm_probe_run *r, struct fm_facts *facts, struct auth *au)
{
	cJSON *f = cJSON_CreateObject();
	if (au->status) {
		cJSON_AddStringToObject(f, "state", "http-status");
		cJSON_AddNumberToObject(f, "http_status", au->status);
		cJSON_AddStringToObject(f, "reason", au->reason);
		if (au->message[0])
			cJSON_AddStringToObject(f, "message", au->message);
	} else if (au->answered) {
		cJSON_AddStringToObject(f, "state", "ok");
	} else if (r->dead) {
		char why[512];
		cJSON_AddStringToObject(f, "state", "skipped");
		snprintf(why, sizeof(why), "not known: the connection failed before: %s",
			 r->dead_reason);
		cJSON_AddStringToObject(f, "reason", why);
	} else {
		/* The lists failed otherwise (malformed, too large): their
		 * facts say how; authentication itself is not in question. */
		cJSON_AddStringToObject(f, "state", "ok");
	}
	cJSON_AddStringToObject(f, "credentials", au->credentials);
	if (cJSON_GetArraySize(au->denied) > 0) {
		cJSON_AddItemToObject(f, "denied", au->denied);
		au->denied = NULL;
	}
	fm_facts_put(facts, "apiserver.auth", r->url, f);
}

/* "Authorization: Bearer TOKEN\r\n" (malloc'd; caller frees) in *out, or
 * NULL with a reason when the token cannot go into a header. */
static int bearer_header(const char *token, char **out, char *err, size_t errlen)
{
	size_t len = strlen(token);
	*out = NULL;
	if (len > MAX_TOKEN) {
		snprintf(err, errlen, "the bearer token is %zu bytes; at most %d fit a request",
			 len, MAX_TOKEN);
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		if (token[i] <= 0x20 || token[i] >= 0x7f) {
			snprintf(
			    err, errlen,
			    "the bearer token holds a byte (at %zu) that cannot go into a header",
			    i);
			return -1;
		}
	}
	size_t size = len + sizeof("Authorization: Bearer \r\n");
	*out = malloc(size);
	if (!*out) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	snprintf(*out, size, "Authorization: Bearer %s\r\n", token);
	return 0;
}

/* --- the collection ---------------------------------------------------- */

#define NODES_PATH "/api/v1/nodes"
#define PODS_PATH  "/api/v1/namespaces/" PODS_NS "/pods"

struct fm_apiserver_collection {
	struct fm_probe_collection p; /* first: the connection, the run, whom to tell */
	struct auth au;
	char *auth_header;
	bool token_ok;
	char token_err[320];
	int live, ready;
	bool past_livez; /* the connection held past /livez: the rest was asked */
};

/* /livez first: the cheapest question, and it opens the connection, so its
 * time includes the handshakes. */
static bool send_livez(struct fm_probe_run *r, void *ctx)
{
	(void)ctx;
	send_health(r, "livez");
	return true;
}

static void read_livez(struct fm_probe_run *r, void *ctx)
{
	struct fm_apiserver_collection *k = ctx;
	enum fm_probe_asked first = r->asked;
	k->live = read_health(r, k->p.facts, "livez", false);
	fm_probe_put_endpoint(k->p.facts, "apiserver.endpoint", k->p.ep, r->c,
			      first == FM_PROBE_OK || first == FM_PROBE_NOT_JSON);
	fm_certs_put_endpoint(k->p.facts, k->p.ep, r->c, k->p.now);
	if (r->dead) {
		/* Nothing else can be learnt: no livez fact repeating it. */
		fm_facts_drop(k->p.facts, "apiserver.livez");
		fm_probe_finish(r);
		return;
	}
	k->past_livez = true;
}

/* /livez that waited on a hanging etcd: /readyz would wait as long to say
 * the same, and check has 2.5 s for everything. */
static bool send_readyz(struct fm_probe_run *r, void *ctx)
{
	struct fm_apiserver_collection *k = ctx;
	const cJSON *lf = fm_facts_get(k->p.facts, "apiserver.livez", r->url);
	if (k->live == 0 && r->last_ms > k->p.co.timeout_ms && failed_on(lf, "etcd")) {
		cJSON *f = cJSON_CreateObject();
		char why[160];
		snprintf(why, sizeof(why), "/livez took %.0f ms to fail on etcd: /readyz would wait as long to say the same",
			 r->last_ms);
		cJSON_AddStringToObject(f, "state", "skipped");
		cJSON_AddStringToObject(f, "reason", why);
		fm_facts_put(k->p.facts, "apiserver.readyz", r->url, f);
		return false;
	}
	send_health(r, "readyz");
	return true;
}

static void read_readyz(struct fm_probe_run *r, void *ctx)
{
	struct fm_apiserver_collection *k = ctx;
	k->ready = read_health(r, k->p.facts, "readyz", true);
}

static void read_version_step(struct fm_probe_run *r, void *ctx)
{
	read_version(r, ((struct fm_apiserver_collection *)ctx)->p.facts);
}

/* The lists only with a token that fits a header (or none). */
static bool send_list_step(struct fm_probe_run *r, void *ctx)
{
	struct fm_apiserver_collection *k = ctx;
	if (!k->token_ok)
		return false;
	fm_probe_send_own(r);
	return true;
}

static void read_nodes(struct fm_probe_run *r, void *ctx)
{
	struct fm_apiserver_collection *k = ctx;
	read_list(r, k->p.facts, &k->au, NODES_PATH, "list nodes", "apiserver.nodes", cJSON_CreateObject(),
		  fm_apiserver_parse_nodes);
}

static void read_pods(struct fm_probe_run *r, void *ctx)
{
	struct fm_apiserver_collection *k = ctx;
	cJSON *ns = cJSON_CreateObject();
	cJSON_AddStringToObject(ns, "namespace", PODS_NS);
	read_list(r, k->p.facts, &k->au, PODS_PATH, "list pods in " PODS_NS, "apiserver.pods", ns,
		  fm_apiserver_parse_pods);
}

static const struct fm_probe_step apiserver_steps[] = {
	{.send = send_livez, .read = read_livez},
	{.send = send_readyz, .read = read_readyz},
	{"GET", "/version", NULL, SMALL_BODY, NULL, read_version_step},
	{"GET", NODES_PATH LIMIT_QUERY, NULL, LIST_BODY, send_list_step, read_nodes},
	{"GET", PODS_PATH LIMIT_QUERY, NULL, LIST_BODY, send_list_step, read_pods},
};

static void end(struct fm_apiserver_collection *k)
{
	fm_httpc_close(&k->p.c);
	fm_probe_collection_end(&k->p, k->live == 1 && k->ready == 1 ? 0 : -1); /* last */
}

/* The requests are over: what the credentials got. */
static void asked(void *ctx)
{
	struct fm_apiserver_collection *k = ctx;
	if (!k->past_livez) {
		end(k);
		return;
	}
	if (!k->token_ok) {
		cJSON *f = cJSON_CreateObject();
		cJSON_AddStringToObject(f, "state", "config");
		cJSON_AddStringToObject(f, "reason", k->token_err);
		cJSON_AddStringToObject(f, "credentials", k->au.credentials);
		fm_facts_put(k->p.facts, "apiserver.auth", k->p.ep->url, f);
	} else {
		put_auth(&k->p.r, k->p.facts, &k->au);
	}
	end(k);
}

struct fm_apiserver_collection *fm_apiserver_collection_new(struct fm_loop *loop, const struct fm_endpoint *ep,
							    time_t now, const struct fm_collect_opts *co,
							    struct fm_facts *facts, fm_collected_fn done,
							    void *ctx)
{
	struct fm_apiserver_collection *k = calloc(1, sizeof(*k));
	if (!k)
		return NULL;
	bool has_cert = (ep->cert_pem || ep->cert[0]) && (ep->key_pem || ep->key[0]);
	bool has_token = ep->token && ep->token[0];
	k->live = k->ready = -1;
	k->au.credentials = has_cert && has_token ? "client-cert+token"
			    : has_cert		  ? "client-cert"
			    : has_token		  ? "token"
						  : "none";
	/* "node" and "pod" are this source's alone. */
	fm_facts_drop(facts, "apiserver.");
	fm_facts_drop(facts, "node");
	fm_facts_drop(facts, "pod");
	if (fm_probe_collection_open(&k->p, loop, ep, now, co, "apiserver.endpoint", facts, done, ctx) < 0) {
		end(k);
		return k;
	}
	k->token_ok = !has_token || bearer_header(ep->token, &k->auth_header, k->token_err, sizeof(k->token_err)) == 0;
	k->p.r.auth_header = k->auth_header;
	k->au.denied = cJSON_CreateArray();
	fm_facts_put(facts, "apiserver.endpoint", ep->url, cJSON_CreateObject()); /* first in the set */
	fm_probe_steps(&k->p.r, apiserver_steps, sizeof(apiserver_steps) / sizeof(apiserver_steps[0]), k, asked);
	return k;
}

bool fm_apiserver_collection_ended(const struct fm_apiserver_collection *k)
{
	return k->p.ended;
}

void fm_apiserver_collection_delete(struct fm_apiserver_collection **kp)
{
	struct fm_apiserver_collection *k = *kp;
	if (!k)
		return;
	fm_probe_collection_close(&k->p);
	cJSON_Delete(k->au.denied);
	if (k->auth_header) {
		explicit_bzero(k->auth_header, strlen(k->auth_header));
		free(k->auth_header);
	}
	free(k);
	*kp = NULL;
}

int fm_apiserver_collect(struct fm_loop *loop, const struct fm_endpoint *ep, time_t now,
			 const struct fm_collect_opts *co, struct fm_facts *facts)
{
	int rc = -1;
	struct fm_apiserver_collection *k = fm_apiserver_collection_new(loop, ep, now, co, facts, fm_collected_store, &rc);
	if (!k)
		return -1;
	fm_loop_run_until(loop, &k->p.ended);
	fm_apiserver_collection_delete(&k);
	return rc;
}
