/* hal_bench: what reading every board fact costs, per read, after start-up.
 *
 *   hal_bench ROOT READS
 *
 * Identifies the board under ROOT once (start-up), then calls hal_read_all
 * READS times, measuring each read's CPU time (CLOCK_PROCESS_CPUTIME_ID)
 * and counting every malloc/calloc/realloc made during the reads, libc's
 * own included: the program defines them and forwards to glibc's
 * __libc_* entry points, so every call in the process lands here. Prints
 * one line: "startup_allocs=N (at least the timing array: proof that the
 * counter counts) reads=N median_us=… p90_us=… max_us=… allocs=… board=…".
 */
#include "hal/hal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);

static volatile unsigned long allocs;

/* Interposed for the whole process (also glibc-internal callers). */
void *malloc(size_t size);
void *calloc(size_t n, size_t size);
void *realloc(void *p, size_t size);

void *malloc(size_t size)
{
	allocs++;
	return __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
	allocs++;
	return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
	allocs++;
	return __libc_realloc(p, size);
}

static double cpu_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static struct hal_snapshot snap;

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: hal_bench ROOT READS\n");
		return 2;
	}
	const char *root = argv[1];
	int n = atoi(argv[2]);
	if (n < 1 || n > 1000000)
		return 2;
	double *t = calloc((size_t)n, sizeof(*t));
	if (!t)
		return 1;
	hal_board_identify(root, &snap.board);
	hal_read_all(root, &snap); /* warm-up: first-touch of libc paths */

	unsigned long before = allocs; /* >= 1 (t above): the counter sees calls */
	for (int i = 0; i < n; i++) {
		double t0 = cpu_us();
		hal_read_all(root, &snap);
		t[i] = cpu_us() - t0;
	}
	unsigned long during = allocs - before;
	qsort(t, (size_t)n, sizeof(*t), cmp);
	printf("startup_allocs=%lu reads=%d median_us=%.1f p90_us=%.1f max_us=%.1f allocs=%lu "
	       "board=%s zones=%d ext4=%d fs=%d\n",
	       before, n, t[n / 2], t[n * 9 / 10], t[n - 1], during, snap.board.desc->id,
	       snap.thermal.n, snap.storage.n_ext4, snap.storage.n_fs);
	free(t);
	return during == 0 ? 0 : 1;
}
