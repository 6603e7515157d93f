/* fm_discover: where the control plane is on this node, found under the root
 * prefix with no configuration: kubeadm (static pod manifests, PKI,
 * admin.conf) or k3s (k3s.yaml, server/tls). Explicit options override what
 * was found, field by field.
 *
 * Everything found says where it came from ("origin"), so a report can say
 * "from /etc/kubernetes/manifests/etcd.yaml" and a person can check it.
 */
#ifndef FM_DISCOVER_H
#define FM_DISCOVER_H

#include <limits.h>
#include <stddef.h>
#include <stdbool.h>

enum fm_flavor { FM_FLAVOR_NONE = 0, FM_FLAVOR_KUBEADM, FM_FLAVOR_K3S };

/* How to reach one TLS endpoint. Paths are host paths already joined with
 * the root prefix. PEM strings (malloc'd, NUL-terminated) hold material a
 * kubeconfig embeds (*-data, base64-decoded); they win over the paths. */
struct fm_endpoint {
	char url[256];        /* "https://127.0.0.1:2379"; "" when none found */
	char ca[PATH_MAX];
	char cert[PATH_MAX];
	char key[PATH_MAX];
	char *ca_pem;
	char *cert_pem;
	char *key_pem;
	char *token;          /* bearer token (kubeconfig user.token), or NULL */
	char origin[PATH_MAX]; /* the file (or "--etcd" ...) it came from */
};

#define FM_DISCOVER_MAX_FILES 8

struct fm_discovery {
	enum fm_flavor flavor;
	char node_name[128];         /* from the manifests / kubeconfig, if seen */
	struct fm_endpoint etcd;     /* client URL, etcd CA, a client cert etcd trusts */
	char etcd_metrics_url[256];  /* plain http --listen-metrics-urls, or "" */
	struct fm_endpoint apiserver; /* URL, CA, credentials (from admin.conf / k3s.yaml) */
	/* Directories whose certificates are checked (PKI, k3s server/tls). */
	char pki_dirs[FM_DISCOVER_MAX_FILES][PATH_MAX];
	int n_pki_dirs;
	/* Kubeconfig files whose embedded certificates are checked. */
	char kubeconfigs[FM_DISCOVER_MAX_FILES][PATH_MAX];
	int n_kubeconfigs;
	char notes[1024]; /* what was looked at and not found, for --help-me output */
};

/* Explicit settings (NULL: not given). */
struct fm_discover_opts {
	const char *root;       /* default "/" */
	const char *etcd_url, *etcd_ca, *etcd_cert, *etcd_key;
	const char *apiserver_url, *kubeconfig;
};

/* Fills d from the host under o->root, then applies the explicit options.
 * Returns 0 (also when nothing was found: d->flavor is FM_FLAVOR_NONE and
 * the endpoints fall back to the defaults https://127.0.0.1:2379 and
 * https://127.0.0.1:6443 with kubeadm's paths), or -errno with a reason in
 * err when an explicit file (--kubeconfig) cannot be read or parsed. The
 * caller frees d with fm_discovery_free. */
int fm_discover(struct fm_discovery *d, const struct fm_discover_opts *o, char *err, size_t errlen);
/* Frees the PEM strings and tokens; d can be reused. */
void fm_discovery_free(struct fm_discovery *d);

#endif
