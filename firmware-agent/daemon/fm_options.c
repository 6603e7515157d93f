/* fleetmedic-agent's options and configuration file (fm_options.h). */
#include "fm_options.h"

#include "fm_coap.h"
#include "fm_conf.h"
#include "fm_log.h"

#include <mbedtls/version.h>
#include <coap3/coap.h>

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

void fm_usage(FILE *out)
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
		"  probe cri         the container runtime through the CRI (containerd, k3s, CRI-O):\n"
		"                    its version, the control-plane sandboxes and containers, exit codes\n"
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
		"  --runtime-endpoint unix:///PATH\n"
		"                         the CRI socket (crictl's flag; default: the first of\n"
		"                         /run/k3s/containerd/containerd.sock,\n"
		"                         /run/containerd/containerd.sock, /var/run/crio/crio.sock\n"
		"                         under --root)\n"
		"  --journal-dir DIR      read journal files from DIR (default: the system journal)\n"
		"  --kmsg PATH|none       the kernel log device (default /dev/kmsg)\n"
		"  --since DURATION       look back this far (default 1h; --follow: the current boot)\n"
		"  --state-dir DIR        keep the journal cursor and kmsg sequence here, so a\n"
		"                         restart resumes where it stopped (--follow)\n"
		"  --save-interval D      write the journal cursor and kmsg sequence at most\n"
		"                         this often (30m), at exit and when journal files\n"
		"                         rotate; 0: after every batch read (flash wear: see\n"
		"                         the README). After SIGKILL the entries since the last\n"
		"                         write are read and counted again, once\n"
		"  --rules-dir DIR        more log rules: every DIR/*.rules beside the built-in ones\n"
		"  --config FILE          options as 'key = value' lines (keys: the long options\n"
		"                         without --; '#' comments); the command line wins\n"
		"\n"
		"run:\n"
		"  --controller URL       coaps://HOST[:PORT] (port 5684), or coap:// with --insecure;\n"
		"                         up to 8: given again, or a list in one value (commas\n"
		"                         or blanks: the config file's one 'controller' line).\n"
		"                         Reports go to the first that answers; a failed\n"
		"                         session moves on to the next at once, and the\n"
		"                         back-off comes only after all failed in a row.\n"
		"                         While on another, the first is tried again (back-off\n"
		"                         doubling to --retry-max) and taken back when it answers\n"
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
		"keys (the sources' endpoints and paths, root, state-dir, save-interval,\n"
		"rules-dir, since, listen, psk-identity) take effect at restart; a change of\n"
		"one is logged.\n"
		"\n"
		"Without these the agent finds the control plane under --root: kubeadm's\n"
		"/etc/kubernetes/manifests/*.yaml, pki/ and admin.conf, or k3s's\n"
		"/etc/rancher/k3s/k3s.yaml and /var/lib/rancher/k3s/server/tls; each fact\n"
		"names where its endpoint came from (\"origin\").\n"
		"\n"
		"exit status: 0 healthy (check: no critical diagnosis), 1 a critical finding\n"
		"(probe: the source is unreachable or unhealthy), 2 usage or configuration error.\n");
}

void fm_version(void)
{
	printf("fleetmedic-agent %s\n", FM_VERSION);
	printf("  Mbed TLS %s, libcoap %s, cJSON %s\n", MBEDTLS_VERSION_STRING, LIBCOAP_PACKAGE_VERSION,
	       cJSON_Version());
}

