/* fleetmedic-agent: options, build modules, run, tear down in reverse order.
 *
 * Exit status (DESIGN.md): 0 fine, 1 a critical finding (for probe: the
 * source is unreachable or unhealthy), 2 usage or configuration error.
 */
#include "fm_apiserver.h"
#include "fm_certs.h"
#include "fm_conf.h"
#include "fm_diagnose.h"
#include "fm_discover.h"
#include "fm_docker.h"
#include "fm_etcd.h"
#include "fm_facts.h"
#include "fm_gather.h"
#include "fm_hal.h"
#include "fm_journal.h"
#include "fm_kmsg.h"
#include "fm_log.h"
#include "fm_loop.h"
#include "fm_rules.h"

#include <cjson/cJSON.h>
#include <mbedtls/version.h>
#include <coap3/coap.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define EXIT_FINDING 1
#define EXIT_USAGE   2

struct opts {
	bool json;
	bool follow;
	const char *root;
	uint64_t timeout_ms;
	uint64_t since_ms; /* 0: not given */
	int tls_max;
	const char *etcd_url, *etcd_ca, *etcd_cert, *etcd_key;
	const char *apiserver_url, *kubeconfig;
	const char *docker_host, *journal_dir, *kmsg, *since, *config;
	const char *controller, *psk_identity, *psk_file, *state_dir, *rules_dir;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: fleetmedic-agent COMMAND [OPTIONS]\n"
		"\n"
		"Watches a Kubernetes control-plane node from below (etcd, kube-apiserver,\n"
		"Docker, the journal, the kernel log, the board) and says why the control\n"
		"plane is broken and how to fix it.\n"
		"\n"
		"commands:\n"
		"  probe etcd        etcd's health, status, alarms, members, disk latency, certificates\n"
		"  probe apiserver   kube-apiserver's livez/readyz checks, version, nodes, kube-system pods\n"
		"  probe docker      Docker's containers of the control plane (kubelet names parsed),\n"
		"                    stale attempts holding a name, crash loops, exit codes, log tails\n"
		"  probe journal     log lines of kubelet, docker, containerd, etcd, k3s and the\n"
		"                    kernel (journal and /dev/kmsg) that match the log rules\n"
		"  probe hal         the board: model, temperatures, throttling, memory, storage,\n"
		"                    ext4 errors, read-only mounts, clock sync\n"
		"  check             one-shot diagnosis of this node: the cause, its evidence, the fix\n"
		"  run               the daemon reporting to a controller (not implemented yet)\n"
		"  --version         print the version and the libraries built in\n"
		"  --help            this text\n"
		"\n"
		"options:\n"
		"  --json                 print JSON instead of text\n"
		"  --follow               probe: keep watching, print each change of the facts\n"
		"                         as it happens, until Ctrl-C (sources with live events)\n"
		"  --root DIR             read the host's files under DIR (default /)\n"
		"  --timeout DURATION     deadline per request (probe 2s, check 1s; 500ms, 3s ...)\n"
		"  --etcd URL             etcd client URL\n"
		"  --etcd-ca FILE         CA that signed etcd's certificate\n"
		"  --etcd-cert FILE       client certificate for etcd (--etcd-ca alone: none)\n"
		"  --etcd-key FILE        its key\n"
		"  --apiserver URL        kube-apiserver URL\n"
		"  --kubeconfig FILE      credentials and CA for the apiserver\n"
		"  --tls-max 1.2|1.3      highest TLS version to offer (default 1.3)\n"
		"  --docker-host URL      Docker Engine API: unix:///PATH or tcp://HOST:PORT, taken\n"
		"                         as given (default: $DOCKER_HOST, else the socket\n"
		"                         /var/run/docker.sock under --root)\n"
		"  --journal-dir DIR      read journal files from DIR (default: the system journal)\n"
		"  --kmsg PATH|none       the kernel log device (default /dev/kmsg)\n"
		"  --since DURATION       look back this far (default 1h; --follow: the current boot)\n"
		"  --state-dir DIR        keep the journal cursor and kmsg sequence here, so a\n"
		"                         restart resumes where it stopped (--follow)\n"
		"  --rules-dir DIR        more log rules: every DIR/*.rules beside the built-in ones\n"
		"\n"
		"Without these the agent finds the control plane under --root: kubeadm's\n"
		"/etc/kubernetes/manifests/*.yaml, pki/ and admin.conf, or k3s's\n"
		"/etc/rancher/k3s/k3s.yaml and /var/lib/rancher/k3s/server/tls; each fact\n"
		"names where its endpoint came from (\"origin\").\n"
		"\n"
		"exit status: 0 healthy (check: no critical diagnosis), 1 a critical finding\n"
		"(probe: the source is unreachable or unhealthy), 2 usage or configuration error.\n");
}

