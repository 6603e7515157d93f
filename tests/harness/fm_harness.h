/*
 * fm_harness: what an integration test needs to run real servers (etcd,
 * openssl, the agent) and to leave nothing behind, even when it fails.
 *
 * Every process the harness starts is recorded in a fixed table (64 pids) and
 * is stopped by fmh_cleanup(), which runs at exit and from the handlers for
 * SIGINT, SIGTERM, SIGHUP, SIGABRT, SIGSEGV and SIGBUS. Every child also gets
 * PR_SET_PDEATHSIG(SIGKILL), so it dies with the test even when the test is
 * killed by SIGKILL; every child leads its own process group, and stopping it
 * signals the whole group, so grandchildren die too. Processes are only ever
 * signalled by recorded pid (and the group that pid leads), never by name.
 *
 * Temporary directories (fmh_tmpdir) are removed at cleanup; set FMH_KEEP=1
 * in the environment to keep them (their paths are printed) for a post-mortem.
 *
 * Not thread-safe: call from the test's main thread only (PDEATHSIG fires
 * when the thread that forked exits, so it must be a thread that lives as
 * long as the test).
 *
 * Errors: functions return 0 (or a pid, port or fd) on success and a negative
 * errno on failure. -ETIMEDOUT always means "the deadline passed".
 */
#ifndef FM_HARNESS_H
#define FM_HARNESS_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * Installs the exit and signal cleanup (see above). Call once at the start of
 * main(); further calls do nothing. The other functions call it themselves,
 * so forgetting it is not fatal. Returns 0 or -errno.
 */
int fmh_init(void);

/*
 * Registers fn to run first in every cleanup: in fmh_cleanup() (at exit, or
 * a test's teardown) and from the fatal-signal and sanitizer-death paths,
 * before processes are stopped and directories removed (a mount must go
 * before its directory). fn must be async-signal-safe and idempotent. At
 * most 4; registering one twice is a no-op. 0 or -ENOSPC.
 */
int fmh_on_cleanup(void (*fn)(void));

/*
 * Stops every recorded process (SIGTERM to its group, up to 3 s, then
 * SIGKILL), closes the fmh_listen_silent() sockets and removes every
 * fmh_tmpdir() recursively. Safe to call twice; the harness stays usable
 * afterwards. Does nothing in a forked child of the test.
 */
void fmh_cleanup(void);

/*
 * Creates a fresh directory $TMPDIR/fmh.XXXXXX (or /tmp/fmh.XXXXXX) and writes
 * its path to out. The harness owns the directory: it is removed, with all
 * it contains, at cleanup. Returns 0, -ENAMETOOLONG if size is too small,
 * -ENOSPC if 32 directories are already recorded, or -errno from mkdtemp.
 */
int fmh_tmpdir(char *out, size_t size);

/*
 * Starts argv[0] (searched in PATH) with argv as its arguments: stdin is
 * /dev/null, stdout and stderr are appended to log_path (created 0644), or go
 * to /dev/null when log_path is NULL. argv and log_path are borrowed for the
 * call only. The child leads its own process group and gets
 * PDEATHSIG(SIGKILL). The pid is recorded; stop it with fmh_stop() (or leave
 * it to cleanup); do not waitpid() it yourself.
 *
 * Returns the pid, -ENOSPC if the table is full, or the -errno with which the
 * log could not be opened or the program could not be executed (-ENOENT for
 * a missing program): exec failures are reported here, not as an exit status.
 */
pid_t fmh_spawn(const char *const argv[], const char *log_path);

/*
 * Stops a process started by fmh_spawn(): SIGTERM to its process group,
 * waits up to 3 s for it to exit, then SIGKILL to the group; reaps it and
 * forgets it. A process that has already exited is just reaped. Returns 0, or
 * -ESRCH if pid is not one the harness recorded (nothing is signalled then).
 */
int fmh_stop(pid_t pid);

/*
 * Like fmh_stop(), and also tells how the process ended: *status (may be
 * NULL) gets its exit code, or 128 + signal number if a signal ended it.
 */
int fmh_stop_status(pid_t pid, int *status);

/*
 * A TCP port that was free on 127.0.0.1 a moment ago (bind to port 0, read
 * it back, close). Another process may take it before you bind it; the ports
 * handed to one fmh_etcd_start() are distinct. Returns the port or -errno.
 */
int fmh_free_port(void);

/*
 * Waits until a TCP connection to ip:port (IPv4 literal) succeeds, retrying
 * every 20 ms. Returns 0, -ETIMEDOUT, or -EINVAL for a bad address.
 */
