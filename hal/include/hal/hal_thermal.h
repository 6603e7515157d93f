/* hal_thermal: the kernel's thermal zones
 * (/sys/class/thermal/thermal_zone<N>/type and temp, millidegrees Celsius),
 * in zone-number order. */
#ifndef HAL_THERMAL_H
#define HAL_THERMAL_H

#include "hal/hal_read.h"

#include <stdbool.h>
#include <stdint.h>

#define HAL_THERMAL_MAX 16

struct hal_thermal_zone {
	int index;		     /* N of thermal_zoneN */
	char type[40];		     /* "cpu-thermal", "CPU-therm"; "" unknown */
	bool known;		     /* temp_mc holds a reading */
	int64_t temp_mc;	     /* millidegrees Celsius */
	char reason[HAL_REASON_MAX]; /* why not known */
};

struct hal_thermal {
	int n;	  /* zones read (the lowest-numbered HAL_THERMAL_MAX) */
	int seen; /* zones the kernel has */
	struct hal_thermal_zone zone[HAL_THERMAL_MAX];
	char reason[HAL_REASON_MAX]; /* why there are none */
};

/* Reads every zone. 0, or -errno when the thermal class cannot be listed
 * (t->n is 0 and t->reason says why). Allocates nothing. */
int hal_thermal_read(const char *root, struct hal_thermal *t);

#endif
