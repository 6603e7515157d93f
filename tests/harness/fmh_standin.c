#include "fmh_standin.h"

#include "fm_harness.h"

#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#ifndef FMH_STANDIN_SCRIPT
#define FMH_STANDIN_SCRIPT "apiserver_standin.py"
#endif

static const char *script(void)
{
	const char *s = getenv("FM_APISERVER_STANDIN");
	return s ? s : FMH_STANDIN_SCRIPT;
}

int fmh_standin_start(struct fmh_standin *s, const char *root, const char *name,
		      const char *scenario)
{
	return fmh_standin_start_port(s, root, name, scenario, 0);
}

int fmh_standin_start_port(struct fmh_standin *s, const char *root, const char *name,
			   const char *scenario, int at_port)
{
	char port[16], crt[PATH_MAX], key[PATH_MAX], ca[PATH_MAX];
	memset(s, 0, sizeof(*s));
	s->port = at_port > 0 ? at_port : fmh_free_port();
	if (s->port < 0)
		return s->port;
	snprintf(port, sizeof(port), "%d", s->port);
	snprintf(s->url, sizeof(s->url), "https://127.0.0.1:%d", s->port);
	snprintf(s->log, sizeof(s->log), "%s/standin-%s.log", root, name);
	snprintf(crt, sizeof(crt), "%s/etc/kubernetes/pki/apiserver.crt", root);
	snprintf(key, sizeof(key), "%s/etc/kubernetes/pki/apiserver.key", root);
	snprintf(ca, sizeof(ca), "%s/etc/kubernetes/pki/ca.crt", root);
	const char *argv[20] = {"python3", script(), "--port", port, "--bind", "127.0.0.1",
				"--cert", crt, "--key", key, "--client-ca", ca,
				"--token", FMH_STANDIN_TOKEN};
	int n = 14;
	/* kubeadm's etcd CA: certificates it signed (etcd's clients) pass
	 * the handshake and get 401, as kube-apiserver answers them */
	char etcd_ca[PATH_MAX + 64];
	snprintf(etcd_ca, sizeof(etcd_ca), "%s/etc/kubernetes/pki/etcd/ca.crt", root);
	if (access(etcd_ca, R_OK) == 0) {
		argv[n++] = "--tls-accept-ca";
		argv[n++] = etcd_ca;
	}
	if (scenario) {
		argv[n++] = "--scenario";
		argv[n++] = scenario;
	}
	argv[n] = NULL;
	s->pid = fmh_spawn(argv, s->log);
	if (s->pid < 0) {
		fprintf(stderr, "cannot start the apiserver stand-in %s: %s\n", script(),
			strerror((int)-s->pid));
		return (int)s->pid;
	}
	int rc = fmh_wait_log_pid(s->log, "ready on https://", s->pid, 15000);
	if (rc < 0) {
		char out[4096] = "";
		const char *cat[] = {"cat", s->log, NULL};
		fmh_run(cat, out, sizeof(out), NULL, 5000);
		fprintf(stderr, "the apiserver stand-in did not get ready (%s):\n%s\n", strerror(-rc), out);
		fmh_stop(s->pid);
		s->pid = 0;
	}
	return rc;
}

void fmh_standin_stop(struct fmh_standin *s)
{
	if (s->pid > 0)
		fmh_stop(s->pid);
	s->pid = 0;
}
