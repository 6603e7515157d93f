/* Bad configuration and bad input (issue 11): every config key and every
 * option given a wrong value, an unknown (misspelled) key, a key given
 * twice, a line too long, a file missing, unreadable, a directory, too
 * large or not text; the agent's run-only checks (controller URL, key file,
 * --listen, the live sources' locations) and the controller's serve/
 * nodes/triage options. Each case runs the real binary and wants exit
 * status 2 and exactly ONE line on stderr that says where (FILE:LINE: KEY:
 * for the file, the option otherwise) and what: never a crash, never a
 * silent default. */
#include "fm_harness.h"
#include "fmh_check.h"
#include "fmh_uplink.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[PATH_MAX], root[PATH_MAX + 8], conf[PATH_MAX + 16], psk[PATH_MAX + 16];

static int setup(void **st)
{
	(void)st;
	if (fmh_init() < 0 || fmh_tmpdir(dir, sizeof(dir)) < 0)
		return -1;
	snprintf(root, sizeof(root), "%s/root", dir);
	snprintf(conf, sizeof(conf), "%s/agent.conf", dir);
	fmh_psk_file(dir, "psk", "00112233445566778899aabbccddeeff", psk, sizeof(psk));
	return mkdir(root, 0755);
}

static int teardown(void **st)
{
	(void)st;
	fmh_cleanup();
	return 0;
}

/* stderr is one line (one '\n', at the end), beginning with prefix and
 * holding want. */
static void one_line(const char *what, int status, const char *err, const char *prefix, const char *want)
{
	const char *nl = strchr(err, '\n');
	if (status != 2 || !nl || nl[1] || strncmp(err, prefix, strlen(prefix)) != 0 || !strstr(err, want))
		fail_msg("%s: want exit 2 and one line '%s…%s…', got exit %d and:\n%s", what, prefix, want, status,
			 err);
}

