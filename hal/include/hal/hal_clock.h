/* hal_clock: is the clock to be trusted? NTP synchronisation as the kernel
 * keeps it (adjtimex(2), read-only: modes 0), and whether there is an RTC
 * (/sys/class/rtc/rtc0: name, since_epoch, hctosys).
 *
 * adjtimex is a system call, not a file: it always describes the running
 * kernel, also with a --root prefix; the RTC is read under the prefix.
 * Comparing the clock with certificates is the agent's business (it knows
 * where they are); hal only supplies `now`.
 */
#ifndef HAL_CLOCK_H
#define HAL_CLOCK_H

#include "hal/hal_read.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/timex.h>

struct hal_clock {
	int64_t now;		   /* CLOCK_REALTIME seconds at the reading */
	enum hal_tri synchronised; /* !STA_UNSYNC and the state is not TIME_ERROR */
	int time_state;		   /* adjtimex's return (TIME_OK 0 ... TIME_ERROR 5), -1 unknown */
	int64_t maxerror_us, esterror_us; /* -1 unknown */
	bool rtc_present;
	char rtc_name[32];	  /* "rtc-rpi", "tegra_rtc", "" */
	int64_t rtc_time;	  /* rtc0's since_epoch, -1 unknown */
	enum hal_tri rtc_hctosys; /* the system clock was set from it at boot */
	char reason[HAL_REASON_MAX];
};

/* Reads the clock state. 0 or -errno from adjtimex (then synchronised is
 * unknown). Allocates nothing. */
int hal_clock_read(const char *root, struct hal_clock *c);

/* The synchronisation fields from an adjtimex result (rc its return value,
 * -1 with err = errno on failure). Pure; for the tests. */
void hal_clock_from_timex(struct hal_clock *c, int rc, int err, const struct timex *tx);

#endif
