/* fleetmedic-agent: options, build modules, run, tear down in reverse order.
 *
 * Exit status (DESIGN.md): 0 fine, 1 a critical finding (for probe: the
 * source is unreachable or unhealthy), 2 usage or configuration error.
 */
#include "fm_apiserver.h"
#include "fm_certs.h"
#include "fm_coap.h"
#include "fm_conf.h"
#include "fm_core.h"
#include "fm_diagnose.h"
#include "fm_discover.h"
#include "fm_docker.h"
#include "fm_etcd.h"
#include "fm_etcd_watch.h"
#include "fm_facts.h"
#include "fm_gather.h"
#include "fm_hal.h"
#include "fm_journal.h"
#include "fm_kmsg.h"
#include "fm_log.h"
#include "fm_loop.h"
#include "fm_queue.h"
#include "fm_report.h"
#include "fm_rules.h"
#include "fm_state.h"
#include "fm_triage.h"
#include "fm_uplink.h"

#include <cjson/cJSON.h>
#include <mbedtls/version.h>
#include <coap3/coap.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
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
	/* run */
	uint64_t heartbeat_ms, collect_ms, collect_idle_ms, hold_ms, ack_timeout_ms, retry_max_ms;
	unsigned max_retransmit;
	int log_level; /* enum fm_log_level; 0: not given */
	bool insecure, allow_rm;
	const char *listen;
	/* which options the command line gave (they win over --config) */
	uint64_t given;
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
		"  run               the daemon: watches the node and reports every change of\n"
		"                    its diagnoses to a controller over CoAP/DTLS\n"
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
		"  --config FILE          options as 'key = value' lines (keys: the long options\n"
		"                         without --; '#' comments); the command line wins\n"
		"\n"
		"run:\n"
		"  --controller URL       coaps://HOST[:PORT] (port 5684), or coap:// with --insecure\n"
		"  --psk-identity NODE    DTLS-PSK identity (default: the node name)\n"
		"  --psk-file FILE        the key, in hex, readable by its owner only\n"
		"  --state-dir DIR        queue, sequence numbers, journal cursor (/var/lib/fleetmedic)\n"
		"  --heartbeat DURATION   heartbeat interval (default 120s)\n"
		"  --insecure             allow plain CoAP (logged at WARNING on every report)\n"
		"  --listen HOST:PORT     also serve the triage GETs on a DTLS-PSK endpoint keyed\n"
		"                         with this node's identity and key (coap-client -u -k)\n"
		"  --allow-actions rm     let the controller remove an exited container (audited)\n"
		"  --collect-interval D   etcd, apiserver and board collected this often (10s);\n"
		"                         etcd also at once when its watch stream ends or returns\n"
		"  --collect-idle D       while no diagnosis changes or is critical and the live\n"
		"                         sources are quiet, each collection waits twice as long\n"
		"                         as the last, up to D (60s; = --collect-interval when\n"
		"                         that is set); any change brings it back at once\n"
		"  --hold DURATION        a diagnosis is resolved after this long absent (30s)\n"
		"  --ack-timeout D        CoAP ACK_TIMEOUT (2s); --max-retransmit N (4)\n"
		"  --retry-max DURATION   cap of the back-off between sessions (5m)\n"
		"  --log-level LEVEL      err, warning, notice (default), info or debug\n"
		"\n"
		"SIGHUP makes run read --config again and apply it, or refuse it whole\n"
		"(one line says why) and keep the running configuration. Applied at once:\n"
		"heartbeat, allow-actions, hold, collect-interval, collect-idle, timeout, tls-max,\n"
		"log-level, and controller, psk-file, insecure, ack-timeout, max-retransmit,\n"
		"retry-max (a new session to the controller; the queue is kept). The other\n"
		"keys (the sources' endpoints and paths, root, state-dir, rules-dir, since,\n"
		"listen, psk-identity) take effect at restart; a change of one is logged.\n"
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
	OPT_HEARTBEAT, OPT_INSECURE, OPT_LISTEN, OPT_ALLOW_ACTIONS, OPT_COLLECT_INTERVAL, OPT_COLLECT_IDLE, OPT_HOLD,
	OPT_ACK_TIMEOUT, OPT_MAX_RETRANSMIT, OPT_RETRY_MAX, OPT_LOG_LEVEL,
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
	{"heartbeat", required_argument, NULL, OPT_HEARTBEAT},
	{"insecure", no_argument, NULL, OPT_INSECURE},
	{"listen", required_argument, NULL, OPT_LISTEN},
	{"allow-actions", required_argument, NULL, OPT_ALLOW_ACTIONS},
	{"collect-interval", required_argument, NULL, OPT_COLLECT_INTERVAL},
	{"collect-idle", required_argument, NULL, OPT_COLLECT_IDLE},
	{"hold", required_argument, NULL, OPT_HOLD},
	{"ack-timeout", required_argument, NULL, OPT_ACK_TIMEOUT},
	{"max-retransmit", required_argument, NULL, OPT_MAX_RETRANSMIT},
	{"retry-max", required_argument, NULL, OPT_RETRY_MAX},
	{"log-level", required_argument, NULL, OPT_LOG_LEVEL},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

