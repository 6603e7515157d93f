/*
 * fm_harness: start real servers for integration tests and never leave one
 * behind. See fm_harness.h for the contract.
 *
 * The state is a few fixed static tables, so that the signal handlers can walk
 * them without allocating: what runs from a handler (stop_pids(),
 * remove_dirs_by_exec()) uses only async-signal-safe calls (kill, waitid,
 * waitpid, clock_gettime, nanosleep, _Fork, execve).
 */
#include "fm_harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_PIDS       64
#define MAX_DIRS       32
#define MAX_SOCKS      16
#define STOP_GRACE_MS  3000 /* SIGTERM → SIGKILL in fmh_stop() and fmh_cleanup() */
#define REAP_MS	       5000 /* after SIGKILL; only a process stuck in D state takes longer */
#define SIGNAL_REAP_MS 2000 /* the same, from a signal handler */
#define ETCD_START_MS  20000
#define PKI_MS	       60000
#define LOG_TAIL_BYTES 4096
#define MAX_NEEDLE     4096

/* Written only with the cleanup signals blocked, read by the handlers. */
static volatile pid_t pids[MAX_PIDS];
static char dirs[MAX_DIRS][PATH_MAX];
static volatile sig_atomic_t dir_used[MAX_DIRS];

static struct {
	bool used;
	int fd;
	dev_t dev;
	ino_t ino;
} socks[MAX_SOCKS];

static bool inited;
static bool keep_dirs;
static pid_t owner; /* the test process; its forked children must not clean up */

/* The signals whose default action kills us, and that we catch to clean up. */
static const int fatal_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGABRT, SIGSEGV, SIGBUS};

/* ASan and UBSan call this before they _exit() on an error (no atexit then). */
extern void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

enum child_state { CHILD_GONE, CHILD_RUNNING, CHILD_EXITED };

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static int remaining_ms(long long deadline)
{
	long long left = deadline - now_ms();

	return left < 0 ? 0 : (int)left;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* snprintf that reports truncation: 0 or -ENAMETOOLONG. */
__attribute__((format(printf, 3, 4))) static int fmt(char *buf, size_t size, const char *f, ...)
{
	va_list ap;
	int n;

	va_start(ap, f);
	n = vsnprintf(buf, size, f, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* Blocks the asynchronous cleanup signals while a table is being changed, so a
 * handler never sees half an update. (abort() unblocks SIGABRT itself.) */
static void block_signals(sigset_t *old)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, old);
}

static void restore_signals(const sigset_t *old)
{
	sigprocmask(SIG_SETMASK, old, NULL);
}

static int pid_slot(pid_t pid)
{
	for (int i = 0; i < MAX_PIDS; i++)
		if (pid > 0 && pids[i] == pid)
			return i;
	return -1;
}

/*
 * Whether pid, a child of ours, still runs. WNOWAIT leaves an exited child a
 * zombie, so its pid (and the process group id it leads) cannot be reused
 * while we may still signal them. Async-signal-safe.
 */
static enum child_state child_state(pid_t pid)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0)
		return errno == EINTR ? CHILD_RUNNING : CHILD_GONE;
	return si.si_pid == pid ? CHILD_EXITED : CHILD_RUNNING;
}

/*
 * Stops the n children in p: sig to each one's process group and to itself,
 * up to grace_ms for them to exit, then SIGKILL to the groups (which also
 * takes the grandchildren of those that did exit), then reaps each for at
 * most reap_ms. A pid that is no longer our child (someone reaped it) is not
 * signalled at all: its number may belong to a stranger by now. wstatus[i]
 * gets the wait status, or -1. Async-signal-safe.
 */
static void stop_pids(const pid_t *p, int *wstatus, int n, int sig, int grace_ms, int reap_ms)
{
	enum child_state st[MAX_PIDS];
	long long deadline;
	bool running;

	for (int i = 0; i < n; i++) {
		wstatus[i] = -1;
		st[i] = p[i] > 0 ? child_state(p[i]) : CHILD_GONE;
		/* Once: to its group (it leads one), else to it. Twice would
		 * race its shutdown: a second SIGTERM arriving after it closed
		 * its signalfd (fm_signal_close unblocks) kills it mid-cleanup. */
		if (st[i] == CHILD_RUNNING && kill(-p[i], sig) < 0)
			kill(p[i], sig);
	}
	deadline = now_ms() + grace_ms;
	for (;;) {
		running = false;
		for (int i = 0; i < n; i++) {
			if (st[i] == CHILD_RUNNING)
				st[i] = child_state(p[i]);
			running |= st[i] == CHILD_RUNNING;
		}
		if (!running || now_ms() >= deadline)
			break;
		sleep_ms(10);
	}
	for (int i = 0; i < n; i++) {
		if (st[i] == CHILD_GONE)
			continue;
		kill(-p[i], SIGKILL);
		if (st[i] == CHILD_RUNNING)
			kill(p[i], SIGKILL);
	}
	deadline = now_ms() + reap_ms;
	for (int i = 0; i < n; i++) {
		if (st[i] == CHILD_GONE)
			continue;
		for (;;) {
			int w;
			pid_t r = waitpid(p[i], &w, WNOHANG);

			if (r == p[i]) {
				wstatus[i] = w;
				break;
			}
			if ((r < 0 && errno != EINTR) || now_ms() >= deadline)
				break;
			sleep_ms(5);
		}
	}
}