int fmh_wait_tcp(const char *ip, int port, int timeout_ms);

/*
 * Says on stderr that what failed with err (-errno), then the last few kB
 * of log_path (a server's log, for the person reading a failed run).
 */
void fmh_print_log_tail(const char *what, const char *log_path, int err);

/*
 * The clock state every agent spawned from now on sees (tests/harness/
 * fmh_adjtimex.c, preloaded): "synced" or "unsynced", so what an agent must
 * say of the clock is known whatever this machine's NTP. Set for the
 * process: servers started before (Go programs, Python) never ask
 * adjtimex anyway.
 */
void fmh_clock_state(const char *state);

/*
 * Waits until the file log_path contains needle (bytes, not lines; a file
 * that does not exist yet is waited for). Woken by inotify, with a 100 ms
 * poll as a backstop. Returns 0 or -ETIMEDOUT.
 */
int fmh_wait_log(const char *log_path, const char *needle, int timeout_ms);

/*
 * fmh_wait_log() that gives up early when pid (a recorded fmh_spawn()
 * process; 0 for none) exits: returns -ESRCH then. The exited process is
 * left for fmh_stop() to reap, so its status can still be read.
 */
int fmh_wait_log_pid(const char *log_path, const char *needle, pid_t pid, int timeout_ms);

/*
 * Waits up to timeout_ms (0: only asks) for pid, a recorded fmh_spawn()
 * process, to exit by itself: woken by its pidfd. The exited process is
 * left for fmh_stop_status() to reap. Returns 0 or -ETIMEDOUT (-ESRCH when
 * it is not a child of ours any more).
 */
int fmh_wait_exit(pid_t pid, int timeout_ms);

/* Prints the last bytes (at most 4 KiB) of the log at path to stderr,
 * between marks naming it: what a failing test leaves to read. */
void fmh_print_tail(const char *path);

/*
 * Runs FMH_PKI_SCRIPT (tests/harness/pki.sh) to write the kubeadm-like PKI
 * into root (root/etc/kubernetes/pki/..., root/test-pki/...) with node name
 * pi-master1. Prints the script's output to stderr on failure. Returns 0,
 * -EIO if the script failed, or -errno / -ETIMEDOUT (60 s) from fmh_run().
 */
int fmh_pki(const char *root);

/* A running etcd member; filled in by fmh_etcd_start() (a single-member
 * cluster) or fmh_etcd_cluster_start(). */
struct fmh_etcd {
	pid_t pid;
	char name[16];	      /* --name: "node", or "node<i>" in a cluster */
	char version[16];     /* what `etcd --version` says, e.g. "3.4.23" */
	int client_port;      /* https, on 127.0.0.1 (and extra_listen_ip) */
	int peer_port;	      /* http, 127.0.0.1 */
	int metrics_port;     /* http, 127.0.0.1: GET /metrics, /health */
	char url[64];	      /* "https://127.0.0.1:<client_port>" */
	char extra_url[64];   /* "https://<extra_listen_ip>:<client_port>" or "" */
	char metrics_url[64]; /* "http://127.0.0.1:<metrics_port>" */
	char dir[PATH_MAX];   /* its tmpdir: data/ and etcd.log; removed at cleanup */
	char log[PATH_MAX];   /* etcd's stdout+stderr */
	char ca[PATH_MAX];    /* root/etc/kubernetes/pki/etcd/ca.crt */
	char cert[PATH_MAX];  /* .../etcd/healthcheck-client.crt */
	char key[PATH_MAX];   /* .../etcd/healthcheck-client.key */
};

/*
 * Starts the real `etcd` (from PATH) as a fresh single-member cluster named
 * "node", serving clients over TLS with the PKI that fmh_pki() wrote under
 * root (etcd/server.crt, --client-cert-auth against etcd/ca.crt), plus the
 * same port on extra_listen_ip (e.g. "127.0.0.2", a loopback address NOT in
 * the server certificate's SANs) when that is not NULL. Waits up to 20 s for
 * etcd to log "ready to serve client requests" and to serve on 127.0.0.1,
 * and for the port to accept TCP. On failure prints the tail of etcd's log to
 * stderr, stops it and returns -errno (-ETIMEDOUT, or -ESRCH if etcd exited).
 * e is the caller's; it is filled in before etcd is started, so e->log is
 * usable even on failure.
 */
int fmh_etcd_start(struct fmh_etcd *e, const char *root, const char *extra_listen_ip);

