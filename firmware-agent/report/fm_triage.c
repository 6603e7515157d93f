/* fm_triage: the agent's resources for the controller (see fm_triage.h). */
#include "fm_triage.h"

#include "fm_cri.h"
#include "fm_journal.h"
#include "fm_log.h"
#include "fm_probe.h"

#include <coap3/coap.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- answers --------------------------------------------------------------------- */

static void answer_text(coap_pdu_t *resp, coap_pdu_code_t code, const char *text)
{
	coap_pdu_set_code(resp, code);
	if (text && *text)
		coap_add_data(resp, strlen(text), (const uint8_t *)text);
}

static void release_text(coap_session_t *s, void *text)
{
	(void)s;
	free(text);
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
	/* libcoap keeps the body for the later blocks and frees it through
	 * release_text when done (also when it fails). */
	coap_add_data_large_response(r, s, req, resp, query, COAP_MEDIATYPE_APPLICATION_JSON, -1, 0,
				     strlen(text), (const uint8_t *)text, release_text, text);
}

/* Who asks: the controller's session, or the --listen endpoint (GET only). */
static bool allowed(const struct fm_triage_src *src, coap_session_t *s, bool action)
{
	if (coap_session_get_type(s) == COAP_SESSION_TYPE_CLIENT)
		return fm_uplink_is_session(src->uplink, s);
	return !action && coap_session_get_type(s) == COAP_SESSION_TYPE_SERVER;
}

/* A request over the controller's session: it had work held for this node
 * (PROTOCOL.md, queue mode). */
static void note_asked(const struct fm_triage_src *src, coap_session_t *s)
{
	if (coap_session_get_type(s) == COAP_SESSION_TYPE_CLIENT)
		fm_uplink_asked(src->uplink);
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
	note_asked(src, s);
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
		/* Docker's and the CRI runtime's, the same facts (issue 22) */
		o = fm_facts_json(src->facts, "docker.container");
		cJSON *cri = fm_facts_json(src->facts, "cri.container");
		cJSON *it;
		while (o && cri && (it = cJSON_DetachItemFromArray(cri, 0)))
			cJSON_AddItemToArray(o, it);
		cJSON_Delete(cri);
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
	note_asked(src, s);
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
	/* A container the CRI runtime holds (its fact names it) is removed
	 * through the CRI; any other id is Docker's. */
	char shortid[13];
	snprintf(shortid, sizeof(shortid), "%.12s", q.id);
	const cJSON *cri = fm_facts_get(src->facts, "cri.container", shortid);
	const char *full = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cri, "full_id"));
	int rc;
	if (cri && full && strncmp(full, q.id, strlen(q.id)) == 0 && src->cri_endpoint && src->cri_endpoint[0]) {
		const char *st = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cri, "state"));
		rc = fm_cri_remove(loop, src->cri_endpoint, full, st ? st : "unknown", src->policy->allow_remove, reason,
				   sizeof(reason));
	} else {
		struct fm_collect_opts co = {.timeout_ms = 2000};
		rc = fm_docker_remove(loop, src->docker_host, q.id, src->policy, &co, reason, sizeof(reason));
	}
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
