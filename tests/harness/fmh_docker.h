/* fmh_docker: a private, real Docker engine (Debian's docker.io) for tests.
 *
 * fmh_docker_start() runs dockerd on its own tmpdir (--data-root, --exec-root,
 * a socket there, its own containerd namespace, no iptables, no bridge), and
 * imports fm/busybox:test, an image made from busybox-static (there is no
 * registry here). The test process becomes a child subreaper, so the
 * containerd and containerd-shim processes dockerd leaves behind re-parent to
 * it and are found and killed by pid. fmh_docker_stop() (also run at exit)
 * removes the containers, stops dockerd, kills what is left of it by pid
 * (children of the test whose command line names the private dir, or that
 * live in another pid namespace: container processes), unmounts every mount
 * under the dir (from /proc/self/mountinfo, deepest first), and the dir goes
 * at fmh_cleanup(). Nothing is ever found or killed by name.
 */
#ifndef FMH_DOCKER_H
#define FMH_DOCKER_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

#define FMH_DOCKER_IMAGE "fm/busybox:test"

struct fmh_docker {
	pid_t pid;          /* dockerd; 0 when not running */
	char dir[PATH_MAX]; /* data/, exec/, d.sock, dockerd.log, rootfs/ */
	char data[PATH_MAX]; /* --data-root: dir/data, or the caller's (fmh_docker_start_at) */
	char sock[108];     /* fits sun_path */
	char host[128];     /* "unix://" + sock */
	char log[PATH_MAX];
	char ns[32];        /* containerd namespace */
	char tcp[48];       /* "tcp://127.0.0.1:PORT" when also listening there (fmh_docker_start_tcp), else "" */
};

/* Starts dockerd and imports the image. Waits up to 60 s for /_ping. 0 or
 * -errno (the tail of dockerd's log printed on failure). */
int fmh_docker_start(struct fmh_docker *d);
/* fmh_docker_start() with --data-root data_root (an existing directory the
 * caller owns, e.g. a loop-mounted filesystem; NULL: dir/data). Stopping
 * unmounts what Docker mounted under it, never data_root itself. */
int fmh_docker_start_at(struct fmh_docker *d, const char *data_root);
/* fmh_docker_start() also listening on a free loopback TCP port, plain HTTP
 * (-H tcp://127.0.0.1:PORT, in d->tcp beside the unix socket), as
 * DOCKER_HOST=tcp://... names it. */
int fmh_docker_start_tcp(struct fmh_docker *d);
/* Stops dockerd cleanly (SIGTERM by its pid: it unmounts its layers and
 * stops its containerd), then kills by pid what is left of it and unmounts
 * what it left under its dirs, as fmh_docker_stop() does, but keeps the
 * containers: data_root can then be unmounted, and fmh_docker_restart()
 * starts dockerd again on it. 0, -ESRCH when it was not running, -EBUSY when
 * a process or a mount could not be got rid of. */
int fmh_docker_halt(struct fmh_docker *d);
/* SIGKILLs dockerd (by its pid) and reaps it; containerd, shims and
 * containers live on. 0 or -ESRCH. */
int fmh_docker_kill(struct fmh_docker *d);
/* Starts dockerd again on the same dirs (after fmh_docker_kill or
 * fmh_docker_halt) and waits for it. 0 or -errno. */
int fmh_docker_restart(struct fmh_docker *d);
/* Everything described above; safe to call twice. 0, or -EBUSY when a
 * process or a mount could not be got rid of. */
int fmh_docker_stop(struct fmh_docker *d);

/* Processes of this test that belong to a Docker (see above), and mounts
 * under dir: what fmh_docker_stop leaves must be 0 and 0. */
int fmh_docker_leftover_procs(const char *dir);
int fmh_docker_leftover_mounts(const char *dir);

/* One Engine API request over the socket (path unversioned or /v1.NN...),
 * body JSON or NULL. *status gets the HTTP status; out the body
 * (NUL-terminated, cut to out_size - 1). 0, or -errno when no answer came
 * within 30 s. */
int fmh_docker_api(const struct fmh_docker *d, const char *method, const char *path,
		   const char *body, int *status, char *out, size_t out_size);

/* fmh_docker_api() that also wants the status want: 0, or -EPROTO after
 * printing the answer, or -errno as fmh_docker_api(). */
int fmh_docker_api_want(const struct fmh_docker *d, const char *method, const char *path, int want,
			char *out, size_t out_size);

/* Runs a container of the image with `sh -c cmd` to its end (waiting on the
 * Engine's /wait, not on time); its full id into id. 0 or -errno. */
int fmh_docker_run_exited(const struct fmh_docker *d, const char *name, char id[65], const char *cmd);

/* Runs /usr/bin/docker -H d->host with the arguments after out_size
 * (NULL-terminated, at most 30), stdout and stderr merged into out. Returns
 * the exit status, or -errno when it could not run within 60 s. */
int fmh_docker_cli(const struct fmh_docker *d, char *out, size_t out_size, ...);

/* Creates and starts a container of the image: name, then the command
 * (NULL-terminated, at most 16 words). Writes its full id to id (65 bytes).
 * 0 or -errno (the daemon's answer printed). */
int fmh_docker_run(const struct fmh_docker *d, const char *name, char id[65], ...);

#endif
