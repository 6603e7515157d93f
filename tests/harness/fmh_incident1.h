/* Incident 1 (../shared/seeds/) built from real parts, for the scenario test
 * and for `make demo`:
 *   - a real etcd with kubeadm's PKI under a temporary root (mTLS, healthy),
 *   - a private real dockerd running the pod as it runs after the incident's
 *     restart: kube-apiserver attempt 24 and its sandbox 17,
 * and, once broken (fmh_incident1_break):
 *   - the exited attempt 23 and exited sandbox 15 beside them,
 *   - journal files (systemd-journal-remote) with kubelet's CreateContainerError
 *     "Conflict. The container name ... is already in use by container <id>",
 *     <id> being this dockerd's running _24 (as the daemon itself says),
 *   - an apiserver URL where nothing listens (6443 refusing).
 * Everything started is the harness's: stopped by pid at fmh_cleanup(), also
 * on a fatal signal. */
#ifndef FMH_INCIDENT1_H
#define FMH_INCIDENT1_H

#include "fm_harness.h"
#include "fmh_docker.h"

#include <limits.h>

#define FMH_I1_UID "1403dda53affdfee1130475a6d9609da"
#define FMH_I1_APISERVER(n) "k8s_kube-apiserver_kube-apiserver-pi-master1_kube-system_" FMH_I1_UID "_" #n
#define FMH_I1_SANDBOX(n) "k8s_POD_kube-apiserver-pi-master1_kube-system_" FMH_I1_UID "_" #n

struct fmh_incident1 {
	char root[PATH_MAX]; /* the node's / for the agent (--root) */
	struct fmh_etcd etcd;
	struct fmh_docker dk;
	char id24[65], id17[65]; /* running: apiserver attempt 24, sandbox 17 */
	/* Set by fmh_incident1_break: */
	char id23[65], id15[65]; /* exited: apiserver attempt 23, sandbox 15 */
	char jdir[PATH_MAX];     /* journal files with kubelet's lines */
	char refusing[64];       /* https://127.0.0.1:PORT, nothing listening */
};

/* The healthy node: etcd, dockerd, the running _24 and _17. 0 or -errno
 * (what failed is printed on stderr). */
int fmh_incident1_start(struct fmh_incident1 *s);

/* The incident: the exited _23 and _15, the journal, the refusing URL. 0 or
 * -errno. */
int fmh_incident1_break(struct fmh_incident1 *s);

/* The remedy the incident applied: removes _23 and _15 (Engine API). 0 or
 * -errno. */
int fmh_incident1_fix(struct fmh_incident1 *s);

/* Stops dockerd (and what it left); the rest goes at fmh_cleanup(). 0 or
 * -EBUSY. */
int fmh_incident1_stop(struct fmh_incident1 *s);

/* The agent's options for this node into argv (NULL-terminated, at most max
 * entries with the NULL; strings borrowed): --kmsg none --journal-dir jdir
 * --docker-host ... --root ... --etcd ... --apiserver apiserver. Returns the
 * count, or -ENOSPC. */
int fmh_incident1_args(const struct fmh_incident1 *s, const char *jdir, const char *apiserver, const char **argv,
		       int max);

#endif
