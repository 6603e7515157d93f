/* fm_discover: see fm_discover.h.
 *
 * kubeadm: the static pod manifests say where etcd listens, which CA it
 * trusts and where its metrics are; kube-apiserver.yaml says the secure
 * port and how the apiserver itself reaches etcd (the fallback when etcd.yaml
 * is absent: external etcd); admin.conf holds the apiserver credentials.
 * k3s: k3s.yaml is the admin kubeconfig; its embedded etcd (present when
 * server/db/etcd exists) always listens on 127.0.0.1:2379 and 2381
 * (k3s pkg/etcd: clientURL + ",https://127.0.0.1:2379", metricsURL), with
 * server/tls/etcd/ holding its CA and the client certificate k3s's own
 * apiserver uses.
 *
 * A file that is absent or unreadable is not an error here: it is noted,
 * and the defaults stand. Only the explicit --kubeconfig must be readable.
 */
#include "fm_discover.h"

#include "fm_kubeconfig.h"
#include "hal/hal_path.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KUBEADM_DIR	  "/etc/kubernetes"
#define KUBEADM_MANIFESTS "/etc/kubernetes/manifests"
#define KUBEADM_PKI	  "/etc/kubernetes/pki"
#define K3S_YAML	  "/etc/rancher/k3s/k3s.yaml"
#define K3S_SERVER	  "/var/lib/rancher/k3s/server"
#define K3S_TLS		  "/var/lib/rancher/k3s/server/tls"
#define K3S_ETCD_DB	  "/var/lib/rancher/k3s/server/db/etcd"

struct ctx {
	struct fm_discovery *d;
	const char *root;
};

static void rooted(char *out, size_t size, const char *root, const char *path)
{
	if (hal_path(out, size, root, path) < 0)
		out[0] = '\0';
}

static void set(char *out, size_t size, const char *value)
{
	snprintf(out, size, "%s", value);
}

static bool exists(const char *path)
{
	struct stat st;
	return path[0] && stat(path, &st) == 0;
}

