/* fleetmedic-agent run (fm_daemon.h). */
#include "fm_daemon.h"

#include "fm_coap.h"
#include "fm_conf.h"
#include "fm_core.h"
#include "fm_cri.h"
#include "fm_etcd_watch.h"
#include "fm_journal.h"
#include "fm_log.h"
#include "fm_queue.h"
#include "fm_report.h"
#include "fm_sources.h"
#include "fm_state.h"
#include "fm_triage.h"
#include "fm_uplink.h"

#include <systemd/sd-daemon.h>

#include <cjson/cJSON.h>

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* --- run -------------------------------------------------------------------- */

/* systemd's service manager: sd_notify(3) (READY=1, WATCHDOG=1,
 * STOPPING=1), and the watchdog interval it asks for (µs; 0: none). */
static void notify(const char *state)
{
	(void)sd_notify(0, state);
}

static uint64_t watchdog_usec(void)
{
	uint64_t usec = 0;
	return sd_watchdog_enabled(0, &usec) > 0 ? usec : 0;
}

/* The daemon's state: one loop, the live sources, the collected ones on a
 * timer, the diagnosis after each change of the facts, the uplink. */
struct agent {
	struct fm_session ss;
	struct fm_opts *o;
	const struct fm_opts *cli; /* the command line alone, for SIGHUP */
	struct fm_config_text cf; /* --config's text, which o points into */
	/* What SIGHUP may change and o points to (the file's text is not
	 * kept): the key file and the key (the controllers are o's own). */
	char psk_file[PATH_MAX];
	uint8_t key[FM_COAP_PSK_MAX];
	size_t key_len;
	const char *node;
	char node_buf[128];
	char board[64];
	uint64_t t0_ms;
	struct fm_collect_opts co;
	/* The decisions (when to collect, evaluate, resolve): fm_core. */
	struct fm_core *core;
	struct fm_queue *queue;
	struct fm_coap *coap;
	struct fm_uplink *uplink;
	struct fm_docker_policy policy;
	struct fm_triage_src triage;
	char docker_host[600];
	char cri_endpoint[4200]; /* the CRI runtime's ("" none): for its watch and /act/rm */
	void *live[FM_NSOURCES];
	/* The collection running: the servers asked as state machines on the
	 * loop (fm_sources' begin), each calling back when its last answer is
	 * in; finished before the loop next sleeps once none is pending. */
	struct round {
		bool running;
		bool scheduled; /* fm_core's (else one source alone, on its watch's word) */
		size_t only;	/* that source, when not scheduled */
		int pending;
		struct fm_facts *staging;
		void *state[FM_NSOURCES];
	} round;
	/* The watches' word (etcd's death, the CRI runtime's exits, ends and
	 * returns): their source collected alone at once, or again right
	 * after the round running when it is told (again[source]). */
	struct fm_etcd_watch *etcd_watch;
	struct fm_cri_watch *cri_watch;
	bool again[FM_NSOURCES];
	/* fm_core_tick at fm_core_next_ms: the next collection or the end of
	 * the earliest hold, whichever comes first. */
	struct fm_timer core_timer, watchdog_timer;
	struct fm_signal sigint, sigterm, sighup;
};


static cJSON *agent_active(void *arg)
{
	struct agent *a = arg;
	return fm_core_active(a->core);
}

/* How many diagnoses are raised, the worst severity (fm_report_severity's
 * scale) and, when WORST is given, the code of the first one that has it. */
static int count_active(struct agent *a, int *w, char *worst, size_t worst_len)
{
	cJSON *act = fm_core_active(a->core);
	int n = 0;
	const cJSON *d;
	*w = 0;
	if (worst && worst_len)
		worst[0] = '\0';
	cJSON_ArrayForEach(d, act)
	{
		int sev = fm_report_severity(cJSON_GetStringValue(cJSON_GetObjectItem(d, "severity")));
		if ((sev > *w || n == 0) && worst && worst_len) {
			const char *c = cJSON_GetStringValue(cJSON_GetObjectItem(d, "code"));
			snprintf(worst, worst_len, "%s", c ? c : "?");
		}
		*w = sev > *w ? sev : *w;
		n++;
	}
	cJSON_Delete(act);
	return n;
}

static void agent_status(void *arg, cJSON *o)
{
	struct agent *a = arg;
	int w;
	int n = count_active(a, &w, NULL, 0);
	cJSON_AddStringToObject(o, "node", a->node);
	cJSON_AddStringToObject(o, "version", FM_VERSION);
	cJSON_AddNumberToObject(o, "uptime_s", (double)((fm_now_ms() - a->t0_ms) / 1000));
	cJSON_AddNumberToObject(o, "q", fm_queue_last_seq(a->queue));
	cJSON_AddNumberToObject(o, "queued", (double)fm_queue_count(a->queue));
	cJSON_AddNumberToObject(o, "n", n);
	cJSON_AddNumberToObject(o, "w", w);
	cJSON_AddStringToObject(o, "controller", fm_uplink_controller(a->uplink));
	cJSON_AddBoolToObject(o, "insecure", a->o->insecure);
}

/* The state files put aside at start (fm_state_quarantine): one fact each,
 * keyed DIR/NAME, "corrupt" while the file kept aside is still there. So
 * state-corrupt is raised once per file and stands for the life of this
 * process, until somebody who has looked at the file removes it (then it
 * resolves after the hold); a restart of the agent, which starts clean,
 * resolves it too. One that could not be moved aside stands for the
 * process's life. */