static void version(void)
{
	printf("fleetmedic-agent %s\n", FM_VERSION);
	printf("  Mbed TLS %s, libcoap %s, cJSON %s\n", MBEDTLS_VERSION_STRING, LIBCOAP_PACKAGE_VERSION,
	       cJSON_Version());
}

enum {
	OPT_JSON = 256, OPT_FOLLOW, OPT_ROOT, OPT_TIMEOUT, OPT_TLS_MAX, OPT_ETCD, OPT_ETCD_CA, OPT_ETCD_CERT,
	OPT_ETCD_KEY, OPT_APISERVER, OPT_KUBECONFIG, OPT_DOCKER_HOST, OPT_JOURNAL_DIR, OPT_KMSG,
	OPT_SINCE, OPT_CONFIG, OPT_CONTROLLER, OPT_PSK_IDENTITY, OPT_PSK_FILE, OPT_STATE_DIR, OPT_RULES_DIR,
};

static const struct option long_opts[] = {
	{"json", no_argument, NULL, OPT_JSON},
	{"follow", no_argument, NULL, OPT_FOLLOW},
	{"root", required_argument, NULL, OPT_ROOT},
	{"timeout", required_argument, NULL, OPT_TIMEOUT},
	{"tls-max", required_argument, NULL, OPT_TLS_MAX},
	{"etcd", required_argument, NULL, OPT_ETCD},
	{"etcd-ca", required_argument, NULL, OPT_ETCD_CA},
	{"etcd-cert", required_argument, NULL, OPT_ETCD_CERT},
	{"etcd-key", required_argument, NULL, OPT_ETCD_KEY},
	{"apiserver", required_argument, NULL, OPT_APISERVER},
	{"kubeconfig", required_argument, NULL, OPT_KUBECONFIG},
	{"docker-host", required_argument, NULL, OPT_DOCKER_HOST},
	{"journal-dir", required_argument, NULL, OPT_JOURNAL_DIR},
	{"kmsg", required_argument, NULL, OPT_KMSG},
	{"since", required_argument, NULL, OPT_SINCE},
	{"config", required_argument, NULL, OPT_CONFIG},
	{"controller", required_argument, NULL, OPT_CONTROLLER},
	{"psk-identity", required_argument, NULL, OPT_PSK_IDENTITY},
	{"psk-file", required_argument, NULL, OPT_PSK_FILE},
	{"state-dir", required_argument, NULL, OPT_STATE_DIR},
	{"rules-dir", required_argument, NULL, OPT_RULES_DIR},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

/* Parses the options after the command. 0, or EXIT_USAGE after saying why. */
static int parse_opts(int argc, char **argv, struct opts *o)
{
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_JSON: o->json = true; break;
		case OPT_FOLLOW: o->follow = true; break;
		case OPT_ROOT: o->root = optarg; break;
		case OPT_TIMEOUT:
			if (fm_conf_duration_ms(optarg, &o->timeout_ms) < 0 || o->timeout_ms == 0 ||
			    o->timeout_ms > 600000) {
				fprintf(stderr, "fleetmedic-agent: --timeout %s: give a duration such as 500ms or 2s (at most 10m)\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_TLS_MAX:
			if (strcmp(optarg, "1.2") == 0)
				o->tls_max = 12;
			else if (strcmp(optarg, "1.3") == 0)
				o->tls_max = 13;
			else {
				fprintf(stderr, "fleetmedic-agent: --tls-max must be 1.2 or 1.3\n");
				return EXIT_USAGE;
			}
			break;
		case OPT_ETCD: o->etcd_url = optarg; break;
		case OPT_ETCD_CA: o->etcd_ca = optarg; break;
		case OPT_ETCD_CERT: o->etcd_cert = optarg; break;
		case OPT_ETCD_KEY: o->etcd_key = optarg; break;
		case OPT_APISERVER: o->apiserver_url = optarg; break;
		case OPT_KUBECONFIG: o->kubeconfig = optarg; break;
		case OPT_DOCKER_HOST: o->docker_host = optarg; break;
		case OPT_JOURNAL_DIR: o->journal_dir = optarg; break;
		case OPT_KMSG: o->kmsg = optarg; break;
		case OPT_SINCE:
			if (fm_conf_duration_ms(optarg, &o->since_ms) < 0 || o->since_ms == 0) {
				fprintf(stderr, "fleetmedic-agent: --since %s: give a duration such as 30m or 2h\n",
					optarg);
				return EXIT_USAGE;
			}
			o->since = optarg;
			break;
		case OPT_CONFIG: o->config = optarg; break;
		case OPT_CONTROLLER: o->controller = optarg; break;
		case OPT_PSK_IDENTITY: o->psk_identity = optarg; break;
		case OPT_PSK_FILE: o->psk_file = optarg; break;
		case OPT_STATE_DIR: o->state_dir = optarg; break;
		case OPT_RULES_DIR: o->rules_dir = optarg; break;
		case 'h': usage(stdout); exit(0);
		case ':':
			fprintf(stderr, "fleetmedic-agent: %s needs a value\n", argv[optind - 1]);
			return EXIT_USAGE;
		default:
			fprintf(stderr, "fleetmedic-agent: unknown option %s (see --help)\n",
				argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	return 0;
}

/* The state of a source's endpoint fact ("etcd.endpoint" ...), or NULL for
 * any other fact. */
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
typedef int (*collect_fn)(struct fm_loop *loop, const struct fm_discovery *d, const struct opts *o,
			  const struct fm_collect_opts *co, struct fm_facts *facts);

static int collect_etcd(struct fm_loop *loop, const struct fm_discovery *d, const struct opts *o,
			const struct fm_collect_opts *co, struct fm_facts *facts)
{
	(void)o;
	if (!d->etcd.url[0]) {
		/* k3s with its default datastore (kine on SQLite) has no etcd:
		 * nothing to probe, and nothing wrong with that. */
		cJSON *f = cJSON_CreateObject();
		cJSON_AddStringToObject(f, "state", "absent");
		cJSON_AddStringToObject(f, "reason", d->etcd.origin);
		fm_facts_put(facts, "etcd.endpoint", "none", f);
		return 0;
	}
	return fm_etcd_collect(loop, &d->etcd, d->etcd_metrics_url, time(NULL), co, facts);
}

static int collect_apiserver(struct fm_loop *loop, const struct fm_discovery *d, const struct opts *o,
			const struct fm_collect_opts *co, struct fm_facts *facts)
{
	(void)o;
	time_t now = time(NULL);
	int rc = fm_apiserver_collect(loop, &d->apiserver, now, co, facts);
	/* The node's whole PKI and kubeconfigs: what 6443 stands on. */
	fm_certs_put_node(facts, d, now);
	return rc;
}

/* The board: hal's readings, and the clock against the newest certificate. */
static int collect_hal(struct fm_loop *loop, const struct fm_discovery *d, const struct opts *o,
			const struct fm_collect_opts *co, struct fm_facts *facts)
{
	(void)o;
	(void)loop;
	(void)co;
	return fm_hal_collect(d->root, d, time(NULL), facts);
}

/* The built-in rules plus those of --rules-dir; NULL after writing why. */
static struct fm_rules *load_rules(const struct opts *o, char *err, size_t err_size)
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

static bool kmsg_wanted(const struct opts *o)
{
	return !o->kmsg || strcmp(o->kmsg, "none") != 0;
}

/* probe journal: the journal's entries and the kernel log's records of the
 * last --since (1h) that match the rules. */
static int collect_journal(struct fm_loop *loop, const struct fm_discovery *d, const struct opts *o,
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
static void *start_journal(struct fm_loop *loop, const struct fm_discovery *d, const struct opts *o,
			   struct fm_facts *facts, char *err, size_t err_size)
{
	(void)d;
	struct journal_follow *jf = calloc(1, sizeof(*jf));
	if (!jf || !(jf->rules = load_rules(o, err, err_size))) {
		stop_journal(jf);
		return NULL;
	}
	struct fm_journal_opts jo = {.dir = o->journal_dir, .state_dir = o->state_dir, .rules = jf->rules,
				     .since_us = o->since_ms ? realtime_ago(o->since_ms * 1000) : 0};
	if (!(jf->journal = fm_journal_new(loop, &jo, facts, err, err_size))) {
		stop_journal(jf);
		return NULL;
	}
	if (kmsg_wanted(o)) {
		struct fm_kmsg_opts ko = {.path = o->kmsg ? o->kmsg : "/dev/kmsg",
					  .state_dir = o->state_dir, .rules = jf->rules};
		if (!(jf->kmsg = fm_kmsg_new(loop, &ko, facts, err, err_size))) {
			stop_journal(jf);
			return NULL;
		}
	}
	return jf;
}

/* Docker at --docker-host, $DOCKER_HOST, or the default socket under --root. */
static int collect_docker(struct fm_loop *loop, const struct fm_discovery *d, const struct opts *o,
			  const struct fm_collect_opts *co, struct fm_facts *facts)
{
	char host[600];
	if (fm_docker_host(host, sizeof(host), o->docker_host, d->root) < 0) {
		fm_facts_put(facts, "docker.daemon", "none", fm_probe_config_error(host));
		return -1;
	}
	if (fm_docker_absent(o->docker_host, d->root)) {
		cJSON *f = cJSON_CreateObject();
		cJSON_AddStringToObject(f, "state", "absent");
		cJSON_AddStringToObject(f, "reason", "no Docker socket and no /var/lib/docker: this node does not run Docker");
		fm_facts_put(facts, "docker.daemon", host, f);
		return 0;
	}
	return fm_docker_collect(loop, host, co, facts);
}

/* A live source (probe --follow, and later run): started on the loop, it
 * keeps its facts in the set up to date from its own events until stopped.
 * start returns its state, or NULL after writing why into err (a
 * configuration error). stop frees the state and accepts NULL. */
typedef void *(*start_fn)(struct fm_loop *loop, const struct fm_discovery *d, const struct opts *o,
			  struct fm_facts *facts, char *err, size_t err_size);
typedef void (*stop_fn)(void *state);

static void *start_docker(struct fm_loop *loop, const struct fm_discovery *d, const struct opts *o,
			  struct fm_facts *facts, char *err, size_t err_size)
{
	char host[600];
	if (fm_docker_host(host, sizeof(host), o->docker_host, d->root) < 0) {
		snprintf(err, err_size, "%s", host);
		return NULL;
	}
	struct fm_docker_opts dopts = {.host = host, .timeout_ms = (int)o->timeout_ms};
	return fm_docker_watch_new(loop, &dopts, facts, err, err_size);
}

static void stop_docker(void *state)
{
	struct fm_docker_watch *w = state;
	fm_docker_watch_delete(&w);
}

struct source {
	const char *name;
	collect_fn collect;
	start_fn start;     /* NULL: the source cannot be followed (yet) */
	stop_fn stop;
};

static const struct source sources[] = {
	{"etcd", collect_etcd, NULL, NULL},
	{"apiserver", collect_apiserver, NULL, NULL},
	{"docker", collect_docker, start_docker, stop_docker},
	{"journal", collect_journal, start_journal, stop_journal},
	{"hal", collect_hal, NULL, NULL},
};

/* probe --follow prints each change of the fact set as it happens: one JSON
 * object per line with --json ({"ms":…,"change":"put"|"drop","fact":{…}}),
 * else a line per change. */
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

static int follow(const struct source *src, struct fm_loop *loop, const struct fm_discovery *d,
		  const struct opts *o, struct fm_facts *facts)
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

/* What every command works with: the node as discovered, the fact set and
 * the loop. */
struct session {
	struct fm_discovery d;
	struct fm_facts *facts;
	struct fm_loop *loop;
};

/* 0, or -1 after saying why (a configuration error: exit status 2). */
static int session_open(struct session *ss, const struct opts *o)
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

static void session_close(struct session *ss)
{
	fm_loop_delete(&ss->loop);
	fm_facts_delete(&ss->facts);
	fm_discovery_free(&ss->d);
}

static bool config_error(const struct fm_facts *facts)
{
	for (size_t i = 0; i < fm_facts_count(facts); i++)
		if (fact_config_error(fm_facts_at(facts, i)))
			return true;
	return false;
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

static int probe(const char *what, const struct opts *o)
{
	const struct source *src = NULL;
	for (size_t i = 0; i < sizeof(sources) / sizeof(sources[0]); i++)
		if (strcmp(sources[i].name, what) == 0)
			src = &sources[i];
	if (!src) {
		fprintf(stderr, "fleetmedic-agent: unknown source '%s': etcd|apiserver|docker|journal|hal\n",
			what);
		return EXIT_USAGE;
	}
	if (o->follow && !src->start) {
		fprintf(stderr, "fleetmedic-agent: probe %s cannot --follow: it has no live events; run it again instead\n",
			what);
		return EXIT_USAGE;
	}

	struct session ss;
	if (session_open(&ss, o) < 0)
		return EXIT_USAGE;
	if (o->follow) {
		int rc = follow(src, ss.loop, &ss.d, o, ss.facts);
		session_close(&ss);
		return rc;
	}
	struct fm_collect_opts co = {.timeout_ms = (int)o->timeout_ms, .tls_max = o->tls_max};
	/* The source decides whether it is unreachable or unhealthy: a side
	 * request that failed (no credentials for the node list, no metrics
	 * listener) is in the facts but is not that verdict. */
	int status = src->collect(ss.loop, &ss.d, o, &co, ss.facts) < 0 ? EXIT_FINDING : 0;
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
	session_close(&ss);
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
	printf("%s%s: %d finding%s%s\n", bold, node, n, n == 1 ? "" : "s", off);
	const cJSON *d;
	cJSON_ArrayForEach(d, diagnoses)
	{
		const char *sev = cJSON_GetObjectItem(d, "severity")->valuestring;
		const char *col = !colour ? "" : strcmp(sev, "critical") == 0 ? "\033[1;31m"
					       : strcmp(sev, "warning") == 0  ? "\033[1;33m"
									      : "\033[1m";
		printf("\n%s%s %s%s\n  %s\n", col, sev, cJSON_GetObjectItem(d, "code")->valuestring, off,
		       cJSON_GetObjectItem(d, "summary")->valuestring);
		const cJSON *ex = cJSON_GetObjectItem(d, "explains");
		if (cJSON_GetArraySize(ex) > 0) {
			printf("  explains:");
			const cJSON *x;
			cJSON_ArrayForEach(x, ex)
			{
				printf(" %s", x->valuestring);
			}
			putchar('\n');
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
static void print_not_checked(const struct fm_facts *facts)
{
	bool first = true;
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
	const struct source *src;
	const struct fm_discovery *d;
	const struct opts *o;
	const struct fm_collect_opts *co;
};

static int gather_one(struct fm_loop *loop, struct fm_facts *facts, void *arg)
{
	const struct gather_arg *g = arg;
	return g->src->collect(loop, g->d, g->o, g->co, facts);
}

/* Every source once. The servers (etcd, apiserver, Docker) are asked side by
 * side, each in a child process, while the journal is read here; so with
 * every server silent check costs about one deadline, not one per server.
 * The board comes last: its clock check reuses the certificates the
 * apiserver source read. The overall deadline is 2.5 per-request deadlines
 * (2.5 s by default), whatever the servers do. */
static void gather_sources(struct session *ss, const struct opts *o, const struct fm_collect_opts *co)
{
	static const char *const servers[] = {"etcd", "apiserver", "docker"};
	struct fm_gather_job jobs[3];
	struct gather_arg args[3];
	size_t n = 0;
	for (size_t i = 0; i < sizeof(sources) / sizeof(sources[0]); i++) {
		for (size_t k = 0; k < 3; k++) {
			if (strcmp(sources[i].name, servers[k]) != 0)
				continue;
			args[n] = (struct gather_arg){&sources[i], &ss->d, o, co};
			jobs[n] = (struct fm_gather_job){.name = sources[i].name, .fn = gather_one, .arg = &args[n]};
			n++;
		}
	}
	fm_gather_start(jobs, n);
	for (size_t i = 0; i < sizeof(sources) / sizeof(sources[0]); i++)
		if (strcmp(sources[i].name, "journal") == 0)
			sources[i].collect(ss->loop, &ss->d, o, co, ss->facts);
	fm_gather_finish(jobs, n, co->timeout_ms * 5 / 2, ss->facts);
	for (size_t i = 0; i < sizeof(sources) / sizeof(sources[0]); i++)
		if (strcmp(sources[i].name, "hal") == 0)
			sources[i].collect(ss->loop, &ss->d, o, co, ss->facts);
}

/* check: every source once, with short deadlines, then the diagnosis. */
static int check(const struct opts *o)
{
	struct session ss;
	if (session_open(&ss, o) < 0)
		return EXIT_USAGE;
	struct fm_collect_opts co = {.timeout_ms = (int)o->timeout_ms, .tls_max = o->tls_max};
	gather_sources(&ss, o, &co);
	int status = 0;
	if (config_error(ss.facts))
		status = EXIT_USAGE;
	cJSON *diagnoses = fm_diagnose(ss.facts, (int64_t)time(NULL));
	if (!diagnoses) {
		fprintf(stderr, "fleetmedic-agent: out of memory\n");
		session_close(&ss);
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
	session_close(&ss);
	return status;
}

int main(int argc, char **argv)
{
	struct opts o = {.root = "/"}; /* timeout_ms 0: the command's default */

	/* A peer that vanishes mid-write must not kill the agent. */
	signal(SIGPIPE, SIG_IGN);

	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
		version();
		return 0;
	}
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(cmd, "probe") == 0) {
		if (argc < 3 || argv[2][0] == '-') {
			fprintf(stderr, "fleetmedic-agent: probe what? etcd|apiserver|docker|journal|hal\n");
			return EXIT_USAGE;
		}
		const char *what = argv[2];
		int rc = parse_opts(argc - 2, argv + 2, &o);
		if (rc)
			return rc;
		if (optind < argc - 2) {
			fprintf(stderr, "fleetmedic-agent: unexpected argument %s\n", argv[optind + 2]);
			return EXIT_USAGE;
		}
		if (!o.timeout_ms)
			o.timeout_ms = 2000;
		return probe(what, &o);
	}
	if (strcmp(cmd, "check") == 0) {
		int rc = parse_opts(argc - 1, argv + 1, &o);
		if (rc)
			return rc;
		if (optind < argc - 1) {
			fprintf(stderr, "fleetmedic-agent: unexpected argument %s\n", argv[optind + 1]);
			return EXIT_USAGE;
		}
		if (o.follow) {
			fprintf(stderr, "fleetmedic-agent: --follow is for probe; check runs once\n");
			return EXIT_USAGE;
		}
		if (!o.timeout_ms)
			o.timeout_ms = 1000;
		return check(&o);
	}
	if (strcmp(cmd, "run") == 0) {
		fprintf(stderr, "fleetmedic-agent: 'run' is not implemented yet; 'check' and 'probe' are\n");
		return EXIT_USAGE;
	}
	fprintf(stderr, "fleetmedic-agent: unknown command '%s' (see --help)\n", cmd);
	return EXIT_USAGE;
}
