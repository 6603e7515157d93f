/* libFuzzer target for gRPC's message framing as fm_grpc reads a stream
 * (fm_grpc_deframe): the input is the bytes of a response stream, fed in
 * the pieces the first byte chooses (fuzz_split.h), with a small cap so the
 * too-large path is reached. Whatever the bytes and the cuts, every
 * message delivered fits the cap and lies inside the input, the framer
 * stops at the first bad prefix, and the same bytes fed whole give the
 * same messages. */
#include "fm_grpc.h"

#include "fuzz_split.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CAP 4096

struct seen {
	size_t msgs, bytes;
	uint32_t sum;
};

static bool count(void *arg, const uint8_t *msg, size_t len)
{
	struct seen *s = arg;
	if (len > CAP)
		__builtin_trap();
	s->msgs++;
	s->bytes += len;
	for (size_t i = 0; i < len; i++)
		s->sum = s->sum * 31 + msg[i];
	return true;
}

/* Feeds p in pieces (or whole); the first error ends it. */
static int feed(const uint8_t *p, size_t n, bool whole, uint8_t seed, struct seen *s)
{
	struct fm_grpc_deframer d;
	struct fuzz_split sp;
	char err[200];
	int rc = 0;
	fm_grpc_deframer_init(&d, CAP);
	fuzz_split_init(&sp, seed);
	while (n > 0 && rc == 0) {
		size_t k = whole ? n : fuzz_split_next(&sp, n);
		rc = fm_grpc_deframe(&d, p, k, count, s, err, sizeof(err));
		if (rc < 0 && (!err[0] || strlen(err) >= sizeof(err)))
			__builtin_trap();
		p += k;
		n -= k;
	}
	fm_grpc_deframer_free(&d);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct seen cut = {0}, whole = {0};
	int rc1 = feed(data + 1, size - 1, false, data[0], &cut);
	int rc2 = feed(data + 1, size - 1, true, 0, &whole);
	if (rc1 != rc2 || cut.msgs != whole.msgs || cut.bytes != whole.bytes || cut.sum != whole.sum)
		__builtin_trap();
	if (cut.bytes + 5 * cut.msgs > size - 1)
		__builtin_trap();
	return 0;
}
