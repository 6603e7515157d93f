/* fleetmedic-controller: the fleet controller. `serve` receives the agents'
 * heartbeats and reports over CoAP/DTLS-PSK (firmware-agent/report/
 * PROTOCOL.md) into SQLite; `nodes` and `show` read that database. */
#include "fc_keys.h"
#include "fc_keywatch.h"
#include "fc_peers.h"
#include "fc_relay.h"
#include "fc_alert.h"
#include "fc_http.h"
#include "fc_retain.h"
#include "fc_server.h"
#include "fc_db.h"
#include "fc_store.h"
#include "fm_buf.h"
#include "fm_coap.h"
#include "fm_conf.h"
#include "fm_log.h"
#include "fm_loop.h"
#include "fm_state.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

enum { EXIT_OK = 0, EXIT_FINDING = 1, EXIT_USAGE = 2 };

/* Where enroll and revoke look without --keys (the example unit's). */
#define FC_DEFAULT_KEYS "/etc/fleetmedic/keys"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: fleetmedic-controller COMMAND [OPTIONS]\n"
		"\n"
		"The fleet controller: receives fleetmedic agents' heartbeats and diagnosis\n"
		"reports over CoAP/DTLS-PSK and keeps them in one SQLite file or a\n"
		"PostgreSQL database (--db).\n"
		"\n"
		"commands:\n"
		"  serve --listen HOST:PORT --keys FILE [--db FILE|CONNINFO] [--insecure] [-v]\n"
		"        [--http HOST:PORT [--http-token FILE]] [--alertmanager URL]...\n"
		"        [--retain DURATION] [--forget DURATION]\n"
		"        serve agents (DTLS-PSK; CoAPS's port is 5684). FILE holds one\n"
		"        'NODE HEXKEY' a line (# comments, key 16..64 bytes) and must not be\n"
		"        readable by group or others. --insecure serves plain CoAP instead\n"
		"        (no authentication: for a lab only, logged loudly). -v: more log.\n"
		"        --http also serves people and their tools over plain HTTP (off by\n"
		"        default; 127.0.0.1:8080 is usual): GET /api/v1/nodes, GET\n"
		"        /api/v1/nodes/NODE, GET /metrics (Prometheus). On an address other\n"
		"        than loopback every request needs 'Authorization: Bearer TOKEN',\n"
		"        TOKEN the first line of --http-token FILE (16..256 characters, mode\n"
		"        0600). There is no TLS here: it belongs to a reverse proxy in front.\n"
		"        --alertmanager http://HOST:9093 (repeatable, up to 8): every raised\n"
		"        critical or warning diagnosis is posted to Alertmanager's v2 API\n"
		"        (labels alertname=fleetmedic, node, code, severity; annotations\n"
		"        summary, remedy), sent again every --alert-resend (60s) while it\n"
		"        stands and resolved when the node resolves it; an unreachable node\n"
		"        is one node-unreachable alert. One that does not answer gets it all\n"
		"        once back; it never holds up the agents' reports.\n"
		"        --retain DURATION (90d): history lines older than this are pruned, a\n"
		"        few hundred at a time, while serving (0 or off: kept forever); the\n"
		"        diagnoses a node still has raised are never pruned. --forget\n"
		"        DURATION (off): a node not heard from for this long is dropped with\n"
		"        its raised diagnoses, a 'forgotten' history line left for it.\n"
		"  nodes [--db FILE|CONNINFO] [--json]\n"
		"        every node: board, last seen, state (ok|unreachable), worst severity,\n"
		"        the codes of its raised diagnoses\n"
		"  show NODE [--db FILE|CONNINFO] [--json] [--history N]\n"
		"        a node's diagnoses with evidence, remedy and what they explain, then\n"
		"        its last N (20) history lines\n"
		"  triage NODE WHAT [ARGS...] [--timeout DURATION] [--control PATH] [--json]\n"
		"        ask a node over its own session, through the running serve:\n"
		"          status | diag | facts [KIND] | containers | etcd | hal\n"
		"          journal UNIT [COUNT] [PATTERN]   (UNIT: kubelet docker containerd etcd k3s kernel)\n"
		"          rm CONTAINER-ID                  (only when the node's config enables actions)\n"
		"        A node that spoke in the last 30 s is asked at once, any other at its next\n"
		"        heartbeat; --timeout (150s) bounds the wait. Prints the answer (JSON\n"
		"        pretty-printed); exit 1 when the node refuses or does not answer.\n"
		"  enroll NODE [--keys FILE] [--rotate [--now]] [--controller coaps://HOST:PORT]\n"
		"        [--out DIR]\n"
		"        a new 32-byte key for NODE (%s), added to the keys file (made,\n"
		"        mode 0600, when missing; default %s) atomically, then printed for\n"
		"        the node: the lines of its /etc/fleetmedic/fleetmedic.conf and the\n"
		"        content of its psk file; or written into DIR as etc/fleetmedic/\n"
		"        fleetmedic.conf and etc/fleetmedic/psk (mode 0600): a tree to copy\n"
		"        onto the node's root (make install DESTDIR= keeps that config).\n"
		"        A node already enrolled is refused unless --rotate: a new key, the\n"
		"        old one still taken until the node has handshaken with the new (or\n"
		"        not at all with --now). A running serve takes the change at once.\n"
		"  revoke NODE [--keys FILE]\n"
		"        NODE out of the keys file: a running serve closes its session and\n"
		"        refuses its next handshake; its history stays in the database\n"
		"  migrate [--db FILE|CONNINFO]\n"
		"        makes the store or brings its schema up to this version, in one\n"
		"        transaction. serve does the same at its start, unless other serves\n"
		"        run on the store (PostgreSQL): then it refuses, and migrate is the\n"
		"        step that upgrades it while they run (restart them after)\n"
		"  --version | --help\n"
		"\n"
		"--db defaults to %s (an SQLite file); a PostgreSQL database is\n"
		"named by a libpq connection string or URI instead (postgresql://..., or\n"
		"\"host=... dbname=...\"; a password from PGPASSWORD or ~/.pgpass, never on\n"
		"the command line). --db @FILE takes FILE's first line; FLEETMEDIC_DB in the\n"
		"environment stands for a --db not given. --control (serve's triage socket, mode 0600) defaults\n"
		"to the database's path with .sock appended (PostgreSQL: the default's).\n"
		"A node is unreachable after %d missed heartbeat intervals.\n"
		"exit status: 0 done, 1 serve failed while running, 2 usage or configuration\n"
		"error (unknown node, unreadable key file, no database).\n"
		"serve reads --keys again on SIGHUP and whenever the file changes (enroll,\n"
		"revoke, an editor), without dropping any other node's session.\n",
		FM_NODE_NAME_RULE, FC_DEFAULT_KEYS, FC_STORE_DEFAULT_DB, FC_STORE_MISSED_MAX);
}