static void put_corrupt_facts(struct fm_facts *facts)
{
	struct fm_state_bad b;
	for (size_t i = 0; fm_state_bad_at(i, &b); i++) {
		char id[PATH_MAX + 160], kept[PATH_MAX + 200];
		struct stat st;
		snprintf(id, sizeof(id), "%s/%s", b.dir, b.name);
		snprintf(kept, sizeof(kept), "%s/%s", b.dir, b.kept);
		if (b.kept[0] && lstat(kept, &st) < 0) {
			fm_facts_remove(facts, "agent.state", id);
			continue;
		}
		cJSON *f = cJSON_CreateObject();
		cJSON_AddStringToObject(f, "state", "corrupt");
		cJSON_AddStringToObject(f, "path", b.dir);
		cJSON_AddStringToObject(f, "file", b.name);
		cJSON_AddStringToObject(f, "kept", b.kept);
		cJSON_AddStringToObject(f, "reason", b.why);
		cJSON_AddNumberToObject(f, "at", (double)b.at);
		fm_facts_put(facts, "agent.state", id, f);
	}
}

/* The state dir's writes (fm_state polled): a fact once one failed,
 * "unwritable" while they fail, "ok" again after one worked; and the files
 * put aside. */
static void put_state_fact(void *arg, struct fm_facts *facts)
{
	(void)arg;
	struct fm_state_status st;
	put_corrupt_facts(facts);
	fm_state_status(&st);
	if (!st.failed)
		return;
	cJSON *f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "state", st.failing ? "unwritable" : "ok");
	if (st.failing) {
		char dev[64], reason[PATH_MAX + 160];
		if (fm_state_device(st.dir, dev, sizeof(dev)) < 0)
			snprintf(dev, sizeof(dev), "unknown");
		if (st.err == -ENOSPC)
			snprintf(reason, sizeof(reason), "no space left on %s (device %s)", st.dir, dev);
		else
			snprintf(reason, sizeof(reason), "cannot write in %s (device %s): %s", st.dir, dev,
				 strerror(-st.err));
		cJSON_AddStringToObject(f, "reason", reason);
		cJSON_AddStringToObject(f, "device", dev);
	}
	cJSON_AddStringToObject(f, "path", st.dir);
	cJSON_AddNumberToObject(f, "failed_writes", (double)st.failed);
	cJSON_AddNumberToObject(f, "failing_writes", (double)st.failing);
	cJSON_AddStringToObject(f, "last_file", st.name);
	cJSON_AddStringToObject(f, "last_error", strerror(-st.err));
	cJSON_AddNumberToObject(f, "last_errno", -st.err);
	fm_facts_put(facts, "agent.state", st.dir, f);
}

/* The one line `systemctl status` shows (sd_notify STATUS=): how many
 * diagnoses are raised and the worst, whether the controller is reached,
 * what waits in the queue. Sent when it changes: after each change of the
 * diagnoses and at each watchdog tick (the uplink's state moves alone). */
static void say_status(struct agent *a)
{
	static char last[256];
	char line[256];
	char worst[64];
	int w;
	int n = count_active(a, &w, worst, sizeof(worst));
	static const char *const sev_name[] = {"info", "info", "warning", "critical"};
	int len = n ? snprintf(line, sizeof(line), "STATUS=%d diagnos%s, worst %s %s", n, n == 1 ? "is" : "es",
			       sev_name[w >= 0 && w <= 3 ? w : 0], worst)
		    : snprintf(line, sizeof(line), "STATUS=healthy: no diagnosis");
	size_t queued = fm_queue_count(a->queue);
	if (len > 0 && (size_t)len < sizeof(line))
		snprintf(line + len, sizeof(line) - (size_t)len, "; controller %s %s; %zu queued",
			 fm_uplink_controller(a->uplink),
			 fm_uplink_ready(a->uplink) ? "reached" : "not reached", queued);
	if (strcmp(line, last) == 0)
		return;
	memcpy(last, line, sizeof(last));
	notify(line);
}

/* What changed in the diagnoses: to the queue and the controller. */
static void on_changes(void *arg, const cJSON *changes)
{
	struct agent *a = arg;
	cJSON *items = cJSON_CreateArray();
	const cJSON *ch;
	cJSON_ArrayForEach(ch, changes)
	{
		cJSON *it = fm_report_item(ch);
		if (it && items)
			cJSON_AddItemToArray(items, it);
		else
			cJSON_Delete(it);
		fm_notice("diagnosis %s: %s %s", cJSON_GetStringValue(cJSON_GetObjectItem(ch, "change")),
			  cJSON_GetStringValue(cJSON_GetObjectItem(ch, "code")),
			  cJSON_GetStringValue(cJSON_GetObjectItem(ch, "summary")));
	}
	cJSON *act = fm_core_active(a->core);
	fm_report_mark_absorbing(items, act);
	fm_queue_push(a->queue, items, (int64_t)time(NULL));
	fm_queue_set_reported(a->queue, act);
	cJSON_Delete(act);
	fm_uplink_kick(a->uplink);
	say_status(a);
}

/* One timer for what fm_core has due next; none while etcd alone is
 * collected (fm_core's collection would begin beside it: it waits for
 * that round to end, which rearms). */
