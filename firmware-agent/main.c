/* fleetmedic-agent: the command line, dispatched to probe, check (fm_cli)
 * or run (fm_daemon); options and the configuration file are fm_options'.
 *
 * Exit status (DESIGN.md): 0 fine, 1 a critical finding (for probe: the
 * source is unreachable or unhealthy), 2 usage or configuration error.
 */
#include "fm_cli.h"
#include "fm_coap.h"
#include "fm_daemon.h"
#include "fm_log.h"
#include "fm_options.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <string.h>

/* Process-wide settings before anything runs. */
static void process_setup(void)
{
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
}

/* The options after argv[skip - 1] (argv + skip - 1 is the command's own
 * argv), nothing left over. 0 or the exit status. */
static int command_opts(int argc, char **argv, int skip, struct fm_opts *o)
{
	int rc = fm_parse_opts(argc - skip, argv + skip, o);
	if (rc)
		return rc;
	if (optind < argc - skip) {
		fprintf(stderr, "fleetmedic-agent: unexpected argument %s\n", argv[optind + skip]);
		return EXIT_USAGE;
	}
	return 0;
}

/* --config over the command line, then the log level. 0 or the exit
 * status. */
static int with_config(struct fm_opts *o, struct fm_config_text *cf)
{
	if (o->config && fm_read_config(o->config, o, cf, NULL, 0) < 0)
		return EXIT_USAGE;
	if (o->log_level)
		fm_log_set_level((enum fm_log_level)o->log_level);
	return 0;
}

static int cmd_probe(int argc, char **argv, struct fm_opts *o, struct fm_config_text *cf)
{
	if (argc < 3 || argv[2][0] == '-') {
		fprintf(stderr, "fleetmedic-agent: probe what? etcd|apiserver|docker|cri|journal|hal\n");
		return EXIT_USAGE;
	}
	int rc = command_opts(argc, argv, 2, o);
	if (rc || (rc = with_config(o, cf)))
		return rc;
	if (!o->timeout_ms)
		o->timeout_ms = 2000;
	return fm_probe_cmd(argv[2], o);
}

static int cmd_check(int argc, char **argv, struct fm_opts *o, struct fm_config_text *cf)
{
	int rc = command_opts(argc, argv, 1, o);
	if (rc || (rc = with_config(o, cf)))
		return rc;
	if (o->follow) {
		fprintf(stderr, "fleetmedic-agent: --follow is for probe; check runs once\n");
		return EXIT_USAGE;
	}
	if (!o->timeout_ms)
		o->timeout_ms = 1000;
	return fm_check_cmd(o);
}

static int cmd_run(int argc, char **argv, struct fm_opts *o, struct fm_config_text *cf)
{
	int rc = command_opts(argc, argv, 1, o);
	if (rc)
		return rc;
	/* The command line alone: SIGHUP reads the file over it again. */
	struct fm_opts cli = *o;
	if ((rc = with_config(o, cf)))
		return rc;
	if (o->follow || o->json) {
		fprintf(stderr, "fleetmedic-agent: --follow and --json are for probe and check\n");
		return EXIT_USAGE;
	}
	return fm_daemon_run(o, &cli);
}

int main(int argc, char **argv)
{
	struct fm_opts o = {.root = "/"}; /* timeout_ms 0: the command's default */
	/* --config's text: the options point into it until exit. */
	static struct fm_config_text cf;
	int rc = EXIT_USAGE;

	process_setup();
	if (argc < 2) {
		fm_usage(stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
		fm_version();
		return 0;
	}
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		fm_usage(stdout);
		return 0;
	}
	if (strcmp(cmd, "probe") == 0)
		rc = cmd_probe(argc, argv, &o, &cf);
	else if (strcmp(cmd, "check") == 0)
		rc = cmd_check(argc, argv, &o, &cf);
	else if (strcmp(cmd, "run") == 0)
		rc = cmd_run(argc, argv, &o, &cf);
	else
		fprintf(stderr, "fleetmedic-agent: unknown command '%s' (see --help)\n", cmd);
	free(cf.text);
	return rc;
}
