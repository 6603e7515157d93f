/* probe and check (fm_cli.h). */
#include "fm_cli.h"

#include "fm_apiserver.h"
#include "fm_diagnose.h"
#include "fm_gather.h"
#include "fm_log.h"
#include "fm_sources.h"

#include <cjson/cJSON.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *endpoint_state(const cJSON *f)
{
	const cJSON *kind = cJSON_GetObjectItemCaseSensitive(f, "kind");
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(f, "state");
	size_t n = cJSON_IsString(kind) ? strlen(kind->valuestring) : 0;
	if (n < 9 || strcmp(kind->valuestring + n - 9, ".endpoint") != 0 || !cJSON_IsString(st))
		return NULL;
	return st->valuestring;
}

static bool fact_config_error(const cJSON *f)
{
	const char *st = endpoint_state(f);
	return st && strcmp(st, "config") == 0;
}

static void print_value(const cJSON *v)
{
	if (cJSON_IsString(v)) {
		fputs(v->valuestring, stdout);
	} else if (cJSON_IsNumber(v)) {
		if (v->valuedouble == (double)(long long)v->valuedouble)
			printf("%lld", (long long)v->valuedouble);
		else
			printf("%.3g", v->valuedouble);
	} else if (cJSON_IsBool(v)) {
		fputs(cJSON_IsTrue(v) ? "yes" : "no", stdout);
	} else {
		char *s = cJSON_PrintUnformatted(v);
		fputs(s ? s : "?", stdout);
		free(s);
	}
}

/* The human form of the facts: one heading per fact, the problem first,
 * then its fields. */
static void print_facts(const struct fm_facts *facts)
{
	for (size_t i = 0; i < fm_facts_count(facts); i++) {
		const cJSON *f = fm_facts_at(facts, i);
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(f, "state");
		const cJSON *h = cJSON_GetObjectItemCaseSensitive(f, "healthy");
		const cJSON *tls = cJSON_GetObjectItemCaseSensitive(f, "tls");
		printf("%s %s", cJSON_GetObjectItem(f, "kind")->valuestring,
		       cJSON_GetObjectItem(f, "id")->valuestring);
		if (strcmp(cJSON_GetObjectItem(f, "kind")->valuestring, "docker.container") == 0)
			printf(": %s", cJSON_IsString(st) ? st->valuestring : "?"); /* the container's state */
		else if (cJSON_IsString(st) && strcmp(st->valuestring, "absent") == 0)
			printf(": absent");
		else if (cJSON_IsString(st) && strcmp(st->valuestring, "unknown") == 0)
			printf(": unknown");
		else if (cJSON_IsString(st) && strcmp(st->valuestring, "ok") != 0)
			printf(": FAILED (%s%s%s)", st->valuestring, cJSON_IsString(tls) ? ": " : "",
			       cJSON_IsString(tls) ? tls->valuestring : "");
		else if (cJSON_IsString(st))
			printf(": ok");
		else if (cJSON_IsBool(h))
			printf(": %s", cJSON_IsTrue(h) ? "healthy" : "UNHEALTHY");
		putchar('\n');
		for (const cJSON *v = f->child; v; v = v->next) {
			if (!strcmp(v->string, "kind") || !strcmp(v->string, "id") ||
			    !strcmp(v->string, "state") || !strcmp(v->string, "tls") ||
			    !strcmp(v->string, "healthy"))
				continue;
			printf("  %-16s ", v->string);
			print_value(v);
			putchar('\n');
		}
	}
}

/* One source, once: its facts into the set. 0, or -1 when the source is
 * unreachable or unhealthy (probe's verdict). o: the command line. */
struct follower {
	bool json;
	uint64_t t0;
};

static void print_change(void *arg, const cJSON *fact, bool dropped)
{
	const struct follower *fl = arg;
	uint64_t ms = fm_now_ms() - fl->t0;
	char *s = cJSON_PrintUnformatted(fact);
	if (!s)
		return;
	if (fl->json)
		printf("{\"ms\":%llu,\"change\":\"%s\",\"fact\":%s}\n", (unsigned long long)ms,
		       dropped ? "drop" : "put", s);
	else
		printf("%6llu.%03llu %s %s\n", (unsigned long long)(ms / 1000),
		       (unsigned long long)(ms % 1000), dropped ? "-" : "+", s);
	fflush(stdout);
	free(s);
}

static void stop_loop(struct fm_signal *s, int signo)
{
	(void)signo;
	fm_loop_stop(s->ev.loop);
}

