/* The sources as the commands and the daemon use them (fm_sources.h). */
#include "fm_sources.h"

#include "fm_apiserver.h"
#include "fm_certs.h"
#include "fm_cri.h"
#include "fm_docker.h"
#include "fm_etcd.h"
#include "fm_hal.h"
#include "fm_journal.h"
#include "fm_kmsg.h"
#include "fm_log.h"
#include "fm_rules.h"

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

/* An endpoint's origin "none: why" as the reason: why. */
static const char *without_none(const char *origin)
{
	return strncmp(origin, "none: ", 6) == 0 ? origin + 6 : origin;
}

static void *begin_etcd(struct fm_loop *loop, const struct fm_discovery *d, const struct fm_opts *o,
			const struct fm_collect_opts *co, struct fm_facts *facts, fm_collected_fn done, void *ctx)
{
	(void)o;
	if (!d->etcd.url[0]) {
		/* k3s with its default datastore (kine on SQLite) has no etcd:
		 * nothing to probe, and nothing wrong with that. On a node where
		 * no control plane was found, the person is to say where it is. */
		cJSON *f = cJSON_CreateObject();
		cJSON_AddStringToObject(f, "state", d->flavor == FM_FLAVOR_NONE ? "config" : "absent");
		cJSON_AddStringToObject(f, "reason", without_none(d->etcd.origin));
		fm_facts_drop(facts, "etcd.");
		fm_facts_put(facts, "etcd.endpoint", "none", f);
		done(ctx, 0);
		return NULL;
	}
	struct fm_etcd_collection *e =
		fm_etcd_collection_new(loop, &d->etcd, d->etcd_metrics_url, time(NULL), co, facts, done, ctx);
	if (!e)
		done(ctx, -ENOMEM);
	return e;
}

static void end_etcd(void *state)
{
	struct fm_etcd_collection *e = state;
	fm_etcd_collection_delete(&e);
}

/* The apiserver's collection, then the node's whole PKI and kubeconfigs:
 * what 6443 stands on. */
struct apiserver_begun {
	struct fm_apiserver_collection *k;
	const struct fm_discovery *d;
	struct fm_facts *facts;
	fm_collected_fn done;
	void *ctx;
};

static void apiserver_collected(void *ctx, int rc)
{
	struct apiserver_begun *b = ctx;
	fm_certs_put_node(b->facts, b->d, time(NULL));
	b->done(b->ctx, rc);
}

static void end_apiserver(void *state)
{
	struct apiserver_begun *b = state;
	if (!b)
		return;
	fm_apiserver_collection_delete(&b->k);
	free(b);
}

static void *begin_apiserver(struct fm_loop *loop, const struct fm_discovery *d, const struct fm_opts *o,
			     const struct fm_collect_opts *co, struct fm_facts *facts, fm_collected_fn done,
			     void *ctx)
{
	(void)o;
	struct apiserver_begun *b = calloc(1, sizeof(*b));
	if (!b) {
		done(ctx, -ENOMEM);
		return NULL;
	}
	*b = (struct apiserver_begun){.d = d, .facts = facts, .done = done, .ctx = ctx};
	if (!d->apiserver.url[0]) {
		cJSON *f = cJSON_CreateObject();
		cJSON_AddStringToObject(f, "state", "config");
		cJSON_AddStringToObject(f, "reason", without_none(d->apiserver.origin));
		fm_facts_drop(facts, "apiserver.");
		fm_facts_put(facts, "apiserver.endpoint", "none", f);
		apiserver_collected(b, 0);
		return b;
	}
	b->k = fm_apiserver_collection_new(loop, &d->apiserver, time(NULL), co, facts, apiserver_collected, b);
	if (!b->k) {
		free(b);
		done(ctx, -ENOMEM);
		return NULL;
	}
	return b;
}

/* The container runtime through the CRI: at --runtime-endpoint, else the
 * first runtime socket under --root; none is "absent", not a failure. */
static void end_cri(void *state)
{
	struct fm_cri_collection *k = state;
	fm_cri_collection_delete(&k);
}

static void *begin_cri(struct fm_loop *loop, const struct fm_discovery *d, const struct fm_opts *o,
		       const struct fm_collect_opts *co, struct fm_facts *facts, fm_collected_fn done, void *ctx)
{
	char endpoint[4200], origin[512];
	int rc = fm_cri_endpoint(o->runtime_endpoint, d->root, endpoint, sizeof(endpoint), origin, sizeof(origin));
	if (rc < 0) {
		cJSON *f = cJSON_CreateObject();
		cJSON_AddStringToObject(f, "state", rc == -ENOENT ? "absent" : "config");
		cJSON_AddStringToObject(f, "reason", origin);
		fm_facts_drop(facts, "cri.");
		fm_facts_put(facts, "cri.runtime", "none", f);
		done(ctx, 0);
		return NULL;
	}
	struct fm_cri_collection *k = fm_cri_collection_new(loop, endpoint, origin, co, facts, done, ctx);
	if (!k)
		done(ctx, -1);
	return k;
}

