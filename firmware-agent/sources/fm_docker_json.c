#include "fm_docker_json.h"

#include "fm_json.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_LOG_LINE 1024

static void copy(char *dst, size_t size, const char *src, size_t len)
{
	if (len >= size)
		len = size - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

static void copy_str(char *dst, size_t size, const cJSON *v)
{
	const char *s = cJSON_IsString(v) && v->valuestring ? v->valuestring : "";
	copy(dst, size, s, strlen(s));
}

static cJSON *parse(const char *body, size_t len, const char *what, char *err, size_t errlen)
{
	if (fm_json_too_deep(body, len)) {
		snprintf(err, errlen, "%s: JSON nested deeper than %d levels", what,
			 FM_JSON_MAX_DEPTH);
		return NULL;
	}
	cJSON *j = cJSON_ParseWithLength(body, len);
	if (!j) {
		const char *at = cJSON_GetErrorPtr();
		size_t off = at && at >= body && at <= body + len ? (size_t)(at - body) : len;
		snprintf(err, errlen, "%s: not JSON (at byte %zu of %zu)", what, off, len);
	}
	return j;
}

static const cJSON *get(const cJSON *o, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(o, key);
}

/* --- names --------------------------------------------------------------- */

int fm_docker_name_parse(const char *name, struct fm_docker_name *out)
{
	memset(out, 0, sizeof(*out));
	if (!name)
		return -EINVAL;
	if (name[0] == '/')
		name++;
	if (strncmp(name, "k8s_", 4) != 0)
		return -EINVAL;
	const char *p = name + 4;
	const char *part[5];
	size_t plen[5];
	for (int i = 0; i < 5; i++) {
		const char *end = i < 4 ? strchr(p, '_') : p + strlen(p);
		if (!end || end == p)
			goto bad;
		part[i] = p;
		plen[i] = (size_t)(end - p);
		p = i < 4 ? end + 1 : end;
	}
	/* part[4] is the attempt: decimal, nothing after it. */
	if (plen[4] > 9)
		goto bad;
	long attempt = 0;
	for (size_t i = 0; i < plen[4]; i++) {
		if (part[4][i] < '0' || part[4][i] > '9')
			goto bad;
		attempt = attempt * 10 + (part[4][i] - '0');
	}
	if (plen[0] >= sizeof(out->container) || plen[1] >= sizeof(out->pod) ||
	    plen[2] >= sizeof(out->ns) || plen[3] >= sizeof(out->uid))
		goto bad;
	copy(out->container, sizeof(out->container), part[0], plen[0]);
	copy(out->pod, sizeof(out->pod), part[1], plen[1]);
	copy(out->ns, sizeof(out->ns), part[2], plen[2]);
	copy(out->uid, sizeof(out->uid), part[3], plen[3]);
	out->attempt = attempt;
	out->sandbox = strcmp(out->container, "POD") == 0;
	return 0;
bad:
	memset(out, 0, sizeof(*out));
	return -EINVAL;
}

bool fm_docker_name_control_plane(const struct fm_docker_name *n)
{
	static const char *const comps[] = {"etcd", "kube-apiserver", "kube-controller-manager",
					    "kube-scheduler"};
	if (strcmp(n->ns, "kube-system") != 0)
		return false;
	for (size_t i = 0; i < sizeof(comps) / sizeof(comps[0]); i++) {
		size_t l = strlen(comps[i]);
		if (strncmp(n->pod, comps[i], l) == 0 && n->pod[l] == '-' && n->pod[l + 1])
			return true;
	}
	return false;
}

/* --- list, inspect ---------------------------------------------------------- */

static void count_state(struct fm_docker_counts *k, const char *state)
{
	k->total++;
	if (strcmp(state, "running") == 0)
		k->running++;
	else if (strcmp(state, "exited") == 0 || strcmp(state, "dead") == 0)
		k->exited++;
	else
		k->other++;
}

int fm_docker_list_parse(const char *body, size_t len, struct fm_docker_ctr *out, size_t max,
			 size_t *n, size_t *dropped, struct fm_docker_counts *counts, char *err,
			 size_t errlen)
{
	*n = 0;
	*dropped = 0;
	memset(counts, 0, sizeof(*counts));
	cJSON *j = parse(body, len, "container list", err, errlen);
	if (!j)
		return -EBADMSG;
	int rc = 0;
	if (!cJSON_IsArray(j)) {
		snprintf(err, errlen, "container list: not a JSON array");
		rc = -EBADMSG;
		goto out;
	}
	const cJSON *e;
	cJSON_ArrayForEach(e, j) {
		const cJSON *id = get(e, "Id"), *names = get(e, "Names"), *state = get(e, "State");
		if (!cJSON_IsObject(e) || !cJSON_IsString(id) || !cJSON_IsString(state)) {
			snprintf(err, errlen, "container list: an entry without Id or State");
			rc = -EBADMSG;
			goto out;
		}
		count_state(counts, state->valuestring);
		/* A container has one name; older daemons list links as extra
		 * names ("/other/alias"): the first is its own. */
		const cJSON *name = cJSON_IsArray(names) ? cJSON_GetArrayItem(names, 0) : NULL;
		struct fm_docker_name kn;
		if (!cJSON_IsString(name) || fm_docker_name_parse(name->valuestring, &kn) < 0 ||
		    !fm_docker_name_control_plane(&kn))
			continue;
		if (*n >= max) {
			(*dropped)++;
			continue;
		}
		struct fm_docker_ctr *c = &out[(*n)++];
		memset(c, 0, sizeof(*c));
		copy_str(c->id, sizeof(c->id), id);
		const char *nm = name->valuestring[0] == '/' ? name->valuestring + 1 : name->valuestring;
		copy(c->name, sizeof(c->name), nm, strlen(nm));
		c->kn = kn;
		c->kubelet = true;
		copy_str(c->state, sizeof(c->state), state);
		/* "Exited (255) 3 days ago": the exit code even when the
		 * container cannot be inspected (incident 2). */
		const cJSON *status = get(e, "Status");
		int code;
		c->exit_code = -1;
		if (cJSON_IsString(status) && sscanf(status->valuestring, "Exited (%d)", &code) == 1)
			c->exit_code = code;
		const cJSON *created = get(e, "Created");
		/* Seconds since the epoch, below 9e9 (as an event's time): a
		 * larger number does not fit a long long and is no date. */
		if (cJSON_IsNumber(created) && created->valuedouble >= 0 && created->valuedouble < 9e9)
			c->created = (long long)created->valuedouble;
	}
out:
	cJSON_Delete(j);
	return rc;
}

static int num(const cJSON *v, int dflt)
{
	if (!cJSON_IsNumber(v) || v->valuedouble < INT_MIN || v->valuedouble > INT_MAX)
		return dflt;
	return (int)v->valuedouble;
}

int fm_docker_time_parse(const char *s, long long *out)
{
	struct tm tm = {0};
	int n = 0;
	*out = 0;
	if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
			 &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6)
		return -EINVAL;
	if (tm.tm_year < 1970) /* "0001-01-01T00:00:00Z": never */
		return 0;
	const char *p = s + n;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	long off = 0;
	if (*p == '+' || *p == '-') {
		int hh, mm;
		if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2)
			return -EINVAL;
		off = (*p == '+' ? 1 : -1) * (hh * 3600L + mm * 60L);
	} else if (*p != 'Z') {
		return -EINVAL;
	}
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		return -EINVAL;
	*out = (long long)t - off;
	return 0;
}

