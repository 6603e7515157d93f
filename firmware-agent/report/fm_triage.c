/* fm_triage: the agent's resources for the controller (see fm_triage.h). */
#include "fm_triage.h"

#include "fm_journal.h"
#include "fm_log.h"
#include "fm_probe.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- the query ------------------------------------------------------------------- */

static bool is_hex(const char *s)
{
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') || (*s >= 'A' && *s <= 'F')))
			return false;
	return true;
}

/* Copies v[0..len) into out (size bytes with the NUL); false when it does
 * not fit or holds a NUL or a control character. */
static bool take(char *out, size_t size, const char *v, size_t len)
{
	if (len >= size)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return false;
	memcpy(out, v, len);
	out[len] = '\0';
	return true;
}

int fm_triage_query_parse(const char *resource, const char *query, size_t len, struct fm_triage_query *q,
			  char *err, size_t err_size)
{
	bool journal = strcmp(resource, "journal") == 0, facts = strcmp(resource, "facts") == 0,
	     act = strcmp(resource, "act/rm") == 0;
	bool seen_u = false, seen_n = false, seen_g = false, seen_k = false, seen_id = false;
	memset(q, 0, sizeof(*q));
	q->n = 20;
	size_t at = 0;
	while (query && at < len) {
		const char *p = query + at, *amp = memchr(p, '&', len - at);
		size_t plen = amp ? (size_t)(amp - p) : len - at;
		at += plen + 1;
		const char *eq = memchr(p, '=', plen);
		size_t klen = eq ? (size_t)(eq - p) : plen;
		const char *v = eq ? eq + 1 : p + plen;
		size_t vlen = eq ? plen - klen - 1 : 0;
		bool *seen = NULL;
		bool ok = false;
		if (journal && klen == 1 && p[0] == 'u') {
			seen = &seen_u;
			ok = vlen > 0 && take(q->u, sizeof(q->u), v, vlen);
		} else if (journal && klen == 1 && p[0] == 'g') {
			seen = &seen_g;
			ok = take(q->g, sizeof(q->g), v, vlen);
		} else if (journal && klen == 1 && p[0] == 'n') {
			char num[8];
			seen = &seen_n;
			ok = vlen > 0 && take(num, sizeof(num), v, vlen);
			unsigned long n = 0;
			for (size_t i = 0; ok && i < vlen; i++) {
				ok = num[i] >= '0' && num[i] <= '9';
				n = n * 10 + (unsigned long)(num[i] - '0');
			}
			ok = ok && n >= 1 && n <= FM_JOURNAL_TAIL_MAX;
			q->n = (unsigned)n;
		} else if (facts && klen == 1 && p[0] == 'k') {
			seen = &seen_k;
			ok = take(q->k, sizeof(q->k), v, vlen);
		} else if (act && klen == 2 && memcmp(p, "id", 2) == 0) {
			seen = &seen_id;
			ok = vlen >= 12 && take(q->id, sizeof(q->id), v, vlen) && is_hex(q->id);
		} else {
			snprintf(err, err_size, "unknown query key '%.*s' for /%s", (int)(klen > 32 ? 32 : klen), p,
				 resource);
			return -EINVAL;
		}
		if (*seen) {
			snprintf(err, err_size, "query key '%.*s' given twice", (int)klen, p);
			return -EINVAL;
		}
		*seen = true;
		if (!ok || !eq) {
			snprintf(err, err_size,
				 "bad value for '%.*s' (u: a unit of at most 32 bytes; n: 1..%d; g: at most 128 bytes; k: at most 64; id: 12..64 hex digits)",
				 (int)klen, p, FM_JOURNAL_TAIL_MAX);
			return -EINVAL;
		}
	}
	if (journal && !seen_u) {
		snprintf(err, err_size, "/journal needs u=UNIT (kubelet, docker, containerd, etcd, k3s, kernel)");
		return -EINVAL;
	}
	if (act && !seen_id) {
		snprintf(err, err_size, "/act/rm needs id=CONTAINER (12..64 hex digits)");
		return -EINVAL;
	}
	return 0;
}

/* --- answers --------------------------------------------------------------------- */

static void answer_text(coap_pdu_t *resp, coap_pdu_code_t code, const char *text)
{
	coap_pdu_set_code(resp, code);
	if (text && *text)
		coap_add_data(resp, strlen(text), (const uint8_t *)text);
}

/* Answers o (taken) as JSON, its last elements dropped while it is over
 * the cap (an array), block-wise when longer than a datagram. */
static void answer_json(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req, coap_pdu_t *resp,
			const coap_string_t *query, cJSON *o)
{
	char *text = o ? cJSON_PrintUnformatted(o) : NULL;
	while (text && strlen(text) > FM_TRIAGE_ANSWER_MAX && cJSON_IsArray(o) && cJSON_GetArraySize(o) > 0) {
		free(text);
		/* Drop about what is over, then check again. */
		cJSON_DeleteItemFromArray(o, cJSON_GetArraySize(o) - 1);
		text = cJSON_PrintUnformatted(o);
	}
	cJSON_Delete(o);
	if (!text || strlen(text) > FM_TRIAGE_ANSWER_MAX) {
		free(text);
		answer_text(resp, COAP_RESPONSE_CODE_INTERNAL_ERROR, "cannot encode the answer");
		return;
	}
	coap_pdu_set_code(resp, COAP_RESPONSE_CODE_CONTENT);
	/* libcoap copies the body (no release function): freed here. */
	coap_add_data_large_response(r, s, req, resp, query, COAP_MEDIATYPE_APPLICATION_JSON, -1, 0,
				     strlen(text), (const uint8_t *)text, NULL, NULL);
	free(text);
}