static bool is_dir(const char *path)
{
	struct stat st;
	return path[0] && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Appends one "; "-separated note; a note that does not fit is cut and the
 * notes end with "...". */
static void note(struct fm_discovery *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void note(struct fm_discovery *d, const char *fmt, ...)
{
	size_t len = strlen(d->notes), size = sizeof(d->notes);
	va_list ap;
	if (len + 4 >= size)
		return;
	if (len) {
		memcpy(d->notes + len, "; ", 3);
		len += 2;
	}
	va_start(ap, fmt);
	int n = vsnprintf(d->notes + len, size - len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size - len)
		memcpy(d->notes + size - 4, "...", 4);
}

/* --- URLs ---------------------------------------------------------------------- */

/* Splits "scheme://host:port[/...]" (host may be "[v6]"). false when it is
 * not of that shape. */
static bool url_parts(const char *url, char *scheme, size_t ssize, char *host, size_t hsize,
		      char *port, size_t psize)
{
	const char *sep = strstr(url, "://");
	if (!sep || (size_t)(sep - url) >= ssize || sep == url)
		return false;
	snprintf(scheme, ssize, "%.*s", (int)(sep - url), url);
	const char *h = sep + 3, *he, *p;
	if (*h == '[') {
		he = strchr(h, ']');
		if (!he)
			return false;
		h++;
		p = he + 1;
	} else {
		he = h + strcspn(h, ":/");
		p = he;
	}
	if ((size_t)(he - h) >= hsize)
		return false;
	snprintf(host, hsize, "%.*s", (int)(he - h), h);
	port[0] = '\0';
	if (*p == ':') {
		size_t pl = strspn(p + 1, "0123456789");
		if (pl == 0 || pl >= psize || (p[1 + pl] && p[1 + pl] != '/'))
			return false;
		snprintf(port, psize, "%.*s", (int)pl, p + 1);
	} else if (*p && *p != '/') {
		return false;
	}
	return true;
}

static bool host_is_loopback(const char *h)
{
	return !strncmp(h, "127.", 4) || !strcmp(h, "localhost") || !strcmp(h, "::1");
}

static bool host_is_unspecified(const char *h)
{
	return !strcmp(h, "0.0.0.0") || !strcmp(h, "::") || !h[0];
}

enum pick { PICK_LOOPBACK, PICK_UNSPECIFIED, PICK_FIRST };

/* Picks one URL of a comma-separated list (an etcd flag's value) into out:
 * the first loopback one, or the first bound to every address (rewritten
 * to 127.0.0.1: the agent runs on the node), or simply the first.
 * scheme, when not NULL, must match. */
static bool pick_url(char *out, size_t size, const char *list, enum pick how, const char *scheme)
{
	const char *s = list;
	while (s && *s) {
		size_t n = strcspn(s, ",");
		char u[256], sch[16], host[128], port[8];
		if (n > 0 && n < sizeof(u)) {
			snprintf(u, sizeof(u), "%.*s", (int)n, s);
			if (url_parts(u, sch, sizeof(sch), host, sizeof(host), port,
				      sizeof(port)) &&
			    (!scheme || !strcmp(sch, scheme))) {
				if (how == PICK_FIRST ||
				    (how == PICK_LOOPBACK && host_is_loopback(host))) {
					set(out, size, u);
					return true;
				}
				if (how == PICK_UNSPECIFIED && host_is_unspecified(host) &&
				    port[0]) {
					snprintf(out, size, "%s://127.0.0.1:%s", sch, port);
					return true;
				}
			}
		}
		s += n;
		if (*s == ',')
			s++;
	}
	return false;
}

static bool pick_best(char *out, size_t size, const char *list, const char *scheme)
{
	return pick_url(out, size, list, PICK_LOOPBACK, scheme) ||
	       pick_url(out, size, list, PICK_UNSPECIFIED, scheme) ||
	       pick_url(out, size, list, PICK_FIRST, scheme);
}

/* --- files ------------------------------------------------------------------------ */

static bool load_manifest(struct ctx *c, const char *path, struct fm_manifest *m)
{
	char err[512];
	if (!exists(path)) {
		note(c->d, "%s: not found", path);
		return false;
	}
	if (fm_manifest_load(m, path, err, sizeof(err)) < 0) {
		note(c->d, "%s", err);
		return false;
	}
	return true;
}

/* A manifest flag naming a host path, joined with the root prefix into out
 * (left alone when the flag is absent). */
static bool flag_path(struct ctx *c, char *out, size_t size, const struct fm_manifest *m,
		      const char *flag)
{
	const char *v = fm_manifest_flag(m, flag);
	if (!v || v[0] != '/')
		return false;
	char tmp[PATH_MAX];
	if (hal_path(tmp, sizeof(tmp), c->root, v) < 0)
		return false;
	set(out, size, tmp);
	return true;
}

/* Moves a kubeconfig's credentials into ep: the CA when it has one, and the
 * client identity (certificate, key, token) as a whole, so two files'
 * identities never mix. */
static void take_credentials(struct fm_endpoint *ep, struct fm_kubeconfig *kc)
{
	if (kc->ca_pem || kc->ca_file[0]) {
		free(ep->ca_pem);
		ep->ca_pem = kc->ca_pem;
		kc->ca_pem = NULL;
		set(ep->ca, sizeof(ep->ca), kc->ca_file);
	}
	free(ep->cert_pem);
	free(ep->key_pem);
	free(ep->token);
	ep->cert_pem = kc->cert_pem;
	ep->key_pem = kc->key_pem;
	ep->token = kc->token;
	kc->cert_pem = kc->key_pem = kc->token = NULL;
	set(ep->cert, sizeof(ep->cert), kc->cert_file);
	set(ep->key, sizeof(ep->key), kc->key_file);
}

static void add_file(char **list, int *n, const char *path)
{
	for (int i = 0; i < *n; i++)
		if (!strcmp(list[i], path))
			return;
	if (*n < FM_DISCOVER_MAX_FILES && path[0] && strlen(path) < PATH_MAX && (list[*n] = strdup(path)))
		(*n)++;
}

/* A node name as Kubernetes has them: lower-case letters, digits, '-', '.'. */
static bool set_node_name(struct fm_discovery *d, const char *name, size_t len)
{
	if (len == 0 || len >= sizeof(d->node_name))
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)name[i];
		if (!isalnum(ch) && ch != '-' && ch != '.' && ch != '_')
			return false;
	}
	for (size_t i = 0; i < len; i++)
		d->node_name[i] = (char)tolower((unsigned char)name[i]);
	d->node_name[len] = '\0';
	return true;
}