/* A begun collection waited for: the sources' blocking form (check,
 * probe). */
struct waited {
	int rc;
	bool done;
};

static void waited_done(void *ctx, int rc)
{
	struct waited *w = ctx;
	w->rc = rc;
	w->done = true;
}

int fm_source_collect(const struct fm_source *src, struct fm_loop *loop, const struct fm_discovery *d,
		      const struct fm_opts *o, const struct fm_collect_opts *co, struct fm_facts *facts)
{
	if (src->collect)
		return src->collect(loop, d, o, co, facts);
	struct waited w = {-1, false};
	void *state = src->begin(loop, d, o, co, facts, waited_done, &w);
	fm_loop_run_until(loop, &w.done);
	src->end(state);
	return w.rc;
}

/* The board: hal's readings, and the clock against the newest certificate. */
int fm_collect_hal(struct fm_loop *loop, const struct fm_discovery *d, const struct fm_opts *o,
			const struct fm_collect_opts *co, struct fm_facts *facts)
{
	(void)o;
	(void)loop;
	(void)co;
	return fm_hal_collect(d->root, d, time(NULL), facts);
}

/* The built-in rules plus those of --rules-dir; NULL after writing why. */
static struct fm_rules *load_rules(const struct fm_opts *o, char *err, size_t err_size)
{
	struct fm_rules *rs = fm_rules_new();
	if (!rs) {
		snprintf(err, err_size, "out of memory");
		return NULL;
	}
	if (fm_rules_load_default(rs, err, err_size) < 0 ||
	    (o->rules_dir && fm_rules_load_dir(rs, o->rules_dir, err, err_size) < 0))
		fm_rules_delete(&rs);
	return rs;
}

static uint64_t clock_us(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* CLOCK_REALTIME ago_us before now, at least 1 (0 means "the boot"). */
static uint64_t realtime_ago(uint64_t ago_us)
{
	uint64_t now = clock_us(CLOCK_REALTIME);
	return now > ago_us ? now - ago_us : 1;
}

static bool kmsg_wanted(const struct fm_opts *o)
{
	return !o->kmsg || strcmp(o->kmsg, "none") != 0;
}

/* probe journal: the journal's entries and the kernel log's records of the
 * last --since (1h) that match the rules. */
static int collect_journal(struct fm_loop *loop, const struct fm_discovery *d, const struct fm_opts *o,
			const struct fm_collect_opts *co, struct fm_facts *facts)
{
	char err[512];
	(void)loop;
	(void)d;
	(void)co;
	struct fm_rules *rs = load_rules(o, err, sizeof(err));
	if (!rs) {
		cJSON *f = cJSON_CreateObject();
		cJSON_AddStringToObject(f, "state", "config");
		cJSON_AddStringToObject(f, "reason", err);
		fm_facts_put(facts, "journal.source", "rules", f);
		return -EINVAL;
	}
	uint64_t since_us = (o->since_ms ? o->since_ms : 3600000) * 1000;
	struct fm_journal_opts jo = {.dir = o->journal_dir, .rules = rs,
				     .since_us = realtime_ago(since_us)};
	int rc = fm_journal_collect(&jo, facts);
	if (kmsg_wanted(o)) {
		uint64_t mono = clock_us(CLOCK_MONOTONIC);
		struct fm_kmsg_opts ko = {.path = o->kmsg ? o->kmsg : "/dev/kmsg", .rules = rs,
					  .from_start = true,
					  .since_mono_us = mono > since_us ? mono - since_us : 0};
		fm_kmsg_collect(&ko, facts);
	}
	fm_rules_delete(&rs);
	return rc;
}

struct journal_follow {
	struct fm_rules *rules;
	struct fm_journal *journal;
	struct fm_kmsg *kmsg;
};

static void stop_journal(void *state)
{
	struct journal_follow *jf = state;
	if (!jf)
		return;
	fm_kmsg_delete(&jf->kmsg);
	fm_journal_delete(&jf->journal);
	fm_rules_delete(&jf->rules);
	free(jf);
}

/* probe journal --follow: from the saved cursor (--state-dir), else from
 * --since ago, else from the start of the current boot. */
static void *start_journal(struct fm_loop *loop, const struct fm_discovery *d, const struct fm_opts *o,
			   struct fm_facts *facts, char *err, size_t err_size)
{
	(void)d;
	struct journal_follow *jf = calloc(1, sizeof(*jf));
	if (!jf || !(jf->rules = load_rules(o, err, err_size))) {
		stop_journal(jf);
		return NULL;
	}
	uint64_t save_ms = o->save_set ? o->save_ms : FM_SAVE_INTERVAL_MS;
	struct fm_journal_opts jo = {.dir = o->journal_dir,
				     .state_dir = o->state_dir,
				     .rules = jf->rules,
				     .since_us = o->since_ms ? realtime_ago(o->since_ms * 1000) : 0,
				     .save_ms = save_ms};
	if (!(jf->journal = fm_journal_new(loop, &jo, facts, err, err_size))) {
		stop_journal(jf);
		return NULL;
	}
	if (kmsg_wanted(o)) {
		struct fm_kmsg_opts ko = {.path = o->kmsg ? o->kmsg : "/dev/kmsg",
					  .state_dir = o->state_dir,
					  .rules = jf->rules,
					  .save_ms = save_ms};
		if (!(jf->kmsg = fm_kmsg_new(loop, &ko, facts, err, err_size))) {
			stop_journal(jf);
			return NULL;
		}
	}
	return jf;
}

/* Docker at --docker-host, $DOCKER_HOST, or the default socket under --root. */
/* Puts docker.daemon "absent" and returns true when this node runs no
 * Docker at all (containerd, k3s): not a runtime that is down. */
static bool docker_absent(const struct fm_discovery *d, const struct fm_opts *o, const char *host,
			  struct fm_facts *facts)
{
	if (!fm_docker_absent(o->docker_host, d->root))
		return false;
	cJSON *f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "state", "absent");
	cJSON_AddStringToObject(f, "reason", "no Docker socket and no /var/lib/docker: this node does not run Docker");
	fm_facts_put(facts, "docker.daemon", host, f);
	return true;
}