static void write_conf(const char *text, size_t len)
{
	FILE *f = fopen(conf, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* The agent with the config file holding text: `check --config FILE`
 * (the file is read before the command does anything). */
static void agent_conf(const char *text, size_t len, const char *where, const char *want)
{
	struct fmh_agent_run r;
	char prefix[PATH_MAX + 64];
	write_conf(text, len);
	fmh_run_agent(&r, "check", "--config", conf, "--root", root, "--kmsg", "none", NULL);
	snprintf(prefix, sizeof(prefix), "fleetmedic-agent: %s%s", conf, where);
	one_line(text, r.status, r.err, prefix, want);
	cJSON_Delete(r.json);
}

static void config_file(void **st)
{
	(void)st;
	/* Each key that takes a checked value, with a wrong one: the line and
	 * the key are named. */
	static const struct {
		const char *text, *where, *want;
	} cases[] = {
		{"timeout = 5x\n", ":1: timeout: ", "give a duration"},
		{"timeout = 0\n", ":1: timeout: ", "give a duration"},
		{"# c\n\ntls-max = 1.1\n", ":3: tls-max: ", "1.2 or 1.3"},
		{"since = yesterday\n", ":1: since: ", "give a duration"},
		{"heartbeat = 0.5s\n", ":1: heartbeat: ", "give a duration"},
		{"collect-interval = 10ms\n", ":1: collect-interval: ", "100ms"},
		{"hold = 2w\n", ":1: hold: ", "give a duration"},
		{"ack-timeout = 2m\n", ":1: ack-timeout: ", "give a duration"},
		{"retry-max = -1s\n", ":1: retry-max: ", "give a duration"},
		{"max-retransmit = 21\n", ":1: max-retransmit: ", "1..20"},
		{"max-retransmit = four\n", ":1: max-retransmit: ", "1..20"},
		{"allow-actions = all\n", ":1: allow-actions: ", "rm (or none)"},
		{"insecure = maybe\n", ":1: insecure: ", "true or false"},
		/* misspelled, unknown, not for the file */
		{"heartbeat = 30s\nhaertbeat = 30s\n", ":2: haertbeat: ", "unknown key"},
		{"--heartbeat = 30s\n", ":1: --heartbeat: ", "unknown key"},
		{"Heartbeat = 30s\n", ":1: Heartbeat: ", "unknown key"},
		{"json = true\n", ":1: json: ", "unknown key"},
		{"follow = yes\n", ":1: follow: ", "unknown key"},
		{"config = /etc/x\n", ":1: config: ", "unknown key"},
		{"help = 1\n", ":1: help: ", "unknown key"},
		/* the syntax */
		{"hold = 1s\nhold = 2s\n", ":2: hold: ", "given twice"},
		{"controller\n", ":1: ", "give 'key = value'"},
		{"= coaps://x\n", ":1: ", "give 'key = value'"},
		{"controller = # no value\n", ":1: controller: ", "no value"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		agent_conf(cases[i].text, strlen(cases[i].text), cases[i].where, cases[i].want);

	/* A line over 4096 bytes; a file over 64 KiB; a NUL byte. */
	char *big = malloc(70 * 1024);
	assert_non_null(big);
	memset(big, 'a', 70 * 1024);
	memcpy(big, "root = /", 8);
	agent_conf(big, 5000, ":1: ", "line longer than 4096 bytes");
	agent_conf(big, 70 * 1024, ": ", "larger than 64 KiB");
	free(big);
	agent_conf("hold = 1s\0\n", 11, ": ", "not a text file");

	/* The file missing, a directory, unreadable (as nobody: root reads
	 * anything). */
	struct fmh_agent_run r;
	char missing[PATH_MAX + 16], prefix[PATH_MAX + 64];
	snprintf(missing, sizeof(missing), "%s/nope.conf", dir);
	fmh_run_agent(&r, "check", "--config", missing, NULL);
	snprintf(prefix, sizeof(prefix), "fleetmedic-agent: %s: ", missing);
	one_line("missing file", r.status, r.err, prefix, "No such file or directory");
	cJSON_Delete(r.json);
	fmh_run_agent(&r, "run", "--config", dir, NULL);
	snprintf(prefix, sizeof(prefix), "fleetmedic-agent: %s: ", dir);
	one_line("a directory", r.status, r.err, prefix, "Is a directory");
	cJSON_Delete(r.json);

	write_conf("hold = 1s\n", 10);
	assert_int_equal(chmod(conf, 0600), 0);
	assert_int_equal(chmod(dir, 0755), 0);
	const char *agent = getenv("FM_AGENT");
	assert_non_null(agent);
	const char *argv[] = {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", agent, "check",
			      "--config", conf, NULL};
	char out[8192], err[4096];
	int status;
	assert_int_equal(fmh_run2(argv, out, sizeof(out), err, sizeof(err), &status, 30000), 0);
	snprintf(prefix, sizeof(prefix), "fleetmedic-agent: %s: ", conf);
	one_line("unreadable file", status, err, prefix, "Permission denied");
	assert_int_equal(chmod(dir, 0700), 0);

	/* The command line wins over the file, but the file's value is still
	 * checked. */
	write_conf("hold = forever\n", 15);
	fmh_run_agent(&r, "check", "--config", conf, "--hold", "5s", "--root", root, NULL);
	snprintf(prefix, sizeof(prefix), "fleetmedic-agent: %s:1: hold: ", conf);
	one_line("overridden key", r.status, r.err, prefix, "give a duration");
	cJSON_Delete(r.json);
}

/* The same values as options, and the options' own mistakes. */
static void options(void **st)
{
	(void)st;
	static const struct {
		const char *args[6], *want;
	} cases[] = {
		{{"check", "--timeout", "5x"}, "--timeout 5x: give a duration"},
		{{"check", "--tls-max", "1.1"}, "--tls-max must be 1.2 or 1.3"},
		{{"probe", "etcd", "--since", "-1h"}, "--since -1h: give a duration"},
		{{"run", "--heartbeat", "0"}, "--heartbeat 0: give a duration"},
		{{"run", "--collect-interval", "1ms"}, "--collect-interval 1ms"},
		{{"run", "--hold", "1y"}, "--hold 1y"},
		{{"run", "--ack-timeout", "99ms"}, "--ack-timeout 99ms"},
		{{"run", "--retry-max", "3d"}, "--retry-max 3d"},
		{{"run", "--max-retransmit", "0"}, "--max-retransmit 0: give a number 1..20"},
		{{"run", "--allow-actions", "rm,kill"}, "--allow-actions rm,kill: the actions are"},
		{{"check", "--hartbeat", "2s"}, "unknown option --hartbeat"},
		{{"check", "--timeout"}, "--timeout needs a value"},
		{{"check", "--json=yes"}, "--json=yes: the option takes no value"},
		{{"check", "extra"}, "unexpected argument extra"},
		{{"check", "--follow"}, "--follow is for probe"},
		{{"probe"}, "probe what?"},
		{{"probe", "etcdd"}, "etcdd"},
		{{"frobnicate"}, "unknown command 'frobnicate'"},
		{{"run"}, "run needs --controller"},
		{{"run", "--json", "--controller", "coaps://127.0.0.1"}, "--follow and --json are for probe and check"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *args[8] = {0};
		size_t n = 0;
		while (n < 6 && cases[i].args[n]) {
			args[n] = cases[i].args[n];
			n++;
		}
		struct fmh_agent_run r;
		fmh_run_agentv(&r, args);
		one_line(cases[i].want, r.status, r.err, "fleetmedic-agent: ", cases[i].want);
		cJSON_Delete(r.json);
	}
}

/* run's own checks, before it starts anything: the controller's URL, the
 * key file, --listen, a live source's location given and wrong. */
static void run_checks(void **st)
{
	(void)st;
	char open_psk[PATH_MAX + 16], state[PATH_MAX + 16], missing[PATH_MAX + 16];
	fmh_psk_file(dir, "psk-open", "00112233445566778899aabbccddeeff", open_psk, sizeof(open_psk));
	assert_int_equal(chmod(open_psk, 0644), 0);
	snprintf(state, sizeof(state), "%s/state", dir);
	snprintf(missing, sizeof(missing), "%s/nope", dir);
	static const char *const ctl = "coaps://127.0.0.1:9";
	const struct {
		const char *args[6], *want;
	} cases[] = {
		{{"--controller", "http://127.0.0.1"}, "give coaps://HOST[:PORT]"},
		{{"--controller", "coap://127.0.0.1"}, "--insecure"},
		/* every one of several is held to the same rules */
		{{"--controller", ctl, "--controller", "coap://127.0.0.1"}, "coap://127.0.0.1 is plain CoAP: give --insecure"},
		{{"--controller", ctl, "--controller", "coaps://127.0.0.1:0"}, "the port must be 1..65535"},
		{{"--controller", "coaps://127.0.0.1:70000"}, "the port must be 1..65535"},
		{{"--controller", ctl}, "needs --psk-file"},
		{{"--controller", ctl, "--psk-file", missing}, "No such file or directory"},
		{{"--controller", ctl, "--psk-file", open_psk}, "0644"},
		{{"--controller", ctl, "--psk-file", dir}, "not a regular file"},
		{{"--controller", ctl, "--psk-file", psk, "--listen", "nonsense"}, "--listen nonsense: give HOST:PORT"},
		{{"--controller", ctl, "--psk-file", psk, "--rules-dir", missing}, "journal: rules directory"},
		{{"--controller", ctl, "--psk-file", psk, "--journal-dir", missing}, "journal: journal directory"},
		{{"--controller", ctl, "--psk-file", psk, "--kmsg", missing}, "journal: kernel log"},
		{{"--controller", ctl, "--psk-file", psk, "--docker-host", "bogus://x"}, "docker: Docker host bogus://x"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *args[14] = {"run", "--root", root, "--state-dir", state};
		size_t n = 5;
		for (size_t k = 0; k < 6 && cases[i].args[k]; k++)
			args[n++] = cases[i].args[k];
		struct fmh_agent_run r;
		fmh_run_agentv(&r, args);
		one_line(cases[i].want, r.status, r.err, "fleetmedic-agent: ", cases[i].want);
		cJSON_Delete(r.json);
	}
	/* A --state-dir that cannot be one (a file there): the configuration's
	 * error, in one line. (A damaged file in a state dir is not: it is put
	 * aside and run goes on, tests/faults/test_fault_statecorrupt.c.) */
	{
		const char *args[] = {"run", "--root", root, "--state-dir", psk, "--controller", ctl, "--psk-file",
				      psk, NULL};
		struct fmh_agent_run q;
		fmh_run_agentv(&q, args);
		one_line("a state dir that is a file", q.status, q.err, "fleetmedic-agent: --state-dir ",
			 "Not a directory");
		cJSON_Delete(q.json);
	}

	/* check: a source's option with a wrong value is a configuration
	 * error: exit 2, and the option named on stderr. */
	struct fmh_agent_run r;
	fmh_run_agent(&r, "check", "--root", root, "--kmsg", "none", "--etcd", "notaurl", "--timeout", "200ms", NULL);
	assert_int_equal(r.status, 2);
	if (!strstr(r.err, "fleetmedic-agent: --etcd: notaurl: not an https://"))
		fail_msg("check --etcd notaurl: %s", r.err);
	cJSON_Delete(r.json);
}

/* The controller: serve's key file and options, the other commands'. */
static void controller(void **st)
{
	(void)st;
	const char *bin = getenv("FM_CONTROLLER");
	assert_non_null(bin);
	char keys[PATH_MAX + 16], open_keys[PATH_MAX + 16], short_key[PATH_MAX + 16], db[PATH_MAX + 16],
		nodb[PATH_MAX + 16];
	snprintf(keys, sizeof(keys), "%s/keys", dir);
	snprintf(open_keys, sizeof(open_keys), "%s/keys-open", dir);
	snprintf(short_key, sizeof(short_key), "%s/keys-short", dir);
	snprintf(db, sizeof(db), "%s/fleet.db", dir);
	snprintf(nodb, sizeof(nodb), "%s/nope/fleet.db", dir);
	FILE *f = fopen(keys, "w");
	fprintf(f, "rpi4-cp1 00112233445566778899aabbccddeeff\n");
	fclose(f);
	f = fopen(open_keys, "w");
	fprintf(f, "rpi4-cp1 00112233445566778899aabbccddeeff\n");
	fclose(f);
	f = fopen(short_key, "w");
	fprintf(f, "# nodes\nrpi4-cp1 0011\n");
	fclose(f);
	assert_int_equal(chmod(keys, 0600), 0);
	assert_int_equal(chmod(open_keys, 0644), 0);
	assert_int_equal(chmod(short_key, 0600), 0);
	char want_short[PATH_MAX + 64];
	snprintf(want_short, sizeof(want_short), "%s:2: key is 2 bytes", short_key);
	const struct {
		const char *args[8], *want;
	} cases[] = {
		{{"serve", "--keys", keys}, "serve needs --listen HOST:PORT and --keys FILE"},
		{{"serve", "--listen"}, "--listen needs a value"},
		{{"serve", "--listen", "127.0.0.1:0", "--keys", nodb}, "No such file or directory"},
		{{"serve", "--listen", "127.0.0.1:0", "--keys", open_keys}, "mode 0644"},
		{{"serve", "--listen", "127.0.0.1:0", "--keys", short_key}, want_short},
		{{"serve", "--listen", "nonsense", "--keys", keys, "--db", db}, "nonsense"},
		{{"serve", "--listen", "127.0.0.1:0", "--keys", keys, "--db", dir}, "--db"},
		{{"serve", "--listen", "127.0.0.1:0", "--keys", keys, "--db", keys}, "not an SQLite database"},
		{{"serve", "--listen", "127.0.0.1:0", "--keys", keys, "stray"}, "serve takes no argument stray"},
		{{"nodes", "--history", "lots"}, "--history must be 0..10000"},
		{{"nodes", "--db", nodb}, "--db"},
		{{"triage", "rpi4-cp1", "status", "--timeout", "5x"}, "--timeout 5x: give a duration"},
		{{"triage", "rpi4-cp1", "reboot"}, "triage reboot: give status"},
		{{"nodes", "--hsitory", "3"}, "unknown option --hsitory"},
		{{"frobnicate"}, "unknown command frobnicate"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *argv[10] = {bin};
		for (size_t k = 0; k < 8 && cases[i].args[k]; k++)
			argv[k + 1] = cases[i].args[k];
		char out[8192], err[4096];
		int status;
		assert_int_equal(fmh_run2(argv, out, sizeof(out), err, sizeof(err), &status, 30000), 0);
		one_line(cases[i].want, status, err, "fleetmedic-controller: ", cases[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(config_file),
		cmocka_unit_test(options),
		cmocka_unit_test(run_checks),
		cmocka_unit_test(controller),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
