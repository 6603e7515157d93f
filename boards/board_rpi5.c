/* Raspberry Pi 5 (BCM2712): has an RTC (it keeps time only with the
 * optional battery). Its firmware node sits under the new soc@107c000000. */
#include "board.h"

const struct board_desc board_rpi5 = {
    .id = "rpi5",
    .name = "Raspberry Pi 5",
    .order = 10,
    .compatible = {"raspberrypi,5-model-b", "raspberrypi,500", "raspberrypi,5-compute-module",
		   "brcm,bcm2712", NULL},
    .model_prefix = "Raspberry Pi 5",
    .soc = "BCM2712",
    .sensors = BOARD_SENSOR_THERMAL | BOARD_SENSOR_CPUFREQ | BOARD_SENSOR_RPI_THROTTLE |
	       BOARD_SENSOR_RPI_VOLT | BOARD_SENSOR_RTC,
    .triplet = "aarch64-linux-gnu",
    .throttle_paths = {"/sys/devices/platform/soc@107c000000/soc@107c000000:firmware/get_throttled",
		       "/sys/devices/platform/soc/soc:firmware/get_throttled", NULL},
};
