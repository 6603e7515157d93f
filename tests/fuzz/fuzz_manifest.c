/* libFuzzer target for what the discovery reads from kubeadm's static pod
 * manifests: the input is etcd.yaml, a NUL byte, kube-apiserver.yaml (no
 * NUL: the whole is both). Each is parsed as a manifest
 * (fm_manifest_parse) and what parses goes through fm_discover_manifests,
 * which picks the URLs, paths and node name out of the flags. Whatever it
 * found must be terminated within its field, URLs must have a scheme, and
 * paths must stay under the root prefix. Replayed in ctest over the
 * manifests kubeadm writes (tests/fixtures, the kubeconfig corpus). */
#include "fm_discover.h"
#include "fm_kubeconfig.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ROOT "/host"

static void check_str(const char *s, size_t size)
{
	if (strnlen(s, size) >= size)
		__builtin_trap();
}

static void check_url(const char *url, size_t size)
{
	check_str(url, size);
	if (url[0] && !strstr(url, "://"))
		__builtin_trap();
}

static void check_path(const char *p, size_t size)
{
	check_str(p, size);
	if (p[0] && strncmp(p, ROOT "/", sizeof(ROOT)) != 0)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t elen = nul ? (size_t)(nul - data) : size;
	const uint8_t *a = nul ? nul + 1 : data;
	size_t alen = nul ? size - elen - 1 : size;
	struct fm_manifest em, am;
	char err[256];
	static struct fm_discovery d;

	bool have_em = fm_manifest_parse(&em, data, elen, "etcd.yaml", err, sizeof(err)) == 0;
	bool have_am = fm_manifest_parse(&am, a, alen, "kube-apiserver.yaml", err, sizeof(err)) == 0;
	memset(&d, 0, sizeof(d));
	strcpy(d.root, ROOT);
	bool found = fm_discover_manifests(&d, have_em ? &em : NULL, ROOT "/etc/kubernetes/manifests/etcd.yaml",
					   have_am ? &am : NULL,
					   ROOT "/etc/kubernetes/manifests/kube-apiserver.yaml");
	if (found && !d.etcd.url[0])
		__builtin_trap();
	check_url(d.etcd.url, sizeof(d.etcd.url));
	check_url(d.etcd_metrics_url, sizeof(d.etcd_metrics_url));
	check_url(d.apiserver.url, sizeof(d.apiserver.url));
	check_path(d.etcd.ca, sizeof(d.etcd.ca));
	check_path(d.apiserver.ca, sizeof(d.apiserver.ca));
	check_str(d.etcd.origin, sizeof(d.etcd.origin));
	check_str(d.node_name, sizeof(d.node_name));
	check_str(d.notes, sizeof(d.notes));
	if (have_em)
		fm_manifest_free(&em);
	if (have_am)
		fm_manifest_free(&am);
	return 0;
}