/* A duration option: 0 with *ms set, or -1 with err saying what to give. */
static int duration_opt(const char *name, const char *v, uint64_t min_ms, uint64_t max_ms, uint64_t *ms,
			char *err, size_t err_size)
{
	if (fm_conf_duration_ms(v, ms) < 0 || *ms < min_ms || *ms > max_ms) {
		snprintf(err, err_size, "%s %s: give a duration such as 500ms, 2s or 5m (%llums..%llus)", name, v,
			 (unsigned long long)min_ms, (unsigned long long)(max_ms / 1000));
		return -1;
	}
	return 0;
}

/* One option (code of long_opts, its value or NULL) into o. 0, or -1 with
 * err saying what is wrong (without a prefix: the caller says where). */
static int apply_opt(int c, const char *v, struct opts *o, char *err, size_t err_size)
{
	switch (c) {
	case OPT_JSON: o->json = true; break;
	case OPT_FOLLOW: o->follow = true; break;
	case OPT_INSECURE: o->insecure = true; break;
	case OPT_ROOT: o->root = v; break;
	case OPT_TIMEOUT:
		return duration_opt("--timeout", v, 1, 600000, &o->timeout_ms, err, err_size);
	case OPT_TLS_MAX:
		if (strcmp(v, "1.2") == 0)
			o->tls_max = 12;
		else if (strcmp(v, "1.3") == 0)
			o->tls_max = 13;
		else {
			snprintf(err, err_size, "--tls-max must be 1.2 or 1.3");
			return -1;
		}
		break;
	case OPT_ETCD: o->etcd_url = v; break;
	case OPT_ETCD_CA: o->etcd_ca = v; break;
	case OPT_ETCD_CERT: o->etcd_cert = v; break;
	case OPT_ETCD_KEY: o->etcd_key = v; break;
	case OPT_APISERVER: o->apiserver_url = v; break;
	case OPT_KUBECONFIG: o->kubeconfig = v; break;
	case OPT_DOCKER_HOST: o->docker_host = v; break;
	case OPT_JOURNAL_DIR: o->journal_dir = v; break;
	case OPT_KMSG: o->kmsg = v; break;
	case OPT_SINCE:
		if (duration_opt("--since", v, 1, UINT64_MAX / 1000, &o->since_ms, err, err_size) < 0)
			return -1;
		o->since = v;
		break;
	case OPT_CONFIG: o->config = v; break;
	case OPT_CONTROLLER: o->controller = v; break;
	case OPT_PSK_IDENTITY: o->psk_identity = v; break;
	case OPT_PSK_FILE: o->psk_file = v; break;
	case OPT_STATE_DIR: o->state_dir = v; break;
	case OPT_RULES_DIR: o->rules_dir = v; break;
	case OPT_LISTEN: o->listen = v; break;
	case OPT_HEARTBEAT:
		return duration_opt("--heartbeat", v, 1000, 86400000, &o->heartbeat_ms, err, err_size);
	case OPT_COLLECT_INTERVAL:
		return duration_opt("--collect-interval", v, 100, 3600000, &o->collect_ms, err, err_size);
	case OPT_COLLECT_IDLE:
		return duration_opt("--collect-idle", v, 100, 3600000, &o->collect_idle_ms, err, err_size);
	case OPT_HOLD:
		return duration_opt("--hold", v, 0, 86400000, &o->hold_ms, err, err_size);
	case OPT_ACK_TIMEOUT:
		return duration_opt("--ack-timeout", v, 100, 60000, &o->ack_timeout_ms, err, err_size);
	case OPT_RETRY_MAX:
		return duration_opt("--retry-max", v, 100, 86400000, &o->retry_max_ms, err, err_size);
	case OPT_MAX_RETRANSMIT: {
		char *end;
		unsigned long n = strtoul(v, &end, 10);
		if (!*v || *end || n < 1 || n > 20) {
			snprintf(err, err_size, "--max-retransmit %s: give a number 1..20", v);
			return -1;
		}
		o->max_retransmit = (unsigned)n;
		break;
	}
	case OPT_LOG_LEVEL: {
		static const char *const names[] = {"err", "warning", "notice", "info", "debug"};
		o->log_level = 0;
		for (int i = 0; i < 5; i++)
			if (strcmp(v, names[i]) == 0)
				o->log_level = FM_LOG_ERR + i;
		if (!o->log_level) {
			snprintf(err, err_size, "--log-level %s: give err, warning, notice, info or debug", v);
			return -1;
		}
		break;
	}
	case OPT_ALLOW_ACTIONS:
		if (strcmp(v, "rm") == 0)
			o->allow_rm = true;
		else if (strcmp(v, "none") == 0)
			o->allow_rm = false;
		else {
			snprintf(err, err_size, "--allow-actions %s: the actions are: rm (or none)", v);
			return -1;
		}
		break;
	default: snprintf(err, err_size, "unknown option"); return -1;
	}
	return 0;
}