static int collect_docker(struct fm_loop *loop, const struct fm_discovery *d, const struct fm_opts *o,
			  const struct fm_collect_opts *co, struct fm_facts *facts)
{
	char host[600];
	if (fm_docker_host(host, sizeof(host), o->docker_host, d->root) < 0) {
		fm_facts_put(facts, "docker.daemon", "none", fm_probe_config_error(host));
		return -1;
	}
	if (docker_absent(d, o, host, facts))
		return 0;
	return fm_docker_collect(loop, host, co, facts);
}

/* start_docker's state on a node without Docker. */
static char no_docker;

static void *start_docker(struct fm_loop *loop, const struct fm_discovery *d, const struct fm_opts *o,
			  struct fm_facts *facts, char *err, size_t err_size)
{
	char host[600];
	if (fm_docker_host(host, sizeof(host), o->docker_host, d->root) < 0) {
		snprintf(err, err_size, "%s", host);
		return NULL;
	}
	/* No Docker on this node: nothing to watch (as check says). */
	if (docker_absent(d, o, host, facts))
		return &no_docker;
	struct fm_docker_opts dopts = {.host = host, .timeout_ms = (int)o->timeout_ms};
	return fm_docker_watch_new(loop, &dopts, facts, err, err_size);
}

static void stop_docker(void *state)
{
	if (state == &no_docker)
		return;
	struct fm_docker_watch *w = state;
	fm_docker_watch_delete(&w);
}



const struct fm_source fm_sources[FM_NSOURCES] = {
	{"etcd", NULL, begin_etcd, end_etcd, NULL, NULL},
	{"apiserver", NULL, begin_apiserver, end_apiserver, NULL, NULL},
	{"docker", collect_docker, NULL, NULL, start_docker, stop_docker},
	{"cri", NULL, begin_cri, end_cri, NULL, NULL},
	{"journal", collect_journal, NULL, NULL, start_journal, stop_journal},
	{"hal", fm_collect_hal, NULL, NULL, NULL, NULL},
};

/* probe --follow prints each change of the fact set as it happens: one JSON
 * object per line with --json ({"ms":…,"change":"put"|"drop","fact":{…}}),
 * else a line per change. */
/* What every command works with: the node as discovered, the fact set and
 * the loop. */


/* 0, or -1 after saying why (a configuration error: exit status 2). */
int fm_session_open(struct fm_session *ss, const struct fm_opts *o)
{
	struct fm_discover_opts dopts = {
		.root = o->root, .etcd_url = o->etcd_url, .etcd_ca = o->etcd_ca,
		.etcd_cert = o->etcd_cert, .etcd_key = o->etcd_key,
		.apiserver_url = o->apiserver_url, .kubeconfig = o->kubeconfig,
	};
	char err[512];
	memset(ss, 0, sizeof(*ss));
	if (fm_discover(&ss->d, &dopts, err, sizeof(err)) < 0) {
		fprintf(stderr, "fleetmedic-agent: %s\n", err);
		fm_discovery_free(&ss->d);
		return -1;
	}
	ss->facts = fm_facts_new();
	ss->loop = fm_loop_new();
	if (!ss->facts || !ss->loop) {
		fprintf(stderr, "fleetmedic-agent: out of memory\n");
		fm_loop_delete(&ss->loop);
		fm_facts_delete(&ss->facts);
		fm_discovery_free(&ss->d);
		return -1;
	}
	return 0;
}

void fm_session_close(struct fm_session *ss)
{
	fm_loop_delete(&ss->loop);
	fm_facts_delete(&ss->facts);
	fm_discovery_free(&ss->d);
}

const struct fm_source *fm_source_named(const char *name)
{
	for (size_t i = 0; i < FM_NSOURCES; i++)
		if (strcmp(fm_sources[i].name, name) == 0)
			return &fm_sources[i];
	return NULL;
}