/* A static pod's name is "<component>-<node>" in its mirror pod; the
 * manifest on disk usually says just "<component>". */
static bool node_from_pod_name(struct fm_discovery *d, const char *pod, const char *component)
{
	size_t cl = strlen(component);
	return !strncmp(pod, component, cl) && pod[cl] == '-' &&
	       set_node_name(d, pod + cl + 1, strlen(pod + cl + 1));
}

static void node_from_hostname(struct ctx *c)
{
	char path[PATH_MAX], buf[256];
	rooted(path, sizeof(path), c->root, "/etc/hostname");
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	size_t len = (size_t)n;
	while (len > 0 && isspace((unsigned char)buf[len - 1]))
		len--;
	set_node_name(c->d, buf, len);
}

bool fm_discover_manifests(struct fm_discovery *d, const struct fm_manifest *em,
			   const char *etcd_yaml, const struct fm_manifest *am, const char *api_yaml)
{
	struct ctx ctx = {.d = d, .root = d->root[0] ? d->root : "/"};
	struct ctx *c = &ctx;
	bool have_em = em != NULL, have_am = am != NULL;
	const char *v;

	/* etcd: where it listens, as the agent on the node reaches it best. */
	bool etcd_found = false;
	if (have_em) {
		const char *listen = fm_manifest_flag(em, "listen-client-urls");
		const char *adv = fm_manifest_flag(em, "advertise-client-urls");
		etcd_found =
		    pick_url(d->etcd.url, sizeof(d->etcd.url), listen, PICK_LOOPBACK, NULL) ||
		    pick_url(d->etcd.url, sizeof(d->etcd.url), adv, PICK_LOOPBACK, NULL) ||
		    pick_url(d->etcd.url, sizeof(d->etcd.url), listen, PICK_UNSPECIFIED, NULL) ||
		    pick_url(d->etcd.url, sizeof(d->etcd.url), adv, PICK_FIRST, NULL) ||
		    pick_url(d->etcd.url, sizeof(d->etcd.url), listen, PICK_FIRST, NULL);
		if (etcd_found)
			set(d->etcd.origin, sizeof(d->etcd.origin), etcd_yaml);
		else
			note(d, "%s: no usable --listen-client-urls or --advertise-client-urls",
			     etcd_yaml);
		if (!flag_path(c, d->etcd.ca, sizeof(d->etcd.ca), em, "trusted-ca-file"))
			note(d, "%s: no --trusted-ca-file", etcd_yaml);
		v = fm_manifest_flag(em, "listen-metrics-urls");
		if (!pick_best(d->etcd_metrics_url, sizeof(d->etcd_metrics_url), v, "http"))
			note(d, "%s: no http --listen-metrics-urls", etcd_yaml);
		v = fm_manifest_flag(em, "name");
		if (!(v && set_node_name(d, v, strlen(v))))
			node_from_pod_name(d, em->name, "etcd");
	}
	if (have_am) {
		/* External etcd (or no etcd.yaml): how the apiserver reaches it. */
		v = fm_manifest_flag(am, "etcd-servers");
		if (!etcd_found && pick_best(d->etcd.url, sizeof(d->etcd.url), v, NULL)) {
			etcd_found = true;
			set(d->etcd.origin, sizeof(d->etcd.origin), api_yaml);
			note(d, "etcd from %s --etcd-servers", api_yaml);
			flag_path(c, d->etcd.ca, sizeof(d->etcd.ca), am, "etcd-cafile");
		}
		if (!d->node_name[0])
			node_from_pod_name(d, am->name, "kube-apiserver");
	}

	/* The apiserver: its secure port on loopback, the CA that signs its
	 * clients (kubeadm's one CA). */
	if (have_am) {
		v = fm_manifest_flag(am, "secure-port");
		long port = 6443;
		if (v && *v) {
			char *end;
			port = strtol(v, &end, 10);
			if (*end || port < 1 || port > 65535) {
				note(d, "%s: --secure-port=%.16s is not a port; using 6443",
				     api_yaml, v);
				port = 6443;
			}
		}
		snprintf(d->apiserver.url, sizeof(d->apiserver.url), "https://127.0.0.1:%ld", port);
		set(d->apiserver.origin, sizeof(d->apiserver.origin), api_yaml);
		flag_path(c, d->apiserver.ca, sizeof(d->apiserver.ca), am, "client-ca-file");
		v = fm_manifest_flag(am, "advertise-address");
		if (v && *v)
			note(d, "kube-apiserver advertises %.64s", v);
	}
	return etcd_found;
}

