/* NVIDIA Jetson Nano (Tegra X1, tegra210) with L4T 32.x. The developer kit
 * boots from SD; the production module from 16 GB eMMC. */
#include "board.h"

const struct board_desc board_jetson_nano = {
    .id = "jetson-nano",
    .name = "NVIDIA Jetson Nano",
    .order = 10,
    .compatible = {"nvidia,p3450-0000", "nvidia,p3448-0000", "nvidia,p3448-0002",
		   "nvidia,jetson-nano", "nvidia,tegra210", NULL},
    .model_prefix = "NVIDIA Jetson Nano",
    .soc = "tegra210",
    .sensors = BOARD_SENSOR_THERMAL | BOARD_SENSOR_CPUFREQ | BOARD_SENSOR_RTC |
	       BOARD_SENSOR_MMC_LIFE | BOARD_SENSOR_L4T,
    .triplet = "aarch64-linux-gnu",
};