/* Exit code, or 128 + signal, as a shell reports it; -1 if unknown. */
static int decode_status(int w)
{
	if (w < 0)
		return -1;
	if (WIFEXITED(w))
		return WEXITSTATUS(w);
	if (WIFSIGNALED(w))
		return 128 + WTERMSIG(w);
	return -1;
}

/* Stops every recorded pid and forgets them. Async-signal-safe. */
static void stop_all(int sig, int grace_ms, int reap_ms)
{
	pid_t list[MAX_PIDS];
	int wst[MAX_PIDS];
	int n = 0;

	for (int i = 0; i < MAX_PIDS; i++)
		if (pids[i] > 0)
			list[n++] = pids[i];
	if (n == 0)
		return;
	stop_pids(list, wst, n, sig, grace_ms, reap_ms);
	for (int i = 0; i < MAX_PIDS; i++)
		pids[i] = 0;
}

/*
 * Removes the tmpdirs from a signal handler, where nftw() (it allocates) may
 * not run: _Fork() (async-signal-safe, unlike fork()) and execve /bin/rm -rf,
 * bounded like the rest.
 */
static void remove_dirs_by_exec(void)
{
	static char rm[] = "rm", rf[] = "-rf", dashes[] = "--";
	static char *envp[] = {NULL};
	char *argv[3 + MAX_DIRS + 1];
	int n = 0, w;
	long long deadline;
	pid_t pid;

	argv[n++] = rm;
	argv[n++] = rf;
	argv[n++] = dashes;
	for (int i = 0; i < MAX_DIRS; i++)
		if (dir_used[i])
			argv[n++] = dirs[i];
	argv[n] = NULL;
	if (n == 3 || keep_dirs)
		return;
	pid = _Fork();
	if (pid == 0) {
		execve("/bin/rm", argv, envp);
		_exit(127);
	}
	if (pid < 0)
		return;
	deadline = now_ms() + SIGNAL_REAP_MS;
	while (waitpid(pid, &w, WNOHANG) == 0) {
		if (now_ms() >= deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &w, 0);
			break;
		}
		sleep_ms(5);
	}
	for (int i = 0; i < MAX_DIRS; i++)
		dir_used[i] = 0;
}

static void (*volatile hooks[4])(void);

int fmh_on_cleanup(void (*fn)(void))
{
	for (size_t i = 0; i < sizeof(hooks) / sizeof(hooks[0]); i++) {
		if (hooks[i] == fn)
			return 0;
		if (!hooks[i]) {
			hooks[i] = fn;
			return 0;
		}
	}
	return -ENOSPC;
}

static void run_hooks(void)
{
	for (size_t i = 0; i < sizeof(hooks) / sizeof(hooks[0]) && hooks[i]; i++)
		hooks[i]();
}

/* The cleanup that may run where only async-signal-safe calls are allowed. */
static void cleanup_fast(void)
{
	if (!inited || getpid() != owner)
		return;
	run_hooks();
	stop_all(SIGKILL, 0, SIGNAL_REAP_MS);
	remove_dirs_by_exec();
}

static void on_fatal_signal(int sig)
{
	int saved = errno;
	sigset_t set;

	cleanup_fast();
	/* SA_RESETHAND made the action the default one: die of the same signal,
	 * so the parent (ctest, a shell) sees what really happened. */
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	raise(sig);
	errno = saved;
}

int fmh_init(void)
{
	struct sigaction sa, old;
	const char *keep;

	static bool at_exit_set;

	if (inited)
		return 0;
	owner = getpid();
	keep = getenv("FMH_KEEP");
	keep_dirs = keep && *keep && strcmp(keep, "0") != 0;
	if (!at_exit_set && atexit(fmh_cleanup) != 0)
		return -ENOMEM;
	at_exit_set = true;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fatal_signal;
	sa.sa_flags = SA_RESETHAND;
	/* While one handler cleans up, the others wait (and then find nothing). */
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(fatal_signals) / sizeof(fatal_signals[0]); i++)
		sigaddset(&sa.sa_mask, fatal_signals[i]);
	for (size_t i = 0; i < sizeof(fatal_signals) / sizeof(fatal_signals[0]); i++) {
		int sig = fatal_signals[i];

		/* Keep ignoring what our parent told us to ignore (nohup). */
		if (sigaction(sig, NULL, &old) == 0 && old.sa_handler == SIG_IGN)
			continue;
		if (sigaction(sig, &sa, NULL) != 0)
			return -errno;
	}
	if (__sanitizer_set_death_callback)
		__sanitizer_set_death_callback(cleanup_fast);
	inited = true;
	return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	if (remove(path) != 0 && errno != ENOENT)
		fprintf(stderr, "fmh: cannot remove %s: %s\n", path, strerror(errno));
	return 0;
}

