/* fmh_containerd: a private, real containerd (Debian's, with its CRI plugin)
 * for tests: fmh_docker's counterpart for CRI nodes.
 *
 * fmh_containerd_start() writes a config.toml of its own into a tmpdir (root,
 * state, the grpc socket and runc's state all there; no TCP listener but the
 * CRI streaming server on 127.0.0.1; the plugins that would touch the host
 * disabled; CNI pointed at an empty dir: pods use the host's network), starts
 * containerd and waits until the CRI plugin answers, then imports
 * FMH_CONTAINERD_IMAGE, an OCI image it builds from busybox-static (there is
 * no registry here), which also serves as the pods' sandbox ("pause") image:
 * its default command sleeps. Pods are made with cri_client.py (the tests'
 * kubelet, fmh_containerd_cri()), under a cgroup parent of their own, so
 * their processes and cgroups are found exactly.
 *
 * The test process becomes a child subreaper, so the containerd-shim-runc-v2
 * processes (they daemonize) re-parent to it. fmh_containerd_stop() (also run
 * at exit, and a signal-safe part of it from fmh_cleanup and the fatal-signal
 * path) removes the pods, stops containerd, kills by pid what is left
 * (children of the test whose command line names the private dir: containerd,
 * shims; processes in the pods' cgroups: containers), unmounts every mount
 * under the dir deepest first and removes the pods' cgroups. Nothing is ever
 * found or killed by name.
 */
#ifndef FMH_CONTAINERD_H
#define FMH_CONTAINERD_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

#define FMH_CONTAINERD_IMAGE "docker.io/fmtest/busybox:test"
/* containerd's namespace for CRI: kubelet's pods and the imported image. */
#define FMH_CONTAINERD_NS "k8s.io"

struct fmh_containerd {
	pid_t pid;	      /* containerd; 0 when not running */
	char dir[PATH_MAX];   /* config.toml, root/, state/, cni/, logs/, image/ */
	char root[PATH_MAX];  /* containerd's root (content, snapshots, CRI's root) */
	char state[PATH_MAX]; /* containerd's state (shim bundles, runc's root) */
	char sock[108];	      /* the grpc socket; fits sun_path */
	char endpoint[128];   /* "unix://" + sock: CRI's and the agent's endpoint */
	char log[PATH_MAX];   /* containerd's stdout and stderr */
	char logs[PATH_MAX];  /* the pods' log dirs (kubelet's /var/log/pods) */
	char cgroup[64];      /* the pods' cgroup parent, "/fmhctd-<dir's name>" */
	char snapshotter[16]; /* "overlayfs", or "native" where overlay cannot mount
			       * ($FMH_CONTAINERD_SNAPSHOTTER overrides) */
	char image[64];	      /* FMH_CONTAINERD_IMAGE */
};

/* Starts containerd on a fresh tmpdir and imports the image. Waits up to
 * 60 s for the CRI plugin (its Version) and the image. 0 or -errno (the tail
 * of containerd's log printed on failure). c may live anywhere: what is
 * stopped at exit is the harness's own copy of it. */
int fmh_containerd_start(struct fmh_containerd *c);
/* SIGKILLs containerd (by its pid) and reaps it; shims, pods and containers
 * live on. 0 or -ESRCH. */
int fmh_containerd_kill(struct fmh_containerd *c);
/* Starts containerd again on the same dirs (after fmh_containerd_kill, or
 * a stop: then with what the stop left, no pods) and waits for its CRI
 * plugin. 0, -EBUSY when it runs, or -errno. */
int fmh_containerd_restart(struct fmh_containerd *c);
/* Removes the pods (through CRI, while containerd runs), SIGTERMs
 * containerd, kills by pid what is left of it, unmounts what it left under
 * its dir and removes the pods' cgroups. Safe to call twice. 0, or -EBUSY
 * when a process, a mount or a cgroup could not be got rid of. The dir goes
 * at fmh_cleanup(). */
int fmh_containerd_stop(struct fmh_containerd *c);

/* Processes of this test that belong to the containerd under dir (see
 * above), mounts under dir, the pods' cgroup dirs (in every hierarchy): what
 * fmh_containerd_stop leaves must be 0, 0 and 0. */
int fmh_containerd_leftover_procs(const char *dir);
int fmh_containerd_leftover_mounts(const char *dir);
int fmh_containerd_leftover_cgroups(const char *dir);

/* Runs tests/harness/cri_client.py (Debian's /usr/bin/python3) against c:
 * --endpoint, the pods' cgroup parent and log root, then the arguments after
 * out_size (NULL-terminated, at most 24), e.g. "runp", name, ns, uid, "0".
 * Its stdout (one JSON document, also when the call fails: {"error":
 * {"code", "details"}}, the runtime's own message) into out, cut to
 * out_size - 1. Returns its exit status: 0 ok, 1 the call failed (refused,
 * or UNAVAILABLE: no containerd), 2 or more the client itself failed (its
 * stderr printed); or -errno when it could not run within 60 s. */
int fmh_containerd_cri(const struct fmh_containerd *c, char *out, size_t out_size, ...);

/* The pids of a task (a sandbox's or a container's, by its id): its first
 * process's (containerd's init.pid) and its shim's, the parent of that
 * (one shim serves a pod; 0 when the parent is not a shim of c). 0, or
 * -ENOENT when it has no running task. */
int fmh_containerd_task_pids(const struct fmh_containerd *c, const char *id, pid_t *shim,
			     pid_t *init);

/* Prints the end of containerd's log to stderr: for a failing test. */
void fmh_containerd_print_log_tail(const struct fmh_containerd *c);

#endif