enum {
	OPT_JSON = 256, OPT_FOLLOW, OPT_ROOT, OPT_TIMEOUT, OPT_TLS_MAX, OPT_ETCD, OPT_ETCD_CA, OPT_ETCD_CERT,
	OPT_ETCD_KEY, OPT_APISERVER, OPT_KUBECONFIG, OPT_DOCKER_HOST, OPT_RUNTIME_ENDPOINT, OPT_JOURNAL_DIR, OPT_KMSG,
	OPT_SINCE, OPT_CONFIG, OPT_CONTROLLER, OPT_PSK_IDENTITY, OPT_PSK_FILE, OPT_STATE_DIR, OPT_RULES_DIR,
	OPT_HEARTBEAT, OPT_INSECURE, OPT_LISTEN, OPT_ALLOW_ACTIONS, OPT_COLLECT_INTERVAL, OPT_COLLECT_IDLE, OPT_HOLD,
	OPT_ACK_TIMEOUT, OPT_MAX_RETRANSMIT, OPT_RETRY_MAX, OPT_LOG_LEVEL, OPT_SAVE_INTERVAL,
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
	{"runtime-endpoint", required_argument, NULL, OPT_RUNTIME_ENDPOINT},
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
	{"save-interval", required_argument, NULL, OPT_SAVE_INTERVAL},
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

/* --controller's value into o's list: one address, or several separated by
 * commas or blanks (what the config file's one "controller" line holds;
 * the command line takes the same). Each must parse as a CoAP URI (the
 * --insecure rule is checked by run, which has every option); more than
 * FM_CONTROLLERS_MAX in all, or one twice, is refused. 0 or -1 with err
 * set. */
static int add_controllers(struct fm_opts *o, const char *v, char *err, size_t err_size)
{
	size_t added = 0;
	for (const char *p = v; *p;) {
		size_t n = strcspn(p, ", \t");
		if (n == 0) {
			p++;
			continue;
		}
		if (n >= FM_CONTROLLER_URL_MAX) {
			snprintf(err, err_size, "--controller %.64s...: longer than %d bytes", p, FM_CONTROLLER_URL_MAX - 1);
			return -1;
		}
		if (o->n_controllers == FM_CONTROLLERS_MAX) {
			snprintf(err, err_size, "--controller %.*s: more than %d controllers (the agent tries at most %d)",
				 (int)n, p, FM_CONTROLLERS_MAX, FM_CONTROLLERS_MAX);
			return -1;
		}
		char *url = o->controllers[o->n_controllers];
		memcpy(url, p, n);
		url[n] = '\0';
		struct fm_coap_uri uri;
		char why[400];
		if (fm_coap_parse_uri(url, &uri, why, sizeof(why)) < 0) {
			snprintf(err, err_size, "--controller %s", why);
			return -1;
		}
		for (size_t i = 0; i < o->n_controllers; i++) {
			if (strcmp(o->controllers[i], url) == 0) {
				snprintf(err, err_size, "--controller %s: given twice", url);
				return -1;
			}
		}
		o->n_controllers++;
		added++;
		p += n;
	}
	if (!added) {
		snprintf(err, err_size, "--controller '%.64s': no address (give coaps://HOST[:PORT])", v);
		return -1;
	}
	return 0;
}

/* One option (code of long_opts, its value or NULL) into o. 0, or -1 with
 * err saying what is wrong (without a prefix: the caller says where). */
static int apply_opt(int c, const char *v, struct fm_opts *o, char *err, size_t err_size)
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
	case OPT_RUNTIME_ENDPOINT: o->runtime_endpoint = v; break;
	case OPT_JOURNAL_DIR: o->journal_dir = v; break;
	case OPT_KMSG: o->kmsg = v; break;
	case OPT_SINCE:
		if (duration_opt("--since", v, 1, UINT64_MAX / 1000, &o->since_ms, err, err_size) < 0)
			return -1;
		o->since = v;
		break;
	case OPT_CONFIG: o->config = v; break;
	case OPT_CONTROLLER: return add_controllers(o, v, err, err_size);
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
	case OPT_SAVE_INTERVAL:
		if (duration_opt("--save-interval", v, 0, 86400000, &o->save_ms, err, err_size) < 0)
			return -1;
		o->save_set = true;
		break;
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
int fm_parse_opts(int argc, char **argv, struct fm_opts *o)
{
	int c;
	char err[400];
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", long_opts, NULL)) != -1) {
		switch (c) {
		case 'h': fm_usage(stdout); exit(0);
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


/* One line of the file (fm_conf_parse's fm_conf_line_fn): arg is the opts. */
static int config_line(void *arg, const char *k, const char *v, char *why, size_t why_size)
{
	struct fm_opts *o = arg;
	const struct option *opt = NULL;
	for (const struct option *lo = long_opts; lo->name; lo++)
		if (strcmp(lo->name, k) == 0 && lo->val >= OPT_JSON)
			opt = lo;
	if (!opt || opt->val == OPT_CONFIG || opt->val == OPT_FOLLOW || opt->val == OPT_JSON) {
		snprintf(why, why_size, "unknown key (the keys are the long options without --)");
		return -1;
	}
	/* A value the command line overrides is still checked, into a copy. */
	struct fm_opts scratch = *o;
	if (o->given & (1ull << (opt->val - OPT_JSON)))
		o = &scratch;
	/* The file's list replaces (the command line's, in the copy, is
	 * not added to: the count would be theirs together). */
	if (opt->val == OPT_CONTROLLER)
		o->n_controllers = 0;
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
int fm_read_config(const char *path, struct fm_opts *o, struct fm_config_text *cf, char *out_err, size_t out_size)
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
