/* fm_docker_json: the Docker Engine API's answers, parsed. Pure (no I/O), so
 * every parser is unit-tested with canned bytes and fuzzed.
 *
 * Everything here is hostile input from a socket: lengths are given, JSON is
 * parsed with cJSON's length-bounded parser, strings are copied into fixed
 * fields (cut, never overflowed), and a body that is not what the API
 * documents is refused with a reason rather than guessed at.
 */
#ifndef FM_DOCKER_JSON_H
#define FM_DOCKER_JSON_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#define FM_DOCKER_MAX_LINE (64 * 1024) /* one /events line */

/* kubelet's (dockershim's) container name:
 * k8s_<container>_<pod>_<namespace>_<uid>_<attempt>. No part may hold '_'
 * (they are DNS labels or a UID), so the name splits into exactly six. */
struct fm_docker_name {
	char container[64]; /* "kube-apiserver"; "POD" for the pod's sandbox (pause) */
	char pod[254];      /* "kube-apiserver-pi-master1" */
	char ns[64];        /* "kube-system" */
	char uid[64];       /* the pod's UID (static pods: a hash of the manifest) */
	long attempt;       /* 0.. restart count at creation */
	bool sandbox;       /* container == "POD" */
};

/* Parses name (a leading '/' as in the API's Names is skipped). 0, or
 * -EINVAL when it is not a kubelet name (out is then zeroed). */
int fm_docker_name_parse(const char *name, struct fm_docker_name *out);
/* A container of a control-plane static pod in kube-system (etcd,
 * kube-apiserver, kube-controller-manager, kube-scheduler), its sandbox
 * included: pod "<component>-<node>". */
bool fm_docker_name_control_plane(const struct fm_docker_name *n);

/* One container, as far as the list and inspect tell. */
struct fm_docker_ctr {
	char id[65];
	char name[300];           /* without the leading '/' */
	struct fm_docker_name kn; /* valid when kubelet */
	bool kubelet;
	char state[16];           /* "running", "exited", "created", "restarting", "dead" ... */
	long long created;        /* unix seconds (list) */
	/* From inspect. */
	bool inspected;
	int exit_code;
	bool oom_killed;
	bool tty;
	int restart_count;
	char error[256];          /* State.Error */
	char started_at[40];      /* RFC 3339 as the daemon says it; "" never */
	char finished_at[40];
	long long finished_s;     /* FinishedAt in unix seconds; 0 never */
	char inspect_error[384];  /* the daemon's message when inspect failed */
	char pod_sandbox[65];     /* the CRI's: the pod sandbox's id ("" for Docker's) */
};

struct fm_docker_counts {
	long total, running, exited, other;
};

/* Parses a /containers/json?all=1 answer: counts every container in *counts
 * and copies the kubelet control-plane ones (fm_docker_name_control_plane)
 * into out, at most max of them (*n says how many; *dropped how many did not
 * fit). 0, or -EBADMSG with the reason in err. */
int fm_docker_list_parse(const char *body, size_t len, struct fm_docker_ctr *out, size_t max,
			 size_t *n, size_t *dropped, struct fm_docker_counts *counts, char *err,
			 size_t errlen);

/* Fills c's inspect fields (and state, name) from a /containers/{id}/json
 * answer. 0, or -EBADMSG with the reason in err (c is left as it was). */
int fm_docker_inspect_parse(const char *body, size_t len, struct fm_docker_ctr *c, char *err,
			    size_t errlen);

/* RFC 3339 ("2026-11-23T15:09:12.123456789Z", offsets allowed) to unix
 * seconds. 0, or -EINVAL (Docker's "0001-01-01T00:00:00Z", never, gives 0
 * with *out 0). */
int fm_docker_time_parse(const char *s, long long *out);

/* The /version answer: the engine's version and API version ("1.41"). */
struct fm_docker_version {
	char version[64];
	char api[16];
	char min_api[16];
	int api_minor; /* 41 for "1.41" */
};
int fm_docker_version_parse(const char *body, size_t len, struct fm_docker_version *v, char *err,
			    size_t errlen);

/* The newest API version this agent knows (Docker 28.x: 1.51), and the
 * oldest it was written against (Docker 19.03: 1.40). */
#define FM_DOCKER_API_NEWEST 51
#define FM_DOCKER_API_OLDEST 40

/* One /events line. */
struct fm_docker_event {
	char type[16];    /* "container" ... */
	char action[64];  /* "die", "start", "health_status: healthy" ... */
	char id[65];
	char name[300];   /* Actor.Attributes.name */
	int exit_code;    /* Actor.Attributes.exitCode; -1 absent */
	long long time_s; /* "time" */
	long long time_ns; /* "timeNano"; time_s * 1e9 when absent */
};
int fm_docker_event_parse(const char *line, size_t len, struct fm_docker_event *ev, char *err,
			  size_t errlen);

/* The /events body is newline-separated JSON that arrives in pieces of any
 * size: this splits it into lines. A line longer than cap is refused (its
 * bytes are dropped up to the next newline and counted in refused), never
 * buffered without bound. */
typedef void (*fm_docker_line_fn)(void *ctx, const char *line, size_t len);
struct fm_docker_lines {
	char *buf;
	size_t len, cap;
	bool skipping;  /* inside a refused line */
	unsigned long refused;
};
/* 0 or -ENOMEM. cap 0: FM_DOCKER_MAX_LINE. */
int fm_docker_lines_init(struct fm_docker_lines *l, size_t cap);
void fm_docker_lines_reset(struct fm_docker_lines *l);
void fm_docker_lines_free(struct fm_docker_lines *l);
/* Calls fn for every complete line in data (without the newline; empty
 * lines skipped). Keeps the unfinished end for the next call. */
void fm_docker_lines_feed(struct fm_docker_lines *l, const char *data, size_t len,
			  fm_docker_line_fn fn, void *ctx);

/* A /containers/{id}/logs body into at most max_lines last lines (strings,
 * appended to the array lines; each cut at 1 KiB). Unless raw (a TTY
 * container) the body is a sequence of frames: an 8-byte header {stream (0
 * stdin, 1 stdout, 2 stderr), 0, 0, 0, size as big-endian 32 bits} and size
 * bytes. 0, or -EBADMSG with the reason in err when a header is not one or
 * claims more bytes than follow (the lines before it are kept). */
int fm_docker_logs_demux(const char *body, size_t len, bool raw, cJSON *lines, size_t max_lines,
			 char *err, size_t errlen);

/* The daemon's error answer {"message":"..."} as its text (or the body
 * itself, cut, when it is not that JSON) into out. */
void fm_docker_error_text(const char *body, size_t len, char *out, size_t size);

#endif