/* --- kubeadm ------------------------------------------------------------------------- */

static void kubeadm(struct ctx *c)
{
	struct fm_discovery *d = c->d;
	struct fm_manifest em = {0}, am = {0};
	struct fm_kubeconfig kc;
	char etcd_yaml[PATH_MAX], api_yaml[PATH_MAX], admin[PATH_MAX], path[PATH_MAX];
	char crt[PATH_MAX], key[PATH_MAX], err[512];

	rooted(etcd_yaml, sizeof(etcd_yaml), c->root, KUBEADM_MANIFESTS "/etcd.yaml");
	rooted(api_yaml, sizeof(api_yaml), c->root, KUBEADM_MANIFESTS "/kube-apiserver.yaml");
	rooted(admin, sizeof(admin), c->root, KUBEADM_DIR "/admin.conf");
	bool have_em = load_manifest(c, etcd_yaml, &em);
	bool have_am = load_manifest(c, api_yaml, &am);

	fm_discover_manifests(d, have_em ? &em : NULL, etcd_yaml, have_am ? &am : NULL, api_yaml);

	/* Our etcd client certificate: kubeadm's healthcheck client, else the
	 * apiserver's own. */
	rooted(crt, sizeof(crt), c->root, KUBEADM_PKI "/etcd/healthcheck-client.crt");
	rooted(key, sizeof(key), c->root, KUBEADM_PKI "/etcd/healthcheck-client.key");
	if (exists(crt) && exists(key)) {
		set(d->etcd.cert, sizeof(d->etcd.cert), crt);
		set(d->etcd.key, sizeof(d->etcd.key), key);
	} else if (have_am && flag_path(c, path, sizeof(path), &am, "etcd-certfile") &&
		   exists(path)) {
		set(d->etcd.cert, sizeof(d->etcd.cert), path);
		if (!flag_path(c, d->etcd.key, sizeof(d->etcd.key), &am, "etcd-keyfile"))
			d->etcd.key[0] = '\0';
		note(d, "etcd client certificate from %s --etcd-certfile (no %s)", api_yaml, crt);
	} else {
		note(d, "no etcd client certificate found (looked for %s%s)", crt,
		     have_am ? " and kube-apiserver's --etcd-certfile" : "");
	}

	/* The apiserver: after what kube-apiserver.yaml said (its secure port
	 * on loopback, its client CA), admin.conf's server and credentials. */
	if (exists(admin)) {
		if (fm_kubeconfig_load(&kc, admin, c->root, err, sizeof(err)) < 0) {
			note(d, "%s", err);
		} else {
			if (kc.server[0]) {
				if (have_am && strcmp(kc.server, d->apiserver.url))
					note(d, "%s: server %s (kube-apiserver.yaml: %s)", admin,
					     kc.server, d->apiserver.url);
				set(d->apiserver.url, sizeof(d->apiserver.url), kc.server);
				set(d->apiserver.origin, sizeof(d->apiserver.origin), admin);
			}
			take_credentials(&d->apiserver, &kc);
			fm_kubeconfig_free(&kc);
		}
	} else {
		note(d, "%s: not found (no apiserver credentials)", admin);
	}

	rooted(path, sizeof(path), c->root, KUBEADM_PKI);
	if (is_dir(path))
		add_file(d->pki_dirs, &d->n_pki_dirs, path);
	static const char *const confs[] = {"admin.conf", "super-admin.conf", "kubelet.conf",
					    "controller-manager.conf", "scheduler.conf"};
	for (size_t i = 0; i < sizeof(confs) / sizeof(confs[0]); i++) {
		char rel[64];
		snprintf(rel, sizeof(rel), KUBEADM_DIR "/%s", confs[i]);
		rooted(path, sizeof(path), c->root, rel);
		if (exists(path))
			add_file(d->kubeconfigs, &d->n_kubeconfigs, path);
	}
	fm_manifest_free(&em);
	fm_manifest_free(&am);
}