#define ARGS_MAX 5
struct opts {
	const char *listen, *keys, *db, *control, *http, *http_token, *controller, *out;
	const char *alertmanager[FC_ALERT_URLS_MAX];
	size_t nalertmanager;
	uint64_t alert_resend_ms;
	bool insecure, json, rotate, now;
	int verbose;
	long history;
	uint64_t timeout_ms;
	int64_t retain_s, forget_s;
	const char *args[ARGS_MAX]; /* positional */
	int nargs;
	char db_text[4096]; /* --db @FILE's first line */
};

enum { OPT_LISTEN = 256, OPT_KEYS, OPT_DB, OPT_INSECURE, OPT_JSON, OPT_HISTORY, OPT_CONTROL, OPT_TIMEOUT,
       OPT_HTTP, OPT_HTTP_TOKEN, OPT_ALERTMANAGER, OPT_ALERT_RESEND, OPT_ROTATE, OPT_NOW, OPT_CONTROLLER,
       OPT_OUT, OPT_RETAIN, OPT_FORGET };

/* --retain, --forget: a duration of 1h or more, or 0 / off. */
static int parse_age(const char *opt, const char *arg, int64_t *s)
{
	uint64_t ms = 0;
	if (strcmp(arg, "off") != 0 && (fm_conf_duration_ms(arg, &ms) < 0 || (ms && ms < 3600000))) {
		fprintf(stderr, "fleetmedic-controller: %s %s: give a duration of 1h or more (90d), or off\n", opt, arg);
		return -1;
	}
	*s = (int64_t)(ms / 1000);
	return 0;
}

/* A connection string with a password in it (key=value or a URI's
 * user:password@). */
static bool db_has_password(const char *db)
{
	if (!fc_db_is_postgresql(db))
		return false;
	if (strstr(db, "password="))
		return true;
	const char *u = strstr(db, "://"), *at = u ? strchr(u + 3, '@') : NULL;
	return at && memchr(u + 3, ':', (size_t)(at - (u + 3)));
}

/* --db @FILE: the store named by FILE's first line (a connection string
 * with a password stays out of ps). */
static int read_db_file(struct opts *o)
{
	const char *path = o->db + 1;
	FILE *f = fopen(path, "re");
	if (!f) {
		fprintf(stderr, "fleetmedic-controller: --db @%s: %s\n", path, strerror(errno));
		return -1;
	}
	bool ok = fgets(o->db_text, sizeof(o->db_text), f) != NULL;
	fclose(f);
	size_t n = ok ? strcspn(o->db_text, "\r\n") : 0;
	if (!ok || n == 0 || n == sizeof(o->db_text) - 1) {
		fprintf(stderr, "fleetmedic-controller: --db @%s: give the database on its first line (at most %zu bytes)\n",
			path, sizeof(o->db_text) - 2);
		return -1;
	}
	o->db_text[n] = '\0';
	o->db = o->db_text;
	return 0;
}

