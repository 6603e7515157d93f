/* Raspberry Pi 4 Model B / 400 / CM4 (BCM2711), 64-bit Pi OS. No RTC. */
#include "board.h"

const struct board_desc board_rpi4 = {
    .id = "rpi4",
    .name = "Raspberry Pi 4",
    .order = 10,
    .compatible = {"raspberrypi,4-model-b", "raspberrypi,400", "raspberrypi,4-compute-module",
		   "brcm,bcm2711", NULL},
    .model_prefix = "Raspberry Pi 4",
    .soc = "BCM2711",
    .sensors = BOARD_SENSOR_THERMAL | BOARD_SENSOR_CPUFREQ | BOARD_SENSOR_RPI_THROTTLE |
	       BOARD_SENSOR_RPI_VOLT,
    .triplet = "aarch64-linux-gnu",
    .throttle_paths = {"/sys/devices/platform/soc/soc:firmware/get_throttled",
		       "/sys/devices/platform/scb/soc:firmware/get_throttled", NULL},
};
