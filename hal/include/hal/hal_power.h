/* hal_power: the Raspberry Pi firmware's throttle flags (get_throttled).
 *
 * Bits (Raspberry Pi documentation, vcgencmd get_throttled): 0 under-voltage
 * now, 1 ARM frequency capped, 2 throttled, 3 soft temperature limit; 16-19
 * the same "has occurred since boot". Where they come from, first found:
 *   sysfs    the firmware driver's get_throttled file (hex, no 0x), at the
 *            places the board descriptor lists
 *   hwmon    raspberrypi-hwmon ("rpi_volt") in0_lcrit_alarm: under-voltage
 *            now only; the other flags stay unknown
 *   mailbox  the firmware property GET_THROTTLED (tag 0x00030046) through
 *            /dev/vcio
 * A board without these firmware flags reports every flag unknown and says so.
 */
#ifndef HAL_POWER_H
#define HAL_POWER_H

#include "board.h"
#include "hal/hal_read.h"

#include <stdbool.h>
#include <stdint.h>

#define HAL_THROTTLE_UNDERVOLT	      (1u << 0)
#define HAL_THROTTLE_FREQ_CAPPED      (1u << 1)
#define HAL_THROTTLE_THROTTLED	      (1u << 2)
#define HAL_THROTTLE_SOFT_TEMP	      (1u << 3)
#define HAL_THROTTLE_SINCE_BOOT_SHIFT 16

struct hal_throttle {
	enum hal_tri undervoltage_now, freq_capped_now, throttled_now, soft_temp_limit_now;
	enum hal_tri undervoltage_since_boot, freq_capped_since_boot, throttled_since_boot,
	    soft_temp_limit_since_boot;
	bool raw_known;
	uint32_t raw;		     /* the get_throttled word when raw_known */
	bool not_on_board;	     /* the board has no such flags (not a Raspberry Pi) */
	char source[16];	     /* "sysfs", "hwmon", "mailbox", "" none */
	char path[96];		     /* the file it came from */
	char reason[HAL_REASON_MAX]; /* why (some) flags are unknown; "" when none are */
};

/* Reads the flags for board d. 0, or -ENODATA when none could be read (all
 * unknown, t->reason says why). Allocates nothing. */
int hal_power_read(const char *root, const struct board_desc *d, struct hal_throttle *t);

/* Fills the eight flags from a get_throttled word. */
void hal_power_decode(struct hal_throttle *t, uint32_t raw);

#endif
