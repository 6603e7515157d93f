/* fm_kubeconfig: kubeconfigs (embedded data, file references, contexts,
 * tokens) and static pod manifests (flag lookup), and the limits that keep
 * hostile YAML harmless (aliases, depth, node count, sizes, NUL bytes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fm_kubeconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CA_PEM	 "-----BEGIN CERTIFICATE-----\nMIIBca\n-----END CERTIFICATE-----\n"
#define CERT_PEM "-----BEGIN CERTIFICATE-----\nMIIBcert\n-----END CERTIFICATE-----\n"
#define KEY_PEM	 "-----BEGIN RSA PRIVATE KEY-----\nMIIEkey\n-----END RSA PRIVATE KEY-----\n"

static char err[512];

static void b64(char *out, const char *in)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t len = strlen(in), o = 0;
	const unsigned char *s = (const unsigned char *)in;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t b = (uint32_t)s[i] << 16;
		if (i + 1 < len)
			b |= (uint32_t)s[i + 1] << 8;
		if (i + 2 < len)
			b |= s[i + 2];
		out[o++] = a[b >> 18 & 63];
		out[o++] = a[b >> 12 & 63];
		out[o++] = i + 1 < len ? a[b >> 6 & 63] : '=';
		out[o++] = i + 2 < len ? a[b & 63] : '=';
	}
	out[o] = '\0';
}

static int parse(struct fm_kubeconfig *kc, const char *yaml)
{
	err[0] = '\0';
	return fm_kubeconfig_parse(kc, yaml, strlen(yaml), "/base/dir", "/r", "test.conf", err,
				   sizeof(err));
}

static void assert_err(const char *needle)
{
	if (!strstr(err, needle))
		fail_msg("reason \"%s\" does not say \"%s\"", err, needle);
}

/* admin.conf as kubeadm writes it: everything embedded. */
static void embedded_data(void **state)
{
	(void)state;
	char ca[256], cert[256], key[256], yaml[2048];
	b64(ca, CA_PEM);
	b64(cert, CERT_PEM);
	b64(key, KEY_PEM);
	snprintf(yaml, sizeof(yaml),
		 "apiVersion: v1\n"
		 "clusters:\n"
		 "- cluster:\n"
		 "    certificate-authority-data: %s\n"
		 "    server: https://192.168.6.11:6443\n"
		 "  name: kubernetes\n"
		 "contexts:\n"
		 "- context:\n"
		 "    cluster: kubernetes\n"
		 "    user: kubernetes-admin\n"
		 "  name: kubernetes-admin@kubernetes\n"
		 "current-context: kubernetes-admin@kubernetes\n"
		 "kind: Config\n"
		 "preferences: {}\n"
		 "users:\n"
		 "- name: kubernetes-admin\n"
		 "  user:\n"
		 "    client-certificate-data: %s\n"
		 "    client-key-data: %s\n",
		 ca, cert, key);
	struct fm_kubeconfig kc;
	assert_int_equal(parse(&kc, yaml), 0);
	assert_string_equal(kc.context, "kubernetes-admin@kubernetes");
	assert_string_equal(kc.cluster, "kubernetes");
	assert_string_equal(kc.user, "kubernetes-admin");
	assert_string_equal(kc.server, "https://192.168.6.11:6443");
	assert_string_equal(kc.ca_pem, CA_PEM);
	assert_string_equal(kc.cert_pem, CERT_PEM);
	assert_string_equal(kc.key_pem, KEY_PEM);
	assert_string_equal(kc.ca_file, "");
	assert_string_equal(kc.cert_file, "");
	assert_string_equal(kc.key_file, "");
	assert_null(kc.token);
	assert_false(kc.insecure);
	assert_false(kc.current_context_missing);
	fm_kubeconfig_free(&kc);
	assert_null(kc.ca_pem);
	fm_kubeconfig_free(&kc); /* twice is fine */
}

/* kubelet.conf style: file references; relative ones are relative to the
 * kubeconfig's directory, absolute ones are host paths under the root. */
