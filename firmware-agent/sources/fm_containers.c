/* The facts every container runtime's containers become (fm_containers.h). */
#include "fm_containers.h"

#include <stdio.h>
#include <string.h>

static void short_id(char out[13], const char *id)
{
	snprintf(out, 13, "%.12s", id);
}

cJSON *fm_containers_fact(const struct fm_docker_ctr *c)
{
	cJSON *f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "full_id", c->id);
	cJSON_AddStringToObject(f, "name", c->name);
	cJSON_AddStringToObject(f, "container", c->kn.container);
	cJSON_AddStringToObject(f, "pod", c->kn.pod);
	cJSON_AddStringToObject(f, "namespace", c->kn.ns);
	cJSON_AddStringToObject(f, "uid", c->kn.uid);
	cJSON_AddNumberToObject(f, "attempt", (double)c->kn.attempt);
	cJSON_AddBoolToObject(f, "sandbox", c->kn.sandbox);
	cJSON_AddStringToObject(f, "state", c->state);
	bool ended = strcmp(c->state, "exited") == 0 || strcmp(c->state, "dead") == 0;
	if (c->inspected || ended)
		cJSON_AddNumberToObject(f, "exit_code", c->exit_code);
	if (c->started_at[0] && c->inspected && strncmp(c->started_at, "0001-", 5) != 0)
		cJSON_AddStringToObject(f, "started_at", c->started_at);
	if (ended && c->finished_at[0])
		cJSON_AddStringToObject(f, "exited_at", c->finished_at);
	if (c->inspected) {
		cJSON_AddBoolToObject(f, "oom_killed", c->oom_killed);
		cJSON_AddNumberToObject(f, "restart_count", c->restart_count);
	}
	if (c->error[0])
		cJSON_AddStringToObject(f, "error", c->error);
	if (c->inspect_error[0])
		cJSON_AddStringToObject(f, "inspect_error", c->inspect_error);
	return f;
}

cJSON *fm_containers_exited(const cJSON *fact, double exit_code, const char *exited_at)
{
	cJSON *f = cJSON_Duplicate(fact, true);
	if (!f)
		return NULL;
	cJSON_DeleteItemFromObjectCaseSensitive(f, "state");
	cJSON_DeleteItemFromObjectCaseSensitive(f, "exit_code");
	cJSON_DeleteItemFromObjectCaseSensitive(f, "exited_at");
	if (!cJSON_AddStringToObject(f, "state", "exited") || !cJSON_AddNumberToObject(f, "exit_code", exit_code) ||
	    !cJSON_AddStringToObject(f, "exited_at", exited_at)) {
		cJSON_Delete(f);
		return NULL;
	}
	return f;
}

static bool same_group(const struct fm_docker_ctr *a, const struct fm_docker_ctr *b)
{
	return strcmp(a->kn.ns, b->kn.ns) == 0 && strcmp(a->kn.pod, b->kn.pod) == 0 &&
	       strcmp(a->kn.container, b->kn.container) == 0 && strcmp(a->kn.uid, b->kn.uid) == 0;
}

void fm_containers_put_stale(struct fm_facts *set, const char *kind, const struct fm_docker_ctr *ctrs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct fm_docker_ctr *s = &ctrs[i];
		/* Created and never started counts too: it holds its name. */
		if (strcmp(s->state, "exited") != 0 && strcmp(s->state, "dead") != 0 &&
		    strcmp(s->state, "created") != 0)
			continue;
		const struct fm_docker_ctr *newer = NULL;
		for (size_t j = 0; j < n; j++)
			if (j != i && same_group(s, &ctrs[j]) && ctrs[j].kn.attempt > s->kn.attempt &&
			    (!newer || ctrs[j].kn.attempt > newer->kn.attempt))
				newer = &ctrs[j];
		if (!newer)
			continue;
		char sid[13], nid[13];
		short_id(sid, s->id);
		short_id(nid, newer->id);
		cJSON *f = cJSON_CreateObject();
		cJSON_AddStringToObject(f, "container", s->kn.container);
		cJSON_AddStringToObject(f, "pod", s->kn.pod);
		cJSON_AddStringToObject(f, "namespace", s->kn.ns);
		cJSON_AddStringToObject(f, "uid", s->kn.uid);
		cJSON_AddBoolToObject(f, "sandbox", s->kn.sandbox);
		cJSON_AddStringToObject(f, "stale_id", sid);
		cJSON_AddStringToObject(f, "stale_full_id", s->id);
		cJSON_AddNumberToObject(f, "stale_attempt", (double)s->kn.attempt);
		cJSON_AddStringToObject(f, "stale_name", s->name);
		cJSON_AddNumberToObject(f, "exit_code", s->exit_code);
		cJSON_AddStringToObject(f, "newer_id", nid);
		cJSON_AddStringToObject(f, "newer_full_id", newer->id);
		cJSON_AddNumberToObject(f, "newer_attempt", (double)newer->kn.attempt);
		cJSON_AddStringToObject(f, "newer_state", newer->state);
		cJSON_AddStringToObject(f, "newer_name", newer->name);
		cJSON_AddBoolToObject(f, "consecutive", newer->kn.attempt == s->kn.attempt + 1);
		fm_facts_put(set, kind, sid, f);
	}
}