static int follow(const struct fm_source *src, struct fm_loop *loop, const struct fm_discovery *d,
		  const struct fm_opts *o, struct fm_facts *facts)
{
	struct fm_signal sigint = {.ev = FM_EVENT_INIT}, sigterm = {.ev = FM_EVENT_INIT};
	struct follower fl = {.json = o->json, .t0 = fm_now_ms()};
	char err[512] = "";
	int status = 0;

	fm_facts_observe(facts, print_change, &fl);
	if (fm_signal_init(loop, &sigint, SIGINT, stop_loop) < 0 ||
	    fm_signal_init(loop, &sigterm, SIGTERM, stop_loop) < 0) {
		fprintf(stderr, "fleetmedic-agent: cannot set up signals: %s\n", strerror(errno));
		status = EXIT_USAGE;
		goto out_signals;
	}
	void *state = src->start(loop, d, o, facts, err, sizeof(err));
	if (!state) {
		fprintf(stderr, "fleetmedic-agent: %s\n", err[0] ? err : "cannot start");
		status = EXIT_USAGE;
		goto out_signals;
	}
	if (fm_loop_run(loop) < 0) {
		fprintf(stderr, "fleetmedic-agent: event loop failed: %s\n", strerror(errno));
		status = EXIT_FINDING;
	}
	src->stop(state);
out_signals:
	fm_signal_close(&sigterm);
	fm_signal_close(&sigint);
	fm_facts_observe(facts, NULL, NULL);
	return status;
}

static bool config_error(const struct fm_facts *facts)
{
	bool any = false;
	for (size_t i = 0; i < fm_facts_count(facts); i++) {
		const cJSON *f = fm_facts_at(facts, i);
		if (!fact_config_error(f))
			continue;
		/* one line each on stderr too: the exit status 2 says why */
		const char *origin = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "origin"));
		const char *reason = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "reason"));
		fprintf(stderr, "fleetmedic-agent: %s%s%s\n", origin && origin[0] == '-' ? origin : "",
			origin && origin[0] == '-' ? ": " : "", reason ? reason : "configuration error");
		any = true;
	}
	return any;
}

/* Prints and frees out. */
static void print_json(cJSON *out)
{
	char *s = cJSON_PrintUnformatted(out);
	if (s)
		puts(s);
	else
		fprintf(stderr, "fleetmedic-agent: out of memory\n");
	free(s);
	cJSON_Delete(out);
}

/* The source called name, or NULL. */
int fm_probe_cmd(const char *what, const struct fm_opts *o)
{
	const struct fm_source *src = fm_source_named(what);
	if (!src) {
		fprintf(stderr, "fleetmedic-agent: unknown source '%s': etcd|apiserver|docker|cri|journal|hal\n",
			what);
		return EXIT_USAGE;
	}
	if (o->follow && !src->start) {
		fprintf(stderr, "fleetmedic-agent: probe %s cannot --follow: it has no live events; run it again instead\n",
			what);
		return EXIT_USAGE;
	}

	struct fm_session ss;
	if (fm_session_open(&ss, o) < 0)
		return EXIT_USAGE;
	if (o->follow) {
		int rc = follow(src, ss.loop, &ss.d, o, ss.facts);
		fm_session_close(&ss);
		return rc;
	}
	struct fm_collect_opts co = {.timeout_ms = (int)o->timeout_ms, .tls_max = o->tls_max};
	/* The source decides whether it is unreachable or unhealthy: a side
	 * request that failed (no credentials for the node list, no metrics
	 * listener) is in the facts but is not that verdict. */
	int status = fm_source_collect(src, ss.loop, &ss.d, o, &co, ss.facts) < 0 ? EXIT_FINDING : 0;
	if (config_error(ss.facts))
		status = EXIT_USAGE;
	if (o->json) {
		cJSON *out = cJSON_CreateObject();
		cJSON_AddStringToObject(out, "source", what);
		cJSON_AddItemToObject(out, "facts", fm_facts_json(ss.facts, ""));
		print_json(out);
	} else {
		print_facts(ss.facts);
	}
	fm_session_close(&ss);
	return status;
}

/* --- check ----------------------------------------------------------------- */

/* Colour only for a person at a terminal (and not when NO_COLOR is set). */
static bool use_colour(void)
{
	const char *term = getenv("TERM");
	return isatty(STDOUT_FILENO) && !getenv("NO_COLOR") && term && strcmp(term, "dumb") != 0;
}

