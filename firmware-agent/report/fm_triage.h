/* fm_triage: the resources the agent serves to the controller over the
 * agent's own session (PROTOCOL.md, "Controller -> agent"): GET /status,
 * /diag, /facts?k=, /journal?u=&n=&g=, /containers, /etcd, /hal, and
 * POST /act/rm?id= when the configuration allows it.
 *
 * Answers are JSON, capped at FM_TRIAGE_ANSWER_MAX (arrays lose their last
 * elements to fit), sent block-wise by libcoap when longer than a datagram.
 * Queries are hostile input: every key is known for its resource, every
 * value length-checked (fm_triage_query_parse, fuzzed).
 *
 * Who may ask: the controller's session (the uplink's), and sessions of the
 * --listen endpoint (DTLS-PSK with the agent's own identity and key) for
 * GETs only; an /act from anything but the controller is 4.03.
 */
#ifndef FM_TRIAGE_H
#define FM_TRIAGE_H

#include "fm_coap.h"
#include "fm_docker.h"
#include "fm_facts.h"
#include "fm_triage_query.h"
#include "fm_uplink.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#define FM_TRIAGE_ANSWER_MAX (16 * 1024)

/* What the resources read; borrowed for the life of the context. */
struct fm_triage_src {
	struct fm_facts *facts;
	const char *journal_dir;	     /* NULL: the system journal */
	const char *docker_host;	     /* for /act/rm */
	const char *cri_endpoint;	     /* for /act/rm of a CRI container ("": none) */
	const struct fm_docker_policy *policy; /* may change (SIGHUP) */
	struct fm_uplink *uplink;	     /* whose session is the controller's (told when it asks) */
	/* The raised diagnoses, long form (caller frees). */
	cJSON *(*diagnoses)(void *arg);
	/* Fills /status's object. */
	void (*status)(void *arg, cJSON *o);
	void *arg;
};

/* Adds the resources to c's context. 0 or -ENOMEM. */
int fm_triage_register(struct fm_coap *c, const struct fm_triage_src *src);

#endif