void fmh_cleanup(void)
{
	sigset_t old;

	if (!inited || getpid() != owner)
		return;
	block_signals(&old);
	run_hooks();
	stop_all(SIGTERM, STOP_GRACE_MS, REAP_MS);
	for (int i = 0; i < MAX_SOCKS; i++) {
		struct stat sb;

		if (!socks[i].used)
			continue;
		/* The caller may have closed it and the number been reused. */
		if (fstat(socks[i].fd, &sb) == 0 && sb.st_dev == socks[i].dev &&
		    sb.st_ino == socks[i].ino)
			close(socks[i].fd);
		socks[i].used = false;
	}
	for (int i = 0; i < MAX_DIRS; i++) {
		if (!dir_used[i])
			continue;
		if (keep_dirs)
			fprintf(stderr, "fmh: FMH_KEEP: keeping %s\n", dirs[i]);
		else
			nftw(dirs[i], rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
		dir_used[i] = 0;
	}
	restore_signals(&old);
}

int fmh_tmpdir(char *out, size_t size)
{
	const char *base = getenv("TMPDIR");
	char path[PATH_MAX];
	sigset_t old;
	int slot = -1, ret;

	fmh_init();
	if (!base || !*base)
		base = "/tmp";
	for (int i = 0; i < MAX_DIRS && slot < 0; i++)
		if (!dir_used[i])
			slot = i;
	if (slot < 0)
		return -ENOSPC;
	ret = fmt(path, sizeof(path), "%s/fmh.XXXXXX", base);
	if (ret < 0)
		return ret;
	if (strlen(path) >= size)
		return -ENAMETOOLONG;
	if (!mkdtemp(path))
		return -errno;
	block_signals(&old);
	memcpy(dirs[slot], path, strlen(path) + 1);
	dir_used[slot] = 1;
	restore_signals(&old);
	memcpy(out, path, strlen(path) + 1);
	return 0;
}

/* In the child, between fork and exec: never returns. Reports a failure as
 * its errno on errfd (close-on-exec, so success is EOF). */
static void child_exec(const char *const argv[], int fd_in, int fd_out, int fd_err, int errfd,
		       pid_t parent)
{
	struct sigaction dfl;
	sigset_t none;
	const int from[3] = {fd_in, fd_out, fd_err};
	int e;

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &dfl, NULL); /* EINVAL for KILL, STOP, libc's own: fine */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
		goto fail;
	/* The parent may have died before PDEATHSIG was armed. */
	if (getppid() != parent)
		_exit(127);
	if (setpgid(0, 0) != 0)
		goto fail;
	for (int fd = 0; fd < 3; fd++) {
		if (from[fd] == fd) {
			if (fcntl(fd, F_SETFD, 0) != 0)
				goto fail;
		} else if (dup2(from[fd], fd) < 0) {
			goto fail;
		}
	}
	/* Sockets and pipes the test holds must not live on in the server. */
	close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
	execvp(argv[0], (char *const *)argv);
fail:
	e = errno;
	if (write(errfd, &e, sizeof(e)) < 0)
		_exit(126);
	_exit(127);
}

/*
 * fork + exec of argv with the given fds as its stdin/stdout/stderr (borrowed;
 * the caller closes them after). Records the pid. Returns it or -errno,
 * including the errno with which exec failed.
 */
static pid_t start_child(const char *const argv[], int fd_out, int fd_err)
{
	int errpipe[2], fd_in, child_errno, slot, ret;
	pid_t parent, pid;
	sigset_t old;
	ssize_t r;

	if (!argv || !argv[0])
		return -EINVAL;
	fmh_init();
	slot = -1;
	for (int i = 0; i < MAX_PIDS && slot < 0; i++)
		if (pids[i] == 0)
			slot = i;
	if (slot < 0)
		return -ENOSPC;
	fd_in = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd_in < 0)
		return -errno;
	if (pipe2(errpipe, O_CLOEXEC) != 0) {
		ret = -errno;
		goto out_close_in;
	}
	parent = getpid();
	block_signals(&old);
	pid = fork();
	if (pid == 0)
		child_exec(argv, fd_in, fd_out, fd_err, errpipe[1], parent);
	ret = -errno;
	if (pid > 0) {
		/* Also here, so the group exists before fork() returns to anyone who
		 * might signal it; EACCES once the child has exec'd is fine. */
		setpgid(pid, pid);
		pids[slot] = pid;
	}
	restore_signals(&old);
	close(errpipe[1]);
	if (pid < 0)
		goto out_close_pipe;
	do
		r = read(errpipe[0], &child_errno, sizeof(child_errno));
	while (r < 0 && errno == EINTR);
	if (r == (ssize_t)sizeof(child_errno)) {
		waitpid(pid, NULL, 0);
		pids[slot] = 0;
		ret = child_errno > 0 ? -child_errno : -ECHILD;
		goto out_close_pipe;
	}
	ret = pid;
out_close_pipe:
	close(errpipe[0]);
out_close_in:
	close(fd_in);
	return ret;
}

pid_t fmh_spawn(const char *const argv[], const char *log_path)
{
	int fd;
	pid_t pid;

	if (log_path)
		fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	else
		fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	pid = start_child(argv, fd, fd);
	close(fd);
	return pid;
}

int fmh_stop_status(pid_t pid, int *status)
{
	int slot = pid_slot(pid), w;
	sigset_t old;

	if (status)
		*status = -1;
	if (slot < 0)
		return -ESRCH;
	stop_pids(&pid, &w, 1, SIGTERM, STOP_GRACE_MS, REAP_MS);
	block_signals(&old);
	pids[slot] = 0;
	restore_signals(&old);
	if (status)
		*status = decode_status(w);
	return 0;
}

int fmh_stop(pid_t pid)
{
	return fmh_stop_status(pid, NULL);
}