int fm_docker_inspect_parse(const char *body, size_t len, struct fm_docker_ctr *c, char *err,
			    size_t errlen)
{
	cJSON *j = parse(body, len, "container inspect", err, errlen);
	if (!j)
		return -EBADMSG;
	const cJSON *st = get(j, "State");
	const cJSON *status = get(st, "Status");
	if (!cJSON_IsObject(j) || !cJSON_IsObject(st) || !cJSON_IsString(status)) {
		snprintf(err, errlen, "container inspect: no State.Status");
		cJSON_Delete(j);
		return -EBADMSG;
	}
	copy_str(c->state, sizeof(c->state), status);
	c->exit_code = num(get(st, "ExitCode"), -1);
	c->oom_killed = cJSON_IsTrue(get(st, "OOMKilled"));
	copy_str(c->error, sizeof(c->error), get(st, "Error"));
	copy_str(c->started_at, sizeof(c->started_at), get(st, "StartedAt"));
	copy_str(c->finished_at, sizeof(c->finished_at), get(st, "FinishedAt"));
	if (fm_docker_time_parse(c->finished_at, &c->finished_s) < 0)
		c->finished_s = 0;
	c->restart_count = num(get(j, "RestartCount"), 0);
	c->tty = cJSON_IsTrue(get(get(j, "Config"), "Tty"));
	if (!c->id[0])
		copy_str(c->id, sizeof(c->id), get(j, "Id"));
	const cJSON *name = get(j, "Name");
	if (cJSON_IsString(name) && !c->name[0]) {
		const char *nm = name->valuestring[0] == '/' ? name->valuestring + 1 : name->valuestring;
		copy(c->name, sizeof(c->name), nm, strlen(nm));
		c->kubelet = fm_docker_name_parse(nm, &c->kn) == 0;
	}
	c->inspected = true;
	c->inspect_error[0] = '\0';
	cJSON_Delete(j);
	return 0;
}

