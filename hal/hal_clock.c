#include "hal/hal_clock.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#define RTC "/sys/class/rtc/rtc0"

void hal_clock_from_timex(struct hal_clock *c, int rc, int err, const struct timex *tx)
{
	if (rc < 0) {
		c->synchronised = HAL_UNKNOWN;
		c->time_state = -1;
		c->maxerror_us = c->esterror_us = -1;
		hal_fmt(c->reason, sizeof(c->reason), "adjtimex: %s", strerror(err));
		return;
	}
	c->time_state = rc;
	c->maxerror_us = tx->maxerror;
	c->esterror_us = tx->esterror;
	/* The kernel answers TIME_ERROR while STA_UNSYNC is set: nobody (ntpd,
	 * chrony, systemd-timesyncd) has disciplined the clock since boot, or
	 * maxerror grew past 16 s without an update. */
	c->synchronised = (rc != TIME_ERROR && !(tx->status & STA_UNSYNC)) ? HAL_YES : HAL_NO;
}

int hal_clock_read(const char *root, struct hal_clock *c)
{
	memset(c, 0, sizeof(*c));
	struct timex tx;
	memset(&tx, 0, sizeof(tx)); /* modes 0: read only */
	int rc = adjtimex(&tx);
	hal_clock_from_timex(c, rc, errno, &tx);
	c->now = (int64_t)time(NULL);

	c->rtc_time = -1;
	c->rtc_hctosys = HAL_UNKNOWN;
	c->rtc_present = hal_exists(root, RTC);
	if (c->rtc_present) {
		if (hal_read_line(root, RTC "/name", c->rtc_name, sizeof(c->rtc_name)) < 0)
			c->rtc_name[0] = '\0';
		if (hal_read_s64(root, RTC "/since_epoch", &c->rtc_time) < 0)
			c->rtc_time = -1; /* an RTC that lost its time answers EINVAL */
		int64_t h;
		if (hal_read_s64(root, RTC "/hctosys", &h) == 0)
			c->rtc_hctosys = h ? HAL_YES : HAL_NO;
	}
	return rc < 0 ? -errno : 0;
}
