/* board: one descriptor per supported board (boards/board_<id>.c).
 *
 * Adding a board is adding a file boards/board_<id>.c that defines
 *     const struct board_desc board_<id> = { ... };
 * The build lists every boards/board_*.c into board_table (hal/CMakeLists.txt
 * generates it), so nothing else changes. The static agent carries no data
 * files onto the board: the descriptors are compiled in.
 *
 * How a board is recognised: hal_board_identify() reads the device tree's
 * compatible list (/proc/device-tree/compatible, NUL-separated, most
 * specific first) and takes the descriptor with the lowest `order` that has
 * one of its `compatible` strings in that list; when the device tree names
 * none of them, a descriptor whose `model_prefix` starts the model (the
 * device tree's, or /proc/cpuinfo's "Model" line) wins. No match: the
 * generic descriptor for the architecture /proc/cpuinfo shows.
 */
#ifndef BOARD_H
#define BOARD_H

#include <stddef.h>

/* What a board has; the facts say "unknown" with the reason for what it
 * should have but does not show, and "not on this board" for the rest. */
enum board_sensor {
	BOARD_SENSOR_THERMAL = 1u << 0,	     /* /sys/class/thermal zones */
	BOARD_SENSOR_CPUFREQ = 1u << 1,	     /* cpufreq policies */
	BOARD_SENSOR_RPI_THROTTLE = 1u << 2, /* firmware get_throttled flags */
	BOARD_SENSOR_RPI_VOLT = 1u << 3,     /* raspberrypi-hwmon "rpi_volt" in0_lcrit_alarm */
	BOARD_SENSOR_RTC = 1u << 4,	     /* a real-time clock (may lack a battery) */
	BOARD_SENSOR_MMC_LIFE = 1u << 5,     /* eMMC life-time estimates (Jetson eMMC modules) */
	BOARD_SENSOR_L4T = 1u << 6,	     /* /etc/nv_tegra_release */
};

#define BOARD_MAX_COMPAT	 8
#define BOARD_MAX_THROTTLE_PATHS 4

struct board_desc {
	const char *id;	  /* "rpi4": what facts carry as board_id */
	const char *name; /* "Raspberry Pi 4" */
	int order;	  /* lower is tried first; generic descriptors 1000 */
	/* Device-tree compatible strings that identify it (NULL-terminated). */
	const char *compatible[BOARD_MAX_COMPAT];
	const char *model_prefix; /* or NULL */
	/* For the generic fallback: the architecture /proc/cpuinfo shows
	 * ("aarch64", "armhf", "x86_64"); NULL for a real board. */
	const char *generic_arch;
	const char *soc;     /* "BCM2711"; NULL: from the device tree */
	unsigned sensors;    /* enum board_sensor bits */
	const char *triplet; /* default toolchain: "aarch64-linux-gnu" */
	/* Where the firmware's get_throttled sysfs file may be (first found). */
	const char *throttle_paths[BOARD_MAX_THROTTLE_PATHS];
};

/* Every descriptor, generated from boards/board_*.c at build time. */
extern const struct board_desc *const board_table[];
extern const size_t board_table_len;

#endif