/* --- version, events ----------------------------------------------------------- */

int fm_docker_version_parse(const char *body, size_t len, struct fm_docker_version *v, char *err,
			    size_t errlen)
{
	memset(v, 0, sizeof(*v));
	cJSON *j = parse(body, len, "/version", err, errlen);
	if (!j)
		return -EBADMSG;
	const cJSON *api = get(j, "ApiVersion");
	int major = 0, minor = 0;
	if (!cJSON_IsString(api) || sscanf(api->valuestring, "%d.%d", &major, &minor) != 2 ||
	    major != 1 || minor < 0 || minor > 999) {
		snprintf(err, errlen, "/version: no ApiVersion of the form 1.NN");
		cJSON_Delete(j);
		return -EBADMSG;
	}
	copy_str(v->api, sizeof(v->api), api);
	copy_str(v->version, sizeof(v->version), get(j, "Version"));
	copy_str(v->min_api, sizeof(v->min_api), get(j, "MinAPIVersion"));
	v->api_minor = minor;
	cJSON_Delete(j);
	return 0;
}

int fm_docker_event_parse(const char *line, size_t len, struct fm_docker_event *ev, char *err,
			  size_t errlen)
{
	memset(ev, 0, sizeof(*ev));
	ev->exit_code = -1;
	cJSON *j = parse(line, len, "event", err, errlen);
	if (!j)
		return -EBADMSG;
	const cJSON *type = get(j, "Type"), *action = get(j, "Action"), *actor = get(j, "Actor");
	const cJSON *id = get(actor, "ID"), *attrs = get(actor, "Attributes");
	if (!cJSON_IsObject(j) || !cJSON_IsString(type) || !cJSON_IsString(action) ||
	    !cJSON_IsString(id)) {
		snprintf(err, errlen, "event: no Type, Action or Actor.ID");
		cJSON_Delete(j);
		return -EBADMSG;
	}
	copy_str(ev->type, sizeof(ev->type), type);
	copy_str(ev->action, sizeof(ev->action), action);
	copy_str(ev->id, sizeof(ev->id), id);
	copy_str(ev->name, sizeof(ev->name), get(attrs, "name"));
	const cJSON *code = get(attrs, "exitCode");
	if (cJSON_IsString(code)) {
		char *end;
		long v = strtol(code->valuestring, &end, 10);
		if (end != code->valuestring && !*end && v >= 0 && v <= 255)
			ev->exit_code = (int)v;
	}
	const cJSON *t = get(j, "time"), *tn = get(j, "timeNano");
	/* Below 9e9 s (the year 2255), so that time_s * 1e9 fits time_ns. */
	if (cJSON_IsNumber(t) && t->valuedouble >= 0 && t->valuedouble < 9e9)
		ev->time_s = (long long)t->valuedouble;
	if (cJSON_IsNumber(tn) && tn->valuedouble >= 0 && tn->valuedouble < 9e18)
		ev->time_ns = (long long)tn->valuedouble;
	else
		ev->time_ns = ev->time_s * 1000000000LL;
	cJSON_Delete(j);
	return 0;
}