/* One evidence item on one line: its kind and id, then its fields. */
static void print_evidence(const cJSON *e)
{
	printf("    - %s %s", cJSON_GetObjectItem(e, "kind")->valuestring,
	       cJSON_GetObjectItem(e, "id")->valuestring);
	for (const cJSON *v = e->child; v; v = v->next) {
		if (!strcmp(v->string, "kind") || !strcmp(v->string, "id"))
			continue;
		printf(" %s=", v->string);
		print_value(v);
	}
	putchar('\n');
}

/* The report for a person: the cause, its evidence and the fix, causes
 * first (fm_diagnose's order). */
static void print_report(const char *node, const cJSON *diagnoses)
{
	bool colour = use_colour();
	const char *bold = colour ? "\033[1m" : "", *off = colour ? "\033[0m" : "";
	int n = cJSON_GetArraySize(diagnoses);
	if (n == 0) {
		printf("%s%s: no problem found%s\n", bold, node, off);
		return;
	}
	/* every diagnosis listed stands on its own (fm_diagnose folds each
	 * symptom into its cause): the critical ones are separate fixes */
	int critical = 0;
	const cJSON *d;
	cJSON_ArrayForEach(d, diagnoses)
	{
		critical += strcmp(cJSON_GetObjectItem(d, "severity")->valuestring, "critical") == 0;
	}
	printf("%s%s: %d finding%s", bold, node, n, n == 1 ? "" : "s");
	if (critical > 1)
		printf(", %d independent problems", critical);
	printf("%s\n", off);
	cJSON_ArrayForEach(d, diagnoses)
	{
		const char *sev = cJSON_GetObjectItem(d, "severity")->valuestring;
		const char *col = !colour ? "" : strcmp(sev, "critical") == 0 ? "\033[1;31m"
					       : strcmp(sev, "warning") == 0  ? "\033[1;33m"
									      : "\033[1m";
		const cJSON *comp = cJSON_GetObjectItem(d, "component");
		printf("\n%s%s %s%s (%s)\n  %s\n", col, sev, cJSON_GetObjectItem(d, "code")->valuestring, off,
		       cJSON_IsString(comp) ? comp->valuestring : "?", cJSON_GetObjectItem(d, "summary")->valuestring);
		/* what it explains, each with the link that holds on this node */
		const cJSON *x;
		int k = 0;
		cJSON_ArrayForEach(x, cJSON_GetObjectItem(d, "links"))
		{
			const cJSON *because = cJSON_GetObjectItem(x, "because");
			printf("  %s %s (%s): %s\n", k++ ? "         " : "explains:", cJSON_GetObjectItem(x, "code")->valuestring,
			       cJSON_GetObjectItem(x, "component")->valuestring,
			       cJSON_IsString(because) ? because->valuestring : "");
		}
		printf("  evidence:\n");
		const cJSON *e;
		cJSON_ArrayForEach(e, cJSON_GetObjectItem(d, "evidence"))
		{
			print_evidence(e);
		}
		printf("  fix:\n");
		const cJSON *r;
		cJSON_ArrayForEach(r, cJSON_GetObjectItem(d, "remedy"))
		{
			printf("    %s$ %s%s\n", bold, r->valuestring, off);
		}
	}
}

/* The sources that could not even be set up (exit status 2) or were cut
 * short by check's deadline, so that "no problem found" is never mistaken
 * for "all checked". */
/* Neither Docker nor a CRI runtime on the node: the containers were not
 * checked (issue 22), which is not the same as none failing. */
static bool no_runtime(const struct fm_facts *facts)
{
	bool docker = false, cri = false;
	for (size_t i = 0; i < fm_facts_count(facts); i++) {
		const cJSON *f = fm_facts_at(facts, i);
		const char *k = cJSON_GetStringValue(cJSON_GetObjectItem(f, "kind"));
		const char *st = cJSON_GetStringValue(cJSON_GetObjectItem(f, "state"));
		bool absent = st && (strcmp(st, "absent") == 0 || strcmp(st, "no-cri") == 0);
		if (k && strcmp(k, "docker.daemon") == 0)
			docker |= !absent;
		if (k && strcmp(k, "cri.runtime") == 0)
			cri |= !absent;
	}
	return !docker && !cri;
}