/*
 * fmh_etcd_start() with more etcd flags appended (NULL-terminated, at most
 * 16; borrowed for the call), e.g. {"--quota-backend-bytes", "2097152",
 * NULL}. A flag given twice takes its last value, so these can override the
 * defaults above. NULL extra_argv is fmh_etcd_start(). Returns as
 * fmh_etcd_start() does, or -E2BIG for too many flags.
 */
int fmh_etcd_start_args(struct fmh_etcd *e, const char *root, const char *extra_listen_ip,
			const char *const extra_argv[]);

/*
 * fmh_etcd_start_args() with another etcd binary: bin is a path or a name
 * searched in PATH (NULL: "etcd"). The harness asks it `--version` first:
 * etcd 3.4 logs with capnslog (as fmh_etcd_start() always did), 3.5 and
 * later with zap (3.5 removed capnslog); e->version gets the version.
 * Returns as fmh_etcd_start_args() does, or -EPROTO when bin does not say
 * which etcd version it is.
 */
int fmh_etcd_start_bin(struct fmh_etcd *e, const char *bin, const char *root,
		       const char *extra_listen_ip, const char *const extra_argv[]);

#define FMH_ETCD_MAX_MEMBERS 5

/*
 * Starts a fresh n-member cluster (2 <= n <= FMH_ETCD_MAX_MEMBERS) of bin
 * (as fmh_etcd_start_bin(); NULL: "etcd") on loopback: member i is m[i],
 * named "node<i>", with its own tmpdir, data dir, client, peer and metrics
 * ports, TLS for clients as fmh_etcd_start() (no extra listen address),
 * plain http between peers. extra_argv (NULL-terminated, at most 16) goes to
 * every member, e.g. {"--heartbeat-interval", "50", NULL}. All members are
 * spawned before any is waited for (a member of a new cluster is ready only
 * once a quorum has elected a leader); then waits up to 20 s for every one
 * as fmh_etcd_start() does. On failure prints the tail of the log of the
 * member that failed, stops every member and returns -errno. Stop members
 * one by one with fmh_etcd_stop(); cleanup stops the rest.
 */
int fmh_etcd_cluster_start(struct fmh_etcd *m, int n, const char *bin, const char *root,
			   const char *const extra_argv[]);

/* Stops the etcd of e (see fmh_stop()) and sets e->pid to 0; its directory
 * stays until cleanup. Returns 0 or -ESRCH if it was not running. */
int fmh_etcd_stop(struct fmh_etcd *e);

/*
 * Starts the single-member etcd of e again after it was stopped or killed
 * (e->pid 0), on the same data dir, ports and PKI under root, logging to
 * e->dir/log_name (a fresh file, so the wait sees this start's lines). Waits
 * as fmh_etcd_start() does. 0, -EBUSY when it runs, or as fmh_etcd_start().
 */
int fmh_etcd_restart(struct fmh_etcd *e, const char *root, const char *log_name);

/*
 * A listening TCP socket on 127.0.0.1:<free port> that never accepts: a
 * client's connect() completes in the kernel backlog, then nothing is ever
 * said. Writes the port to *port and returns the fd (CLOEXEC), or -errno.
 * The caller may close the fd; cleanup closes it otherwise (only if the fd
 * still refers to the same socket).
 */
int fmh_listen_silent(int *port);

/*
 * Runs argv (as fmh_spawn() does: PATH search, stdin /dev/null, own process
 * group, PDEATHSIG, recorded while it runs) and waits at most timeout_ms for
 * it. stdout and stderr are captured MERGED into out: at most out_size - 1
 * bytes are kept, always NUL-terminated (the rest is read and dropped, so the
 * program never blocks on a full pipe). out may be NULL (output dropped).
 * When the program exits, whatever it left in its process group is killed.
 *
 * *exit_status (may be NULL) gets the exit code, or 128 + signal number.
 * Returns 0 whenever the program ran, whatever its exit status; -ETIMEDOUT if
 * the deadline passed (the program's group is then SIGKILLed and reaped, the
 * output so far is kept and *exit_status is usually 137); -errno if it could not be
 * started (-ENOENT for a missing program).
 */
int fmh_run(const char *const argv[], char *out, size_t out_size, int *exit_status, int timeout_ms);

/*
 * fmh_run() with stdout and stderr captured SEPARATELY (e.g. to parse JSON
 * from stdout): out gets stdout, err gets stderr, each NUL-terminated and
 * truncated as above; either may be NULL. With err NULL stderr is dropped.
 */
int fmh_run2(const char *const argv[], char *out, size_t out_size, char *err, size_t err_size,
	     int *exit_status, int timeout_ms);

#endif
