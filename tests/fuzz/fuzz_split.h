/* Splitting one fuzz input into the pieces a parser is fed, as reads off a
 * socket would cut it: the first byte seeds the piece sizes (1 to 64 bytes,
 * or the rest whole), so the fuzzer explores the cuts as well as the bytes.
 * For the targets of the incremental parsers (fm_http, fm_promtext), which
 * must say the same of a response however it arrives. */
#ifndef FUZZ_SPLIT_H
#define FUZZ_SPLIT_H

#include <stddef.h>
#include <stdint.h>

struct fuzz_split {
	uint32_t state;
};

static inline void fuzz_split_init(struct fuzz_split *s, uint8_t seed)
{
	s->state = 0x9e3779b9u ^ seed;
}

/* The size of the next piece when left bytes remain (>= 1 when left > 0). */
static inline size_t fuzz_split_next(struct fuzz_split *s, size_t left)
{
	s->state = s->state * 1103515245u + 12345u;
	uint32_t r = s->state >> 16;
	size_t n = (r & 7) == 0 ? left : 1 + (r >> 3) % 64;
	return n < left ? n : left;
}

#endif
