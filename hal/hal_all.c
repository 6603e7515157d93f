#include "hal/hal.h"

void hal_read_all(const char *root, struct hal_snapshot *s)
{
	hal_thermal_read(root, &s->thermal);
	hal_cpu_read(root, &s->cpu);
	hal_memory_read(root, &s->memory);
	hal_power_read(root, s->board.desc, &s->throttle);
	hal_storage_read(root, &s->storage);
	hal_clock_read(root, &s->clock);
}