static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option long_opts[] = {
		{"listen", required_argument, NULL, OPT_LISTEN},
		{"keys", required_argument, NULL, OPT_KEYS},
		{"db", required_argument, NULL, OPT_DB},
		{"insecure", no_argument, NULL, OPT_INSECURE},
		{"json", no_argument, NULL, OPT_JSON},
		{"history", required_argument, NULL, OPT_HISTORY},
		{"control", required_argument, NULL, OPT_CONTROL},
		{"timeout", required_argument, NULL, OPT_TIMEOUT},
		{"http", required_argument, NULL, OPT_HTTP},
		{"http-token", required_argument, NULL, OPT_HTTP_TOKEN},
		{"alertmanager", required_argument, NULL, OPT_ALERTMANAGER},
		{"alert-resend", required_argument, NULL, OPT_ALERT_RESEND},
		{"rotate", no_argument, NULL, OPT_ROTATE},
		{"now", no_argument, NULL, OPT_NOW},
		{"controller", required_argument, NULL, OPT_CONTROLLER},
		{"out", required_argument, NULL, OPT_OUT},
		{"retain", required_argument, NULL, OPT_RETAIN},
		{"forget", required_argument, NULL, OPT_FORGET},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;
	const char *env_db = getenv("FLEETMEDIC_DB");
	o->db = env_db && *env_db ? env_db : FC_STORE_DEFAULT_DB;
	o->history = 20;
	o->timeout_ms = 150000;
	o->retain_s = FC_RETAIN_DEFAULT_S;
	optind = 2; /* after the command */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hv", long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_LISTEN: o->listen = optarg; break;
		case OPT_KEYS: o->keys = optarg; break;
		case OPT_DB: o->db = optarg; break;
		case OPT_INSECURE: o->insecure = true; break;
		case OPT_JSON: o->json = true; break;
		case OPT_HISTORY: {
			char *end;
			o->history = strtol(optarg, &end, 10);
			if (!*optarg || *end || o->history < 0 || o->history > 10000) {
				fprintf(stderr, "fleetmedic-controller: --history must be 0..10000\n");
				return -1;
			}
			break;
		}
		case OPT_CONTROL: o->control = optarg; break;
		case OPT_ROTATE: o->rotate = true; break;
		case OPT_NOW: o->now = true; break;
		case OPT_CONTROLLER: o->controller = optarg; break;
		case OPT_OUT: o->out = optarg; break;
		case OPT_HTTP: o->http = optarg; break;
		case OPT_HTTP_TOKEN: o->http_token = optarg; break;
		case OPT_ALERTMANAGER:
			if (o->nalertmanager == FC_ALERT_URLS_MAX) {
				fprintf(stderr, "fleetmedic-controller: at most %d --alertmanager\n", FC_ALERT_URLS_MAX);
				return -1;
			}
			o->alertmanager[o->nalertmanager++] = optarg;
			break;
		case OPT_ALERT_RESEND:
			if (fm_conf_duration_ms(optarg, &o->alert_resend_ms) < 0 || o->alert_resend_ms < 1000 ||
			    o->alert_resend_ms > 3600000) {
				fprintf(stderr, "fleetmedic-controller: --alert-resend %s: give a duration of 1s to 1h\n", optarg);
				return -1;
			}
			break;
		case OPT_RETAIN:
			if (parse_age("--retain", optarg, &o->retain_s) < 0)
				return -1;
			break;
		case OPT_FORGET:
			if (parse_age("--forget", optarg, &o->forget_s) < 0)
				return -1;
			break;
		case OPT_TIMEOUT:
			if (fm_conf_duration_ms(optarg, &o->timeout_ms) < 0 || o->timeout_ms == 0 ||
			    o->timeout_ms > 3600000) {
				fprintf(stderr, "fleetmedic-controller: --timeout %s: give a duration such as 30s or 5m (at most 1h)\n",
					optarg);
				return -1;
			}
			break;
		case 'v': o->verbose++; break;
		case 'h': usage(stdout); exit(EXIT_OK);
		case ':':
			fprintf(stderr, "fleetmedic-controller: %s needs a value\n", argv[optind - 1]);
			return -1;
		default:
			fprintf(stderr, "fleetmedic-controller: unknown option %s (see --help)\n", argv[optind - 1]);
			return -1;
		}
	}
	if (o->db[0] == '@' && read_db_file(o) < 0)
		return -1;
	if (o->db != env_db && o->db != o->db_text && db_has_password(o->db))
		fprintf(stderr, "fleetmedic-controller: warning: the password in --db shows in ps; give it in "
				"PGPASSWORD or ~/.pgpass, or the string in a file (--db @FILE) or FLEETMEDIC_DB\n");
	for (; optind < argc; optind++) {
		if (o->nargs == ARGS_MAX) {
			fprintf(stderr, "fleetmedic-controller: unexpected argument %s (see --help)\n", argv[optind]);
			return -1;
		}
		o->args[o->nargs++] = argv[optind];
	}
	return 0;
}