/* n distinct ports free on 127.0.0.1: all are held bound until all are known. */
static int free_ports(int *ports, int n)
{
	int fds[16], ret = 0, i;

	if (n > 16)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		struct sockaddr_in sa = {.sin_family = AF_INET,
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		socklen_t len = sizeof(sa);

		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fds[i] < 0) {
			ret = -errno;
			break;
		}
		if (bind(fds[i], (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
		    getsockname(fds[i], (struct sockaddr *)&sa, &len) != 0) {
			ret = -errno;
			i++;
			break;
		}
		ports[i] = ntohs(sa.sin_port);
	}
	while (i-- > 0)
		close(fds[i]);
	return ret;
}

int fmh_free_port(void)
{
	int port = 0, ret = free_ports(&port, 1);

	return ret < 0 ? ret : port;
}

static int parse_ipv4(const char *ip, int port, struct sockaddr_in *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	if (!ip || port <= 0 || port > 65535 || inet_pton(AF_INET, ip, &sa->sin_addr) != 1)
		return -EINVAL;
	return 0;
}

/* One non-blocking connect, at most timeout_ms: 0 or -errno. */
static int connect_once(const struct sockaddr_in *sa, int timeout_ms)
{
	struct pollfd pfd;
	socklen_t len = sizeof(int);
	int fd, err = 0, r;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
		goto out_close;
	if (errno != EINPROGRESS) {
		err = errno;
		goto out_close;
	}
	pfd.fd = fd;
	pfd.events = POLLOUT;
	do
		r = poll(&pfd, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		err = ETIMEDOUT;
	else if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		err = errno;
out_close:
	close(fd);
	return -err;
}

int fmh_wait_tcp(const char *ip, int port, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	struct sockaddr_in sa;

	if (parse_ipv4(ip, port, &sa) < 0)
		return -EINVAL;
	for (;;) {
		int left = remaining_ms(deadline);

		if (connect_once(&sa, left < 1000 ? left : 1000) == 0)
			return 0;
		left = remaining_ms(deadline);
		if (left == 0)
			return -ETIMEDOUT;
		sleep_ms(left < 20 ? left : 20);
	}
}

/*
 * Scans log_path from *off for needle. The last nlen - 1 bytes seen are kept
 * in buf (as *carry) so a needle split across two reads is still found.
 * Returns true when found. A missing file is "not yet"; a file that shrank
 * was truncated and is scanned again from the start.
 */
static bool scan_log(const char *log_path, const char *needle, size_t nlen, off_t *off, char *buf,
		     size_t bufsize, size_t *carry)
{
	struct stat sb;
	bool found = false;
	int fd = open(log_path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	if (fstat(fd, &sb) == 0 && sb.st_size < *off) {
		*off = 0;
		*carry = 0;
	}
	for (;;) {
		ssize_t r = pread(fd, buf + *carry, bufsize - *carry, *off);
		size_t have;

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		*off += r;
		have = *carry + (size_t)r;
		if (memmem(buf, have, needle, nlen)) {
			found = true;
			break;
		}
		*carry = have < nlen - 1 ? have : nlen - 1;
		memmove(buf, buf + have - *carry, *carry);
	}
	close(fd);
	return found;
}

/* A watch on the directory of path: wakes us when the log appears or grows.
 * Returns the inotify fd, or -1 (we then poll every 100 ms). */
static int watch_dir_of(const char *path)
{
	char dir[PATH_MAX];
	char *slash;
	int fd;

	if (fmt(dir, sizeof(dir), "%s", path) < 0)
		return -1;
	slash = strrchr(dir, '/');
	if (!slash)
		strcpy(dir, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fd < 0)
		return -1;
	if (inotify_add_watch(fd, dir, IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int fmh_wait_exit(pid_t pid, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	for (;;) {
		enum child_state st = child_state(pid);
		if (st != CHILD_RUNNING) {
			if (fd >= 0)
				close(fd);
			return st == CHILD_EXITED ? 0 : -ESRCH;
		}
		int left = remaining_ms(deadline);
		if (left == 0) {
			if (fd >= 0)
				close(fd);
			return -ETIMEDOUT;
		}
		/* no pidfd (an old kernel): asked every 10 ms */
		struct pollfd p = {.fd = fd, .events = POLLIN};
		poll(&p, fd >= 0 ? 1 : 0, fd >= 0 ? left : (left < 10 ? left : 10));
	}
}

int fmh_wait_log_pid(const char *log_path, const char *needle, pid_t pid, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	size_t nlen = strlen(needle), bufsize = MAX_NEEDLE + 65536, carry = 0;
	char *buf;
	off_t off = 0;
	int in, ret;

	if (nlen == 0)
		return 0;
	if (nlen > MAX_NEEDLE)
		return -EINVAL;
	buf = malloc(bufsize);
	if (!buf)
		return -ENOMEM;
	in = watch_dir_of(log_path);
	for (;;) {
		/* Look at the process first and the file after: what it wrote
		 * before it exited is then always seen. */
		bool gone = pid > 0 && child_state(pid) != CHILD_RUNNING;
		struct pollfd pfd = {.fd = in, .events = POLLIN};
		int left;

		if (scan_log(log_path, needle, nlen, &off, buf, bufsize, &carry)) {
			ret = 0;
			break;
		}
		if (gone) {
			ret = -ESRCH;
			break;
		}
		left = remaining_ms(deadline);
		if (left == 0) {
			ret = -ETIMEDOUT;
			break;
		}
		if (poll(&pfd, in >= 0 ? 1 : 0, left < 100 ? left : 100) > 0) {
			char ev[4096];

			while (read(in, ev, sizeof(ev)) > 0)
				;
		}
	}
	if (in >= 0)
		close(in);
	free(buf);
	return ret;
}

int fmh_wait_log(const char *log_path, const char *needle, int timeout_ms)
{
	return fmh_wait_log_pid(log_path, needle, 0, timeout_ms);
}

/* Where captured output goes: at most size - 1 bytes, always NUL-terminated. */
struct sink {
	char *buf;
	size_t size, len;
	int fd; /* read end, -1 once at EOF */
};

static void sink_init(struct sink *s, char *buf, size_t size, int fd)
{
	s->buf = size > 0 ? buf : NULL;
	s->size = size;
	s->len = 0;
	s->fd = fd;
	if (s->buf)
		s->buf[0] = '\0';
}

/* Reads what is there; past the buffer's end the bytes are dropped, so the
 * writer never blocks. Closes the fd at EOF. */
static void sink_read(struct sink *s)
{
	char tmp[4096];
	ssize_t r = read(s->fd, tmp, sizeof(tmp));

	if (r < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (r <= 0) {
		close(s->fd);
		s->fd = -1;
		return;
	}
	if (s->buf) {
		size_t n = s->size - 1 - s->len;

		if ((size_t)r < n)
			n = (size_t)r;
		memcpy(s->buf + s->len, tmp, n);
		s->len += n;
		s->buf[s->len] = '\0';
	}
}

static int run_capture(const char *const argv[], char *out, size_t out_size, char *err,
		       size_t err_size, bool merge, int *exit_status, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	int po[2], pe[2] = {-1, -1}, pidfd, w = -1, ret = 0, slot;
	struct sink sinks[2];
	bool exited = false;
	sigset_t old;
	pid_t pid;

	if (exit_status)
		*exit_status = -1;
	if (pipe2(po, O_CLOEXEC) != 0)
		return -errno;
	if (merge)
		pe[1] = po[1];
	else if (err)
		ret = pipe2(pe, O_CLOEXEC) != 0 ? -errno : 0;
	else
		ret = (pe[1] = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0 ? -errno : 0;
	if (ret < 0)
		goto out_close_out;
	pid = start_child(argv, po[1], pe[1]);
	close(po[1]);
	po[1] = -1;
	if (!merge)
		close(pe[1]);
	pe[1] = -1;
	if (pid < 0) {
		ret = pid;
		goto out_close_err;
	}
	sink_init(&sinks[0], out, out_size, po[0]);
	sink_init(&sinks[1], err, err_size, pe[0]);
	po[0] = pe[0] = -1; /* the sinks own them now */

	/* pidfd: poll wakes when the child exits. Without one, poll every 10 ms. */
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	for (;;) {
		struct pollfd pfd[3];
		int n = 0, left;

		if (!exited && child_state(pid) != CHILD_RUNNING) {
			exited = true;
			/* Nothing of it may outlive it; this also closes the pipes
			 * its background children would keep open. */
			kill(-pid, SIGKILL);
		}
		if (exited && sinks[0].fd < 0 && sinks[1].fd < 0)
			break;
		left = remaining_ms(deadline);
		if (left == 0) {
			ret = -ETIMEDOUT;
			break;
		}
		for (int i = 0; i < 2; i++)
			if (sinks[i].fd >= 0)
				pfd[n++] = (struct pollfd){.fd = sinks[i].fd, .events = POLLIN};
		if (!exited && pidfd >= 0)
			pfd[n++] = (struct pollfd){.fd = pidfd, .events = POLLIN};
		if (!exited && pidfd < 0 && left > 10)
			left = 10;
		if (poll(pfd, (nfds_t)n, left) <= 0)
			continue;
		for (int i = 0; i < 2; i++)
			for (int j = 0; j < n; j++)
				if (sinks[i].fd >= 0 && pfd[j].fd == sinks[i].fd && pfd[j].revents)
					sink_read(&sinks[i]);
	}
	stop_pids(&pid, &w, 1, SIGKILL, 0, REAP_MS);
	block_signals(&old);
	slot = pid_slot(pid);
	if (slot >= 0)
		pids[slot] = 0;
	restore_signals(&old);
	if (exit_status)
		*exit_status = decode_status(w);
	if (pidfd >= 0)
		close(pidfd);
	for (int i = 0; i < 2; i++)
		if (sinks[i].fd >= 0)
			close(sinks[i].fd);
	return ret;

out_close_err:
	if (pe[0] >= 0)
		close(pe[0]);
out_close_out:
	close(po[0]);
	if (po[1] >= 0)
		close(po[1]);
	return ret;
}

int fmh_run(const char *const argv[], char *out, size_t out_size, int *exit_status, int timeout_ms)
{
	return run_capture(argv, out, out_size, NULL, 0, true, exit_status, timeout_ms);
}

int fmh_run2(const char *const argv[], char *out, size_t out_size, char *err, size_t err_size,
	     int *exit_status, int timeout_ms)
{
	return run_capture(argv, out, out_size, err, err_size, false, exit_status, timeout_ms);
}

int fmh_pki(const char *root)
{
	const char *const argv[] = {"bash", FMH_PKI_SCRIPT, root, NULL};
	char out[8192];
	int status, ret;

	ret = fmh_run(argv, out, sizeof(out), &status, PKI_MS);
	if (ret < 0) {
		fprintf(stderr, "fmh: %s %s: %s\n%s", FMH_PKI_SCRIPT, root, strerror(-ret), out);
		return ret;
	}
	if (status != 0) {
		fprintf(stderr, "fmh: %s %s exited %d:\n%s", FMH_PKI_SCRIPT, root, status, out);
		return -EIO;
	}
	return 0;
}

void fmh_print_log_tail(const char *what, const char *log_path, int err)
{
	char buf[LOG_TAIL_BYTES + 1];
	struct stat sb;
	ssize_t r = 0;
	int fd;

	fprintf(stderr, "fmh: %s failed: %s; the end of %s:\n", what, strerror(-err), log_path);
	fd = open(log_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &sb) == 0) {
		off_t from = sb.st_size > LOG_TAIL_BYTES ? sb.st_size - LOG_TAIL_BYTES : 0;

		r = pread(fd, buf, LOG_TAIL_BYTES, from);
	}
	close(fd);
	buf[r > 0 ? r : 0] = '\0';
	fprintf(stderr, "%s\n", buf);
}

#define ETCD_MAX_EXTRA_ARGS 16
#define ETCD_VERSION_MS	    10000

/* What `bin --version` says ("etcd Version: 3.5.16") into version, and
 * whether that etcd logs with zap: 3.5 removed capnslog, 3.4's default.
 * 0, -EPROTO when it does not say, or fmh_run()'s -errno. */
static int etcd_version(const char *bin, char *version, size_t size, bool *zap)
{
	static const char tag[] = "etcd Version: ";
	const char *const argv[] = {bin, "--version", NULL};
	char out[1024];
	const char *v;
	int status, major, minor, ret;
	size_t len;

	ret = fmh_run(argv, out, sizeof(out), &status, ETCD_VERSION_MS);
	if (ret < 0) {
		fprintf(stderr, "fmh: cannot run %s --version: %s\n", bin, strerror(-ret));
		return ret;
	}
	v = strstr(out, tag);
	if (v)
		v += sizeof(tag) - 1;
	if (status != 0 || !v || sscanf(v, "%d.%d", &major, &minor) != 2 ||
	    (len = strcspn(v, " \r\n")) >= size) {
		fprintf(stderr, "fmh: %s --version exited %d and said:\n%s\n", bin, status, out);
		return -EPROTO;
	}
	memcpy(version, v, len);
	version[len] = '\0';
	*zap = major > 3 || (major == 3 && minor >= 5);
	return 0;
}

/* Zeroes e and fills it in for a member called name on ports[0..2] (client,
 * peer, metrics), with the PKI under root: its tmpdir, URLs and paths. */
static int etcd_fill(struct fmh_etcd *e, const char *name, const int ports[3], const char *root,
		     const char *extra_listen_ip)
{
	int ret;

	memset(e, 0, sizeof(*e));
	e->client_port = ports[0];
	e->peer_port = ports[1];
	e->metrics_port = ports[2];
	if ((ret = fmt(e->name, sizeof(e->name), "%s", name)) < 0 ||
	    (ret = fmh_tmpdir(e->dir, sizeof(e->dir))) < 0 ||
	    (ret = fmt(e->url, sizeof(e->url), "https://127.0.0.1:%d", e->client_port)) < 0 ||
	    (ret = fmt(e->metrics_url, sizeof(e->metrics_url), "http://127.0.0.1:%d",
		       e->metrics_port)) < 0 ||
	    (ret = fmt(e->log, sizeof(e->log), "%s/etcd.log", e->dir)) < 0 ||
	    (ret = fmt(e->ca, sizeof(e->ca), "%s/etc/kubernetes/pki/etcd/ca.crt", root)) < 0 ||
	    (ret = fmt(e->cert, sizeof(e->cert),
		       "%s/etc/kubernetes/pki/etcd/healthcheck-client.crt", root)) < 0 ||
	    (ret = fmt(e->key, sizeof(e->key), "%s/etc/kubernetes/pki/etcd/healthcheck-client.key",
		       root)) < 0)
		return ret;
	if (extra_listen_ip)
		return fmt(e->extra_url, sizeof(e->extra_url), "https://%s:%d", extra_listen_ip,
			   e->client_port);
	return 0;
}

/* Spawns the member e (filled by etcd_fill()) of the new cluster
 * "name=peer-url,..." in cluster; e->pid gets its pid. 0 or -errno. */
static int etcd_spawn(struct fmh_etcd *e, const char *bin, bool zap, const char *root,
		      const char *cluster, const char *const extra_argv[], size_t n_extra)
{
	char data[PATH_MAX], server_cert[PATH_MAX], server_key[PATH_MAX];
	char listen_urls[160], peer_url[64];
	int ret;

	if ((ret = fmt(peer_url, sizeof(peer_url), "http://127.0.0.1:%d", e->peer_port)) < 0 ||
	    (ret = fmt(data, sizeof(data), "%s/data", e->dir)) < 0 ||
	    (ret = fmt(server_cert, sizeof(server_cert), "%s/etc/kubernetes/pki/etcd/server.crt",
		       root)) < 0 ||
	    (ret = fmt(server_key, sizeof(server_key), "%s/etc/kubernetes/pki/etcd/server.key",
		       root)) < 0)
		return ret;
	if (e->extra_url[0])
		ret = fmt(listen_urls, sizeof(listen_urls), "%s,%s", e->url, e->extra_url);
	else
		ret = fmt(listen_urls, sizeof(listen_urls), "%s", e->url);
	if (ret < 0)
		return ret;

	/* The logger is named so an ETCD_LOGGER in the environment cannot
	 * change the lines we wait for: capnslog, etcd 3.4's default, or zap
	 * (3.5 has nothing else). */
	/* clang-format off */
	const char *const argv[] = {
		bin,
		"--name", e->name,
		"--data-dir", data,
		"--logger", zap ? "zap" : "capnslog",
		"--listen-client-urls", listen_urls,
		"--advertise-client-urls", e->url,
		"--listen-peer-urls", peer_url,
		"--initial-advertise-peer-urls", peer_url,
		"--initial-cluster", cluster,
		"--initial-cluster-state", "new",
		"--initial-cluster-token", "fmh",
		"--client-cert-auth",
		"--trusted-ca-file", e->ca,
		"--cert-file", server_cert,
		"--key-file", server_key,
		"--listen-metrics-urls", e->metrics_url,
		NULL,
	};
	/* clang-format on */

	const size_t n_base = sizeof(argv) / sizeof(argv[0]) - 1;
	const char *all[sizeof(argv) / sizeof(argv[0]) + ETCD_MAX_EXTRA_ARGS];

	/* The caller's flags go last: etcd (Go's flag package) keeps the last
	 * value of a repeated flag. */
	memcpy(all, argv, n_base * sizeof(argv[0]));
	for (size_t i = 0; i < n_extra; i++)
		all[n_base + i] = extra_argv[i];
	all[n_base + n_extra] = NULL;
	e->pid = fmh_spawn(all, e->log);
	if (e->pid < 0) {
		ret = e->pid;
		e->pid = 0;
		fprintf(stderr, "fmh: cannot start %s: %s\n", bin, strerror(-ret));
		return ret;
	}
	return 0;
}

/* Waits until the member e serves clients on every address it listens on.
 * On failure prints the tail of its log (it is left running). */
static int etcd_wait(const struct fmh_etcd *e, bool zap, long long deadline)
{
	/* "ready" comes once per listener just before it serves; a line naming
	 * the address follows each Serve() call: capnslog "serving client
	 * requests on 127.0.0.1:2379", zap {"msg":"serving client traffic
	 * securely",...,"address":"127.0.0.1:2379"} (the peer and metrics
	 * listeners' lines name other ports). */
	char needle[128], ip[2][64] = {"127.0.0.1", ""};
	int ret;

	if (e->extra_url[0])
		sscanf(e->extra_url, "https://%63[^:]", ip[1]);
	ret = fmh_wait_log_pid(e->log, "ready to serve client requests", e->pid,
			       remaining_ms(deadline));
	for (int i = 0; i < 2 && ret == 0 && ip[i][0]; i++) {
		if (zap)
			fmt(needle, sizeof(needle), "\"address\":\"%s:%d\"", ip[i], e->client_port);
		else
			fmt(needle, sizeof(needle), "serving client requests on %s:%d", ip[i],
			    e->client_port);
		ret = fmh_wait_log_pid(e->log, needle, e->pid, remaining_ms(deadline));
	}
	if (ret == 0)
		ret = fmh_wait_tcp("127.0.0.1", e->client_port, remaining_ms(deadline));
	if (ret < 0)
		fmh_print_log_tail("etcd start", e->log, ret);
	return ret;
}

static int count_extra(const char *const extra_argv[], size_t *n)
{
	*n = 0;
	while (extra_argv && extra_argv[*n])
		if (++*n > ETCD_MAX_EXTRA_ARGS)
			return -E2BIG;
	return 0;
}

int fmh_etcd_start(struct fmh_etcd *e, const char *root, const char *extra_listen_ip)
{
	return fmh_etcd_start_bin(e, NULL, root, extra_listen_ip, NULL);
}

int fmh_etcd_start_args(struct fmh_etcd *e, const char *root, const char *extra_listen_ip,
			const char *const extra_argv[])
{
	return fmh_etcd_start_bin(e, NULL, root, extra_listen_ip, extra_argv);
}

int fmh_etcd_start_bin(struct fmh_etcd *e, const char *bin, const char *root,
		       const char *extra_listen_ip, const char *const extra_argv[])
{
	char cluster[96];
	struct sockaddr_in sa;
	long long deadline;
	int ports[3], ret;
	size_t n_extra;
	bool zap;

	memset(e, 0, sizeof(*e));
	if (!bin)
		bin = "etcd";
	ret = count_extra(extra_argv, &n_extra);
	if (ret < 0)
		return ret;
	/* Tests talk to loopback only. */
	if (extra_listen_ip &&
	    (parse_ipv4(extra_listen_ip, 1, &sa) < 0 || (ntohl(sa.sin_addr.s_addr) >> 24) != 127))
		return -EINVAL;
	if ((ret = free_ports(ports, 3)) < 0 ||
	    (ret = etcd_fill(e, "node", ports, root, extra_listen_ip)) < 0 ||
	    (ret = fmt(cluster, sizeof(cluster), "node=http://127.0.0.1:%d", e->peer_port)) < 0 ||
	    (ret = etcd_version(bin, e->version, sizeof(e->version), &zap)) < 0)
		return ret;
	deadline = now_ms() + ETCD_START_MS;
	ret = etcd_spawn(e, bin, zap, root, cluster, extra_argv, n_extra);
	if (ret < 0)
		return ret;
	ret = etcd_wait(e, zap, deadline);
	if (ret < 0) {
		fmh_stop(e->pid);
		e->pid = 0;
	}
	return ret;
}

int fmh_etcd_cluster_start(struct fmh_etcd *m, int n, const char *bin, const char *root,
			   const char *const extra_argv[])
{
	char cluster[FMH_ETCD_MAX_MEMBERS * 48] = "", version[16], name[16];
	int ports[3 * FMH_ETCD_MAX_MEMBERS], ret, i;
	long long deadline;
	size_t n_extra, len = 0;
	bool zap;

	if (n < 2 || n > FMH_ETCD_MAX_MEMBERS)
		return -EINVAL;
	for (i = 0; i < n; i++)
		memset(&m[i], 0, sizeof(m[i]));
	if (!bin)
		bin = "etcd";
	if ((ret = count_extra(extra_argv, &n_extra)) < 0 || (ret = free_ports(ports, 3 * n)) < 0)
		return ret;
	for (i = 0; i < n; i++) {
		if ((ret = fmt(name, sizeof(name), "node%d", i)) < 0 ||
		    (ret = etcd_fill(&m[i], name, &ports[3 * i], root, NULL)) < 0 ||
		    (ret = fmt(cluster + len, sizeof(cluster) - len, "%s%s=http://127.0.0.1:%d",
			       i ? "," : "", name, m[i].peer_port)) < 0)
			return ret;
		len += strlen(cluster + len);
	}
	ret = etcd_version(bin, version, sizeof(version), &zap);
	if (ret < 0)
		return ret;
	for (i = 0; i < n; i++)
		memcpy(m[i].version, version, sizeof(version));

	/* A member of a new cluster is ready only once a quorum elected a
	 * leader: all are spawned before any is waited for. */
	deadline = now_ms() + ETCD_START_MS;
	for (i = 0; i < n && ret == 0; i++)
		ret = etcd_spawn(&m[i], bin, zap, root, cluster, extra_argv, n_extra);
	for (i = 0; i < n && ret == 0; i++)
		ret = etcd_wait(&m[i], zap, deadline);
	if (ret < 0) {
		for (i = 0; i < n; i++)
			fmh_etcd_stop(&m[i]);
	}
	return ret;
}

int fmh_etcd_stop(struct fmh_etcd *e)
{
	int ret;

	if (e->pid <= 0)
		return -ESRCH;
	ret = fmh_stop(e->pid);
	e->pid = 0;
	return ret;
}

int fmh_etcd_restart(struct fmh_etcd *e, const char *root, const char *log_name)
{
	char cluster[96];
	long long deadline;
	bool zap;
	int ret;

	if (e->pid > 0 || !e->dir[0])
		return -EBUSY;
	if ((ret = fmt(e->log, sizeof(e->log), "%s/%s", e->dir, log_name)) < 0 ||
	    (ret = fmt(cluster, sizeof(cluster), "%s=http://127.0.0.1:%d", e->name, e->peer_port)) < 0 ||
	    (ret = etcd_version("etcd", e->version, sizeof(e->version), &zap)) < 0)
		return ret;
	deadline = now_ms() + ETCD_START_MS;
	/* The data dir exists: etcd takes the cluster from it and ignores
	 * the --initial-* flags. */
	ret = etcd_spawn(e, "etcd", zap, root, cluster, NULL, 0);
	if (ret == 0 && (ret = etcd_wait(e, zap, deadline)) < 0) {
		fmh_stop(e->pid);
		e->pid = 0;
	}
	return ret;
}

int fmh_listen_silent(int *port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	struct stat sb;
	int fd, slot = -1, ret;

	fmh_init();
	for (int i = 0; i < MAX_SOCKS && slot < 0; i++)
		if (!socks[i].used)
			slot = i;
	if (slot < 0)
		return -ENOSPC;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 64) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) != 0 || fstat(fd, &sb) != 0) {
		ret = -errno;
		goto out_close;
	}
	socks[slot].used = true;
	socks[slot].fd = fd;
	socks[slot].dev = sb.st_dev;
	socks[slot].ino = sb.st_ino;
	*port = ntohs(sa.sin_port);
	return fd;
out_close:
	close(fd);
	return ret;
}

void fmh_print_tail(const char *path)
{
	char buf[4096];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	off_t end = lseek(fd, 0, SEEK_END);
	lseek(fd, end > (off_t)sizeof(buf) - 1 ? end - (off_t)sizeof(buf) + 1 : 0, SEEK_SET);
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n > 0) {
		buf[n] = '\0';
		fprintf(stderr, "--- tail of %s ---\n%s\n---\n", path, buf);
	}
}

void fmh_clock_state(const char *state)
{
	static char asan[512];
	const char *prev = getenv("ASAN_OPTIONS");
	/* the shim comes first in the link order ASan checks */
	if (!strstr(asan, "verify_asan_link_order")) {
		snprintf(asan, sizeof(asan), "%s%sverify_asan_link_order=0", prev ? prev : "",
			 prev && *prev ? ":" : "");
		setenv("ASAN_OPTIONS", asan, 1);
	}
	setenv("LD_PRELOAD", FMH_ADJTIMEX_SHIM, 1);
	setenv("FMH_ADJTIMEX", state, 1);
}