static void rearm(struct agent *a)
{
	uint64_t at = fm_core_next_ms(a->core), now = fm_now_ms();
	if (at && !(a->round.running && !a->round.scheduled))
		fm_timer_arm(&a->core_timer, at > now ? at - now : 1, 0);
	else
		fm_timer_disarm(&a->core_timer);
}

static void on_fact(void *arg, const cJSON *fact, bool dropped)
{
	(void)fact;
	(void)dropped;
	struct agent *a = arg;
	fm_core_fact_changed(a->core, fm_now_ms());
}

/* What a collection writes its facts into, and what it restates when it
 * commits them: the kinds of the collected sources (etcd, the apiserver
 * with the node's and pods' objects and the certificates, the CRI runtime,
 * the board). */
static const char *const collected_kinds[] = {"etcd.", "apiserver.", "node", "pod", "cert", "cri.", "hal.", NULL};
/* What a source collected alone restates: its own kinds. */
static const char *const *kinds_of(size_t i)
{
	static const char *const etcd[] = {"etcd.", NULL}, *const cri[] = {"cri.", NULL};
	return strcmp(fm_sources[i].name, "cri") == 0 ? cri : etcd;
}

static size_t source_index(const char *name)
{
	return (size_t)(fm_source_named(name) - fm_sources);
}

/* A begun source's last answer is in (possibly inside its begin). */
static void source_collected(void *arg, int rc)
{
	(void)rc;
	struct agent *a = arg;
	a->round.pending--;
}

/* Begins source i of the round; its facts go to the round's staging. */
static void round_begin(struct agent *a, size_t i)
{
	a->round.pending++;
	a->round.state[i] = fm_sources[i].begin(a->ss.loop, &a->ss.d, a->o, &a->co, a->round.staging,
						source_collected, a);
}

/* A round: the servers begun (one alone when its watch spoke outside
 * one: only), the board read at once; it ends before the loop sleeps once
 * every server has answered (round_end). */
static void round_start(struct agent *a, struct fm_facts *staging, bool scheduled, size_t only)
{
	a->round = (struct round){.running = true, .scheduled = scheduled, .only = only, .staging = staging,
				  .pending = 1};
	for (size_t i = 0; i < FM_NSOURCES; i++) {
		if (fm_sources[i].begin && (scheduled || i == only)) {
			a->again[i] = false;
			round_begin(a, i);
		} else if (scheduled && fm_sources[i].collect && !fm_sources[i].start) {
			fm_sources[i].collect(a->ss.loop, &a->ss.d, a->o, &a->co, staging);
		}
	}
	a->round.pending--; /* every begin has returned */
}

/* Begins again, into the round's staging, the sources of the round whose
 * watch spoke while they were asked (that answer may predate what the
 * watch saw). Whether any was. */
static bool round_again(struct agent *a)
{
	bool any = false;
	a->round.pending = 1;
	for (size_t i = 0; i < FM_NSOURCES; i++)
		if (a->again[i] && fm_sources[i].begin && (a->round.scheduled || i == a->round.only)) {
			a->again[i] = false;
			round_begin(a, i);
			any = true;
		}
	a->round.pending--;
	return any;
}

/* A source its watch asked for outside a round: collected alone now. */
static void round_alone(struct agent *a, size_t i)
{
	struct fm_facts *staging = fm_facts_new();
	if (staging)
		round_start(a, staging, false, i);
}

static void round_free(struct agent *a)
{
	for (size_t i = 0; i < FM_NSOURCES; i++)
		if (a->round.state[i]) {
			fm_sources[i].end(a->round.state[i]);
			a->round.state[i] = NULL;
		}
}

/* etcd answered a collection while its watch waits out a back-off (it came
 * back before the watch tried again): the watch now, or its next death
 * would only be found by the next collection. */
static void watch_again(struct agent *a)
{
	const cJSON *ep = fm_facts_get(a->ss.facts, "etcd.endpoint", a->ss.d.etcd.url);
	const char *st = cJSON_GetStringValue(cJSON_GetObjectItem(ep, "state"));
	if (a->etcd_watch && st && strcmp(st, "ok") == 0 && !fm_etcd_watch_up(a->etcd_watch))
		fm_etcd_watch_now(a->etcd_watch);
}

/* Every server of the round answered: those whose watch spoke meanwhile
 * again, else the staging committed whole; then a source asked for
 * during the round (not in it) alone. */
static void round_end(struct agent *a)
{
	round_free(a);
	if (round_again(a))
		return;
	a->round.running = false;
	fm_debug("run: collected %s", a->round.scheduled ? "every source" : fm_sources[a->round.only].name);
	if (a->round.scheduled) {
		fm_core_collected(a->core, a->round.staging, collected_kinds, fm_now_ms());
#ifdef __GLIBC__
		/* The round's TLS sessions, answers and staging facts are freed
		 * by now: give their pages back to the kernel, not only the
		 * heap's top (a board's budget is 1 MB of Private_Dirty). */
		malloc_trim(0);
#endif
	} else {
		fm_core_commit(a->core, a->round.staging, kinds_of(a->round.only), fm_now_ms());
		fm_facts_delete(&a->round.staging);
	}
	a->round.staging = NULL;
	watch_again(a);
	for (size_t i = 0; i < FM_NSOURCES && !a->round.running; i++)
		if (a->again[i])
			round_alone(a, i);
}

