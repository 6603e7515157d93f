/* fm_containers: the facts a runtime's control-plane containers become,
 * whichever runtime holds them (Docker's Engine API, the CRI: issue 22), so
 * the diagnosis reads one shape. The containers are kubelet's, described
 * by struct fm_docker_ctr (its name parts in kn).
 *
 * The container fact: full_id, name, container, pod, namespace, uid,
 * attempt, sandbox, state, and when known exit_code, started_at,
 * exited_at (RFC 3339), oom_killed, restart_count, error, inspect_error.
 * The stale-attempt fact (id: the stale one's short id): an exited (or
 * created, never started) container of a pod/container that also has a
 * newer attempt: kubelet is done with it, and it may hold the name kubelet
 * wants (incident 1): container, pod, namespace, uid, sandbox, stale_id,
 * stale_full_id, stale_attempt, stale_name, exit_code, newer_id,
 * newer_full_id, newer_attempt, newer_state, newer_name, consecutive. */
#ifndef FM_CONTAINERS_H
#define FM_CONTAINERS_H

#include "fm_docker_json.h"
#include "fm_facts.h"

#include <cjson/cJSON.h>
#include <stddef.h>

/* The container fact of c (caller owns it). */
cJSON *fm_containers_fact(const struct fm_docker_ctr *c);
/* A copy of the container fact (caller owns it) as an exit event tells
 * it: state "exited", exit_code, exited_at (RFC 3339), what a collection
 * would then find. NULL when out of memory. */
cJSON *fm_containers_exited(const cJSON *fact, double exit_code, const char *exited_at);
/* Puts a stale-attempt fact of kind ("docker.stale_attempt",
 * "cri.stale_attempt") for each stale container of ctrs. */
void fm_containers_put_stale(struct fm_facts *set, const char *kind, const struct fm_docker_ctr *ctrs, size_t n);

#endif
