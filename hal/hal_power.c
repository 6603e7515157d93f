#include "hal/hal_power.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "hal/hal_path.h"

#define HWMON "/sys/class/hwmon"
#define VCIO  "/dev/vcio"
/* The firmware mailbox's property interface (the vcio character device):
 * _IOWR(100, 0, char *), and the GET_THROTTLED property tag. */
#define VCIO_IOCTL_PROPERTY _IOWR(100, 0, char *)
#define TAG_GET_THROTTLED   0x00030046u

static enum hal_tri bit(uint32_t raw, uint32_t mask)
{
	return (raw & mask) ? HAL_YES : HAL_NO;
}

void hal_power_decode(struct hal_throttle *t, uint32_t raw)
{
	const int s = HAL_THROTTLE_SINCE_BOOT_SHIFT;
	t->raw_known = true;
	t->raw = raw;
	t->undervoltage_now = bit(raw, HAL_THROTTLE_UNDERVOLT);
	t->freq_capped_now = bit(raw, HAL_THROTTLE_FREQ_CAPPED);
	t->throttled_now = bit(raw, HAL_THROTTLE_THROTTLED);
	t->soft_temp_limit_now = bit(raw, HAL_THROTTLE_SOFT_TEMP);
	t->undervoltage_since_boot = bit(raw, HAL_THROTTLE_UNDERVOLT << s);
	t->freq_capped_since_boot = bit(raw, HAL_THROTTLE_FREQ_CAPPED << s);
	t->throttled_since_boot = bit(raw, HAL_THROTTLE_THROTTLED << s);
	t->soft_temp_limit_since_boot = bit(raw, HAL_THROTTLE_SOFT_TEMP << s);
}

static void all_unknown(struct hal_throttle *t)
{
	memset(t, 0, sizeof(*t));
	t->undervoltage_now = t->freq_capped_now = t->throttled_now = t->soft_temp_limit_now =
	    HAL_UNKNOWN;
	t->undervoltage_since_boot = t->freq_capped_since_boot = t->throttled_since_boot =
	    t->soft_temp_limit_since_boot = HAL_UNKNOWN;
}

struct hwmon_find {
	const char *root;
	char dir[64];
};

static int find_rpi_volt(const char *name, void *ctx)
{
	struct hwmon_find *h = ctx;
	char p[96], n[32];
	hal_fmt(p, sizeof(p), HWMON "/%s/name", name);
	if (hal_read_line(h->root, p, n, sizeof(n)) >= 0 && !strcmp(n, "rpi_volt")) {
		hal_fmt(h->dir, sizeof(h->dir), HWMON "/%s", name);
		return 1;
	}
	return 0;
}

/* The mailbox: a property message of one tag (the firmware's documented
 * layout: size, code, tag, value size, request size, value, end tag). */
static int mailbox(const char *root, uint32_t *out)
{
	int rc, fd = hal_open(root, VCIO, O_RDWR);
	if (fd < 0)
		return fd;
	uint32_t msg[7] = {sizeof(msg), 0, TAG_GET_THROTTLED, 4, 0, 0, 0};
	rc = ioctl(fd, VCIO_IOCTL_PROPERTY, msg) < 0 ? -errno : 0;
	close(fd);
	if (rc < 0)
		return rc;
	if (msg[1] != 0x80000000u || !(msg[4] & 0x80000000u))
		return -EIO; /* the firmware did not answer the tag */
	*out = msg[5];
	return 0;
}

int hal_power_read(const char *root, const struct board_desc *d, struct hal_throttle *t)
{
	all_unknown(t);
	if (!(d->sensors & (BOARD_SENSOR_RPI_THROTTLE | BOARD_SENSOR_RPI_VOLT))) {
		t->not_on_board = true;
		hal_fmt(t->reason, sizeof(t->reason),
			"%s has no firmware throttle flags (Raspberry Pi only)", d->name);
		return -ENODATA;
	}
	/* 1. The firmware driver's sysfs file. */
	int first_err = -ENOENT;
	const char *first_path = NULL;
	for (int i = 0; i < BOARD_MAX_THROTTLE_PATHS && d->throttle_paths[i]; i++) {
		uint64_t v;
		int rc = hal_read_u64_hex(root, d->throttle_paths[i], &v);
		if (rc == 0 && v <= UINT32_MAX) {
			hal_power_decode(t, (uint32_t)v);
			hal_copy(t->source, sizeof(t->source), "sysfs");
			hal_copy(t->path, sizeof(t->path), d->throttle_paths[i]);
			return 0;
		}
		if (rc == 0)
			rc = -EINVAL;
		if (!first_path || (first_err == -ENOENT && rc != -ENOENT)) {
			first_err = rc;
			first_path = d->throttle_paths[i];
		}
	}
	char why[HAL_REASON_MAX] = "";
	if (first_path)
		hal_reason(why, sizeof(why), first_err, first_path);

	/* 2. The mailbox, which answers every flag. */
	uint32_t raw = 0;
	int mrc = mailbox(root, &raw);
	if (mrc == 0) {
		hal_power_decode(t, raw);
		hal_copy(t->source, sizeof(t->source), "mailbox");
		hal_copy(t->path, sizeof(t->path), VCIO);
		return 0;
	}

	/* 3. raspberrypi-hwmon: under-voltage now, nothing else. */
	struct hwmon_find h = {.root = root};
	hal_dir_each(root, HWMON, "hwmon", find_rpi_volt, &h);
	if (h.dir[0]) {
		char p[96];
		int64_t alarm;
		hal_fmt(p, sizeof(p), "%s/in0_lcrit_alarm", h.dir);
		int rc = hal_read_s64(root, p, &alarm);
		if (rc == 0 && (alarm == 0 || alarm == 1)) {
			t->undervoltage_now = alarm ? HAL_YES : HAL_NO;
			hal_copy(t->source, sizeof(t->source), "hwmon");
			hal_copy(t->path, sizeof(t->path), p);
			hal_fmt(t->reason, sizeof(t->reason),
				"only under-voltage now is known (rpi_volt hwmon); %s", why);
			return 0;
		}
		hal_reason(why, sizeof(why), rc == 0 ? -EINVAL : rc, p);
	}
	hal_fmt(t->reason, sizeof(t->reason),
		"no throttle flags: %s; no rpi_volt hwmon; mailbox %s: %s",
		why[0] ? why : "no get_throttled file", VCIO, strerror(-mrc));
	return -ENODATA;
}
