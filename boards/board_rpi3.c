/* Raspberry Pi 3 Model B / B+ (BCM2837), the 32-bit Pi OS (armhf) as
 * shipped for it. No RTC: the clock starts where fake-hwclock left it. */
#include "board.h"

const struct board_desc board_rpi3 = {
    .id = "rpi3",
    .name = "Raspberry Pi 3",
    .order = 10,
    .compatible = {"raspberrypi,3-model-b", "raspberrypi,3-model-b-plus",
		   "raspberrypi,3-model-a-plus", "brcm,bcm2837", NULL},
    .model_prefix = "Raspberry Pi 3",
    .soc = "BCM2837",
    .sensors = BOARD_SENSOR_THERMAL | BOARD_SENSOR_CPUFREQ | BOARD_SENSOR_RPI_THROTTLE |
	       BOARD_SENSOR_RPI_VOLT,
    .triplet = "arm-linux-gnueabihf",
    .throttle_paths = {"/sys/devices/platform/soc/soc:firmware/get_throttled", NULL},
};