/* --control, or the database's path with .sock appended (a PostgreSQL
 * store has no path: beside the default database). */
static const char *control_path(const struct opts *o, char *buf, size_t size)
{
	if (o->control)
		return o->control;
	snprintf(buf, size, "%s.sock", fc_db_is_postgresql(o->db) ? FC_STORE_DEFAULT_DB : o->db);
	return buf;
}

static bool stop_requested;

static void on_signal(struct fm_signal *sig, int signo)
{
	fm_notice("signal %d: stopping", signo);
	stop_requested = true;
	fm_loop_stop(sig->ev.loop);
}

/* Prints errs' lines (fc_keys' reasons, "PATH:LINE: what"), each after
 * "fleetmedic-controller: " and prefix. */
static void print_errs(const struct fm_buf *errs, const char *prefix)
{
	for (const char *l = errs->data, *nl; l && *l; l = nl ? nl + 1 : NULL) {
		nl = strchr(l, '\n');
		fprintf(stderr, "fleetmedic-controller: %s%.*s\n", prefix, nl ? (int)(nl - l) : (int)strlen(l), l);
	}
}

static int cmd_serve(const struct opts *o)
{
	if (!o->listen || !o->keys || o->nargs) {
		if (o->nargs)
			fprintf(stderr, "fleetmedic-controller: serve takes no argument %s (see --help)\n", o->args[0]);
		else
			fprintf(stderr, "fleetmedic-controller: serve needs --listen HOST:PORT and --keys FILE (see --help)\n");
		return EXIT_USAGE;
	}
	if (o->http_token && !o->http) {
		fprintf(stderr, "fleetmedic-controller: --http-token goes with --http HOST:PORT (see --help)\n");
		return EXIT_USAGE;
	}
	fm_log_set_level(o->verbose >= 2 ? FM_LOG_DEBUG : o->verbose ? FM_LOG_INFO : FM_LOG_NOTICE);
	if (getenv("JOURNAL_STREAM"))
		fm_log_set_journal_prefix(1);
	/* libcoap's own lines: its warnings, its chatter only with -vv */
	fm_coap_log_setup(o->verbose >= 2 ? FM_LOG_DEBUG : FM_LOG_WARNING);

	int status = EXIT_USAGE;
	struct fm_buf errs;
	struct fc_keys *keys = NULL;
	struct fc_store *store = NULL;
	struct fm_loop *loop = NULL;
	struct fc_server *server = NULL;
	struct fc_http *http = NULL;
	struct fc_alerts *alerts = NULL;
	struct fc_keywatch *keywatch = NULL;
	struct fc_retain *retain = NULL;
	struct fc_peers *peers = NULL;
	struct fm_signal sigterm = {.ev = FM_EVENT_INIT}, sigint = {.ev = FM_EVENT_INIT};
	char why[PATH_MAX + 160];

	fm_buf_init(&errs, 16384);
	if (fc_keys_load(o->keys, &keys, &errs) < 0) {
		/* one line per bad line of the file */
		print_errs(&errs, "--keys ");
		if (!errs.data)
			fprintf(stderr, "fleetmedic-controller: cannot load --keys\n");
		goto out;
	}
	if (fc_store_open(o->db, true, &store, why, sizeof(why)) < 0) {
		fprintf(stderr, "fleetmedic-controller: --db %s\n", why);
		goto out;
	}
	loop = fm_loop_new();
	if (!loop || fm_signal_init(loop, &sigterm, SIGTERM, on_signal) < 0 ||
	    fm_signal_init(loop, &sigint, SIGINT, on_signal) < 0) {
		fprintf(stderr, "fleetmedic-controller: cannot set up the event loop: %s\n", strerror(errno));
		goto out;
	}
	char ctl[PATH_MAX];
	struct fc_server_conf conf = {.listen = o->listen, .keys = keys, .store = store, .insecure = o->insecure,
				      .control = control_path(o, ctl, sizeof(ctl))};
	server = fc_server_new(loop, &conf, why, sizeof(why));
	if (!server) {
		fprintf(stderr, "fleetmedic-controller: %s\n", why);
		goto out;
	}
	if (!(keywatch = fc_keywatch_new(loop, o->keys, keys, server, why, sizeof(why)))) {
		fprintf(stderr, "fleetmedic-controller: %s\n", why);
		goto out;
	}
	keys = NULL; /* keywatch's now */
	/* several serves on one PostgreSQL store: triage through any of them */
	if (fc_db_is_postgresql(o->db) && fc_server_relay(server) &&
	    !(peers = fc_peers_new(loop, o->db, store, fc_server_relay(server), fc_server_id(server), why,
				   sizeof(why)))) {
		fprintf(stderr, "fleetmedic-controller: %s\n", why);
		goto out;
	}
	if (o->retain_s || o->forget_s) {
		struct fc_retain_conf rc = {.store = store, .retain_s = o->retain_s, .forget_s = o->forget_s};
		if (!(retain = fc_retain_new(loop, &rc, why, sizeof(why)))) {
			fprintf(stderr, "fleetmedic-controller: %s\n", why);
			goto out;
		}
	}
	if (o->nalertmanager) {
		struct fc_alerts_conf ac = {.urls = o->alertmanager, .n = o->nalertmanager, .store = store,
					    .resend_ms = o->alert_resend_ms};
		if (!(alerts = fc_alerts_new(loop, &ac, why, sizeof(why)))) {
			fprintf(stderr, "fleetmedic-controller: %s\n", why);
			goto out;
		}
	}
	if (o->http) {
		struct fc_http_conf hc = {
		    .listen = o->http, .token_file = o->http_token, .store = store, .server = server, .alerts = alerts,
		    .relay = fc_server_relay(server)};
		if (!(http = fc_http_new(loop, &hc, why, sizeof(why)))) {
			fprintf(stderr, "fleetmedic-controller: %s\n", why);
			goto out;
		}
	}
	sd_notifyf(0, "READY=1\nSTATUS=serving on %s%s%s", fc_server_address(server), o->http ? ", http://" : "",
		   o->http ? o->http : "");
	int rc = fm_loop_run(loop);
	status = rc < 0 && !stop_requested ? EXIT_FINDING : EXIT_OK;
	if (rc < 0 && !stop_requested)
		fm_err("event loop failed: %s", strerror(-rc));
	sd_notify(0, "STOPPING=1");
out:
	fc_http_delete(&http);
	fc_alerts_delete(&alerts);
	fc_retain_delete(&retain);
	fc_peers_delete(&peers);
	fc_server_delete(&server);
	fc_keywatch_delete(&keywatch);
	fm_signal_close(&sigterm);
	fm_signal_close(&sigint);
	fm_loop_delete(&loop);
	fc_store_delete(&store);
	fc_keys_delete(&keys);
	fm_buf_free(&errs);
	return status;
}

