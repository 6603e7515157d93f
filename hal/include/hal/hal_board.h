/* hal_board: which board this is, from the device tree
 * (/proc/device-tree/model: one NUL-terminated string; compatible: a
 * NUL-separated list, most specific first), /proc/cpuinfo (architecture,
 * the Pi's Model/Revision lines) and Jetson's /etc/nv_tegra_release (the
 * L4T release). Matching against boards/ is described in boards/board.h.
 */
#ifndef HAL_BOARD_H
#define HAL_BOARD_H

#include "board.h"
#include "hal/hal_read.h"

struct hal_board {
	const struct board_desc *desc; /* never NULL after identify */
	char model[128];	       /* "Raspberry Pi 4 Model B Rev 1.4"; "" unknown */
	char compatible[256];	       /* "raspberrypi,4-model-b, brcm,bcm2711"; "" unknown */
	char soc[48];		       /* "BCM2711", "tegra194"; "" unknown */
	char arch[16];		       /* "aarch64", "armhf", "x86_64"; "" unknown */
	char revision[24];	       /* the Pi's cpuinfo Revision ("c03114"); "" none */
	char l4t_release[32];	       /* "32.7.1" from nv_tegra_release; "" none */
	char l4t_board[32];	       /* its BOARD: ("t210ref"); "" none */
	char matched_by[48]; /* "compatible raspberrypi,4-model-b", "model", "cpuinfo arch" */
	char reason[HAL_REASON_MAX]; /* what could not be read, "" when all was */
};

/* Identifies the board under root into b. Never fails: what cannot be
 * read is "" with b->reason saying why, and an unrecognised board gets a
 * generic descriptor. Allocates nothing. */
void hal_board_identify(const char *root, struct hal_board *b);

/* Parses an nv_tegra_release first line ("# R32 (release), REVISION: 7.1,
 * GCID: ..., BOARD: t210ref, ...") into "32.7.1" and "t210ref". 0 or -EINVAL. */
int hal_board_parse_l4t(const char *line, char *release, size_t rsize, char *board, size_t bsize);

#endif
