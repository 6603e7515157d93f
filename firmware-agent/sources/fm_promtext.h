/* fm_promtext: histograms out of the Prometheus text exposition format
 * (version 0.0.4), as etcd's metrics listener serves it on /metrics.
 *
 * Pure and incremental: bytes are fed in pieces of any size (straight from
 * the HTTP body callback, so a 150 KiB /metrics page is never held whole);
 * only the histograms asked for are kept. Memory is fixed: one line buffer
 * and FM_PROMTEXT_MAX_BUCKETS bounds per histogram.
 *
 * The input is a server's answer and treated as hostile: a line longer than
 * FM_PROMTEXT_MAX_LINE is skipped whole, a line that is not
 * `name[{labels}] value [timestamp]` is skipped, a count that is negative or
 * not a number is skipped; each is counted, none stops the parse.
 *
 * A histogram's series (one per label set besides "le") are summed, so the
 * result is the histogram of all of them.
 */
#ifndef FM_PROMTEXT_H
#define FM_PROMTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FM_PROMTEXT_MAX_LINE    512 /* bytes of one line, without its newline */
#define FM_PROMTEXT_MAX_BUCKETS 32  /* distinct "le" bounds kept per histogram */

/* One histogram to collect, and what was found of it. */
struct fm_prom_hist {
	const char *name; /* base name, e.g. "etcd_disk_wal_fsync_duration_seconds"
			   * (borrowed; samples are NAME_bucket, NAME_count, NAME_sum) */
	bool seen;        /* any sample of it */
	bool has_count;
	double count;     /* NAME_count */
	bool has_sum;
	double sum;       /* NAME_sum */
	size_t n_buckets;
	double le[FM_PROMTEXT_MAX_BUCKETS];  /* ascending upper bounds (+Inf as INFINITY) */
	double cum[FM_PROMTEXT_MAX_BUCKETS]; /* observations <= le[i] */
	bool truncated;   /* more distinct bounds than fit: some were dropped */
};

struct fm_promtext {
	/* Counters, for the person wondering why a histogram is missing. */
	uint64_t lines;      /* lines seen */
	uint64_t samples;    /* sample lines of a histogram asked for */
	uint64_t bad_lines;  /* lines that are neither comments nor samples */
	uint64_t long_lines; /* lines over FM_PROMTEXT_MAX_LINE, skipped */

	/* Internal. */
	struct fm_prom_hist *hists;
	size_t nhists;
	char line[FM_PROMTEXT_MAX_LINE + 1];
	size_t len;
	bool skipping; /* inside a line that is too long */
};

/* Prepares p to collect hists[0..n) (borrowed until the last feed; their
 * results are reset). */
void fm_promtext_init(struct fm_promtext *p, struct fm_prom_hist *hists, size_t n);
/* Feeds len bytes. ctx is the struct fm_promtext: the signature is
 * fm_http_body_fn's, so it can take an HTTP body as it arrives. Always
 * returns 0 (go on): bad input is skipped and counted, not fatal. */
int fm_promtext_feed(void *ctx, const char *data, size_t len);
/* The input ended: a last line without its newline is parsed. */
void fm_promtext_end(struct fm_promtext *p);

/* init + feed + end over a whole text. */
void fm_promtext_parse(struct fm_promtext *p, const char *text, size_t len,
		       struct fm_prom_hist *hists, size_t n);

/* The share (0..1) of h's observations above the largest bucket bound that
 * is <= le (+1e-9), i.e. 1 - cum(bound) / count, with count from NAME_count
 * or else the +Inf bucket. *bound gets the bound used (may be NULL).
 * 0; -ENODATA when h has no count or no bucket at or below le; -ERANGE when
 * the numbers contradict each other (a bucket above the count). A count of 0
 * gives share 0. */
int fm_prom_hist_share_above(const struct fm_prom_hist *h, double le, double *share,
			     double *bound);
/* The total count of h (NAME_count, else the +Inf bucket); false if none. */
bool fm_prom_hist_count(const struct fm_prom_hist *h, double *count);

#endif