/* "4s ago", "3m ago", "2h ago", "5d ago". */
static const char *ago(double s, char *buf, size_t size)
{
	long long v = (long long)s;
	if (v < 0)
		v = 0;
	if (v < 120)
		snprintf(buf, size, "%llds ago", v);
	else if (v < 7200)
		snprintf(buf, size, "%lldm ago", v / 60);
	else if (v < 172800)
		snprintf(buf, size, "%lldh ago", v / 3600);
	else
		snprintf(buf, size, "%lldd ago", v / 86400);
	return buf;
}

static const char *jstr(const cJSON *o, const char *key, const char *dflt)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(j) ? j->valuestring : dflt;
}

static double jnum(const cJSON *o, const char *key)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsNumber(j) ? j->valuedouble : 0;
}

/* The strings of a JSON array joined with sep. */
static void print_list(const cJSON *a, const char *sep)
{
	const cJSON *it;
	bool first = true;
	cJSON_ArrayForEach(it, a) {
		if (cJSON_IsString(it)) {
			printf("%s%s", first ? "" : sep, it->valuestring);
			first = false;
		}
	}
}

static void print_json(cJSON *j)
{
	char *s = cJSON_Print(j);
	if (s)
		printf("%s\n", s);
	cJSON_free(s);
}

static int open_ro(const struct opts *o, struct fc_store **store)
{
	char why[PATH_MAX + 160];
	if (fc_store_open(o->db, false, store, why, sizeof(why)) < 0) {
		fprintf(stderr, "fleetmedic-controller: --db %s\n", why);
		return -1;
	}
	return 0;
}

static int cmd_nodes(const struct opts *o)
{
	struct fc_store *store = NULL;
	if (o->nargs) {
		fprintf(stderr, "fleetmedic-controller: nodes takes no argument (see --help)\n");
		return EXIT_USAGE;
	}
	if (open_ro(o, &store) < 0)
		return EXIT_USAGE;
	cJSON *nodes = fc_store_nodes(store, (int64_t)time(NULL));
	fc_store_delete(&store);
	if (!nodes) {
		fprintf(stderr, "fleetmedic-controller: cannot read %s\n", o->db);
		return EXIT_USAGE;
	}
	if (o->json) {
		print_json(nodes);
	} else {
		printf("%-24s %-12s %-10s %-12s %-9s %s\n", "NODE", "BOARD", "LAST SEEN", "STATE", "WORST",
		       "CODES");
		const cJSON *n;
		cJSON_ArrayForEach(n, nodes) {
			char when[32];
			printf("%-24s %-12s %-10s %-12s %-9s ", jstr(n, "node", "?"), jstr(n, "board", "-"),
			       ago(jnum(n, "last_seen_ago_s"), when, sizeof(when)), jstr(n, "state", "?"),
			       jstr(n, "worst", "?"));
			const cJSON *codes = cJSON_GetObjectItemCaseSensitive(n, "codes");
			if (cJSON_GetArraySize(codes))
				print_list(codes, ",");
			else
				printf("-");
			printf("\n");
		}
	}
	cJSON_Delete(nodes);
	return EXIT_OK;
}