/* Once per loop pass: a round whose servers all answered ends, and what
 * the callbacks of the pass changed (a batch of journal lines, a
 * container's events, a round's commit) is evaluated once. */
static void on_before_sleep(void *arg)
{
	struct agent *a = arg;
	if (a->round.running && a->round.pending == 0)
		round_end(a);
	fm_core_before_sleep(a->core, fm_now_ms());
	rearm(a);
}

/* fm_core's collect hook: etcd, the apiserver and the board, into
 * staging; nothing waits. */
static void on_collect_due(void *arg, struct fm_facts *staging)
{
	round_start(arg, staging, true, 0);
}

static void on_core_timer(struct fm_timer *t)
{
	struct agent *a = container_of(t, struct agent, core_timer);
	if (a->round.running && !a->round.scheduled)
		return; /* rearmed when that round ends */
	fm_core_tick(a->core, fm_now_ms());
	rearm(a);
}

/* A watch's word about source i: collected alone now, or again right
 * after the round running (the collections at the full rate meanwhile). */
static void source_again(struct agent *a, size_t i)
{
	fm_core_fact_changed(a->core, fm_now_ms());
	if (a->round.running) {
		a->again[i] = true;
		return;
	}
	round_alone(a, i);
	rearm(a);
}

/* The etcd watch stream ended (etcd died or closed on us) or came back:
 * etcd is collected now rather than at the next --collect-interval, and
 * diagnosed at once. A refused connection is direct evidence, and
 * fm_diag_track raises at first sight (its hold only delays resolving), so
 * etcd-unreachable reaches the controller within one round trip of the
 * stream's end. */
static void on_etcd_change(void *arg, bool up)
{
	fm_info("run: etcd watch %s: collecting etcd now", up ? "established again" : "ended");
	source_again(arg, source_index("etcd"));
}

/* The CRI runtime told of a container's exit (at once, and again with the
 * CRI agreeing: fm_cri.h), or went
 * away, or answers again: the runtime collected alone now, not at the
 * next --collect-interval (the CRI's facts come from its lists). */
static void on_cri_event(void *arg, const char *what)
{
	fm_info("run: the container runtime: %s: collecting it now", what);
	source_again(arg, source_index("cri"));
}

static void on_watchdog(struct fm_timer *t)
{
	notify("WATCHDOG=1");
	say_status(container_of(t, struct agent, watchdog_timer));
}

static void on_stop(struct fm_signal *s, int signo)
{
	fm_notice("run: signal %d: stopping (the queue is on disk)", signo);
	notify("STOPPING=1");
	fm_loop_stop(s->ev.loop);
}

static bool same_str(const char *x, const char *y)
{
	return x == y || (x && y && strcmp(x, y) == 0);
}

/* The defaults of run's options, given or not: so the running options and
 * a file read again compare alike. */
static void run_defaults(struct fm_opts *o)
{
	if (!o->state_dir)
		o->state_dir = "/var/lib/fleetmedic";
	if (!o->timeout_ms)
		o->timeout_ms = 1000;
	if (!o->heartbeat_ms)
		o->heartbeat_ms = 120000;
	/* Stretching is on by default only: a --collect-interval set asks for
	 * that rate. */
	if (!o->collect_idle_ms)
		o->collect_idle_ms = o->collect_ms ? o->collect_ms : 60000;
	if (!o->collect_ms)
		o->collect_ms = 10000;
	if (o->collect_idle_ms < o->collect_ms)
		o->collect_idle_ms = o->collect_ms;
}

/* Logs each key SIGHUP cannot apply that the file changed: it takes
 * effect at restart. */
static void say_restart_keys(const char *path, const struct fm_opts *now, const struct fm_opts *fresh)
{
	const struct {
		const char *key, *was, *is;
	} k[] = {
		{"root", now->root, fresh->root}, {"etcd", now->etcd_url, fresh->etcd_url},
		{"etcd-ca", now->etcd_ca, fresh->etcd_ca}, {"etcd-cert", now->etcd_cert, fresh->etcd_cert},
		{"etcd-key", now->etcd_key, fresh->etcd_key}, {"apiserver", now->apiserver_url, fresh->apiserver_url},
		{"kubeconfig", now->kubeconfig, fresh->kubeconfig}, {"docker-host", now->docker_host, fresh->docker_host},
		{"journal-dir", now->journal_dir, fresh->journal_dir}, {"kmsg", now->kmsg, fresh->kmsg},
		{"since", now->since, fresh->since}, {"state-dir", now->state_dir, fresh->state_dir},
		{"rules-dir", now->rules_dir, fresh->rules_dir}, {"listen", now->listen, fresh->listen},
		{"psk-identity", now->psk_identity, fresh->psk_identity},
	};
	for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++)
		if (!same_str(k[i].was, k[i].is))
			fm_warn("run: SIGHUP: %s changed in %s: it takes effect when the agent restarts", k[i].key,
				path);
	if (now->save_set != fresh->save_set || now->save_ms != fresh->save_ms)
		fm_warn("run: SIGHUP: save-interval changed in %s: it takes effect when the agent restarts", path);
}

