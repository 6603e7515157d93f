/* libFuzzer target for fm_promtext, the Prometheus text parser that reads
 * etcd's /metrics: the first byte seeds the splits (fuzz_split.h), the rest
 * is the text. It is parsed whole and in pieces, and both must find the
 * same histograms; the bounds must stay ascending, the counts non-negative
 * and finite, and what the etcd source makes of them (fm_etcd_disk_fields,
 * the slow shares) must hold together. Replayed in ctest. */
#include "fm_etcd.h"
#include "fm_promtext.h"

#include "fuzz_split.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NH (FM_ETCD_DISK_HISTS + 1)

static void hists(struct fm_prom_hist h[NH])
{
	fm_etcd_disk_hists(h);
	memset(&h[FM_ETCD_DISK_HISTS], 0, sizeof(h[0]));
	h[FM_ETCD_DISK_HISTS].name = "x";
}

static void check(const struct fm_prom_hist *h)
{
	if (h->n_buckets > FM_PROMTEXT_MAX_BUCKETS)
		__builtin_trap();
	for (size_t i = 0; i < h->n_buckets; i++)
		if (isnan(h->le[i]) || (i && !(h->le[i - 1] < h->le[i])) || !(h->cum[i] >= 0))
			__builtin_trap();
	double share, bound, count;
	static const double les[] = {0.128, 0, -1, INFINITY};
	for (size_t i = 0; i < sizeof(les) / sizeof(les[0]); i++)
		if (fm_prom_hist_share_above(h, les[i], &share, &bound) == 0 &&
		    !(share >= 0 && share <= 1 && bound <= les[i] + 1e-9))
			__builtin_trap();
	if (fm_prom_hist_count(h, &count) && !(count >= 0))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fm_prom_hist a[NH], b[NH];
	struct fm_promtext pa, pb;
	struct fuzz_split sp;
	if (size < 1)
		return 0;
	const char *s = (const char *)data + 1;
	size_t len = size - 1;

	hists(a);
	fm_promtext_parse(&pa, s, len, a, NH);
	hists(b);
	fm_promtext_init(&pb, b, NH);
	fuzz_split_init(&sp, data[0]);
	for (size_t off = 0; off < len;) {
		size_t n = fuzz_split_next(&sp, len - off);
		fm_promtext_feed(&pb, s + off, n);
		off += n;
	}
	fm_promtext_end(&pb);

	if (pa.lines != pb.lines || pa.samples != pb.samples || pa.bad_lines != pb.bad_lines ||
	    pa.long_lines != pb.long_lines)
		__builtin_trap();
	for (size_t i = 0; i < NH; i++) {
		check(&a[i]);
		if (a[i].seen != b[i].seen || a[i].n_buckets != b[i].n_buckets ||
		    a[i].has_count != b[i].has_count || a[i].truncated != b[i].truncated ||
		    memcmp(a[i].le, b[i].le, a[i].n_buckets * sizeof(double)) != 0 ||
		    memcmp(a[i].cum, b[i].cum, a[i].n_buckets * sizeof(double)) != 0)
			__builtin_trap();
	}
	cJSON *f = cJSON_CreateObject();
	fm_etcd_disk_fields(f, "http://127.0.0.1:2381", &pa, a);
	char *text = cJSON_PrintUnformatted(f);
	if (!text)
		__builtin_trap();
	cJSON_free(text);
	cJSON_Delete(f);
	return 0;
}
