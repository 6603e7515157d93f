/* NVIDIA Jetson Xavier NX (tegra194) and Orin Nano / Orin NX (tegra234),
 * L4T 32.5+ / 35.x / 36.x: one descriptor, the same sensors and toolchain. */
#include "board.h"

const struct board_desc board_jetson_xavier_orin = {
    .id = "jetson-xavier-orin",
    .name = "NVIDIA Jetson Xavier NX / Orin Nano",
    .order = 10,
    .compatible = {"nvidia,p3668-0000", "nvidia,p3668-0001", "nvidia,p3767-0003",
		   "nvidia,p3767-0005", "nvidia,p3767-0000", "nvidia,tegra194", "nvidia,tegra234",
		   NULL},
    .model_prefix = NULL,
    .soc = NULL, /* tegra194 or tegra234: the device tree says which */
    .sensors = BOARD_SENSOR_THERMAL | BOARD_SENSOR_CPUFREQ | BOARD_SENSOR_RTC |
	       BOARD_SENSOR_MMC_LIFE | BOARD_SENSOR_L4T,
    .triplet = "aarch64-linux-gnu",
};
