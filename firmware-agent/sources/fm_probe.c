#include "fm_probe.h"

#include "fm_discover.h"

cJSON *fm_probe_outcome(cJSON *fact, const struct fm_httpc *c)
{
	cJSON_AddStringToObject(fact, "state", fm_httpc_fail_name(c->fail));
	if (c->fail != FM_HTTPC_OK) {
		if (c->fail == FM_HTTPC_TLS)
			cJSON_AddStringToObject(fact, "tls", fm_tls_fail_name(c->tls_fail));
		cJSON_AddStringToObject(fact, "reason", c->reason);
	}
	if (c->status)
		cJSON_AddNumberToObject(fact, "http_status", c->status);
	cJSON_AddNumberToObject(fact, "elapsed_ms", (double)c->elapsed_ms);
	return fact;
}

cJSON *fm_probe_config_error(const char *reason)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "state", "config");
	cJSON_AddStringToObject(o, "reason", reason);
	return o;
}

struct fm_tls_options fm_probe_tls_options(const struct fm_endpoint *ep, int tls_max)
{
	struct fm_tls_options o = {
		.ca_file = ep->ca[0] ? ep->ca : NULL,
		.ca_pem = ep->ca_pem,
		.cert_file = ep->cert[0] ? ep->cert : NULL,
		.cert_pem = ep->cert_pem,
		.key_file = ep->key[0] ? ep->key : NULL,
		.key_pem = ep->key_pem,
		.max_version = tls_max,
	};
	return o;
}