/* Parses the options after the command. 0, or EXIT_USAGE after saying why. */
static int parse_opts(int argc, char **argv, struct opts *o)
{
	int c;
	char err[400];
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", long_opts, NULL)) != -1) {
		switch (c) {
		case 'h': usage(stdout); exit(0);
		case ':':
			fprintf(stderr, "fleetmedic-agent: %s needs a value\n", argv[optind - 1]);
			return EXIT_USAGE;
		case '?':
			/* optopt: a known option given a value it does not take */
			if (optopt >= OPT_JSON)
				fprintf(stderr, "fleetmedic-agent: %s: the option takes no value\n", argv[optind - 1]);
			else
				fprintf(stderr, "fleetmedic-agent: unknown option %s (see --help)\n", argv[optind - 1]);
			return EXIT_USAGE;
		default:
			if (apply_opt(c, optarg, o, err, sizeof(err)) < 0) {
				fprintf(stderr, "fleetmedic-agent: %s\n", err);
				return EXIT_USAGE;
			}
			if (c >= OPT_JSON && c - OPT_JSON < 64)
				o->given |= 1ull << (c - OPT_JSON);
		}
	}
	return 0;
}

/* --- the configuration file -------------------------------------------------- */

/* The file's text, kept while the options point into it. */
struct config {
	char *text;
};

/* One line of the file (fm_conf_parse's fm_conf_line_fn): arg is the opts. */
static int config_line(void *arg, const char *k, const char *v, char *why, size_t why_size)
{
	struct opts *o = arg;
	const struct option *opt = NULL;
	for (const struct option *lo = long_opts; lo->name; lo++)
		if (strcmp(lo->name, k) == 0 && lo->val >= OPT_JSON)
			opt = lo;
	if (!opt || opt->val == OPT_CONFIG || opt->val == OPT_FOLLOW || opt->val == OPT_JSON) {
		snprintf(why, why_size, "unknown key (the keys are the long options without --)");
		return -1;
	}
	/* A value the command line overrides is still checked, into a copy. */
	struct opts scratch = *o;
	if (o->given & (1ull << (opt->val - OPT_JSON)))
		o = &scratch;
	if (opt->has_arg == no_argument) {
		bool on = !strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "1");
		if (!on && strcmp(v, "false") && strcmp(v, "no") && strcmp(v, "0")) {
			snprintf(why, why_size, "takes true or false, not '%.64s'", v);
			return -1;
		}
		if (opt->val == OPT_INSECURE)
			o->insecure = on;
		return 0;
	}
	return apply_opt(opt->val, v, o, why, why_size);
}

/* Reads path's "key = value" lines into o: keys are the long options
 * without "--", '#' starts a comment, a flag takes true/false (yes/no,
 * 1/0); the syntax and its limits are fm_conf_parse's. Options the command
 * line gave are left alone. 0, or -1 after ONE line "FILE:LINE: KEY: what is
 * wrong" on stderr (and into err when not NULL): never a silent default. cf
 * keeps the text the options point into (free the previous one yourself,
 * after the options stop using it). */