/* --- k3s ------------------------------------------------------------------------------- */

static void k3s(struct ctx *c)
{
	struct fm_discovery *d = c->d;
	struct fm_kubeconfig kc;
	char tls[PATH_MAX], yaml[PATH_MAX], db[PATH_MAX], err[512];

	rooted(tls, sizeof(tls), c->root, K3S_TLS);
	rooted(yaml, sizeof(yaml), c->root, K3S_YAML);
	rooted(db, sizeof(db), c->root, K3S_ETCD_DB);

	if (is_dir(db)) {
		set(d->etcd.url, sizeof(d->etcd.url), "https://127.0.0.1:2379");
		snprintf(d->etcd.ca, sizeof(d->etcd.ca), "%s/etcd/server-ca.crt", tls);
		snprintf(d->etcd.cert, sizeof(d->etcd.cert), "%s/etcd/client.crt", tls);
		snprintf(d->etcd.key, sizeof(d->etcd.key), "%s/etcd/client.key", tls);
		set(d->etcd_metrics_url, sizeof(d->etcd_metrics_url), "http://127.0.0.1:2381");
		set(d->etcd.origin, sizeof(d->etcd.origin), db);
	} else {
		d->etcd.url[0] = d->etcd.ca[0] = d->etcd.cert[0] = d->etcd.key[0] = '\0';
		/* Said where a person reads it: the etcd facts carry the origin. */
		snprintf(d->etcd.origin, sizeof(d->etcd.origin),
			 "none: k3s without embedded etcd (no %s)", db);
		note(d,
		     "%s: not found: k3s without embedded etcd (SQLite or an external datastore)",
		     db);
	}

	set(d->apiserver.url, sizeof(d->apiserver.url), "https://127.0.0.1:6443");
	snprintf(d->apiserver.ca, sizeof(d->apiserver.ca), "%s/server-ca.crt", tls);
	snprintf(d->apiserver.cert, sizeof(d->apiserver.cert), "%s/client-admin.crt", tls);
	snprintf(d->apiserver.key, sizeof(d->apiserver.key), "%s/client-admin.key", tls);
	set(d->apiserver.origin, sizeof(d->apiserver.origin), tls);
	if (!exists(d->apiserver.cert))
		d->apiserver.cert[0] = d->apiserver.key[0] = '\0';
	if (exists(yaml)) {
		if (fm_kubeconfig_load(&kc, yaml, c->root, err, sizeof(err)) < 0) {
			note(d, "%s", err);
		} else {
			if (kc.server[0])
				set(d->apiserver.url, sizeof(d->apiserver.url), kc.server);
			set(d->apiserver.origin, sizeof(d->apiserver.origin), yaml);
			take_credentials(&d->apiserver, &kc);
			fm_kubeconfig_free(&kc);
		}
		add_file(d->kubeconfigs, &d->n_kubeconfigs, yaml);
	} else {
		note(d, "%s: not found", yaml);
	}
	if (is_dir(tls))
		add_file(d->pki_dirs, &d->n_pki_dirs, tls);
	else
		note(d, "%s: not found", tls);
}

