/* fm_discover: see fm_discover.h.
 *
 * First cut: the defaults (kubeadm's paths, loopback URLs) and the explicit
 * options. Reading the manifests, kubeconfigs and k3s's files comes next. */
#include "fm_discover.h"

#include "hal/hal_path.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void rooted(char *out, size_t size, const char *root, const char *path)
{
	if (hal_path(out, size, root, path) < 0)
		out[0] = '\0';
}

static void set(char *out, size_t size, const char *value)
{
	snprintf(out, size, "%s", value);
}

int fm_discover(struct fm_discovery *d, const struct fm_discover_opts *o, char *err, size_t errlen)
{
	const char *root = o->root ? o->root : "/";
	(void)err;
	(void)errlen;

	memset(d, 0, sizeof(*d));
	set(d->etcd.url, sizeof(d->etcd.url), "https://127.0.0.1:2379");
	rooted(d->etcd.ca, sizeof(d->etcd.ca), root, "/etc/kubernetes/pki/etcd/ca.crt");
	rooted(d->etcd.cert, sizeof(d->etcd.cert), root, "/etc/kubernetes/pki/etcd/healthcheck-client.crt");
	rooted(d->etcd.key, sizeof(d->etcd.key), root, "/etc/kubernetes/pki/etcd/healthcheck-client.key");
	set(d->etcd.origin, sizeof(d->etcd.origin), "default (kubeadm paths)");
	set(d->apiserver.url, sizeof(d->apiserver.url), "https://127.0.0.1:6443");
	rooted(d->apiserver.ca, sizeof(d->apiserver.ca), root, "/etc/kubernetes/pki/ca.crt");
	set(d->apiserver.origin, sizeof(d->apiserver.origin), "default (kubeadm paths)");

	if (o->etcd_url) {
		set(d->etcd.url, sizeof(d->etcd.url), o->etcd_url);
		set(d->etcd.origin, sizeof(d->etcd.origin), "--etcd");
	}
	/* An explicit CA alone means "no client certificate". */
	if (o->etcd_ca) {
		set(d->etcd.ca, sizeof(d->etcd.ca), o->etcd_ca);
		if (!o->etcd_cert && !o->etcd_key)
			d->etcd.cert[0] = d->etcd.key[0] = '\0';
	}
	if (o->etcd_cert || o->etcd_key) {
		set(d->etcd.cert, sizeof(d->etcd.cert), o->etcd_cert ? o->etcd_cert : "");
		set(d->etcd.key, sizeof(d->etcd.key), o->etcd_key ? o->etcd_key : "");
	}
	if (o->apiserver_url) {
		set(d->apiserver.url, sizeof(d->apiserver.url), o->apiserver_url);
		set(d->apiserver.origin, sizeof(d->apiserver.origin), "--apiserver");
	}
	return 0;
}

void fm_discovery_free(struct fm_discovery *d)
{
	struct fm_endpoint *eps[] = {&d->etcd, &d->apiserver};
	for (size_t i = 0; i < sizeof(eps) / sizeof(eps[0]); i++) {
		free(eps[i]->ca_pem);
		free(eps[i]->cert_pem);
		free(eps[i]->key_pem);
		free(eps[i]->token);
		eps[i]->ca_pem = eps[i]->cert_pem = eps[i]->key_pem = eps[i]->token = NULL;
	}
}