static void print_not_checked(const struct fm_facts *facts)
{
	bool first = true;
	if (no_runtime(facts)) {
		printf("\nnot checked:\n  containers: no container runtime found (no Docker socket or /var/lib/docker, "
		       "no CRI socket of containerd, k3s or CRI-O; --runtime-endpoint names one)\n");
		first = false;
	}
	for (size_t i = 0; i < fm_facts_count(facts); i++) {
		const cJSON *f = fm_facts_at(facts, i);
		bool cut = strcmp(cJSON_GetObjectItem(f, "kind")->valuestring, "check.incomplete") == 0;
		if (!cut && !fact_config_error(f))
			continue;
		if (first)
			printf("\nnot checked:\n");
		first = false;
		const cJSON *why = cJSON_GetObjectItemCaseSensitive(f, "reason");
		printf("  %s %s: %s\n", cut ? "source" : cJSON_GetObjectItem(f, "kind")->valuestring,
		       cJSON_GetObjectItem(f, "id")->valuestring,
		       cJSON_IsString(why) ? why->valuestring : "cannot be set up");
	}
}

/* One source of check's, run by fm_gather in a child of its own. */
struct gather_arg {
	const struct fm_source *src;
	const struct fm_discovery *d;
	const struct fm_opts *o;
	const struct fm_collect_opts *co;
};

static int gather_one(struct fm_loop *loop, struct fm_facts *facts, void *arg)
{
	const struct gather_arg *g = arg;
	return fm_source_collect(g->src, loop, g->d, g->o, g->co, facts);
}

/* Every source once. The servers (etcd, apiserver, Docker, the CRI) are asked side by
 * side, each in a child process, while the journal is read here; so with
 * every server silent check costs about one deadline, not one per server.
 * The board comes last: its clock check reuses the certificates the
 * apiserver source read. The overall deadline is 2.5 per-request deadlines,
 * at least 2.8 s (the apiserver's /livez may take 2.5 s), whatever the
 * servers do. */
static void gather_sources(struct fm_session *ss, const struct fm_opts *o, const struct fm_collect_opts *co)
{
	static const char *const servers[] = {"etcd", "apiserver", "docker", "cri"};
	enum { NSERVERS = sizeof(servers) / sizeof(servers[0]) };
	struct fm_gather_job jobs[NSERVERS];
	struct gather_arg args[NSERVERS];
	for (size_t k = 0; k < NSERVERS; k++) {
		args[k] = (struct gather_arg){fm_source_named(servers[k]), &ss->d, o, co};
		jobs[k] = (struct fm_gather_job){.name = servers[k], .fn = gather_one, .arg = &args[k]};
	}
	fm_gather_start(jobs, NSERVERS);
	fm_source_collect(fm_source_named("journal"), ss->loop, &ss->d, o, co, ss->facts);
	/* 2.5 per-request deadlines, and at least long enough for the
	 * apiserver's /livez (FM_APISERVER_HEALTH_MS) and what follows it */
	int cut = co->timeout_ms * 5 / 2;
	fm_gather_finish(jobs, NSERVERS, cut > FM_APISERVER_HEALTH_MS + 300 ? cut : FM_APISERVER_HEALTH_MS + 300, ss->facts);
	fm_source_collect(fm_source_named("hal"), ss->loop, &ss->d, o, co, ss->facts);
}

/* check: every source once, with short deadlines, then the diagnosis. */
int fm_check_cmd(const struct fm_opts *o)
{
	struct fm_session ss;
	if (fm_session_open(&ss, o) < 0)
		return EXIT_USAGE;
	struct fm_collect_opts co = {.timeout_ms = (int)o->timeout_ms, .tls_max = o->tls_max};
	gather_sources(&ss, o, &co);
	int status = 0;
	if (config_error(ss.facts))
		status = EXIT_USAGE;
	cJSON *diagnoses = fm_diagnose(ss.facts, (int64_t)time(NULL));
	if (!diagnoses) {
		fprintf(stderr, "fleetmedic-agent: out of memory\n");
		fm_session_close(&ss);
		return EXIT_USAGE;
	}
	if (status == 0 && fm_diagnose_critical(diagnoses))
		status = EXIT_FINDING;
	const char *node = ss.d.node_name[0] ? ss.d.node_name : "this node";
	if (o->json) {
		cJSON *out = cJSON_CreateObject();
		cJSON_AddStringToObject(out, "node", node);
		cJSON_AddItemToObject(out, "diagnoses", diagnoses);
		cJSON_AddItemToObject(out, "facts", fm_facts_json(ss.facts, ""));
		print_json(out);
	} else {
		print_report(node, diagnoses);
		cJSON_Delete(diagnoses);
		print_not_checked(ss.facts);
	}
	fm_session_close(&ss);
	return status;
}