/* --- the whole ----------------------------------------------------------------------- */

static enum fm_flavor flavor_of(const char *root)
{
	static const char *const kubeadm_marks[] = {KUBEADM_MANIFESTS "/etcd.yaml",
						    KUBEADM_MANIFESTS "/kube-apiserver.yaml",
						    KUBEADM_DIR "/admin.conf"};
	static const char *const k3s_marks[] = {K3S_YAML, K3S_SERVER};
	char p[PATH_MAX];
	for (size_t i = 0; i < sizeof(kubeadm_marks) / sizeof(kubeadm_marks[0]); i++) {
		rooted(p, sizeof(p), root, kubeadm_marks[i]);
		if (exists(p))
			return FM_FLAVOR_KUBEADM;
	}
	for (size_t i = 0; i < sizeof(k3s_marks) / sizeof(k3s_marks[0]); i++) {
		rooted(p, sizeof(p), root, k3s_marks[i]);
		if (exists(p))
			return FM_FLAVOR_K3S;
	}
	return FM_FLAVOR_NONE;
}

static int apply_options(struct ctx *c, const struct fm_discover_opts *o, char *err, size_t errlen)
{
	struct fm_discovery *d = c->d;
	if (o->etcd_url) {
		if (d->etcd_metrics_url[0] && strcmp(o->etcd_url, d->etcd.url)) {
			note(d, "metrics URL %s dropped: it belongs to %s, not --etcd",
			     d->etcd_metrics_url,
			     d->etcd.url[0] ? d->etcd.url : "the discovered etcd");
			d->etcd_metrics_url[0] = '\0';
		}
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
	if (o->kubeconfig) {
		struct fm_kubeconfig kc;
		char why[512];
		int ret = fm_kubeconfig_load(&kc, o->kubeconfig, c->root, why, sizeof(why));
		if (ret < 0) {
			snprintf(err, errlen, "--kubeconfig: %s", why);
			return ret;
		}
		if (kc.server[0])
			set(d->apiserver.url, sizeof(d->apiserver.url), kc.server);
		snprintf(d->apiserver.origin, sizeof(d->apiserver.origin), "--kubeconfig %s",
			 o->kubeconfig);
		take_credentials(&d->apiserver, &kc);
		fm_kubeconfig_free(&kc);
		add_file(d->kubeconfigs, &d->n_kubeconfigs, o->kubeconfig);
	}
	if (o->apiserver_url) {
		set(d->apiserver.url, sizeof(d->apiserver.url), o->apiserver_url);
		set(d->apiserver.origin, sizeof(d->apiserver.origin), "--apiserver");
	}
	/* Credentials given without an address, on a node where none was
	 * found: the usual local one. */
	if (d->flavor == FM_FLAVOR_NONE && !d->etcd.url[0] && (o->etcd_ca || o->etcd_cert || o->etcd_key)) {
		set(d->etcd.url, sizeof(d->etcd.url), "https://127.0.0.1:2379");
		set(d->etcd.origin, sizeof(d->etcd.origin), "default address (certificates from the options)");
	}
	if (d->flavor == FM_FLAVOR_NONE && !d->apiserver.url[0] && o->kubeconfig) {
		set(d->apiserver.url, sizeof(d->apiserver.url), "https://127.0.0.1:6443");
		snprintf(d->apiserver.origin, sizeof(d->apiserver.origin), "default address (--kubeconfig %s has no server)",
			 o->kubeconfig);
	}
	return 0;
}

int fm_discover(struct fm_discovery *d, const struct fm_discover_opts *o, char *err, size_t errlen)
{
	struct ctx c = {.d = d, .root = o->root && o->root[0] ? o->root : "/"};
	const char *root = c.root;

	memset(d, 0, sizeof(*d));
	set(d->root, sizeof(d->root), root);
	if (err && errlen)
		err[0] = '\0';
	set(d->etcd.url, sizeof(d->etcd.url), "https://127.0.0.1:2379");
	rooted(d->etcd.ca, sizeof(d->etcd.ca), root, KUBEADM_PKI "/etcd/ca.crt");
	rooted(d->etcd.cert, sizeof(d->etcd.cert), root,
	       KUBEADM_PKI "/etcd/healthcheck-client.crt");
	rooted(d->etcd.key, sizeof(d->etcd.key), root, KUBEADM_PKI "/etcd/healthcheck-client.key");
	set(d->etcd.origin, sizeof(d->etcd.origin), "default (kubeadm paths)");
	set(d->apiserver.url, sizeof(d->apiserver.url), "https://127.0.0.1:6443");
	rooted(d->apiserver.ca, sizeof(d->apiserver.ca), root, KUBEADM_PKI "/ca.crt");
	set(d->apiserver.origin, sizeof(d->apiserver.origin), "default (kubeadm paths)");

	d->flavor = flavor_of(root);
	switch (d->flavor) {
	case FM_FLAVOR_KUBEADM:
		kubeadm(&c);
		break;
	case FM_FLAVOR_K3S:
		k3s(&c);
		break;
	case FM_FLAVOR_NONE: {
		char p[PATH_MAX];
		note(d,
		     "no kubeadm (%s/manifests, admin.conf) or k3s (%s, %s) files under %s: "
		     "using kubeadm's default paths",
		     KUBEADM_DIR, K3S_YAML, K3S_SERVER, root);
		rooted(p, sizeof(p), root, KUBEADM_PKI);
		if (is_dir(p))
			add_file(d->pki_dirs, &d->n_pki_dirs, p);
		/* kubeadm's defaults only where kubeadm's CA is there: else
		 * there is nothing to ask, and the person is told which flags
		 * point the agent at etcd and the apiserver (not a TLS library's
		 * complaint about a file that does not exist) */
		if (!exists(d->etcd.ca)) {
			d->etcd.url[0] = '\0';
			snprintf(d->etcd.origin, sizeof(d->etcd.origin),
				 "none: no control plane found under %s (no kubeadm manifests or admin.conf in %s, no k3s): point the agent at etcd with --etcd URL --etcd-ca FILE --etcd-cert FILE --etcd-key FILE, or at the node's root with --root",
				 root, KUBEADM_DIR);
		}
		if (!exists(d->apiserver.ca)) {
			d->apiserver.url[0] = '\0';
			snprintf(d->apiserver.origin, sizeof(d->apiserver.origin),
				 "none: no control plane found under %s (no kubeadm manifests or admin.conf in %s, no k3s): point the agent at the apiserver with --apiserver URL --kubeconfig FILE, or at the node's root with --root",
				 root, KUBEADM_DIR);
		}
		break;
	}
	}
	if (!d->node_name[0])
		node_from_hostname(&c);
	return apply_options(&c, o, err, errlen);
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
	for (int i = 0; i < d->n_pki_dirs; i++)
		free(d->pki_dirs[i]);
	for (int i = 0; i < d->n_kubeconfigs; i++)
		free(d->kubeconfigs[i]);
	d->n_pki_dirs = d->n_kubeconfigs = 0;
}