static void print_time(double t)
{
	char buf[32];
	time_t tt = (time_t)t;
	struct tm tm;
	if (localtime_r(&tt, &tm) && strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm))
		printf("%s", buf);
	else
		printf("%.0f", t);
}

static void print_show(const cJSON *n)
{
	char when[32];
	printf("node %s", jstr(n, "node", "?"));
	if (jstr(n, "board", NULL))
		printf(" (%s)", jstr(n, "board", ""));
	printf(": %s, last seen %s, report %.0f, heartbeat every %.0fs%s\n", jstr(n, "state", "?"),
	       ago(jnum(n, "last_seen_ago_s"), when, sizeof(when)), jnum(n, "last_seq"), jnum(n, "interval_s"),
	       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(n, "insecure")) ? ", INSECURE session" : "");
	const cJSON *diags = cJSON_GetObjectItemCaseSensitive(n, "diagnoses"), *d;
	if (!cJSON_GetArraySize(diags))
		printf("\nno diagnosis raised\n");
	cJSON_ArrayForEach(d, diags) {
		if (*jstr(d, "component", ""))
			printf("\n%s %s (%s: %s)\n", jstr(d, "severity", "?"), jstr(d, "code", "?"), jstr(d, "component", ""),
			       jstr(d, "key", ""));
		else
			printf("\n%s %s (%s)\n", jstr(d, "severity", "?"), jstr(d, "code", "?"), jstr(d, "key", ""));
		if (*jstr(d, "summary", ""))
			printf("  %s\n", jstr(d, "summary", ""));
		const cJSON *a = cJSON_GetObjectItemCaseSensitive(d, "evidence");
		if (cJSON_GetArraySize(a)) {
			printf("  evidence: ");
			print_list(a, ", ");
			printf("\n");
		}
		/* what it explains, with the component of each where the agent
		 * said it */
		a = cJSON_GetObjectItemCaseSensitive(d, "links");
		if (cJSON_GetArraySize(a)) {
			const cJSON *l;
			int k = 0;
			printf("  explains: ");
			cJSON_ArrayForEach(l, a) {
				printf("%s%s", k++ ? ", " : "", jstr(l, "code", "?"));
				if (*jstr(l, "component", ""))
					printf(" (%s)", jstr(l, "component", ""));
			}
			printf("\n");
		}
		a = cJSON_GetObjectItemCaseSensitive(d, "remedy");
		const cJSON *it;
		cJSON_ArrayForEach(it, a)
			if (cJSON_IsString(it))
				printf("  fix: %s\n", it->valuestring);
		printf("  raised ");
		print_time(jnum(d, "raised_at"));
		printf(", report %.0f\n", jnum(d, "seq"));
	}
	const cJSON *hist = cJSON_GetObjectItemCaseSensitive(n, "history"), *h;
	if (cJSON_GetArraySize(hist))
		printf("\nhistory:\n");
	cJSON_ArrayForEach(h, hist) {
		printf("  ");
		print_time(jnum(h, "at"));
		if (jnum(h, "seq"))
			printf("  #%-5.0f", jnum(h, "seq"));
		else
			printf("  %-6s", "");
		printf(" %-11s", jstr(h, "event", "?"));
		if (jstr(h, "code", NULL))
			printf(" %s %s", jstr(h, "code", ""), jstr(h, "key", ""));
		if (jnum(h, "severity"))
			printf(" (%s)", fc_store_severity_name((int)jnum(h, "severity")));
		if (jstr(h, "detail", NULL))
			printf("%s%s", jstr(h, "code", NULL) ? ": " : " ", jstr(h, "detail", ""));
		printf("\n");
	}
}

static int cmd_show(const struct opts *o)
{
	struct fc_store *store = NULL;
	if (o->nargs != 1) {
		fprintf(stderr, "fleetmedic-controller: show needs one NODE (see --help)\n");
		return EXIT_USAGE;
	}
	if (open_ro(o, &store) < 0)
		return EXIT_USAGE;
	int rc;
	cJSON *n = fc_store_show(store, o->args[0], (int)o->history, (int64_t)time(NULL), &rc);
	fc_store_delete(&store);
	if (!n) {
		fprintf(stderr, "fleetmedic-controller: %s\n",
			rc == -ENOENT ? "no such node (see 'fleetmedic-controller nodes')" : "cannot read the database");
		return EXIT_USAGE;
	}
	if (o->json)
		print_json(n);
	else
		print_show(n);
	cJSON_Delete(n);
	return EXIT_OK;
}

