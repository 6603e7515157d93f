/* fm_kmsg: the kernel log read from /dev/kmsg, independent of journald
 * (journald is sometimes the broken part).
 *
 * One read() is one record: "PRI,SEQ,TS_USEC,FLAGS[,...];MESSAGE\n" followed
 * by continuation lines " KEY=value\n" (kernel Documentation/ABI/testing/
 * dev-kmsg). A reader that falls behind the ring buffer gets EPIPE once and
 * continues at the oldest record still there: that is an overrun, counted and
 * reported (kmsg.source "overruns", "missed" records), never fatal.
 *
 * Lines are matched against the rules for the source "kernel"; matches are
 * the facts kmsg.match (see fm_rules.h), the reader itself is kmsg.source
 * (id: the path). With a state dir the last sequence number and the match
 * counts are kept in kmsg.state, so a restart in the same boot resumes after
 * the last record it read (written within save_ms of a change and at exit:
 * after SIGKILL, after the last record written, the records since read and
 * counted again from the counts written with it). A kmsg.state it cannot take is put aside
 * (fm_state_load_json) and it starts as without one: at the ring's end.
 */
#ifndef FM_KMSG_H
#define FM_KMSG_H

#include "fm_facts.h"
#include "fm_loop.h"
#include "fm_rules.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest record the kernel hands out (CONSOLE_EXT_LOG_MAX). */
#define FM_KMSG_RECORD_MAX 8192

struct fm_kmsg_record {
	unsigned level;	   /* syslog priority, 0..7 */
	unsigned facility; /* 0 kernel, 1 user ... */
	uint64_t seq;
	uint64_t ts_us;	 /* CLOCK_MONOTONIC when it was logged */
	bool continued;	 /* flags 'c': part of a continuation */
	const char *msg; /* into the parsed buffer, not NUL-terminated */
	size_t len;
};

/* Parses one record buf[0..len). The message ends at the first '\n'; the
 * continuation lines after it are ignored. 0 or -EINVAL (not a record). */
int fm_kmsg_parse(const char *buf, size_t len, struct fm_kmsg_record *r);

struct fm_kmsg_opts {
	const char *path;      /* "/dev/kmsg" */
	const char *state_dir; /* NULL: nothing persisted */
	const struct fm_rules *rules; /* borrowed; outlives the reader */
	/* Without saved state: true reads the whole ring (records logged
	 * since since_mono_us, CLOCK_MONOTONIC; 0: all), false starts at the
	 * end (only what is logged from now on). */
	bool from_start;
	uint64_t since_mono_us;
	uint64_t save_ms; /* the longest records read stay unsaved; 0: after every wake-up */
};

struct fm_kmsg;

/* Opens the log and reads what is there (see from_start); with a loop it
 * then follows: each record becomes facts as it is logged. Facts go to
 * facts (borrowed). NULL with err set when the log cannot be opened (the
 * kmsg.source fact says so too). */
struct fm_kmsg *fm_kmsg_new(struct fm_loop *loop, const struct fm_kmsg_opts *o, struct fm_facts *facts,
			    char *err, size_t err_size);
/* Saves the state, stops, frees and NULLs *k; accepts NULL. */
void fm_kmsg_delete(struct fm_kmsg **k);

/* Reads what the log holds now (from_start as in o) into facts and closes
 * it: probe's one-shot. 0, or -errno when it cannot be read. */
int fm_kmsg_collect(const struct fm_kmsg_opts *o, struct fm_facts *facts);

#endif
