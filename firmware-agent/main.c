/* fleetmedic-agent: options, build modules, run, tear down in reverse order.
 *
 * Exit status (DESIGN.md): 0 fine, 1 a critical finding (for probe: the
 * source is unreachable or unhealthy), 2 usage or configuration error.
 */
#include "fm_apiserver.h"
#include "fm_certs.h"
#include "fm_conf.h"
#include "fm_discover.h"
#include "fm_docker.h"
#include "fm_etcd.h"
#include "fm_facts.h"
#include "fm_log.h"
#include "fm_loop.h"

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
	int tls_max;
	const char *etcd_url, *etcd_ca, *etcd_cert, *etcd_key;
	const char *apiserver_url, *kubeconfig;
	const char *docker_host, *journal_dir, *kmsg, *since, *config;
	const char *controller, *psk_identity, *psk_file, *state_dir;
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
		"  probe journal|hal (not implemented yet)\n"
		"  check             one-shot diagnosis of this node (not implemented yet)\n"
		"  run               the daemon reporting to a controller (not implemented yet)\n"
		"  --version         print the version and the libraries built in\n"
		"  --help            this text\n"
		"\n"
		"options:\n"
		"  --json                 print JSON instead of text\n"
		"  --follow               probe: keep watching, print each change of the facts\n"
		"                         as it happens, until Ctrl-C (sources with live events)\n"
		"  --root DIR             read the host's files under DIR (default /)\n"
		"  --timeout DURATION     deadline per request (default 2s; 500ms, 3s ...)\n"
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
		"\n"
		"Without these the agent finds the control plane under --root: kubeadm's\n"
		"/etc/kubernetes/manifests/*.yaml, pki/ and admin.conf, or k3s's\n"
		"/etc/rancher/k3s/k3s.yaml and /var/lib/rancher/k3s/server/tls; each fact\n"
		"names where its endpoint came from (\"origin\").\n"
		"\n"
		"exit status: 0 healthy, 1 a critical finding (probe: unreachable or\n"
		"unhealthy), 2 usage or configuration error.\n");
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
	OPT_SINCE, OPT_CONFIG, OPT_CONTROLLER, OPT_PSK_IDENTITY, OPT_PSK_FILE, OPT_STATE_DIR,
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
		case OPT_SINCE: o->since = optarg; break;
		case OPT_CONFIG: o->config = optarg; break;
		case OPT_CONTROLLER: o->controller = optarg; break;
		case OPT_PSK_IDENTITY: o->psk_identity = optarg; break;
		case OPT_PSK_FILE: o->psk_file = optarg; break;
		case OPT_STATE_DIR: o->state_dir = optarg; break;
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

typedef int (*collect_fn)(struct fm_loop *loop, const struct fm_discovery *d,
			  const struct fm_collect_opts *co, struct fm_facts *facts);

static int collect_etcd(struct fm_loop *loop, const struct fm_discovery *d,
			const struct fm_collect_opts *co, struct fm_facts *facts)
{
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

static int collect_apiserver(struct fm_loop *loop, const struct fm_discovery *d,
			     const struct fm_collect_opts *co, struct fm_facts *facts)
{
	time_t now = time(NULL);
	int rc = fm_apiserver_collect(loop, &d->apiserver, now, co, facts);
	/* The node's whole PKI and kubeconfigs: what 6443 stands on. */
	fm_certs_put_node(facts, d, now);
	return rc;
}

/* The Docker host of this run: --docker-host, $DOCKER_HOST, or the default
 * socket under --root. */
static const char *docker_host_opt;

static int collect_docker(struct fm_loop *loop, const struct fm_discovery *d,
			  const struct fm_collect_opts *co, struct fm_facts *facts)
{
	char host[600];
	if (fm_docker_host(host, sizeof(host), docker_host_opt, d->root) < 0) {
		fm_facts_put(facts, "docker.daemon", "none", fm_probe_config_error(host));
		return -1;
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
	collect_fn collect; /* NULL: not implemented yet */
	start_fn start;     /* NULL: the source cannot be followed (yet) */
	stop_fn stop;
};

static const struct source sources[] = {
	{"etcd", collect_etcd, NULL, NULL},
	{"apiserver", collect_apiserver, NULL, NULL},
	{"docker", collect_docker, start_docker, stop_docker},
	{"journal", NULL, NULL, NULL},
	{"hal", NULL, NULL, NULL},
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
	docker_host_opt = o->docker_host;
	collect_fn collect = src->collect;
	if (!collect) {
		fprintf(stderr, "fleetmedic-agent: probe %s is not implemented yet\n", what);
		return EXIT_USAGE;
	}
	if (o->follow && !src->start) {
		fprintf(stderr, "fleetmedic-agent: probe %s cannot --follow: it has no live events; run it again instead\n",
			what);
		return EXIT_USAGE;
	}

	struct fm_discover_opts dopts = {
		.root = o->root, .etcd_url = o->etcd_url, .etcd_ca = o->etcd_ca,
		.etcd_cert = o->etcd_cert, .etcd_key = o->etcd_key,
		.apiserver_url = o->apiserver_url, .kubeconfig = o->kubeconfig,
	};
	struct fm_discovery d;
	char err[512];
	if (fm_discover(&d, &dopts, err, sizeof(err)) < 0) {
		fprintf(stderr, "fleetmedic-agent: %s\n", err);
		fm_discovery_free(&d);
		return EXIT_USAGE;
	}
	struct fm_facts *facts = fm_facts_new();
	struct fm_loop *loop = fm_loop_new();
	if (!facts || !loop) {
		fprintf(stderr, "fleetmedic-agent: out of memory\n");
		fm_loop_delete(&loop);
		fm_facts_delete(&facts);
		fm_discovery_free(&d);
		return EXIT_USAGE;
	}
	if (o->follow) {
		int rc = follow(src, loop, &d, o, facts);
		fm_loop_delete(&loop);
		fm_facts_delete(&facts);
		fm_discovery_free(&d);
		return rc;
	}
	struct fm_collect_opts co = {.timeout_ms = (int)o->timeout_ms, .tls_max = o->tls_max};
	/* The source decides whether it is unreachable or unhealthy: a side
	 * request that failed (no credentials for the node list, no metrics
	 * listener) is in the facts but is not that verdict. */
	int status = collect(loop, &d, &co, facts) < 0 ? EXIT_FINDING : 0;
	fm_loop_delete(&loop);
	for (size_t i = 0; i < fm_facts_count(facts); i++)
		if (fact_config_error(fm_facts_at(facts, i)))
			status = EXIT_USAGE;
	if (o->json) {
		cJSON *out = cJSON_CreateObject();
		cJSON_AddStringToObject(out, "source", what);
		cJSON_AddItemToObject(out, "facts", fm_facts_json(facts, ""));
		char *s = cJSON_PrintUnformatted(out);
		if (s)
			puts(s);
		free(s);
		cJSON_Delete(out);
	} else {
		print_facts(facts);
	}
	fm_facts_delete(&facts);
	fm_discovery_free(&d);
	return status;
}

int main(int argc, char **argv)
{
	struct opts o = {.root = "/", .timeout_ms = 2000};

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
		return probe(what, &o);
	}
	if (strcmp(cmd, "check") == 0 || strcmp(cmd, "run") == 0) {
		fprintf(stderr, "fleetmedic-agent: '%s' is not implemented yet; 'probe etcd' is\n", cmd);
		return EXIT_USAGE;
	}
	fprintf(stderr, "fleetmedic-agent: unknown command '%s' (see --help)\n", cmd);
	return EXIT_USAGE;
}