static int cmd_triage(const struct opts *o)
{
	if (o->nargs < 2) {
		fprintf(stderr, "fleetmedic-controller: triage needs NODE and WHAT (see --help)\n");
		return EXIT_USAGE;
	}
	const char *node = o->args[0], *what = o->args[1];
	struct fc_relay_request req;
	if (fc_relay_verb(what, o->args + 2, (size_t)(o->nargs - 2), &req) < 0) {
		fprintf(stderr, "fleetmedic-controller: triage %s: give " FC_RELAY_VERBS " (see --help)\n", what);
		return EXIT_USAGE;
	}
	char ctl[PATH_MAX], why[PATH_MAX + 160];
	cJSON *a = fc_relay_ask(control_path(o, ctl, sizeof(ctl)), node, req.post ? "post" : "get", req.path, req.query,
				o->timeout_ms, why, sizeof(why));
	if (!a) {
		fprintf(stderr, "fleetmedic-controller: %s\n", why);
		return EXIT_USAGE;
	}
	const char *err = jstr(a, "error", NULL), *code = jstr(a, "code", "?"), *payload = jstr(a, "payload", "");
	int status = EXIT_OK;
	if (o->json) {
		print_json(a);
		status = err || code[0] != '2' ? EXIT_FINDING : EXIT_OK;
	} else if (err) {
		fprintf(stderr, "fleetmedic-controller: %s: %s\n", node, err);
		status = EXIT_FINDING;
	} else if (code[0] != '2') {
		fprintf(stderr, "fleetmedic-controller: %s answered %s%s%s\n", node, code, *payload ? ": " : "", payload);
		status = EXIT_FINDING;
	} else {
		cJSON *j = cJSON_Parse(payload);
		if (j)
			print_json(j);
		else
			printf("%s%s", payload, *payload && payload[strlen(payload) - 1] != '\n' ? "\n" : "");
		cJSON_Delete(j);
	}
	cJSON_Delete(a);
	return status;
}

/* The node's side of an enrollment: its config lines and psk file. */
static int write_node_files(const struct opts *o, const char *node, const char *conf, const char *hex)
{
	char dir[PATH_MAX];
	if ((size_t)snprintf(dir, sizeof(dir), "%s/etc/fleetmedic", o->out) >= sizeof(dir)) {
		fprintf(stderr, "fleetmedic-controller: --out %s: path too long\n", o->out);
		return -1;
	}
	char psk[FC_KEYS_KEY_MAX * 2 + 2];
	snprintf(psk, sizeof(psk), "%s\n", hex);
	int rc = fm_file_replace(dir, "psk", psk, strlen(psk));
	explicit_bzero(psk, sizeof(psk));
	if (rc == 0)
		rc = fm_file_replace(dir, "fleetmedic.conf", conf, strlen(conf));
	if (rc < 0) {
		fprintf(stderr, "fleetmedic-controller: --out %s: %s\n", dir, strerror(-rc));
		return -1;
	}
	/* the config holds no secret: readable as the .deb installs it */
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/fleetmedic.conf", dir);
	if (chmod(path, 0644) < 0) {
		fprintf(stderr, "fleetmedic-controller: %s: %s\n", path, strerror(errno));
		return -1;
	}
	printf("%s: enrolled; its files are in %s (fleetmedic.conf, psk): copy them onto the node's root\n", node,
	       dir);
	return 0;
}