/* Who asks: the controller's session, or the --listen endpoint (GET only). */
static bool allowed(const struct fm_triage_src *src, coap_session_t *s, bool action)
{
	if (coap_session_get_type(s) == COAP_SESSION_TYPE_CLIENT)
		return fm_uplink_is_session(src->uplink, s);
	return !action && coap_session_get_type(s) == COAP_SESSION_TYPE_SERVER;
}

static const char *resource_name(coap_resource_t *r)
{
	coap_str_const_t *uri = coap_resource_get_uri_path(r);
	static char name[32];
	snprintf(name, sizeof(name), "%.*s", uri ? (int)uri->length : 0, uri ? (const char *)uri->s : "");
	return name;
}

static void on_get(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req, const coap_string_t *query,
		   coap_pdu_t *resp)
{
	const struct fm_triage_src *src = coap_resource_get_userdata(r);
	const char *name = resource_name(r);
	char err[256];
	struct fm_triage_query q;
	if (!allowed(src, s, false)) {
		answer_text(resp, COAP_RESPONSE_CODE_FORBIDDEN, "not the controller's session");
		return;
	}
	if (fm_triage_query_parse(name, query ? (const char *)query->s : NULL, query ? query->length : 0, &q, err,
				  sizeof(err)) < 0) {
		answer_text(resp, COAP_RESPONSE_CODE_BAD_REQUEST, err);
		return;
	}
	cJSON *o = NULL;
	if (strcmp(name, "status") == 0) {
		o = cJSON_CreateObject();
		if (o)
			src->status(src->arg, o);
	} else if (strcmp(name, "diag") == 0) {
		o = src->diagnoses(src->arg);
	} else if (strcmp(name, "facts") == 0) {
		o = fm_facts_json(src->facts, q.k);
	} else if (strcmp(name, "containers") == 0) {
		o = fm_facts_json(src->facts, "docker.container");
	} else if (strcmp(name, "etcd") == 0) {
		o = fm_facts_json(src->facts, "etcd.");
	} else if (strcmp(name, "hal") == 0) {
		o = fm_facts_json(src->facts, "hal.");
	} else if (strcmp(name, "journal") == 0) {
		int rc = fm_journal_tail(src->journal_dir, q.u, q.g, q.n, &o, err, sizeof(err));
		if (rc < 0) {
			answer_text(resp, rc == -EINVAL ? COAP_RESPONSE_CODE_BAD_REQUEST
							: COAP_RESPONSE_CODE_INTERNAL_ERROR, err);
			return;
		}
	}
	answer_json(r, s, req, resp, query, o);
}

static void on_rm(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req, const coap_string_t *query,
		  coap_pdu_t *resp)
{
	(void)req;
	const struct fm_triage_src *src = coap_resource_get_userdata(r);
	char err[256], reason[512];
	struct fm_triage_query q;
	if (!allowed(src, s, true)) {
		fm_notice("triage: POST /act/rm refused: not from the controller's session");
		answer_text(resp, COAP_RESPONSE_CODE_FORBIDDEN, "actions only from the controller's session");
		return;
	}
	if (fm_triage_query_parse("act/rm", query ? (const char *)query->s : NULL, query ? query->length : 0, &q,
				  err, sizeof(err)) < 0) {
		answer_text(resp, COAP_RESPONSE_CODE_BAD_REQUEST, err);
		return;
	}
	/* A private loop: this runs inside libcoap's dispatch, which must not
	 * be re-entered from a nested run of the agent's loop. Docker's socket
	 * is local; the request has its deadline. */
	struct fm_loop *loop = fm_loop_new();
	if (!loop) {
		answer_text(resp, COAP_RESPONSE_CODE_INTERNAL_ERROR, "out of memory");
		return;
	}
	struct fm_collect_opts co = {.timeout_ms = 2000};
	int rc = fm_docker_remove(loop, src->docker_host, q.id, src->policy, &co, reason, sizeof(reason));
	fm_loop_delete(&loop);
	answer_text(resp,
		    rc == 0		? COAP_RESPONSE_CODE_DELETED
		    : rc == -EPERM	? COAP_RESPONSE_CODE_FORBIDDEN
		    : rc == -EINVAL	? COAP_RESPONSE_CODE_BAD_REQUEST
		    : rc == -ENOENT	? COAP_RESPONSE_CODE_NOT_FOUND
		    : rc == -EBUSY	? COAP_RESPONSE_CODE(412)
					: COAP_RESPONSE_CODE_INTERNAL_ERROR,
		    reason);
}

int fm_triage_register(struct fm_coap *c, const struct fm_triage_src *src)
{
	static const char *const gets[] = {"status", "diag", "facts", "journal", "containers", "etcd", "hal"};
	coap_context_t *ctx = fm_coap_context(c);
	for (size_t i = 0; i < sizeof(gets) / sizeof(gets[0]); i++) {
		coap_resource_t *r = coap_resource_init(coap_make_str_const(gets[i]), 0);
		if (!r)
			return -ENOMEM;
		coap_resource_set_userdata(r, (void *)src);
		coap_register_request_handler(r, COAP_REQUEST_GET, on_get);
		coap_add_resource(ctx, r);
	}
	coap_resource_t *r = coap_resource_init(coap_make_str_const("act/rm"), 0);
	if (!r)
		return -ENOMEM;
	coap_resource_set_userdata(r, (void *)src);
	coap_register_request_handler(r, COAP_REQUEST_POST, on_rm);
	coap_add_resource(ctx, r);
	return 0;
}
