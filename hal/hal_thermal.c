#include "hal/hal_thermal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define THERMAL "/sys/class/thermal"

/* Keeps the lowest-numbered zones, in order, without allocating. */
static int add_zone(const char *name, void *ctx)
{
	struct hal_thermal *t = ctx;
	int64_t idx;
	if (hal_parse_s64(name + strlen("thermal_zone"), 10, &idx) < 0 || idx < 0 || idx > 9999)
		return 0;
	t->seen++;
	int pos = t->n;
	while (pos > 0 && t->zone[pos - 1].index > idx)
		pos--;
	if (pos >= HAL_THERMAL_MAX)
		return 0;
	int last = t->n < HAL_THERMAL_MAX ? t->n : HAL_THERMAL_MAX - 1;
	memmove(&t->zone[pos + 1], &t->zone[pos], (size_t)(last - pos) * sizeof(t->zone[0]));
	memset(&t->zone[pos], 0, sizeof(t->zone[pos]));
	t->zone[pos].index = (int)idx;
	if (t->n < HAL_THERMAL_MAX)
		t->n++;
	return 0;
}

int hal_thermal_read(const char *root, struct hal_thermal *t)
{
	memset(t, 0, sizeof(*t));
	int rc = hal_dir_each(root, THERMAL, "thermal_zone", add_zone, t);
	if (rc < 0) {
		hal_reason(t->reason, sizeof(t->reason), rc, THERMAL);
		return rc;
	}
	if (t->n == 0)
		hal_copy(t->reason, sizeof(t->reason), "the kernel has no thermal zones");
	for (int i = 0; i < t->n; i++) {
		struct hal_thermal_zone *z = &t->zone[i];
		char p[96];
		hal_fmt(p, sizeof(p), THERMAL "/thermal_zone%d/type", z->index);
		if (hal_read_line(root, p, z->type, sizeof(z->type)) < 0)
			z->type[0] = '\0';
		hal_fmt(p, sizeof(p), THERMAL "/thermal_zone%d/temp", z->index);
		rc = hal_read_s64(root, p, &z->temp_mc);
		/* Millidegrees; anything outside -273 C .. 1000 C is not a reading. */
		if (rc == 0 && (z->temp_mc < -273150 || z->temp_mc > 1000000))
			rc = -EINVAL;
		z->known = rc == 0;
		if (rc < 0) {
			z->temp_mc = 0;
			hal_reason(z->reason, sizeof(z->reason), rc, p);
		}
	}
	return 0;
}