/* The uplink's options from o (borrowed: o's controllers, key). */
static struct fm_uplink_opts uplink_opts(const struct agent *a, const struct fm_opts *o, const uint8_t *key,
					 size_t key_len)
{
	struct fm_uplink_opts uo = {
		.n_controllers = o->n_controllers, .identity = o->psk_identity ? o->psk_identity : a->node,
		.key = key, .key_len = key_len, .insecure = o->insecure, .board = a->board,
		.heartbeat_s = (uint32_t)(o->heartbeat_ms / 1000), .ack_timeout_ms = o->ack_timeout_ms,
		.max_retransmit = o->max_retransmit, .retry_min_ms = o->ack_timeout_ms ? o->ack_timeout_ms / 2 : 0,
		.retry_max_ms = o->retry_max_ms,
	};
	for (size_t i = 0; i < o->n_controllers && i < FM_UPLINK_CONTROLLERS_MAX; i++)
		uo.controllers[i] = o->controllers[i];
	return uo;
}

/* Whether the two lists of controllers are the same, in the same order. */
static bool same_controllers(const struct fm_opts *x, const struct fm_opts *y)
{
	if (x->n_controllers != y->n_controllers)
		return false;
	for (size_t i = 0; i < x->n_controllers; i++)
		if (strcmp(x->controllers[i], y->controllers[i]) != 0)
			return false;
	return true;
}

/* The controllers as one line, "A, B" (for the log). */
static const char *controller_list(const struct fm_opts *o, char *buf, size_t size)
{
	size_t n = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < o->n_controllers && n < size; i++) {
		int w = snprintf(buf + n, size - n, "%s%s", i ? ", " : "", o->controllers[i]);
		if (w < 0)
			break;
		n += (size_t)w;
	}
	return buf;
}

/* The controllers' addresses and the key as o gives them: the key into
 * key. Every address is checked (plain CoAP only with --insecure); the key
 * is read when one of them is DTLS, or for --listen. 0, or -1 with err
 * saying why. */
static int controller_key(const struct fm_opts *o, uint8_t *key, size_t *key_len, char *err, size_t err_size)
{
	struct fm_coap_uri uri;
	bool secure = false;
	*key_len = 0;
	if (!o->n_controllers) {
		snprintf(err, err_size, "run needs --controller coaps://HOST[:PORT]");
		return -1;
	}
	for (size_t i = 0; i < o->n_controllers; i++) {
		if (fm_coap_parse_uri(o->controllers[i], &uri, err, err_size) < 0)
			return -1;
		if (!uri.secure && !o->insecure) {
			snprintf(err, err_size, "%s is plain CoAP: give --insecure to allow it", o->controllers[i]);
			return -1;
		}
		secure = secure || uri.secure;
	}
	if (!secure && !o->listen)
		return 0;
	if (!o->psk_file) {
		snprintf(err, err_size, "DTLS-PSK needs --psk-file FILE (the key in hex)");
		return -1;
	}
	return fm_coap_read_psk(o->psk_file, key, FM_COAP_PSK_MAX, key_len, err, err_size) < 0 ? -1 : 0;
}

/* SIGHUP: the configuration file again, applied where that can be done
 * safely at runtime (see --help), or refused whole (its line logged) with
 * the running configuration kept. */