static int read_config(const char *path, struct opts *o, struct config *cf, char *out_err, size_t out_size)
{
	char err[PATH_MAX + 400], why[400];
	unsigned lineno = 0;
	size_t n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	cf->text = NULL;
	if (fd < 0) {
		snprintf(err, sizeof(err), "%s: %s", path, strerror(errno));
		goto out_fail;
	}
	cf->text = calloc(1, FM_CONF_TEXT_MAX + 2);
	while (cf->text && n <= FM_CONF_TEXT_MAX) {
		ssize_t r = read(fd, cf->text + n, FM_CONF_TEXT_MAX + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, sizeof(err), "%s: %s", path, strerror(errno));
			close(fd);
			goto out_fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (!cf->text || n > FM_CONF_TEXT_MAX) {
		snprintf(err, sizeof(err), "%s: %s", path, cf->text ? "larger than 64 KiB" : "out of memory");
		goto out_fail;
	}
	cf->text[n] = '\0';
	if (fm_conf_parse(cf->text, n, config_line, o, &lineno, why, sizeof(why)) < 0) {
		if (lineno)
			snprintf(err, sizeof(err), "%s:%u: %s", path, lineno, why);
		else
			snprintf(err, sizeof(err), "%s: %s", path, why);
		goto out_fail;
	}
	return 0;

out_fail:
	fprintf(stderr, "fleetmedic-agent: %s\n", err);
	if (out_err)
		snprintf(out_err, out_size, "%s", err);
	free(cf->text);
	cf->text = NULL;
	return -1;
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

/* An endpoint's origin "none: why" as the reason: why. */
static const char *without_none(const char *origin)
{
	return strncmp(origin, "none: ", 6) == 0 ? origin + 6 : origin;
}

static int collect_etcd(struct fm_loop *loop, const struct fm_discovery *d, const struct opts *o,
			const struct fm_collect_opts *co, struct fm_facts *facts)
{
	(void)o;
	if (!d->etcd.url[0]) {
		/* k3s with its default datastore (kine on SQLite) has no etcd:
		 * nothing to probe, and nothing wrong with that. On a node where
		 * no control plane was found, the person is to say where it is. */
		cJSON *f = cJSON_CreateObject();
		cJSON_AddStringToObject(f, "state", d->flavor == FM_FLAVOR_NONE ? "config" : "absent");
		cJSON_AddStringToObject(f, "reason", without_none(d->etcd.origin));
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
	int rc = 0;
	if (d->apiserver.url[0]) {
		rc = fm_apiserver_collect(loop, &d->apiserver, now, co, facts);
	} else {
		cJSON *f = cJSON_CreateObject();
		cJSON_AddStringToObject(f, "state", "config");
		cJSON_AddStringToObject(f, "reason", without_none(d->apiserver.origin));
		fm_facts_put(facts, "apiserver.endpoint", "none", f);
	}
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
/* Puts docker.daemon "absent" and returns true when this node runs no
 * Docker at all (containerd, k3s): not a runtime that is down. */
static bool docker_absent(const struct fm_discovery *d, const struct opts *o, const char *host,
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

static int collect_docker(struct fm_loop *loop, const struct fm_discovery *d, const struct opts *o,
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

/* A live source (probe --follow, and later run): started on the loop, it
 * keeps its facts in the set up to date from its own events until stopped.
 * start returns its state, or NULL after writing why into err (a
 * configuration error). stop frees the state and accepts NULL. */
typedef void *(*start_fn)(struct fm_loop *loop, const struct fm_discovery *d, const struct opts *o,
			  struct fm_facts *facts, char *err, size_t err_size);
typedef void (*stop_fn)(void *state);

/* start_docker's state on a node without Docker. */
static char no_docker;

static void *start_docker(struct fm_loop *loop, const struct fm_discovery *d, const struct opts *o,
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
static const struct source *source_named(const char *name)
{
	for (size_t i = 0; i < sizeof(sources) / sizeof(sources[0]); i++)
		if (strcmp(sources[i].name, name) == 0)
			return &sources[i];
	return NULL;
}

static int probe(const char *what, const struct opts *o)
{
	const struct source *src = source_named(what);
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
 * apiserver source read. The overall deadline is 2.5 per-request deadlines,
 * at least 2.8 s (the apiserver's /livez may take 2.5 s), whatever the
 * servers do. */
static void gather_sources(struct session *ss, const struct opts *o, const struct fm_collect_opts *co)
{
	static const char *const servers[] = {"etcd", "apiserver", "docker"};
	struct fm_gather_job jobs[3];
	struct gather_arg args[3];
	for (size_t k = 0; k < 3; k++) {
		args[k] = (struct gather_arg){source_named(servers[k]), &ss->d, o, co};
		jobs[k] = (struct fm_gather_job){.name = servers[k], .fn = gather_one, .arg = &args[k]};
	}
	fm_gather_start(jobs, 3);
	source_named("journal")->collect(ss->loop, &ss->d, o, co, ss->facts);
	/* 2.5 per-request deadlines, and at least long enough for the
	 * apiserver's /livez (FM_APISERVER_HEALTH_MS) and what follows it */
	int cut = co->timeout_ms * 5 / 2;
	fm_gather_finish(jobs, 3, cut > FM_APISERVER_HEALTH_MS + 300 ? cut : FM_APISERVER_HEALTH_MS + 300, ss->facts);
	source_named("hal")->collect(ss->loop, &ss->d, o, co, ss->facts);
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

/* --- run -------------------------------------------------------------------- */

/* The daemon's state: one loop, the live sources, the collected ones on a
 * timer, the diagnosis after each change of the facts, the uplink. */
struct agent {
	struct session ss;
	struct opts *o;
	const struct opts *cli; /* the command line alone, for SIGHUP */
	struct config cf; /* --config's text, which o points into */
	/* What SIGHUP may change and o points to (the file's text is not
	 * kept): the controller, the key file and the key. */
	char controller[512];
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
	void *live[sizeof(sources) / sizeof(sources[0])];
	/* etcd's death by event (fm_etcd_watch): collected at once, or right
	 * after the collection running when it is told. etcd_only: that
	 * collection of etcd alone is running (the loop runs while it waits). */
	struct fm_etcd_watch *etcd_watch;
	bool etcd_again, etcd_only;
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

static void agent_status(void *arg, cJSON *o)
{
	struct agent *a = arg;
	cJSON *act = fm_core_active(a->core);
	int n = 0, w = 0;
	const cJSON *d;
	cJSON_ArrayForEach(d, act)
	{
		int sev = fm_report_severity(cJSON_GetStringValue(cJSON_GetObjectItem(d, "severity")));
		n++;
		w = sev > w ? sev : w;
	}
	cJSON_Delete(act);
	cJSON_AddStringToObject(o, "node", a->node);
	cJSON_AddStringToObject(o, "version", FM_VERSION);
	cJSON_AddNumberToObject(o, "uptime_s", (double)((fm_now_ms() - a->t0_ms) / 1000));
	cJSON_AddNumberToObject(o, "q", fm_queue_last_seq(a->queue));
	cJSON_AddNumberToObject(o, "n", n);
	cJSON_AddNumberToObject(o, "w", w);
	cJSON_AddStringToObject(o, "controller", a->o->controller);
	cJSON_AddBoolToObject(o, "insecure", a->o->insecure);
}

/* The state dir's writes (fm_state polled): a fact once one failed,
 * "unwritable" while they fail, "ok" again after one worked. */
static void put_state_fact(void *arg, struct fm_facts *facts)
{
	(void)arg;
	struct fm_state_status st;
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
	fm_queue_push(a->queue, items, (int64_t)time(NULL));
	cJSON *act = fm_core_active(a->core);
	fm_queue_set_reported(a->queue, act);
	cJSON_Delete(act);
	fm_uplink_kick(a->uplink);
}

/* One timer for what fm_core has due next. */
static void rearm(struct agent *a)
{
	uint64_t at = fm_core_next_ms(a->core), now = fm_now_ms();
	if (at)
		fm_timer_arm(&a->core_timer, at > now ? at - now : 1, 0);
	else
		fm_timer_disarm(&a->core_timer);
}

/* Once per loop pass: what the callbacks of the pass changed (a batch of
 * journal lines, a container's events) is evaluated once. */
static void on_before_sleep(void *arg)
{
	struct agent *a = arg;
	fm_core_before_sleep(a->core, fm_now_ms());
	rearm(a);
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
 * with the node's and pods' objects and the certificates, the board). */
static const char *const collected_kinds[] = {"etcd.", "apiserver.", "node", "pod", "cert", "hal.", NULL};
static const char *const etcd_kinds[] = {"etcd.", NULL};

/* etcd again, for as long as the watcher asks (fm_etcd_watch spoke while
 * etcd was being asked: that answer may predate what the watcher saw). */
static void collect_etcd_asked(struct agent *a, struct fm_facts *staging)
{
	while (a->etcd_again && !fm_loop_stopped(a->ss.loop)) {
		a->etcd_again = false;
		collect_etcd(a->ss.loop, &a->ss.d, a->o, &a->co, staging);
	}
}

/* fm_core's collect hook: etcd, the apiserver and the board, on the loop
 * (fm_httpc runs it while it waits, so the live sources and libcoap keep
 * being served), into staging; committed whole at the end. */
static void on_collect_due(void *arg, struct fm_facts *staging)
{
	struct agent *a = arg;
	for (size_t i = 0; i < sizeof(sources) / sizeof(sources[0]) && !fm_loop_stopped(a->ss.loop); i++)
		if (!sources[i].start)
			sources[i].collect(a->ss.loop, &a->ss.d, a->o, &a->co, staging);
	collect_etcd_asked(a, staging);
	/* Stopped meanwhile: what the canceled requests left is not the
	 * node's state and must not be reported (fm_core_delete frees it). */
	if (fm_loop_stopped(a->ss.loop))
		return;
	fm_core_collected(a->core, staging, collected_kinds, fm_now_ms());
}

static void on_core_timer(struct fm_timer *t)
{
	struct agent *a = container_of(t, struct agent, core_timer);
	if (!a->etcd_only)
		fm_core_tick(a->core, fm_now_ms());
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
	struct agent *a = arg;
	fm_info("run: etcd watch %s: collecting etcd now", up ? "established again" : "ended");
	a->etcd_again = true;
	fm_core_fact_changed(a->core, fm_now_ms()); /* the collections at the full rate */
	if (fm_core_collecting(a->core) || a->etcd_only)
		return; /* the collection running asks again when it is done */
	struct fm_facts *staging = fm_facts_new();
	if (!staging)
		return;
	a->etcd_only = true;
	collect_etcd_asked(a, staging);
	a->etcd_only = false;
	if (!fm_loop_stopped(a->ss.loop))
		fm_core_commit(a->core, staging, etcd_kinds, fm_now_ms());
	fm_facts_delete(&staging);
	rearm(a);
}

static void on_watchdog(struct fm_timer *t)
{
	(void)t;
	fm_journal_notify("WATCHDOG=1");
}

static void on_stop(struct fm_signal *s, int signo)
{
	fm_notice("run: signal %d: stopping (the queue is on disk)", signo);
	fm_journal_notify("STOPPING=1");
	fm_loop_stop(s->ev.loop);
}

static bool same_str(const char *x, const char *y)
{
	return x == y || (x && y && strcmp(x, y) == 0);
}

/* The defaults of run's options, given or not: so the running options and
 * a file read again compare alike. */
static void run_defaults(struct opts *o)
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
static void say_restart_keys(const char *path, const struct opts *now, const struct opts *fresh)
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
}

static struct fm_uplink_opts uplink_opts(const struct agent *a, const struct opts *o, const uint8_t *key,
					 size_t key_len)
{
	return (struct fm_uplink_opts){
		.controller = o->controller, .identity = o->psk_identity ? o->psk_identity : a->node,
		.key = key, .key_len = key_len, .insecure = o->insecure, .board = a->board,
		.heartbeat_s = (uint32_t)(o->heartbeat_ms / 1000), .ack_timeout_ms = o->ack_timeout_ms,
		.max_retransmit = o->max_retransmit, .retry_min_ms = o->ack_timeout_ms ? o->ack_timeout_ms / 2 : 0,
		.retry_max_ms = o->retry_max_ms,
	};
}

/* The controller's address and key as o gives them: the key into key. 0,
 * or -1 with err saying why. */
static int controller_key(const struct opts *o, uint8_t *key, size_t *key_len, char *err, size_t err_size)
{
	struct fm_coap_uri uri;
	*key_len = 0;
	if (!o->controller) {
		snprintf(err, err_size, "run needs --controller coaps://HOST[:PORT]");
		return -1;
	}
	if (fm_coap_parse_uri(o->controller, &uri, err, err_size) < 0)
		return -1;
	if (!uri.secure && !o->insecure) {
		snprintf(err, err_size, "%s is plain CoAP: give --insecure to allow it", o->controller);
		return -1;
	}
	if (!uri.secure && !o->listen)
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
	struct opts *o = a->o;
	if (!o->config) {
		fm_notice("run: SIGHUP: no --config to read again");
		return;
	}
	/* The command line again, then the file: a key the file no longer
	 * has goes back to its default; the command line still wins. */
	struct opts fresh = *a->cli;
	struct config cf;
	char err[600];
	uint8_t key[FM_COAP_PSK_MAX];
	size_t key_len = 0;
	if (read_config(o->config, &fresh, &cf, err, sizeof(err)) < 0) {
		fm_err("run: SIGHUP: %s; the running configuration stays", err);
		return;
	}
	run_defaults(&fresh);
	if (controller_key(&fresh, key, &key_len, err, sizeof(err)) < 0) {
		fm_err("run: SIGHUP: %s: %s; the running configuration stays", o->config, err);
		goto out_free;
	}
	if (strlen(fresh.controller) >= sizeof(a->controller) ||
	    (fresh.psk_file && strlen(fresh.psk_file) >= sizeof(a->psk_file))) {
		fm_err("run: SIGHUP: %s: controller or psk-file too long; the running configuration stays", o->config);
		goto out_free;
	}
	say_restart_keys(o->config, o, &fresh);

	/* The uplink anew when anything it was made with changed; the queue
	 * stays, so nothing queued is lost or sent twice. */
	bool relink = strcmp(fresh.controller, o->controller) != 0 || fresh.insecure != o->insecure ||
		      key_len != a->key_len || memcmp(key, a->key, key_len) != 0 ||
		      fresh.ack_timeout_ms != o->ack_timeout_ms || fresh.max_retransmit != o->max_retransmit ||
		      fresh.retry_max_ms != o->retry_max_ms;
	if (relink) {
		struct fm_uplink_opts uo = uplink_opts(a, &fresh, key, key_len);
		fm_uplink_delete(&a->uplink);
		a->uplink = fm_uplink_new(a->ss.loop, a->coap, &uo, a->queue, agent_active, a, err, sizeof(err));
		if (!a->uplink) {
			/* Checked above, so only memory: the old one back. */
			fm_err("run: SIGHUP: %s; the controller stays %s", err, o->controller);
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
		snprintf(a->controller, sizeof(a->controller), "%s", fresh.controller);
		snprintf(a->psk_file, sizeof(a->psk_file), "%s", fresh.psk_file ? fresh.psk_file : "");
		o->controller = a->controller;
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
		  o->config, o->controller, relink ? " (new session)" : "",
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
	static uint8_t k[FM_COAP_PSK_MAX];
	static size_t klen;
	char err[400];
	size_t n = strlen(a->o->psk_identity ? a->o->psk_identity : a->node);
	if (id_len != n || memcmp(identity, a->o->psk_identity ? a->o->psk_identity : a->node, n) != 0) {
		fm_warn("listen: DTLS-PSK identity '%.*s' refused (only this node's own)", (int)(id_len > 64 ? 64 : id_len),
			(const char *)identity);
		return 0;
	}
	if (!klen && fm_coap_read_psk(a->o->psk_file, k, sizeof(k), &klen, err, sizeof(err)) < 0) {
		fm_err("listen: %s", err);
		return 0;
	}
	memcpy(key, k, klen);
	return klen;
}

static void agent_close(struct agent *a)
{
	for (size_t i = 0; i < sizeof(sources) / sizeof(sources[0]); i++)
		if (a->live[i])
			sources[i].stop(a->live[i]);
	fm_etcd_watch_delete(&a->etcd_watch);
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
	session_close(&a->ss);
}

/* Whether the options point a live source somewhere (run): a directory,
 * a device or a host given, not found by default. */
static bool source_pointed(const char *source, const struct opts *o)
{
	if (strcmp(source, "journal") == 0)
		return o->rules_dir || o->journal_dir || (o->kmsg && strcmp(o->kmsg, "none") != 0);
	return strcmp(source, "docker") == 0 && o->docker_host;
}

static int run(struct opts *o, const struct opts *cli)
{
	struct agent a = {.o = o, .cli = cli, .core_timer = FM_TIMER_INIT, .watchdog_timer = FM_TIMER_INIT, .sigint = {.ev = FM_EVENT_INIT},
			  .sigterm = {.ev = FM_EVENT_INIT}, .sighup = {.ev = FM_EVENT_INIT}};
	char err[600];
	int status = EXIT_USAGE;

	if (!o->controller) {
		fprintf(stderr, "fleetmedic-agent: run needs --controller coaps://HOST[:PORT]\n");
		return EXIT_USAGE;
	}
	run_defaults(o);
	if (o->log_level)
		fm_log_set_level((enum fm_log_level)o->log_level);
	a.t0_ms = fm_now_ms();
	if (session_open(&a.ss, o) < 0)
		return EXIT_USAGE;
	a.node = a.ss.d.node_name[0] ? a.ss.d.node_name : NULL;
	if (!a.node) {
		if (gethostname(a.node_buf, sizeof(a.node_buf) - 1) < 0 || !a.node_buf[0])
			snprintf(a.node_buf, sizeof(a.node_buf), "unknown");
		a.node = a.node_buf;
	}
	if (controller_key(o, a.key, &a.key_len, err, sizeof(err)) < 0) {
		fprintf(stderr, "fleetmedic-agent: %s\n", err);
		goto out_close;
	}
	char listen_host[256];
	uint16_t listen_port = 0;
	if (o->listen && fm_coap_parse_hostport(o->listen, listen_host, sizeof(listen_host), &listen_port, err,
						sizeof(err)) < 0) {
		fprintf(stderr, "fleetmedic-agent: --listen %s\n", err);
		goto out_close;
	}
	a.co = (struct fm_collect_opts){.timeout_ms = (int)o->timeout_ms, .tls_max = o->tls_max};
	if (!(a.queue = fm_queue_open(o->state_dir, 0, err, sizeof(err)))) {
		fprintf(stderr, "fleetmedic-agent: %s\n", err);
		goto out_close;
	}
	const struct fm_core_opts copts = {o->collect_ms, o->collect_idle_ms, o->hold_ms};
	const struct fm_core_hooks hooks = {.arg = &a, .collect = on_collect_due, .changes = on_changes,
					    .prepare = put_state_fact};
	if (!(a.core = fm_core_new(a.ss.facts, &copts, &hooks, fm_now_ms())) ||
	    fm_core_seed(a.core, fm_queue_reported(a.queue), fm_now_ms()) < 0) {
		fprintf(stderr, "fleetmedic-agent: out of memory\n");
		goto out_close;
	}
	if (fm_signal_init(a.ss.loop, &a.sigint, SIGINT, on_stop) < 0 ||
	    fm_signal_init(a.ss.loop, &a.sigterm, SIGTERM, on_stop) < 0 ||
	    fm_signal_init(a.ss.loop, &a.sighup, SIGHUP, on_hup) < 0 ||
	    fm_timer_init(a.ss.loop, &a.core_timer, on_core_timer) < 0 ||
	    fm_timer_init(a.ss.loop, &a.watchdog_timer, on_watchdog) < 0) {
		fprintf(stderr, "fleetmedic-agent: cannot set up the loop: %s\n", strerror(errno));
		goto out_close;
	}

	/* The live sources keep their facts up to date from their events. One
	 * the options point at (a directory, a device, a host given) that
	 * cannot start is a configuration error; one found by default is
	 * logged and left out. */
	for (size_t i = 0; i < sizeof(sources) / sizeof(sources[0]); i++) {
		if (!sources[i].start)
			continue;
		if ((a.live[i] = sources[i].start(a.ss.loop, &a.ss.d, o, a.ss.facts, err, sizeof(err))))
			continue;
		if (source_pointed(sources[i].name, o)) {
			fprintf(stderr, "fleetmedic-agent: %s: %s\n", sources[i].name, err);
			goto out_close;
		}
		fm_warn("run: %s not followed: %s", sources[i].name, err);
	}

	/* The board first: its id goes in every report. */
	collect_hal(a.ss.loop, &a.ss.d, o, &a.co, a.ss.facts);
	const cJSON *board = fm_facts_get(a.ss.facts, "hal.board", "board");
	snprintf(a.board, sizeof(a.board), "%s",
		 cJSON_GetStringValue(cJSON_GetObjectItem(board, "board_id")) ? cJSON_GetStringValue(cJSON_GetObjectItem(board, "board_id")) : "");

	if (!(a.coap = fm_coap_new(a.ss.loop))) {
		fprintf(stderr, "fleetmedic-agent: cannot set up libcoap: %s\n", strerror(errno));
		goto out_close;
	}
	if (fm_docker_host(a.docker_host, sizeof(a.docker_host), o->docker_host, a.ss.d.root) < 0)
		a.docker_host[0] = '\0';
	a.policy.allow_remove = o->allow_rm;
	struct fm_uplink_opts uo = uplink_opts(&a, o, a.key, a.key_len);
	if (!(a.uplink = fm_uplink_new(a.ss.loop, a.coap, &uo, a.queue, agent_active, &a, err, sizeof(err)))) {
		fprintf(stderr, "fleetmedic-agent: %s\n", err);
		goto out_close;
	}
	a.triage = (struct fm_triage_src){.facts = a.ss.facts, .journal_dir = o->journal_dir,
					  .docker_host = a.docker_host, .policy = &a.policy, .uplink = a.uplink,
					  .diagnoses = agent_active, .status = agent_status, .arg = &a};
	if (fm_triage_register(a.coap, &a.triage) < 0) {
		fprintf(stderr, "fleetmedic-agent: out of memory\n");
		goto out_close;
	}
	if (o->listen) {
		if (fm_coap_listen(a.coap, listen_host, listen_port, own_key, &a, err, sizeof(err)) < 0) {
			fprintf(stderr, "fleetmedic-agent: --listen %s\n", err);
			goto out_close;
		}
		fm_notice("run: serving the triage GETs on coaps://%s (DTLS-PSK, identity %s)", o->listen,
			  uo.identity);
	}

	fm_facts_observe(a.ss.facts, on_fact, &a);
	fm_loop_before_sleep(a.ss.loop, on_before_sleep, &a);
	/* etcd's death by event: collected at once when the watch ends, not
	 * at the next collection (the endpoint changes only at restart). */
	if (a.ss.d.etcd.url[0]) {
		struct fm_etcd_watch_opts wo = {.ep = &a.ss.d.etcd, .co = a.co,
						.backoff_max_ms = o->collect_ms < 5000 ? o->collect_ms : 5000,
						.on_change = on_etcd_change, .arg = &a};
		if (!(a.etcd_watch = fm_etcd_watch_new(a.ss.loop, &wo, err, sizeof(err))))
			fm_warn("run: etcd is not watched (only collected every %llums): %s",
				(unsigned long long)o->collect_ms, err);
	}
	rearm(&a); /* the first collection at once */
	uint64_t wd = fm_journal_watchdog_usec();
	if (wd)
		fm_timer_arm(&a.watchdog_timer, wd / 2000 ? wd / 2000 : 1, wd / 2000 ? wd / 2000 : 1);
	fm_journal_notify("READY=1");
	fm_notice("run: node %s reporting to %s (heartbeat %us, state in %s)", a.node, o->controller,
		  uo.heartbeat_s, o->state_dir);
	status = fm_loop_run(a.ss.loop) < 0 ? EXIT_FINDING : 0;

out_close:
	explicit_bzero(a.key, sizeof(a.key));
	agent_close(&a);
	free(a.cf.text);
	return status;
}

int main(int argc, char **argv)
{
	struct opts o = {.root = "/"}; /* timeout_ms 0: the command's default */
	/* --config's text: the options point into it until exit. */
	static struct config cf;

	/* A peer that vanishes mid-write must not kill the agent. */
	signal(SIGPIPE, SIG_IGN);
#ifdef __GLIBC__
	/* Buffers of 256 kB and more (a state file read back, the Docker
	 * watcher's tables, the rules' hit tables) in mappings of their own:
	 * resident only where written, returned when freed. By default glibc
	 * raises this threshold after the first such buffer is freed and keeps
	 * the later ones in the heap: measured, 1.77 MB of private dirty
	 * memory in steady state against 1.07 MB with it fixed (bench/b_agent).
	 * Not lower: sd-journal makes a zstd decompression context (~90 kB)
	 * for every compressed field it returns, and one mmap/munmap each (a
	 * TLB shootdown on every core) made the agent 6x slower at reading a
	 * flood (tests/faults/test_fault_flood: 115-180 s of CPU for ~550k
	 * lines at 64 kB, 21 s for ~720k at 256 kB, where it keeps up with the
	 * writer). The heap's free top is kept up to 1 MiB for the same reason:
	 * trimming it after every such context costs a brk and page faults. */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	mallopt(M_TRIM_THRESHOLD, 1024 * 1024);
#endif
	/* FLEETMEDIC_DEBUG=1: every log line, libcoap's too (to chase a link). */
	if (getenv("FLEETMEDIC_DEBUG")) {
		fm_log_set_level(FM_LOG_DEBUG);
		fm_coap_log_setup(FM_LOG_INFO);
	}

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
		if (o.config && read_config(o.config, &o, &cf, NULL, 0) < 0)
			return EXIT_USAGE;
		if (o.log_level)
			fm_log_set_level((enum fm_log_level)o.log_level);
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
		if (o.config && read_config(o.config, &o, &cf, NULL, 0) < 0)
			return EXIT_USAGE;
		if (o.log_level)
			fm_log_set_level((enum fm_log_level)o.log_level);
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
		int rc = parse_opts(argc - 1, argv + 1, &o);
		if (rc)
			return rc;
		/* The command line alone: SIGHUP reads the file over it again. */
		struct opts cli = o;
		if (optind < argc - 1) {
			fprintf(stderr, "fleetmedic-agent: unexpected argument %s\n", argv[optind + 1]);
			return EXIT_USAGE;
		}
		if (o.config && read_config(o.config, &o, &cf, NULL, 0) < 0)
			return EXIT_USAGE;
		if (o.log_level)
			fm_log_set_level((enum fm_log_level)o.log_level);
		if (o.follow || o.json) {
			fprintf(stderr, "fleetmedic-agent: --follow and --json are for probe and check\n");
			return EXIT_USAGE;
		}
		rc = run(&o, &cli);
		free(cf.text);
		return rc;
	}
	fprintf(stderr, "fleetmedic-agent: unknown command '%s' (see --help)\n", cmd);
	return EXIT_USAGE;
}