static int cmd_enroll(const struct opts *o)
{
	if (o->nargs != 1) {
		fprintf(stderr, "fleetmedic-controller: enroll needs one NODE (see --help)\n");
		return EXIT_USAGE;
	}
	if (o->now && !o->rotate) {
		fprintf(stderr, "fleetmedic-controller: --now goes with --rotate\n");
		return EXIT_USAGE;
	}
	const char *node = o->args[0];
	if (!fm_node_name_ok(node, strlen(node))) {
		fprintf(stderr, "fleetmedic-controller: '%s' is not a node name (%s)\n", node, FM_NODE_NAME_RULE);
		return EXIT_USAGE;
	}
	if (o->controller && strncmp(o->controller, "coaps://", 8) != 0) {
		fprintf(stderr, "fleetmedic-controller: --controller %s: give coaps://HOST:PORT\n", o->controller);
		return EXIT_USAGE;
	}
	uint8_t key[32];
	char hex[2 * sizeof(key) + 1];
	if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key)) {
		fprintf(stderr, "fleetmedic-controller: the system's random source: %s\n", strerror(errno));
		return EXIT_FINDING;
	}
	for (size_t i = 0; i < sizeof(key); i++)
		snprintf(hex + 2 * i, 3, "%02x", key[i]);
	struct fm_buf errs;
	fm_buf_init(&errs, 4096);
	const char *keys = o->keys ? o->keys : FC_DEFAULT_KEYS;
	enum fc_keys_op op = !o->rotate ? FC_KEYS_ADD : o->now ? FC_KEYS_ROTATE_NOW : FC_KEYS_ROTATE;
	int rc = fc_keys_edit(keys, node, op, key, sizeof(key), &errs);
	explicit_bzero(key, sizeof(key));
	int status = EXIT_OK;
	if (rc < 0) {
		print_errs(&errs, "");
		status = rc == -EEXIST || rc == -ENOENT || rc == -EINVAL ? EXIT_USAGE : EXIT_FINDING;
		goto out;
	}
	char conf[1024];
	snprintf(conf, sizeof(conf),
		 "# fleetmedic-agent's configuration for %s (fleetmedic-controller enroll)\n"
		 "%scontroller = %s\n"
		 "psk-identity = %s\n"
		 "psk-file = /etc/fleetmedic/psk\n"
		 "state-dir = /var/lib/fleetmedic\n",
		 node, o->controller ? "" : "# set the controller's address:\n#",
		 o->controller ? o->controller : "coaps://CONTROLLER:5684", node);
	if (o->out) {
		if (write_node_files(o, node, conf, hex) < 0)
			status = EXIT_FINDING;
	} else {
		printf("# %s %s in %s. On the node:\n"
		       "# /etc/fleetmedic/fleetmedic.conf\n%s"
		       "# /etc/fleetmedic/psk (mode 0600): the key, one line\n%s\n",
		       node, o->rotate ? "has a new key" : "is enrolled", keys, conf, hex);
	}
	if (o->rotate && status == EXIT_OK)
		fprintf(stderr, "fleetmedic-controller: %s: %s\n", node,
			o->now ? "its old key no longer works: the node needs the new one now"
			       : "its old key works until the node has handshaken with the new one");
out:
	explicit_bzero(hex, sizeof(hex));
	fm_buf_free(&errs);
	return status;
}

static int cmd_migrate(const struct opts *o)
{
	if (o->nargs != 0) {
		fprintf(stderr, "fleetmedic-controller: migrate takes no arguments but --db (see --help)\n");
		return EXIT_USAGE;
	}
	char why[PATH_MAX + 160];
	int from, to, serves;
	if (fc_store_migrate(o->db, &from, &to, &serves, why, sizeof(why)) < 0) {
		fprintf(stderr, "fleetmedic-controller: --db %s\n", why);
		return EXIT_USAGE;
	}
	if (from == to)
		printf("schema version %d: up to date, nothing to do\n", to);
	else if (from == 0)
		printf("schema version %d: made\n", to);
	else
		printf("schema version %d -> %d: upgraded\n", from, to);
	if (serves > 0 && from != to)
		printf("%d serve(s) run on it: restart them with this version\n", serves);
	return EXIT_OK;
}

static int cmd_revoke(const struct opts *o)
{
	if (o->nargs != 1) {
		fprintf(stderr, "fleetmedic-controller: revoke needs one NODE (see --help)\n");
		return EXIT_USAGE;
	}
	struct fm_buf errs;
	fm_buf_init(&errs, 4096);
	const char *keys = o->keys ? o->keys : FC_DEFAULT_KEYS;
	int rc = fc_keys_edit(keys, o->args[0], FC_KEYS_REVOKE, NULL, 0, &errs);
	if (rc < 0)
		print_errs(&errs, "");
	else
		printf("%s: revoked (out of %s)\n", o->args[0], keys);
	fm_buf_free(&errs);
	return rc == 0 ? EXIT_OK : rc == -ENOENT || rc == -EINVAL ? EXIT_USAGE : EXIT_FINDING;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		printf("fleetmedic-controller %s (%s)\n", FM_VERSION, fc_db_versions());
		return EXIT_OK;
	}
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	static const struct {
		const char *name;
		int (*fn)(const struct opts *);
	} cmds[] = {{"serve", cmd_serve},   {"nodes", cmd_nodes},	{"show", cmd_show},
		    {"triage", cmd_triage}, {"enroll", cmd_enroll}, {"revoke", cmd_revoke},
		    {"migrate", cmd_migrate}};
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[1], cmds[i].name) != 0)
			continue;
		struct opts o = {0};
		if (parse(argc, argv, &o) < 0)
			return EXIT_USAGE;
		return cmds[i].fn(&o);
	}
	fprintf(stderr, "fleetmedic-controller: unknown command %s (see --help)\n", argv[1]);
	return EXIT_USAGE;
}