static void on_hup(struct fm_signal *s, int signo)
{
	(void)signo;
	struct agent *a = container_of(s, struct agent, sighup);
	struct fm_opts *o = a->o;
	if (!o->config) {
		fm_notice("run: SIGHUP: no --config to read again");
		return;
	}
	/* The command line again, then the file: a key the file no longer
	 * has goes back to its default; the command line still wins. */
	struct fm_opts fresh = *a->cli;
	struct fm_config_text cf;
	char err[600], list[FM_CONTROLLERS_MAX * (FM_CONTROLLER_URL_MAX + 2)];
	uint8_t key[FM_COAP_PSK_MAX];
	size_t key_len = 0;
	if (fm_read_config(o->config, &fresh, &cf, err, sizeof(err)) < 0) {
		fm_err("run: SIGHUP: %s; the running configuration stays", err);
		return;
	}
	run_defaults(&fresh);
	if (controller_key(&fresh, key, &key_len, err, sizeof(err)) < 0) {
		fm_err("run: SIGHUP: %s: %s; the running configuration stays", o->config, err);
		goto out_free;
	}
	if (fresh.psk_file && strlen(fresh.psk_file) >= sizeof(a->psk_file)) {
		fm_err("run: SIGHUP: %s: psk-file too long; the running configuration stays", o->config);
		goto out_free;
	}
	say_restart_keys(o->config, o, &fresh);

	/* The uplink anew when anything it was made with changed; the queue
	 * stays, so nothing queued is lost or sent twice. */
	bool relink = !same_controllers(&fresh, o) || fresh.insecure != o->insecure ||
		      key_len != a->key_len || memcmp(key, a->key, key_len) != 0 ||
		      fresh.ack_timeout_ms != o->ack_timeout_ms || fresh.max_retransmit != o->max_retransmit ||
		      fresh.retry_max_ms != o->retry_max_ms;
	if (relink) {
		struct fm_uplink_opts uo = uplink_opts(a, &fresh, key, key_len);
		fm_uplink_delete(&a->uplink);
		a->uplink = fm_uplink_new(a->ss.loop, a->coap, &uo, a->queue, agent_active, a, err, sizeof(err));
		if (!a->uplink) {
			/* Checked above, so only memory: the old one back. */
			fm_err("run: SIGHUP: %s; the controllers stay %s", err, controller_list(o, list, sizeof(list)));
			uo = uplink_opts(a, o, a->key, a->key_len);
			a->uplink = fm_uplink_new(a->ss.loop, a->coap, &uo, a->queue, agent_active, a, err, sizeof(err));
			a->triage.uplink = a->uplink;
			if (!a->uplink) {
				fm_err("run: SIGHUP: no uplink (%s): stopping", err);
				fm_loop_stop(a->ss.loop);
			}
			goto out_free;
		}
		a->triage.uplink = a->uplink;
		memcpy(o->controllers, fresh.controllers, sizeof(o->controllers));
		o->n_controllers = fresh.n_controllers;
		snprintf(a->psk_file, sizeof(a->psk_file), "%s", fresh.psk_file ? fresh.psk_file : "");
		o->psk_file = fresh.psk_file ? a->psk_file : NULL;
		memcpy(a->key, key, key_len);
		a->key_len = key_len;
		o->insecure = fresh.insecure;
		o->ack_timeout_ms = fresh.ack_timeout_ms;
		o->max_retransmit = fresh.max_retransmit;
		o->retry_max_ms = fresh.retry_max_ms;
	} else {
		fm_uplink_set_heartbeat(a->uplink, (uint32_t)(fresh.heartbeat_ms / 1000));
	}
	o->heartbeat_ms = fresh.heartbeat_ms;
	a->policy.allow_remove = o->allow_rm = fresh.allow_rm;
	o->hold_ms = fresh.hold_ms;
	o->collect_ms = fresh.collect_ms;
	o->collect_idle_ms = fresh.collect_idle_ms;
	fm_core_set_opts(a->core, &(struct fm_core_opts){o->collect_ms, o->collect_idle_ms, o->hold_ms}, fm_now_ms());
	rearm(a);
	o->timeout_ms = fresh.timeout_ms;
	o->tls_max = fresh.tls_max;
	a->co.timeout_ms = (int)o->timeout_ms;
	a->co.tls_max = o->tls_max;
	if (fresh.log_level != o->log_level)
		fm_log_set_level(fresh.log_level ? (enum fm_log_level)fresh.log_level
				 : getenv("FLEETMEDIC_DEBUG") ? FM_LOG_DEBUG : FM_LOG_NOTICE);
	o->log_level = fresh.log_level;
	fm_notice("run: SIGHUP: %s applied: controller %s%s, heartbeat %llus, actions %s, hold %llums, "
		  "collect-interval %llums, timeout %llums",
		  o->config, controller_list(o, list, sizeof(list)), relink ? " (new session)" : "",
		  (unsigned long long)(o->heartbeat_ms / 1000), o->allow_rm ? "rm" : "none",
		  (unsigned long long)o->hold_ms, (unsigned long long)o->collect_ms,
		  (unsigned long long)o->timeout_ms);
out_free:
	explicit_bzero(key, sizeof(key));
	/* Every string taken over was copied: the text goes. */
	free(cf.text);
}

/* The key of --listen's endpoint: this node's own identity only. */
static size_t own_key(void *arg, const uint8_t *identity, size_t id_len, uint8_t *key)
{
	const struct agent *a = arg;
	size_t n = strlen(a->o->psk_identity ? a->o->psk_identity : a->node);
	if (id_len != n || memcmp(identity, a->o->psk_identity ? a->o->psk_identity : a->node, n) != 0) {
		fm_warn("listen: DTLS-PSK identity '%.*s' refused (only this node's own)", (int)(id_len > 64 ? 64 : id_len),
			(const char *)identity);
		return 0;
	}
	/* the node's key as the uplink holds it: what SIGHUP read last */
	if (!a->key_len)
		fm_err("listen: no key (--psk-file) to answer with");
	memcpy(key, a->key, a->key_len);
	return a->key_len;
}

static void agent_close(struct agent *a)
{
	/* A round stopped midway: what it gathered is not the node's state
	 * (fm_core_delete frees a scheduled round's staging). */
	round_free(a);
	if (a->round.running && !a->round.scheduled)
		fm_facts_delete(&a->round.staging);
	for (size_t i = 0; i < FM_NSOURCES; i++)
		if (a->live[i])
			fm_sources[i].stop(a->live[i]);
	fm_etcd_watch_delete(&a->etcd_watch);
	fm_cri_watch_delete(&a->cri_watch);
	if (a->ss.loop)
		fm_loop_before_sleep(a->ss.loop, NULL, NULL);
	fm_facts_observe(a->ss.facts, NULL, NULL);
	fm_uplink_delete(&a->uplink);
	fm_coap_delete(&a->coap);
	fm_timer_close(&a->core_timer);
	fm_timer_close(&a->watchdog_timer);
	/* A second SIGTERM (to the process and to its group) may be pending:
	 * the agent is stopping anyway, so it must not kill it once the
	 * signalfd's mask is lifted. */
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	fm_signal_close(&a->sigint);
	fm_signal_close(&a->sigterm);
	fm_signal_close(&a->sighup);
	fm_queue_delete(&a->queue);
	fm_core_delete(&a->core);
	fm_session_close(&a->ss);
}

/* Whether the options point a live source somewhere (run): a directory,
 * a device or a host given, not found by default. */
