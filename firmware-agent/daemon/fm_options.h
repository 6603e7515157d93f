/* fm_options: fleetmedic-agent's options and its configuration file, as a
 * plain struct the commands and the daemon read (issue 21: not main.c's
 * private one). The command line wins over --config; `run`'s SIGHUP reads
 * the file again over the command line alone.
 *
 * Exit status (DESIGN.md): 0 fine, 1 a critical finding (for probe: the
 * source is unreachable or unhealthy), 2 usage or configuration error. */
#ifndef FM_OPTIONS_H
#define FM_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define EXIT_FINDING 1
#define EXIT_USAGE   2

/* --save-interval's default: the journal cursor and kmsg sequence written
 * at most every 30 minutes on a node whose logs keep coming. Issue 27: a
 * healthy node's agent writes at most 64 kB and 60 fsyncs an hour. One
 * atomic replace (fm_state) costs 12 kB of write_bytes on ext4 (the data
 * page, the directory's block and the inode's, bench/b_flash.sh) and two
 * fsyncs: two files (journal.state, kmsg.state) twice an hour are 48 kB
 * and 8 fsyncs. */
#define FM_SAVE_INTERVAL_MS (30 * 60 * 1000)

/* run's controllers (issue 28): --controller given up to 8 times, or a
 * list in one value (the config file takes a key once: "controller = A, B"),
 * tried in that order (fm_uplink.h says how the agent fails over). Each
 * address is at most FM_CONTROLLER_URL_MAX - 1 bytes (fm_coap_parse_uri
 * takes no more). */
#define FM_CONTROLLERS_MAX    8
#define FM_CONTROLLER_URL_MAX 300

struct fm_opts {
	bool json;
	bool follow;
	const char *root;
	uint64_t timeout_ms;
	uint64_t since_ms; /* 0: not given */
	int tls_max;
	const char *etcd_url, *etcd_ca, *etcd_cert, *etcd_key;
	const char *apiserver_url, *kubeconfig;
	const char *docker_host, *runtime_endpoint, *journal_dir, *kmsg, *since, *config;
	const char *psk_identity, *psk_file, *state_dir, *rules_dir;
	/* --controller, in the order given, each one's syntax checked (the
	 * --insecure rule is run's: it needs every option). Held by value, not
	 * pointing into argv or the file's text: a copy of the options (SIGHUP's
	 * fresh read) stands alone. */
	char controllers[FM_CONTROLLERS_MAX][FM_CONTROLLER_URL_MAX];
	size_t n_controllers;
	/* run */
	uint64_t heartbeat_ms, collect_ms, collect_idle_ms, hold_ms, ack_timeout_ms, retry_max_ms;
	unsigned max_retransmit;
	int log_level; /* enum fm_log_level; 0: not given */
	bool insecure, allow_rm;
	const char *listen;
	uint64_t save_ms; /* --save-interval; meaningful when save_set */
	bool save_set;
	/* which options the command line gave (they win over --config) */
	uint64_t given;
};

/* --config's text: the options point into it until it is freed. */
struct fm_config_text {
	char *text;
};

/* --help's text, on out. */
void fm_usage(FILE *out);
/* --version: the agent's and its libraries' versions, on stdout. */
void fm_version(void);
/* The options after the command (argv[0] is the command), into o; 0, or
 * the exit status after saying what is wrong. optind tells where they
 * end. */
int fm_parse_opts(int argc, char **argv, struct fm_opts *o);
/* The configuration file over o: a key the command line gave (o->given)
 * is not changed. 0, or -1 with why in out_err (NULL: said on stderr). */
int fm_read_config(const char *path, struct fm_opts *o, struct fm_config_text *cf, char *out_err, size_t out_size);

#endif
