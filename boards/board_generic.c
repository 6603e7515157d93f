/* Any other board (and the x86 machines the agent is tested on): found by
 * the architecture /proc/cpuinfo shows; sensors are read where they exist
 * and reported unknown where they do not. */
#include "board.h"

#define GENERIC_SENSORS (BOARD_SENSOR_THERMAL | BOARD_SENSOR_CPUFREQ)

const struct board_desc board_generic_aarch64 = {
    .id = "generic-aarch64",
    .name = "generic aarch64 board",
    .order = 1000,
    .generic_arch = "aarch64",
    .sensors = GENERIC_SENSORS,
    .triplet = "aarch64-linux-gnu",
};

const struct board_desc board_generic_armhf = {
    .id = "generic-armhf",
    .name = "generic armhf board",
    .order = 1000,
    .generic_arch = "armhf",
    .sensors = GENERIC_SENSORS,
    .triplet = "arm-linux-gnueabihf",
};

const struct board_desc board_generic_x86_64 = {
    .id = "generic-x86_64",
    .name = "generic x86_64 machine",
    .order = 1000,
    .generic_arch = "x86_64",
    .sensors = GENERIC_SENSORS,
    .triplet = "x86_64-linux-gnu",
};

/* Architecture not recognised either. */
const struct board_desc board_generic = {
    .id = "generic",
    .name = "unknown board",
    .order = 1001,
    .generic_arch = "",
    .sensors = GENERIC_SENSORS,
    .triplet = "",
};
