/* hal: the board as facts-to-be. One snapshot holds every reading; a
 * reading that could not be taken is "unknown" (-1 / HAL_UNKNOWN / "") with
 * a reason, never a silent 0. hal knows nothing of Kubernetes.
 *
 * Usage: identify the board once (hal_board_identify), then call
 * hal_read_all as often as needed; it allocates nothing and costs well
 * under a millisecond of CPU (bench/b_hal.sh).
 */
#ifndef HAL_H
#define HAL_H

#include "hal/hal_board.h"
#include "hal/hal_clock.h"
#include "hal/hal_cpu.h"
#include "hal/hal_path.h"
#include "hal/hal_power.h"
#include "hal/hal_read.h"
#include "hal/hal_storage.h"
#include "hal/hal_thermal.h"

struct hal_snapshot {
	struct hal_board board; /* filled by hal_board_identify, kept */
	struct hal_thermal thermal;
	struct hal_cpu cpu;
	struct hal_memory memory;
	struct hal_throttle throttle;
	struct hal_storage storage;
	struct hal_clock clock;
};

/* Reads everything but the board (s->board must be identified) under root.
 * Never fails: each part carries its own reasons. */
void hal_read_all(const char *root, struct hal_snapshot *s);

#endif
