/* fmh_incident: the seeds' incidents set up with real parts, for the
 * scenario tests (tests/scenarios) and `make demo`.
 *
 * Incident 2 (seeds/incident-apiserver-6443-structure-needs-cleaning.md):
 * a private dockerd (fmh_docker) whose --data-root is a real ext4 image on a
 * loop device (fmh_loopdev); the kube-apiserver container, named as kubelet
 * names it, runs and exits 255; the daemon is stopped (by pid); the
 * filesystem is unmounted and the inode of the container's overlay2 layer
 * `lower` file is clobbered with debugfs (mode 0: ext4 refuses it as
 * corrupted, EFSCORRUPTED = EUCLEAN); remounted; dockerd started again;
 * `docker start` of the container then fails with the daemon's own
 * "structure needs cleaning", `docker logs` too, and the kernel logs
 * "EXT4-fs error (device loopN)". Setup checks each of these on the real
 * parts and fails when one does not happen.
 *
 * The journal the agent reads is made of the daemon's real words: every
 * line of this dockerd's log that says "structure needs cleaning" becomes a
 * docker.service entry (_TRANSPORT=stdout, as journald stores a unit's
 * stderr). kubelet's side is kubelet-shaped: the seed's PodSandboxStatus and
 * PLEG lines with the daemon's real error message quoted in them (as
 * kubelet quotes the runtime's errors), and its "connection refused" to the
 * apiserver's port.
 *
 * The apiserver is a loopback port where nothing listens (6443 refusing).
 *
 * Everything is undone on every path: the harness stops dockerd and what it
 * left by pid (fmh_docker), unmounts and detaches the loop device
 * (fmh_loopdev's cleanup hook), and removes the directories, at exit and on
 * a fatal signal; fmh_incident2_teardown() does it now.
 */
#ifndef FMH_INCIDENT_H
#define FMH_INCIDENT_H

#include "fmh_docker.h"
#include "fmh_journal.h"

#include "fm_harness.h"

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#define FMH_INCIDENT2_NODE "pi-master1"
#define FMH_INCIDENT2_UID  "c0f77be12d1bf28aaecf7cc373a774b6"
/* kubelet's name for the apiserver's 5th attempt, as in the seed. */
#define FMH_INCIDENT2_NAME                                                                   \
	"k8s_kube-apiserver_kube-apiserver-" FMH_INCIDENT2_NODE "_kube-system_" FMH_INCIDENT2_UID \
	"_5"

/* The node both incidents stand on: a fresh root (an fmh_tmpdir) with the
 * kubeadm-like PKI (fmh_pki) and a real etcd serving with it, healthy as in
 * both seeds (etcd is filled in). 0 or -errno, after saying what failed. */
int fmh_incident_node(char *root, size_t size, struct fmh_etcd *etcd);

struct fmh_incident2 {
	int64_t t0_us;		 /* CLOCK_REALTIME when setup began */
	char dir[PATH_MAX];	 /* tmpdir: ext4.img, mnt/, journal/ */
	char img[PATH_MAX];	 /* the ext4 image */
	char mnt[PATH_MAX];	 /* where it is mounted: dockerd's --data-root */
	char dev[64];		 /* "/dev/loopN" */
	char devname[32];	 /* "loopN" */
	struct fmh_docker dk;	 /* the daemon (its own dir for sockets and logs) */
	char id[65];		 /* the apiserver container's full id */
	char layer[80];		 /* its overlay2 layer directory's name */
	char lower[PATH_MAX];	 /* mnt/overlay2/<layer>/lower: the clobbered file */
	unsigned long ino;	 /* lower's inode, as debugfs found it */
	char start_error[1024];	 /* what `docker start` printed */
	char logs_error[1024];	 /* what `docker logs` printed */
	char daemon_error[1024]; /* the daemon's own message (from its API) */
	char kmsg_line[512];	 /* the kernel's EXT4-fs error for dev, of this run */
	char jdir[PATH_MAX];	 /* journal files (docker.service, kubelet) */
	int journal_entries;	 /* how many entries they hold */
	char apiserver[64];	 /* https://127.0.0.1:<port where nothing listens> */
};

/* Sets the whole incident up as described above. x must stay valid until
 * teardown (the harness keeps a pointer to x->dk). 0, or -errno after
 * printing what did not happen. Needs root, losetup, mkfs.ext4, debugfs,
 * dockerd, docker, /dev/kmsg. */
int fmh_incident2_setup(struct fmh_incident2 *x);

/* Stops dockerd, unmounts, detaches the loop device. 0, or -EBUSY when
 * something could not be undone. Safe after a failed or partial setup; the
 * directory goes at fmh_cleanup(). */
int fmh_incident2_teardown(struct fmh_incident2 *x);

/* --- incident 1 ----------------------------------------------------------
 *
 * Incident 1 (seeds/) built from real parts, for the scenario test and for
 * `make demo`:
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
 * on a fatal signal.
 */
#define FMH_I1_UID "1403dda53affdfee1130475a6d9609da"
#define FMH_I1_APISERVER(n) "k8s_kube-apiserver_kube-apiserver-pi-master1_kube-system_" FMH_I1_UID "_" #n
#define FMH_I1_SANDBOX(n) "k8s_POD_kube-apiserver-pi-master1_kube-system_" FMH_I1_UID "_" #n
/* The same names as containerd's CRI plugin gives them (no k8s_; a sandbox
 * by its pod's name): attempt 24, sandbox 17. */
#define FMH_I1_CRI_NAME "kube-apiserver_kube-apiserver-pi-master1_kube-system_" FMH_I1_UID "_24"
#define FMH_I1_CRI_SANDBOX "kube-apiserver-pi-master1_kube-system_" FMH_I1_UID "_17"

struct fmh_incident1 {
	char root[PATH_MAX]; /* the node's / for the agent (--root) */
	struct fmh_etcd etcd;
	struct fmh_docker dk;
	char id24[65], id17[65]; /* running: apiserver attempt 24, sandbox 17 */
	char jdir[PATH_MAX];     /* journal files: routine kubelet lines, then the conflict */
	char jfile[PATH_MAX];    /* the file in it */
	int refusing_port;
	char refusing[64];       /* https://127.0.0.1:PORT, nothing listening (6443 refusing) */
	/* Set by fmh_incident1_break_docker: */
	char id23[65], id15[65]; /* exited: apiserver attempt 23, sandbox 15 */
};

/* The node before the incident's evidence: etcd, dockerd, the running _24
 * and _17, a journal of routine kubelet lines, the refusing URL. 0 or
 * -errno (what failed is printed on stderr). */
int fmh_incident1_start(struct fmh_incident1 *s);

/* The incident's evidence, in two parts: the exited _23 and _15 beside the
 * running ones; kubelet's conflict lines (naming the running _24, as the
 * daemon does) appended to the journal. fmh_incident1_break does both. 0
 * or -errno. */
int fmh_incident1_break_docker(struct fmh_incident1 *s);
int fmh_incident1_break_journal(struct fmh_incident1 *s);
int fmh_incident1_break(struct fmh_incident1 *s);
/* fmh_incident1_break with kubelet's lines in the form a kubelet version
 * writes them (fmh_journal.h). */
int fmh_incident1_break_form(struct fmh_incident1 *s, enum fmh_kubelet_form form);

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