static bool source_pointed(const char *source, const struct fm_opts *o)
{
	if (strcmp(source, "journal") == 0)
		return o->rules_dir || o->journal_dir || (o->kmsg && strcmp(o->kmsg, "none") != 0);
	return strcmp(source, "docker") == 0 && o->docker_host;
}

/* The node's name, the controller's key, the queue, fm_core, the signals
 * and timers. 0, or -1 after saying why. */
static int agent_open(struct agent *a, struct fm_opts *o)
{
	char err[600];
	a->t0_ms = fm_now_ms();
	if (fm_session_open(&a->ss, o) < 0)
		return -1;
	a->node = a->ss.d.node_name[0] ? a->ss.d.node_name : NULL;
	if (!a->node) {
		if (gethostname(a->node_buf, sizeof(a->node_buf) - 1) < 0 || !a->node_buf[0])
			snprintf(a->node_buf, sizeof(a->node_buf), "unknown");
		a->node = a->node_buf;
	}
	const char *identity = o->psk_identity ? o->psk_identity : a->node;
	if (!fm_node_name_ok(identity, strlen(identity))) {
		fprintf(stderr, "fleetmedic-agent: '%s' is not a node name the controller takes (%s): give --psk-identity NODE\n",
			identity, FM_NODE_NAME_RULE);
		return -1;
	}
	if (controller_key(o, a->key, &a->key_len, err, sizeof(err)) < 0) {
		fprintf(stderr, "fleetmedic-agent: %s\n", err);
		return -1;
	}
	a->co = (struct fm_collect_opts){.timeout_ms = (int)o->timeout_ms, .tls_max = o->tls_max};
	/* The only state trouble that stops run: a state dir that cannot be
	 * one (a file, no permission). A damaged file in it is put aside and
	 * the agent runs on (state-corrupt); a full or read-only one is
	 * reported (state-unwritable). */
	int rc = fm_state_dir_usable(o->state_dir);
	if (rc < 0) {
		fprintf(stderr, "fleetmedic-agent: --state-dir %s: %s\n", o->state_dir, strerror(-rc));
		return -1;
	}
	if (!(a->queue = fm_queue_open(o->state_dir, 0, err, sizeof(err)))) {
		fprintf(stderr, "fleetmedic-agent: %s\n", err);
		return -1;
	}
	const struct fm_core_opts copts = {o->collect_ms, o->collect_idle_ms, o->hold_ms};
	const struct fm_core_hooks hooks = {.arg = a, .collect = on_collect_due, .changes = on_changes,
					    .prepare = put_state_fact};
	if (!(a->core = fm_core_new(a->ss.facts, &copts, &hooks, fm_now_ms())) ||
	    fm_core_seed(a->core, fm_queue_reported(a->queue), fm_now_ms()) < 0) {
		fprintf(stderr, "fleetmedic-agent: out of memory\n");
		return -1;
	}
	if (fm_signal_init(a->ss.loop, &a->sigint, SIGINT, on_stop) < 0 ||
	    fm_signal_init(a->ss.loop, &a->sigterm, SIGTERM, on_stop) < 0 ||
	    fm_signal_init(a->ss.loop, &a->sighup, SIGHUP, on_hup) < 0 ||
	    fm_timer_init(a->ss.loop, &a->core_timer, on_core_timer) < 0 ||
	    fm_timer_init(a->ss.loop, &a->watchdog_timer, on_watchdog) < 0) {
		fprintf(stderr, "fleetmedic-agent: cannot set up the loop: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

/* The live sources keep their facts up to date from their events. One
 * the options point at (a directory, a device, a host given) that cannot
 * start is a configuration error; one found by default is logged and left
 * out. Then the board: its id goes in every report. 0 or -1. */
static int agent_sources(struct agent *a, const struct fm_opts *o)
{
	char err[600];
	for (size_t i = 0; i < FM_NSOURCES; i++) {
		if (!fm_sources[i].start)
			continue;
		if ((a->live[i] = fm_sources[i].start(a->ss.loop, &a->ss.d, o, a->ss.facts, err, sizeof(err))))
			continue;
		if (source_pointed(fm_sources[i].name, o)) {
			fprintf(stderr, "fleetmedic-agent: %s: %s\n", fm_sources[i].name, err);
			return -1;
		}
		fm_warn("run: %s not followed: %s", fm_sources[i].name, err);
	}
	fm_collect_hal(a->ss.loop, &a->ss.d, o, &a->co, a->ss.facts);
	const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(fm_facts_get(a->ss.facts, "hal.board", "board"),
								  "board_id"));
	snprintf(a->board, sizeof(a->board), "%s", id ? id : "");
	return 0;
}

/* libcoap, the uplink to the controller, the triage resources (and their
 * --listen). 0 or -1. */
static int agent_uplink(struct agent *a, const struct fm_opts *o)
{
	char err[600], listen_host[256];
	uint16_t listen_port = 0;
	if (o->listen && fm_coap_parse_hostport(o->listen, listen_host, sizeof(listen_host), &listen_port, err,
						sizeof(err)) < 0) {
		fprintf(stderr, "fleetmedic-agent: --listen %s\n", err);
		return -1;
	}
	if (!(a->coap = fm_coap_new(a->ss.loop))) {
		fprintf(stderr, "fleetmedic-agent: cannot set up libcoap: %s\n", strerror(errno));
		return -1;
	}
	if (fm_docker_host(a->docker_host, sizeof(a->docker_host), o->docker_host, a->ss.d.root) < 0)
		a->docker_host[0] = '\0';
	char origin[512];
	if (fm_cri_endpoint(o->runtime_endpoint, a->ss.d.root, a->cri_endpoint, sizeof(a->cri_endpoint), origin,
			    sizeof(origin)) < 0)
		a->cri_endpoint[0] = '\0';
	a->policy.allow_remove = o->allow_rm;
	struct fm_uplink_opts uo = uplink_opts(a, o, a->key, a->key_len);
	if (!(a->uplink = fm_uplink_new(a->ss.loop, a->coap, &uo, a->queue, agent_active, a, err, sizeof(err)))) {
		fprintf(stderr, "fleetmedic-agent: %s\n", err);
		return -1;
	}
	a->triage = (struct fm_triage_src){.facts = a->ss.facts, .journal_dir = o->journal_dir,
					   .docker_host = a->docker_host, .cri_endpoint = a->cri_endpoint,
					   .policy = &a->policy, .uplink = a->uplink,
					   .diagnoses = agent_active, .status = agent_status, .arg = a};
	if (fm_triage_register(a->coap, &a->triage) < 0) {
		fprintf(stderr, "fleetmedic-agent: out of memory\n");
		return -1;
	}
	if (o->listen) {
		if (fm_coap_listen(a->coap, listen_host, listen_port, own_key, a, err, sizeof(err)) < 0) {
			fprintf(stderr, "fleetmedic-agent: --listen %s\n", err);
			return -1;
		}
		fm_notice("run: serving the triage GETs on coaps://%s (DTLS-PSK, identity %s)", o->listen,
			  uo.identity);
	}
	return 0;
}

/* etcd's death by event: collected at once when the watch ends, not at
 * the next collection (the endpoint changes only at restart). */
static void agent_watch_etcd(struct agent *a, const struct fm_opts *o)
{
	char err[600];
	if (!a->ss.d.etcd.url[0])
		return;
	struct fm_etcd_watch_opts wo = {.ep = &a->ss.d.etcd, .co = a->co,
					.backoff_max_ms = o->collect_ms < 5000 ? o->collect_ms : 5000,
					.on_change = on_etcd_change, .arg = a};
	if (!(a->etcd_watch = fm_etcd_watch_new(a->ss.loop, &wo, err, sizeof(err))))
		fm_warn("run: etcd is not watched (only collected every %llums): %s", (unsigned long long)o->collect_ms,
			err);
}

/* The CRI runtime's exits by event, where it has them (containerd), at the
 * endpoint agent_uplink found. */
static void agent_watch_cri(struct agent *a, const struct fm_opts *o)
{
	char err[600];
	if (!a->cri_endpoint[0])
		return;
	struct fm_cri_watch_opts wo = {.endpoint = a->cri_endpoint,
				       .backoff_max_ms = o->collect_ms < 5000 ? o->collect_ms : 5000,
				       .on_event = on_cri_event, .arg = a, .facts = a->ss.facts};
	if (!(a->cri_watch = fm_cri_watch_new(a->ss.loop, &wo, err, sizeof(err))))
		fm_warn("run: the container runtime's exits are not watched (only collected every %llums): %s",
			(unsigned long long)o->collect_ms, err);
}

int fm_daemon_run(struct fm_opts *o, const struct fm_opts *cli)
{
	struct agent a = {.o = o, .cli = cli, .core_timer = FM_TIMER_INIT, .watchdog_timer = FM_TIMER_INIT,
			  .sigint = {.ev = FM_EVENT_INIT}, .sigterm = {.ev = FM_EVENT_INIT},
			  .sighup = {.ev = FM_EVENT_INIT}};
	int status = EXIT_USAGE;

	if (!o->n_controllers) {
		fprintf(stderr, "fleetmedic-agent: run needs --controller coaps://HOST[:PORT]\n");
		return EXIT_USAGE;
	}
	run_defaults(o);
	if (o->log_level)
		fm_log_set_level((enum fm_log_level)o->log_level);
	if (agent_open(&a, o) < 0 || agent_sources(&a, o) < 0 || agent_uplink(&a, o) < 0)
		goto out_close;
	fm_facts_observe(a.ss.facts, on_fact, &a);
	fm_loop_before_sleep(a.ss.loop, on_before_sleep, &a);
	agent_watch_etcd(&a, o);
	agent_watch_cri(&a, o);
	rearm(&a); /* the first collection at once */
	uint64_t wd = watchdog_usec();
	if (wd)
		fm_timer_arm(&a.watchdog_timer, wd / 2000 ? wd / 2000 : 1, wd / 2000 ? wd / 2000 : 1);
	notify("READY=1");
	say_status(&a);
	char list[FM_CONTROLLERS_MAX * (FM_CONTROLLER_URL_MAX + 2)];
	fm_notice("run: node %s reporting to %s (heartbeat %us, state in %s)", a.node, controller_list(o, list, sizeof(list)),
		  (unsigned)(o->heartbeat_ms / 1000), o->state_dir);
	status = fm_loop_run(a.ss.loop) < 0 ? EXIT_FINDING : 0;

out_close:
	explicit_bzero(a.key, sizeof(a.key));
	agent_close(&a);
	free(a.cf.text);
	return status;
}
