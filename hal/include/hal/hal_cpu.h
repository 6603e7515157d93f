/* hal_cpu: CPU frequency (cpufreq policies), memory and swap
 * (/proc/meminfo), and whether the memory cgroup controller is enabled
 * (/proc/cgroups, cgroup v2's cgroup.controllers, the kernel command line's
 * cgroup_disable=memory / cgroup_enable=memory). Numbers that could not be
 * read are -1, with the reason beside them. */
#ifndef HAL_CPU_H
#define HAL_CPU_H

#include "hal/hal_read.h"

#include <stdbool.h>
#include <stdint.h>

#define HAL_CPUFREQ_MAX 8

struct hal_cpufreq {
	char policy[16];    /* "policy0" */
	int64_t cur_khz;    /* scaling_cur_freq, -1 unknown */
	int64_t max_khz;    /* scaling_max_freq: what the governor may use */
	int64_t hw_max_khz; /* cpuinfo_max_freq: what the chip can do */
	char governor[24];  /* "" unknown */
	char reason[HAL_REASON_MAX];
};

struct hal_cpu {
	int n;
	struct hal_cpufreq policy[HAL_CPUFREQ_MAX];
	char reason[HAL_REASON_MAX]; /* why there are none */
};

struct hal_memory {
	int64_t total_kb, available_kb, swap_total_kb, swap_free_kb; /* -1 unknown */
	enum hal_tri memcg_enabled;
	char memcg_reason[HAL_REASON_MAX]; /* how that was decided, or why unknown */
	bool cmdline_disable_memory;	   /* cgroup_disable=memory on the command line */
	bool cmdline_enable_memory;	   /* cgroup_enable=memory (the Pi's kernels need it) */
	char reason[HAL_REASON_MAX];	   /* meminfo problems */
};

/* Read the cpufreq policies / memory. 0 or -errno (the reasons say what
 * was missing). Allocate nothing. */
int hal_cpu_read(const char *root, struct hal_cpu *c);
int hal_memory_read(const char *root, struct hal_memory *m);

#endif