static void file_references(void **state)
{
	(void)state;
	struct fm_kubeconfig kc;
	assert_int_equal(
	    parse(&kc, "clusters:\n"
		       "- name: c\n"
		       "  cluster:\n"
		       "    server: https://127.0.0.1:6443\n"
		       "    certificate-authority: pki/ca.crt\n"
		       "users:\n"
		       "- name: u\n"
		       "  user:\n"
		       "    client-certificate: /var/lib/kubelet/pki/kubelet-client-current.pem\n"
		       "    client-key: ../key.pem\n"
		       "contexts:\n"
		       "- name: x\n"
		       "  context: {cluster: c, user: u}\n"
		       "current-context: x\n"),
	    0);
	assert_string_equal(kc.ca_file, "/base/dir/pki/ca.crt");
	assert_string_equal(kc.cert_file, "/r/var/lib/kubelet/pki/kubelet-client-current.pem");
	assert_string_equal(kc.key_file, "/base/dir/../key.pem");
	assert_null(kc.ca_pem);
	assert_null(kc.cert_pem);
	fm_kubeconfig_free(&kc);

	/* From a file: its directory is the base. */
	char dir[] = "/tmp/fmkc.XXXXXX", path[PATH_MAX];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/admin.conf", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("clusters: [{name: c, cluster: {server: 'https://127.0.0.1:6443', "
	      "certificate-authority: ca.crt}}]\n"
	      "contexts: [{name: x, context: {cluster: c}}]\n"
	      "current-context: x\n",
	      f);
	fclose(f);
	assert_int_equal(fm_kubeconfig_load(&kc, path, "/", err, sizeof(err)), 0);
	char want[PATH_MAX];
	snprintf(want, sizeof(want), "%s/ca.crt", dir);
	assert_string_equal(kc.ca_file, want);
	assert_string_equal(kc.user, ""); /* a context without a user: no credentials */
	assert_null(kc.cert_pem);
	assert_null(kc.token);
	fm_kubeconfig_free(&kc);

	/* A missing file says which. */
	unlink(path);
	assert_int_equal(fm_kubeconfig_load(&kc, path, "/", err, sizeof(err)), -ENOENT);
	assert_err(path);
	rmdir(dir);
}

static const char multi[] = "apiVersion: v1\n"
			    "kind: Config\n"
			    "clusters:\n"
			    "- name: prod\n"
			    "  cluster:\n"
			    "    server: https://10.0.0.1:6443\n"
			    "- name: lab\n"
			    "  cluster:\n"
			    "    server: https://127.0.0.1:16443\n"
			    "    insecure-skip-tls-verify: true\n"
			    "users:\n"
			    "- name: bob\n"
			    "  user:\n"
			    "    token: abc.def\n"
			    "- name: alice\n"
			    "  user:\n"
			    "    token: eyJhbGciOiJSUzI1NiJ9.payload.sig\n"
			    "contexts:\n"
			    "- name: prod\n"
			    "  context:\n"
			    "    cluster: prod\n"
			    "    user: bob\n"
			    "- name: lab\n"
			    "  context:\n"
			    "    cluster: lab\n"
			    "    user: alice\n"
			    "    namespace: kube-system\n";

/* The current context picks its cluster and user by name, whatever the
 * order of the lists; a token user has no certificate. */
static void multiple_contexts_and_token(void **state)
{
	(void)state;
	char yaml[2048];
	struct fm_kubeconfig kc;
	snprintf(yaml, sizeof(yaml), "%scurrent-context: lab\n", multi);
	assert_int_equal(parse(&kc, yaml), 0);
	assert_string_equal(kc.context, "lab");
	assert_string_equal(kc.cluster, "lab");
	assert_string_equal(kc.user, "alice");
	assert_string_equal(kc.server, "https://127.0.0.1:16443");
	assert_true(kc.insecure);
	assert_string_equal(kc.token, "eyJhbGciOiJSUzI1NiJ9.payload.sig");
	assert_null(kc.cert_pem);
	assert_string_equal(kc.cert_file, "");
	fm_kubeconfig_free(&kc);

	snprintf(yaml, sizeof(yaml), "%scurrent-context: prod\n", multi);
	assert_int_equal(parse(&kc, yaml), 0);
	assert_string_equal(kc.server, "https://10.0.0.1:6443");
	assert_string_equal(kc.token, "abc.def");
	assert_false(kc.insecure);
	fm_kubeconfig_free(&kc);

	/* A current-context that names nothing. */
	snprintf(yaml, sizeof(yaml), "%scurrent-context: staging\n", multi);
	assert_int_equal(parse(&kc, yaml), -ENOENT);
	assert_err("context \"staging\" not found");
	assert_null(kc.token);
}

static void missing_current_context(void **state)
{
	(void)state;
	struct fm_kubeconfig kc;
	/* Two contexts and no current one: no guessing. */
	assert_int_equal(parse(&kc, multi), -ENOENT);
	assert_err("no current-context");
	char yaml[2048];
	snprintf(yaml, sizeof(yaml), "%scurrent-context: \"\"\n", multi);
	assert_int_equal(parse(&kc, yaml), -ENOENT);

	/* One context: that one. */
	assert_int_equal(parse(&kc, "clusters: [{name: c, cluster: {server: https://h:1}}]\n"
				    "users: [{name: u, user: {token: t0k}}]\n"
				    "contexts: [{name: only, context: {cluster: c, user: u}}]\n"),
			 0);
	assert_true(kc.current_context_missing);
	assert_string_equal(kc.context, "only");
	assert_string_equal(kc.server, "https://h:1");
	assert_string_equal(kc.token, "t0k");
	fm_kubeconfig_free(&kc);

	/* No contexts at all. */
	assert_int_equal(parse(&kc, "clusters: []\n"), -ENOENT);
	assert_err("0 contexts");
}

static void dangling_names(void **state)
{
	(void)state;
	struct fm_kubeconfig kc;
	assert_int_equal(parse(&kc, "contexts: [{name: x, context: {cluster: nope, user: u}}]\n"
				    "current-context: x\n"),
			 -ENOENT);
	assert_err("cluster \"nope\"");
	assert_int_equal(parse(&kc, "clusters: [{name: c, cluster: {server: https://h:1}}]\n"
				    "contexts: [{name: x, context: {cluster: c, user: ghost}}]\n"
				    "current-context: x\n"),
			 -ENOENT);
	assert_err("user \"ghost\"");
	assert_int_equal(parse(&kc, "contexts: [{name: x, context: {user: u}}]\n"
				    "current-context: x\n"),
			 -ENOENT);
	assert_err("names no cluster");
}

/* JSON is YAML: kubeconfigs written by tools are sometimes JSON. Repeated
 * keys: the last wins, as in Go's decoders. */
static void json_and_repeated_keys(void **state)
{
	(void)state;
	struct fm_kubeconfig kc;
	assert_int_equal(parse(&kc,
			       "{\"clusters\":[{\"name\":\"c\",\"cluster\":{\"server\":"
			       "\"https://a:1\",\"server\":\"https://b:2\"}}],"
			       "\"contexts\":[{\"name\":\"x\",\"context\":{\"cluster\":\"c\"}}],"
			       "\"current-context\":\"x\"}"),
			 0);
	assert_string_equal(kc.server, "https://b:2");
	fm_kubeconfig_free(&kc);
}

static void bad_values(void **state)
{
	(void)state;
	struct fm_kubeconfig kc;
	char yaml[1024], data[256];
	static const char head[] = "clusters: [{name: c, cluster: {server: 'https://h:1'}}]\n"
				   "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
				   "current-context: x\n";

	snprintf(yaml, sizeof(yaml), "%susers: [{name: u, user: {client-key-data: 'AAA*'}}]\n",
		 head);
	assert_int_equal(parse(&kc, yaml), -EINVAL);
	assert_err("client-key-data: not base64 (at character 4)");
	assert_err("test.conf:4:");

	b64(data, "just some text, no PEM\n");
	snprintf(yaml, sizeof(yaml), "%susers: [{name: u, user: {client-certificate-data: %s}}]\n",
		 head, data);
	assert_int_equal(parse(&kc, yaml), -EINVAL);
	assert_err("client-certificate-data does not hold PEM text");

	/* A token is sent in a header: no line breaks or spaces. */
	snprintf(yaml, sizeof(yaml),
		 "%susers: [{name: u, user: {token: \"abc\\r\\nX-Evil: 1\"}}]\n", head);
	assert_int_equal(parse(&kc, yaml), -EINVAL);
	assert_err("token holds spaces or control characters");

	/* Failure frees what was already decoded (ASan would see a leak). */
	b64(data, CA_PEM);
	snprintf(yaml, sizeof(yaml),
		 "clusters: [{name: c, cluster: {server: 'https://h:1', "
		 "certificate-authority-data: %s}}]\n"
		 "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
		 "current-context: x\n"
		 "users: [{name: u, user: {client-key-data: '!!'}}]\n",
		 data);
	assert_int_equal(parse(&kc, yaml), -EINVAL);
	assert_null(kc.ca_pem);

	/* A server URL longer than the field. */
	char longurl[400];
	memset(longurl, 'a', sizeof(longurl) - 1);
	longurl[sizeof(longurl) - 1] = '\0';
	snprintf(yaml, sizeof(yaml),
		 "clusters: [{name: c, cluster: {server: 'https://%s'}}]\n"
		 "contexts: [{name: x, context: {cluster: c}}]\ncurrent-context: x\n",
		 longurl);
	assert_int_equal(parse(&kc, yaml), -ENAMETOOLONG);
	assert_err("server is longer than");
}

static void malformed_yaml(void **state)
{
	(void)state;
	struct fm_kubeconfig kc;
	assert_int_equal(parse(&kc, "apiVersion: v1\nclusters: [\n  {name: c\n"), -EINVAL);
	assert_err("test.conf:");
	assert_err("not valid YAML");
	assert_int_equal(parse(&kc, "a: b\n c: d\n: : :\n\t- x"), -EINVAL);
	assert_int_equal(parse(&kc, "- just\n- a list\n"), -EINVAL);
	assert_err("not a kubeconfig (the top level is not a mapping)");
	assert_int_equal(parse(&kc, ""), -EINVAL);
	assert_err("not a kubeconfig (empty)");
	assert_int_equal(parse(&kc, "just a string"), -EINVAL);
	/* Binary garbage. */
	static const unsigned char junk[] = {0xff, 0xfe, 0x00, 0x01, 0x80, 0x0a, 0x00};
	assert_int_equal(
	    fm_kubeconfig_parse(&kc, junk, sizeof(junk), ".", "/", NULL, err, sizeof(err)),
	    -EINVAL);
	/* A NUL inside a string. */
	assert_int_equal(parse(&kc, "current-context: \"a\\0b\"\n"), -EINVAL);
	assert_err("NUL byte");
}

/* "Billion laughs": nine levels of nine aliases. Refused at the first
 * alias, whatever its size would be. */
static void alias_bomb_refused(void **state)
{
	(void)state;
	struct fm_kubeconfig kc;
	struct fm_manifest m;
	static const char bomb[] =
	    "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
	    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
	    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
	    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
	    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
	    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
	    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
	    "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
	    "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n"
	    "current-context: *i\n";
	assert_int_equal(parse(&kc, bomb), -EINVAL);
	assert_err("test.conf:2: YAML aliases (*a) are not accepted");
	assert_int_equal(fm_manifest_parse(&m, bomb, strlen(bomb), "m.yaml", err, sizeof(err)),
			 -EINVAL);
	assert_err("aliases");
	/* Even one harmless-looking alias. */
	assert_int_equal(parse(&kc, "x: &n ctx\ncurrent-context: *n\n"), -EINVAL);
	/* An anchor without an alias is harmless. */
	assert_int_equal(parse(&kc, "clusters: [{name: c, cluster: &cl {server: https://h:1}}]\n"
				    "contexts: [{name: x, context: {cluster: c}}]\n"
				    "current-context: x\n"),
			 0);
	fm_kubeconfig_free(&kc);
}

static void limits(void **state)
{
	(void)state;
	struct fm_kubeconfig kc;
	size_t big = FM_KUBECONFIG_MAX_BYTES + 1;
	char *buf = malloc(big + 1);
	assert_non_null(buf);

	/* Size cap, in memory and on disk. */
	memset(buf, '#', big);
	buf[big] = '\0';
	assert_int_equal(fm_kubeconfig_parse(&kc, buf, big, ".", "/", "big", err, sizeof(err)),
			 -E2BIG);
	assert_err("big: 1048577 bytes");
	char dir[] = "/tmp/fmkc.XXXXXX", path[PATH_MAX];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/huge.conf", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, big), (ssize_t)big);
	close(fd);
	assert_int_equal(fm_kubeconfig_load(&kc, path, "/", err, sizeof(err)), -E2BIG);
	unlink(path);
	/* A FIFO must not hang the reader. */
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(fm_kubeconfig_load(&kc, path, "/", err, sizeof(err)), -EINVAL);
	assert_err("not a regular file");
	unlink(path);
	rmdir(dir);

	/* Depth: 33 nested flow sequences. */
	size_t n = 0;
	n += (size_t)sprintf(buf + n, "x: ");
	for (int i = 0; i < FM_YAML_MAX_DEPTH; i++)
		buf[n++] = '[';
	for (int i = 0; i < FM_YAML_MAX_DEPTH; i++)
		buf[n++] = ']';
	buf[n] = '\0';
	assert_int_equal(parse(&kc, buf), -EINVAL);
	assert_err("nested more than 32 deep");
	/* ... and block mappings nested just as deep. */
	n = 0;
	for (int i = 0; i <= FM_YAML_MAX_DEPTH; i++)
		n += (size_t)sprintf(buf + n, "%*sk%d:\n", i, "", i);
	assert_int_equal(parse(&kc, buf), -EINVAL);
	assert_err("deep");
	/* 31 nested under the top-level mapping is fine (then not a kubeconfig). */
	n = 0;
	n += (size_t)sprintf(buf + n, "x: ");
	for (int i = 0; i < FM_YAML_MAX_DEPTH - 1; i++)
		buf[n++] = '[';
	for (int i = 0; i < FM_YAML_MAX_DEPTH - 1; i++)
		buf[n++] = ']';
	buf[n] = '\0';
	assert_int_equal(parse(&kc, buf), -ENOENT);

	/* Node count. */
	n = (size_t)sprintf(buf, "x: [");
	for (int i = 0; i < FM_YAML_MAX_NODES; i++)
		n += (size_t)sprintf(buf + n, "1,");
	n += (size_t)sprintf(buf + n, "1]\n");
	assert_int_equal(parse(&kc, buf), -EINVAL);
	assert_err("more than 16384 YAML nodes");

	/* One string over the cap. */
	n = (size_t)sprintf(buf, "current-context: ");
	memset(buf + n, 'a', FM_YAML_MAX_SCALAR + 1);
	n += FM_YAML_MAX_SCALAR + 1;
	buf[n] = '\0';
	assert_int_equal(parse(&kc, buf), -EINVAL);
	assert_err("more than the 262144 accepted");
	free(buf);
}

/* --- manifests --------------------------------------------------------------- */

static const char etcd_yaml[] =
    "apiVersion: v1\n"
    "kind: Pod\n"
    "metadata:\n"
    "  annotations:\n"
    "    kubeadm.kubernetes.io/etcd.advertise-client-urls: https://192.168.6.11:2379\n"
    "  creationTimestamp: null\n"
    "  labels:\n"
    "    component: etcd\n"
    "    tier: control-plane\n"
    "  name: etcd\n"
    "  namespace: kube-system\n"
    "spec:\n"
    "  containers:\n"
    "  - command:\n"
    "    - etcd\n"
    "    - --advertise-client-urls=https://192.168.6.11:2379\n"
    "    - --cert-file=/etc/kubernetes/pki/etcd/server.crt\n"
    "    - --client-cert-auth=true\n"
    "    - --data-dir\n"
    "    - /var/lib/etcd\n"
    "    - --listen-client-urls=https://127.0.0.1:2379,https://192.168.6.11:2379\n"
    "    - --listen-metrics-urls=http://127.0.0.1:2381\n"
    "    - --peer-client-cert-auth\n"
    "    - --name=pi-master1\n"
    "    - -snapshot-count=10000\n"
    "    - --trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt\n"
    "    args: [\"--name=override\", \"--quota-backend-bytes\", \"8589934592\", \"--\", "
    "\"--after=x\"]\n"
    "    image: registry.k8s.io/etcd:3.5.9-0\n"
    "    name: etcd\n"
    "  - name: sidecar\n"
    "    command: [\"--listen-client-urls=http://wrong\"]\n"
    "  hostNetwork: true\n"
    "status: {}\n";

static void manifest_flags(void **state)
{
	(void)state;
	struct fm_manifest m;
	assert_int_equal(
	    fm_manifest_parse(&m, etcd_yaml, strlen(etcd_yaml), "etcd.yaml", err, sizeof(err)), 0);
	assert_string_equal(m.name, "etcd");
	assert_string_equal(m.container, "etcd");
	assert_int_equal(m.argc, 17);
	assert_string_equal(m.argv[0], "etcd");
	assert_string_equal(m.argv[12], "--name=override"); /* args follow command */

	/* --flag=value, with or without the dashes in the query. */
	assert_string_equal(fm_manifest_flag(&m, "--listen-client-urls"),
			    "https://127.0.0.1:2379,https://192.168.6.11:2379");
	assert_string_equal(fm_manifest_flag(&m, "listen-client-urls"),
			    "https://127.0.0.1:2379,https://192.168.6.11:2379");
	assert_string_equal(fm_manifest_flag(&m, "trusted-ca-file"),
			    "/etc/kubernetes/pki/etcd/ca.crt");
	/* "--flag value" split over two items. */
	assert_string_equal(fm_manifest_flag(&m, "data-dir"), "/var/lib/etcd");
	assert_string_equal(fm_manifest_flag(&m, "quota-backend-bytes"), "8589934592");
	/* A bare boolean flag followed by another flag. */
	assert_string_equal(fm_manifest_flag(&m, "peer-client-cert-auth"), "");
	/* One dash, as Go's flag package allows. */
	assert_string_equal(fm_manifest_flag(&m, "snapshot-count"), "10000");
	/* The last occurrence wins (args come after command). */
	assert_string_equal(fm_manifest_flag(&m, "name"), "override");
	/* A prefix is not a match, in either direction. */
	assert_null(fm_manifest_flag(&m, "listen-client"));
	assert_null(fm_manifest_flag(&m, "listen-client-urls-extra"));
	/* Nothing after "--"; only the first container counts. */
	assert_null(fm_manifest_flag(&m, "after"));
	assert_null(fm_manifest_flag(&m, "absent"));
	assert_null(fm_manifest_flag(&m, "--"));
	assert_null(fm_manifest_flag(&m, ""));
	fm_manifest_free(&m);
	assert_null(m.argv);
	fm_manifest_free(&m);
}

static void manifest_errors(void **state)
{
	(void)state;
	struct fm_manifest m;
#define MP(s) fm_manifest_parse(&m, s, strlen(s), "m.yaml", err, sizeof(err))
	assert_int_equal(MP("kind: Pod\nmetadata: {name: x}\n"), -EINVAL);
	assert_err("no spec.containers[0]");
	assert_int_equal(MP("spec: {containers: []}\n"), -EINVAL);
	assert_int_equal(MP("spec: {containers: [{command: etcd --name=x}]}\n"), -EINVAL);
	assert_err("spec.containers[0].command is not a list");
	assert_int_equal(MP("spec: {containers: [{command: [etcd, [nested]]}]}\n"), -EINVAL);
	assert_err("command[1] is not a string");
	assert_int_equal(MP("[1, 2]"), -EINVAL);
	assert_int_equal(MP("spec:\n  containers:\n  - command: [\n"), -EINVAL);
	assert_err("not valid YAML");
	/* A container without a command (the image's entrypoint) is fine. */
	assert_int_equal(MP("spec: {containers: [{name: c, args: [--a=1, '', ~]}]}\n"), 0);
	assert_int_equal(m.argc, 3);
	assert_string_equal(fm_manifest_flag(&m, "a"), "1");
	assert_string_equal(m.argv[1], "");
	assert_string_equal(m.argv[2], "");
	fm_manifest_free(&m);

	/* Too many arguments. */
	size_t size = 16 + (FM_MANIFEST_MAX_ARGS + 1) * 3 + 8, n;
	char *buf = malloc(size);
	assert_non_null(buf);
	n = (size_t)sprintf(buf, "spec: {containers: [{command: [");
	for (int i = 0; i <= FM_MANIFEST_MAX_ARGS; i++)
		n += (size_t)sprintf(buf + n, "a,");
	n += (size_t)sprintf(buf + n, "a]}]}\n");
	assert_true(n < size);
	assert_int_equal(fm_manifest_parse(&m, buf, n, "m.yaml", err, sizeof(err)), -E2BIG);
	assert_err("more than 512 command-line arguments");
	assert_null(m.argv);
	free(buf);
#undef MP
}

static void manifest_load(void **state)
{
	(void)state;
	struct fm_manifest m;
	char dir[] = "/tmp/fmkc.XXXXXX", path[PATH_MAX];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/etcd.yaml", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(etcd_yaml, f);
	fclose(f);
	assert_int_equal(fm_manifest_load(&m, path, err, sizeof(err)), 0);
	assert_string_equal(fm_manifest_flag(&m, "listen-metrics-urls"), "http://127.0.0.1:2381");
	fm_manifest_free(&m);
	unlink(path);
	assert_int_equal(fm_manifest_load(&m, path, err, sizeof(err)), -ENOENT);
	assert_err(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(embedded_data),
	    cmocka_unit_test(file_references),
	    cmocka_unit_test(multiple_contexts_and_token),
	    cmocka_unit_test(missing_current_context),
	    cmocka_unit_test(dangling_names),
	    cmocka_unit_test(json_and_repeated_keys),
	    cmocka_unit_test(bad_values),
	    cmocka_unit_test(malformed_yaml),
	    cmocka_unit_test(alias_bomb_refused),
	    cmocka_unit_test(limits),
	    cmocka_unit_test(manifest_flags),
	    cmocka_unit_test(manifest_errors),
	    cmocka_unit_test(manifest_load),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
