/* fmh_faults: what the fault tests (tests/faults/, issue 11) share: incident
 * 1's node (real etcd, a private dockerd, journal files; fmh_incident.h)
 * watched by `fleetmedic-agent run`, which reports over DTLS-PSK to a real
 * `fleetmedic-controller serve`; the controller's view; the agent's process
 * as /proc shows it (fds, RSS, CPU time); the FAULT line
 * (tests/faults/README.md).
 *
 * Everything is the harness's: the agent, the controller, etcd and dockerd
 * are stopped by pid and the directories removed at fmh_cleanup(), also
 * when a test fails. Functions that say "fails the test" call cmocka's
 * fail_msg with what went wrong (the agent's log is named).
 */
#ifndef FMH_FAULTS_H
#define FMH_FAULTS_H

#include "fmh_controller.h"
#include "fmh_incident.h"

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

struct fmh_fault {
	struct fmh_incident1 node; /* etcd, dockerd (_24, _17 running), journal */
	struct fmh_controller ctl;
	char dir[PATH_MAX];	  /* tmpdir: psk, conf, state/, agent.log */
	char log[PATH_MAX + 16];  /* the agent's stdout and stderr */
	pid_t agent;
	/* More arguments for the agent's command line (NULL-terminated;
	 * none when extra[0] is NULL), set before it is spawned. */
	const char *extra[12];
};

/* Starts the node and the controller (as the fleet scenario does). 0 or
 * -errno (what failed printed). f must stay valid until teardown. */
int fmh_fault_setup(struct fmh_fault *f);
/* Stops dockerd, then everything else (fmh_cleanup). 0 or -EBUSY. */
int fmh_fault_teardown(struct fmh_fault *f);

/* The cmocka group set-up and teardown (setup, teardown) of a test whose
 * node is the file's static struct fmh_fault named by var. */
#define FMH_FAULT_FIXTURES(var)                                                                                        \
	static int setup(void **st)                                                                                    \
	{                                                                                                              \
		(void)st;                                                                                              \
		return fmh_fault_setup(&(var)) < 0 ? -1 : 0;                                                           \
	}                                                                                                              \
	static int teardown(void **st)                                                                                 \
	{                                                                                                              \
		(void)st;                                                                                              \
		return fmh_fault_teardown(&(var));                                                                     \
	}

/* Starts `run` on the node (collect every 1 s, heartbeat 2 s, hold 1 s,
 * state in f->dir/state), etcd at etcd_url instead of the node's when
 * given, and waits until it says it reports. Fails the test otherwise. */
void fmh_fault_spawn(struct fmh_fault *f, const char *etcd_url);
/* Starts `run` on the node (collect every 1 s, heartbeat 2 s, hold 1 s,
 * state in f->dir/state) and waits until it reports and the controller
 * holds apiserver-unreachable (the node's 6443 refuses): the agent is up
 * and its uplink works. Fails the test otherwise. */
void fmh_fault_agent(struct fmh_fault *f);

/* Waits until the controller holds code at severity sev ("": holds none);
 * the ms it took. Fails the test after limit_ms, naming what it waited for. */
long fmh_fault_wait(struct fmh_fault *f, const char *code, const char *sev, uint64_t limit_ms);

/* Waits until the controller holds a critical diagnosis code whose summary
 * holds needle (the controller shortens names in it: ask for the
 * container's "(container SHORTID)") (asking `show` every 20 ms); the ms it took. Fails the test
 * after limit_ms. */
long fmh_fault_wait_summary(struct fmh_fault *f, const char *code, const char *needle, uint64_t limit_ms);

/* The agent still runs (not exited, not a zombie) and never tried to wait
 * inside a loop callback (its log has no refusal); fails the test
 * otherwise. */
void fmh_fault_alive(struct fmh_fault *f);

/* What /proc says of a process. */
struct fmh_proc {
	int fds;	 /* entries of /proc/PID/fd */
	int deleted;	 /* of them, links to a deleted file ("... (deleted)") */
	long rss_kb;	 /* VmRSS */
	long anon_kb;	 /* RssAnon: VmRSS without mapped files (sd-journal maps
			    the journal files; the kernel can drop those pages) */
	long cpu_ms;	 /* utime + stime */
};
/* 0, or -errno when the process is gone. */
int fmh_proc_sample(pid_t pid, struct fmh_proc *p);

/* The median of v[0..2]: a resident-set figure without one sample's
 * transient (a buffer freed a moment later). */
long fmh_median3(const long *v);

/* The agent's fds while nothing is in flight (a collection holds its
 * socket briefly): the sample with the fewest of 30 taken 50 ms apart. */
struct fmh_proc fmh_fault_settled(struct fmh_fault *f);

/* The journal.match fact of the controller's `triage NODE facts
 * journal.match` whose id holds id_part: its "count", or -1 when there is
 * none (or the node did not answer within 20 s). */
long long fmh_fault_match_count(struct fmh_fault *f, const char *id_part);

/* Prints "FAULT <test> <fmt...>" and a newline on stdout, flushed
 * (tests/faults/README.md). */
void fmh_fault_line(const char *test, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A control-plane-like container name of kubelet's for pod/attempt of the
 * node (k8s_<c>_<c>-pi-master1_kube-system_<uid>_<n>) into out. */
void fmh_fault_k8s_name(char *out, size_t size, const char *container, int attempt);

#endif
