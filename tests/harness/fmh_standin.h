/* The TLS STAND-IN for kube-apiserver (tests/harness/apiserver_standin.py):
 * it serves kube-apiserver's documented response formats; it is not a
 * kube-apiserver (none can be installed here). Started with the PKI that
 * fmh_pki() wrote: apiserver.crt served, client certificates from ca.crt
 * accepted, and a bearer token.
 */
#ifndef FMH_STANDIN_H
#define FMH_STANDIN_H

#include <limits.h>
#include <sys/types.h>

#define FMH_STANDIN_TOKEN "fmtest-0123456789abcdef"

struct fmh_standin {
	pid_t pid;
	int port;
	char url[64];
	char log[PATH_MAX];
};

/* Starts the stand-in on a free loopback port with root's PKI
 * (root/etc/kubernetes/pki) and a scenario file (NULL: its defaults, all
 * healthy); name tells its log (root/standin-NAME.log) apart. Waits until it
 * listens. 0, or -errno after printing its log. The script is
 * $FM_APISERVER_STANDIN, else FMH_STANDIN_SCRIPT (set by CMake). */
int fmh_standin_start(struct fmh_standin *s, const char *root, const char *name,
		      const char *scenario);
/* The same on a given loopback port (0: a free one), e.g. where an
 * apiserver refused until now. */
int fmh_standin_start_port(struct fmh_standin *s, const char *root, const char *name,
			   const char *scenario, int port);
/* Stops it by pid (no-op when not running). */
void fmh_standin_stop(struct fmh_standin *s);

#endif