int fm_docker_lines_init(struct fm_docker_lines *l, size_t cap)
{
	memset(l, 0, sizeof(*l));
	l->cap = cap ? cap : FM_DOCKER_MAX_LINE;
	l->buf = malloc(l->cap);
	return l->buf ? 0 : -ENOMEM;
}

void fm_docker_lines_reset(struct fm_docker_lines *l)
{
	l->len = 0;
	l->skipping = false;
}

void fm_docker_lines_free(struct fm_docker_lines *l)
{
	free(l->buf);
	l->buf = NULL;
	l->len = l->cap = 0;
}

void fm_docker_lines_feed(struct fm_docker_lines *l, const char *data, size_t len,
			  fm_docker_line_fn fn, void *ctx)
{
	while (len > 0) {
		const char *nl = memchr(data, '\n', len);
		size_t take = nl ? (size_t)(nl - data) : len;
		if (!l->skipping) {
			if (l->len + take > l->cap) {
				l->skipping = true;
				l->refused++;
				l->len = 0;
			} else {
				memcpy(l->buf + l->len, data, take);
				l->len += take;
			}
		}
		if (!nl)
			return;
		if (!l->skipping && l->len > 0)
			fn(ctx, l->buf, l->len);
		l->len = 0;
		l->skipping = false;
		data += take + 1;
		len -= take + 1;
	}
}

/* --- logs, errors ------------------------------------------------------------- */

/* Keeps at most max lines in arr: the oldest goes when a new one comes. */
static void add_line(cJSON *arr, size_t max, const char *s, size_t len)
{
	if (len > 0 && s[len - 1] == '\r')
		len--;
	char line[MAX_LOG_LINE + 1];
	copy(line, sizeof(line), s, len);
	while (max > 0 && (size_t)cJSON_GetArraySize(arr) >= max)
		cJSON_DeleteItemFromArray(arr, 0);
	if (max > 0)
		cJSON_AddItemToArray(arr, cJSON_CreateString(line));
}

static void add_text(cJSON *arr, size_t max, const char *s, size_t len)
{
	while (len > 0) {
		const char *nl = memchr(s, '\n', len);
		size_t l = nl ? (size_t)(nl - s) : len;
		add_line(arr, max, s, l);
		if (!nl)
			return;
		s += l + 1;
		len -= l + 1;
	}
}

int fm_docker_logs_demux(const char *body, size_t len, bool raw, cJSON *lines, size_t max_lines,
			 char *err, size_t errlen)
{
	if (raw) {
		add_text(lines, max_lines, body, len);
		return 0;
	}
	/* A frame ends at a line end only when the program wrote whole lines;
	 * the daemon's json-file logs always do, so a frame is taken as text
	 * of its own. */
	size_t off = 0;
	while (off < len) {
		if (len - off < 8) {
			snprintf(err, errlen, "log stream cut inside a frame header (%zu of 8 bytes)",
				 len - off);
			return -EBADMSG;
		}
		const unsigned char *h = (const unsigned char *)body + off;
		if (h[0] > 2 || h[1] || h[2] || h[3]) {
			snprintf(err, errlen, "log stream: no frame header at byte %zu", off);
			return -EBADMSG;
		}
		uint32_t size = (uint32_t)h[4] << 24 | (uint32_t)h[5] << 16 | (uint32_t)h[6] << 8 | h[7];
		off += 8;
		if (size > len - off) {
			snprintf(err, errlen,
				 "log stream: a frame header claims %u bytes but only %zu follow", size,
				 len - off);
			return -EBADMSG;
		}
		add_text(lines, max_lines, body + off, size);
		off += size;
	}
	return 0;
}

void fm_docker_error_text(const char *body, size_t len, char *out, size_t size)
{
	char err[64];
	cJSON *j = len ? parse(body, len, "error", err, sizeof(err)) : NULL;
	const cJSON *m = get(j, "message");
	if (cJSON_IsString(m)) {
		copy_str(out, size, m);
	} else {
		while (len > 0 && (body[len - 1] == '\n' || body[len - 1] == '\r'))
			len--;
		copy(out, size, body ? body : "", len);
	}
	cJSON_Delete(j);
}
