/* hal against the fixture tree of every supported board
 * (tests/fixtures/boards/<board>, written by make-fixtures.sh in the
 * kernel's formats): each is identified and its sensors read; malformed and
 * missing files give "unknown" with a reason, never a crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fm_facts.h"
#include "fm_hal.h"
#include "fmh_check.h"
#include "hal/hal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct hal_snapshot *snap(const char *board)
{
	static char root[512];
	snprintf(root, sizeof(root), "%s/%s", FM_BOARD_FIXTURES, board);
	struct hal_snapshot *s = calloc(1, sizeof(*s));
	assert_non_null(s);
	hal_board_identify(root, &s->board);
	hal_read_all(root, s);
	return s;
}

/* The facts fm_hal puts for a board, as a JSON array (caller frees). */
static cJSON *facts_of(const char *board)
{
	struct hal_snapshot *s = snap(board);
	struct fm_facts *f = fm_facts_new();
	assert_int_equal(fm_hal_put(f, s), 0);
	cJSON *arr = fm_facts_json(f, "hal.");
	fm_facts_delete(&f);
	free(s);
	return arr;
}

static void identify_each_board(void **state)
{
	(void)state;
	static const struct {
		const char *dir, *id, *soc, *arch, *triplet, *l4t, *model;
	} want[] = {
	    {"rpi3", "rpi3", "BCM2837", "armhf", "arm-linux-gnueabihf", "",
	     "Raspberry Pi 3 Model B Rev 1.2"},
	    {"rpi4", "rpi4", "BCM2711", "aarch64", "aarch64-linux-gnu", "",
	     "Raspberry Pi 4 Model B Rev 1.4"},
	    {"rpi5", "rpi5", "BCM2712", "aarch64", "aarch64-linux-gnu", "",
	     "Raspberry Pi 5 Model B Rev 1.0"},
	    {"jetson-nano", "jetson-nano", "tegra210", "aarch64", "aarch64-linux-gnu", "32.7.1",
	     "NVIDIA Jetson Nano Developer Kit"},
	    {"jetson-xavier-nx", "jetson-xavier-orin", "tegra194", "aarch64", "aarch64-linux-gnu",
	     "35.4.1", "NVIDIA Jetson Xavier NX Developer Kit"},
	    {"jetson-orin-nano", "jetson-xavier-orin", "tegra234", "aarch64", "aarch64-linux-gnu",
	     "36.3.0", "NVIDIA Jetson Orin Nano Developer Kit"},
	    {"generic-aarch64", "generic-aarch64", "rk3399", "aarch64", "aarch64-linux-gnu", "",
	     "Pine64 RockPro64 v2.1"},
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct hal_snapshot *s = snap(want[i].dir);
		print_message("board %s: %s (%s)\n", want[i].dir, s->board.desc->id,
			      s->board.matched_by);
		assert_string_equal(s->board.desc->id, want[i].id);
		assert_string_equal(s->board.soc, want[i].soc);
		assert_string_equal(s->board.arch, want[i].arch);
		assert_string_equal(s->board.desc->triplet, want[i].triplet);
		assert_string_equal(s->board.l4t_release, want[i].l4t);
		assert_string_equal(s->board.model, want[i].model);
		assert_string_equal(s->board.reason, "");
		/* Every board has thermal zones and cpufreq, all readable. */
		assert_true(s->thermal.n >= 1);
		for (int z = 0; z < s->thermal.n; z++)
			assert_true(s->thermal.zone[z].known);
		assert_true(s->cpu.n >= 1);
		assert_true(s->cpu.policy[0].cur_khz > 0);
		assert_true(s->memory.total_kb > 0);
		assert_int_not_equal(s->memory.memcg_enabled, HAL_UNKNOWN);
		assert_true(s->storage.n_fs >= 1);
		assert_string_equal(s->storage.fs[0].path, "/");
		assert_true(s->storage.fs[0].mount_known);
		assert_true(s->storage.n_ext4 >= 1);
		assert_true(s->storage.ext4[0].errors_count >= 0);
		assert_string_equal(s->storage.ext4[0].mount_point, "/");
		free(s);
	}
}

static void rpi4_throttled_undervoltage_and_ext4_errors(void **state)
{
	(void)state;
	struct hal_snapshot *s = snap("rpi4");
	const struct hal_throttle *t = &s->throttle;
	assert_string_equal(t->source, "sysfs");
	assert_true(t->raw_known);
	assert_int_equal(t->raw, 0x50005);
	assert_int_equal(t->undervoltage_now, HAL_YES);
	assert_int_equal(t->freq_capped_now, HAL_NO);
	assert_int_equal(t->throttled_now, HAL_YES);
	assert_int_equal(t->soft_temp_limit_now, HAL_NO);
	assert_int_equal(t->undervoltage_since_boot, HAL_YES);
	assert_int_equal(t->throttled_since_boot, HAL_YES);
	assert_int_equal(t->freq_capped_since_boot, HAL_NO);

	const struct hal_ext4 *x = &s->storage.ext4[0];
	assert_string_equal(x->dev, "mmcblk0p2");
	assert_string_equal(x->mount_point, "/");
	assert_int_equal(x->errors_count, 3);
	assert_int_equal(x->first.time, 1795400000);
	assert_string_equal(x->first.func, "ext4_lookup");
	assert_int_equal(x->last.time, 1795446428);
	assert_string_equal(x->last.func, "ext4_iget");
	assert_int_equal(x->last.line, 4950);
	assert_int_equal(x->last.ino, 524301);
	assert_int_equal(x->last.errcode, 5);
	assert_string_equal(hal_ext4_errcode_name(x->last.errcode), "EFSCORRUPTED");
	/* The overlay under /var/lib/docker/overlay2 does not hold /var/lib/docker. */
	assert_string_equal(s->storage.fs[1].path, "/var/lib/docker");
	assert_string_equal(s->storage.fs[1].m.mount_point, "/");
	assert_string_equal(s->storage.fs[0].m.errors, "remount-ro");
	assert_false(s->storage.fs[0].m.super_ro);
	assert_int_equal(s->storage.n_ro, 0);
	/* An SD card reports no wear: unknown, and why. */
	assert_int_equal(s->storage.n_block, 1);
	assert_int_equal(s->storage.block[0].life_time_a, -1);
	assert_non_null(strstr(s->storage.block[0].reason, "SD cards report no wear"));
	assert_int_equal(s->memory.memcg_enabled, HAL_YES);
	assert_true(s->memory.cmdline_enable_memory);
	free(s);

	cJSON *facts = facts_of("rpi4");
	const cJSON *th = fmh_find(facts, "hal.throttle", "firmware");
	assert_non_null(th);
	assert_string_equal(fmh_jstr(th, "state"), "ok");
	assert_true(fmh_jbool(th, "undervoltage_now"));
	assert_true(fmh_jbool(th, "throttled_since_boot"));
	assert_false(fmh_jbool(th, "soft_temp_limit_now"));
	assert_string_equal(fmh_jstr(th, "raw"), "0x50005");
	const cJSON *e = fmh_find(facts, "hal.ext4", "mmcblk0p2");
	assert_non_null(e);
	assert_int_equal((int)fmh_jnum(e, "errors_count"), 3);
	assert_true(fmh_jbool(e, "has_errors"));
	assert_string_equal(fmh_jstr(e, "last_error_errcode_name"), "EFSCORRUPTED");
	assert_string_equal(fmh_jstr(e, "last_error_func"), "ext4_iget");
	assert_string_equal(fmh_jstr(e, "last_error_time"), "2026-11-23T15:07:08Z");
	const cJSON *b = fmh_find(facts, "hal.board", "board");
	assert_string_equal(fmh_jstr(b, "board_id"), "rpi4");
	assert_string_equal(fmh_jstr(b, "triplet"), "aarch64-linux-gnu");
	cJSON_Delete(facts);
}

/* Pi 3: no get_throttled file, only the hwmon alarm: under-voltage now is
 * known, the rest unknown with the reason; memory cgroup disabled on the
 * command line; swap on. */
static void rpi3_hwmon_only_memcg_off_swap_on(void **state)
{
	(void)state;
	struct hal_snapshot *s = snap("rpi3");
	const struct hal_throttle *t = &s->throttle;
	assert_string_equal(t->source, "hwmon");
	assert_false(t->raw_known);
	assert_int_equal(t->undervoltage_now, HAL_NO);
	assert_int_equal(t->throttled_now, HAL_UNKNOWN);
	assert_int_equal(t->undervoltage_since_boot, HAL_UNKNOWN);
	assert_non_null(strstr(t->reason, "only under-voltage now"));
	assert_int_equal(s->memory.memcg_enabled, HAL_NO);
	assert_true(s->memory.cmdline_disable_memory);
	assert_non_null(strstr(s->memory.memcg_reason, "cgroup_disable=memory"));
	assert_int_equal(s->memory.swap_total_kb, 102396);
	assert_int_equal(s->thermal.zone[0].temp_mc, 62300);
	assert_string_equal(s->thermal.zone[0].type, "cpu-thermal");
	free(s);

	cJSON *facts = facts_of("rpi3");
	const cJSON *th = fmh_find(facts, "hal.throttle", "firmware");
	assert_string_equal(fmh_jstr(th, "state"), "unknown");
	assert_false(fmh_jbool(th, "undervoltage_now"));
	assert_true(cJSON_IsNull(fmh_field(th, "throttled_now")));
	const cJSON *m = fmh_find(facts, "hal.memory", "memory");
	assert_false(fmh_jbool(m, "memory_cgroup_enabled"));
	assert_true(fmh_jbool(m, "swap_enabled"));
	assert_true(fmh_jbool(m, "cmdline_cgroup_disable_memory"));
	cJSON_Delete(facts);
}

/* Pi 5: throttle file at its own place, cgroup v2 only, an RTC. */
static void rpi5_cgroup_v2_and_rtc(void **state)
{
	(void)state;
	struct hal_snapshot *s = snap("rpi5");
	assert_true(s->throttle.raw_known);
	assert_int_equal(s->throttle.undervoltage_now, HAL_NO);
	assert_non_null(strstr(s->throttle.path, "soc@107c000000"));
	assert_int_equal(s->memory.memcg_enabled, HAL_YES);
	assert_non_null(strstr(s->memory.memcg_reason, "cgroup.controllers"));
	assert_true(s->clock.rtc_present);
	assert_int_equal(s->clock.rtc_time, 1795440000);
	assert_int_equal(s->clock.rtc_hctosys, HAL_YES);
	/* An NVMe disk shows neither counter: unknown. */
	assert_int_equal(s->storage.block[0].ioerr_cnt, -1);
	assert_string_not_equal(s->storage.block[0].reason, "");
	free(s);
}

static void jetsons_thermal_zones_l4t_emmc(void **state)
{
	(void)state;
	struct hal_snapshot *s = snap("jetson-nano");
	static const char *const types[] = {"AO-therm",	 "CPU-therm", "GPU-therm",
					    "PLL-therm", "PMIC-Die",  "thermal-fan-est"};
	assert_int_equal(s->thermal.n, 6);
	for (int i = 0; i < 6; i++) {
		assert_int_equal(s->thermal.zone[i].index, i);
		assert_string_equal(s->thermal.zone[i].type, types[i]);
	}
	assert_int_equal(s->thermal.zone[4].temp_mc, 100000);
	assert_string_equal(s->board.l4t_board, "t210ref");
	assert_int_equal(s->storage.block[0].life_time_a, 1);
	assert_int_equal(s->storage.block[0].life_time_b, 2);
	assert_int_equal(s->storage.block[0].pre_eol, 1);
	assert_string_equal(s->storage.block[0].type, "MMC");
	/* Not a Pi: the throttle flags are absent, not zero. */
	assert_true(s->throttle.not_on_board);
	assert_int_equal(s->throttle.undervoltage_now, HAL_UNKNOWN);
	assert_true(s->clock.rtc_present);
	assert_string_equal(s->clock.rtc_name, "max77620-rtc");
	free(s);

	cJSON *facts = facts_of("jetson-xavier-nx");
	assert_int_equal(fmh_count_kind(facts, "hal.cpufreq"), 2);
	assert_non_null(fmh_find(facts, "hal.cpufreq", "policy2"));
	const cJSON *th = fmh_find(facts, "hal.throttle", "firmware");
	assert_string_equal(fmh_jstr(th, "state"), "absent");
	assert_true(cJSON_IsNull(fmh_field(th, "undervoltage_now")));
	const cJSON *m = fmh_find(facts, "hal.memory", "memory");
	assert_int_equal((long long)fmh_jnum(m, "swap_used_bytes"), (3886000LL - 3800000LL) * 1024);
	cJSON_Delete(facts);
}

/* The generic board's root was remounted read-only by ext4 (superblock ro
 * under a rw mount); /var/lib/etcd is its own read-only mount; a worn
 * eMMC; a SCSI disk with I/O errors; an escaped mount point. */
static void generic_readonly_remount_and_worn_emmc(void **state)
{
	(void)state;
	struct hal_snapshot *s = snap("generic-aarch64");
	assert_string_equal(s->board.matched_by, "cpuinfo architecture");
	assert_int_equal(s->storage.n_ro, 2);
	assert_string_equal(s->storage.ro[0].mount_point, "/");
	assert_true(s->storage.ro[0].super_ro);
	assert_false(s->storage.ro[0].mount_ro);
	assert_string_equal(s->storage.fs[1].path, "/var/lib/etcd");
	assert_string_equal(s->storage.fs[1].m.mount_point, "/var/lib/etcd");
	assert_string_equal(s->storage.fs[1].m.source, "/dev/mmcblk0p3");
	assert_int_equal(s->storage.n_ext4, 2);
	free(s);

	cJSON *facts = facts_of("generic-aarch64");
	const cJSON *ro = fmh_find(facts, "hal.readonly", "/");
	assert_non_null(ro);
	assert_true(fmh_jbool(ro, "remounted_ro"));
	assert_string_equal(fmh_jstr(ro, "errors_behavior"), "remount-ro");
	const cJSON *ro2 = fmh_find(facts, "hal.readonly", "/var/lib/etcd");
	assert_false(fmh_jbool(ro2, "remounted_ro"));
	assert_false(fmh_jbool(ro2, "mount_ro_imposed"));
	assert_true(fmh_jbool(fmh_find(facts, "hal.fs", "/"), "read_only"));
	const cJSON *mmc = fmh_find(facts, "hal.blockdev", "mmcblk0");
	assert_int_equal((int)fmh_jnum(mmc, "life_time_a"), 11);
	assert_int_equal((int)fmh_jnum(mmc, "life_used_pct_max"), 110);
	assert_string_equal(fmh_jstr(mmc, "pre_eol"), "urgent");
	assert_int_equal((int)fmh_jnum(fmh_find(facts, "hal.blockdev", "sda"), "io_errors"), 31);
	assert_null(fmh_find(facts, "hal.blockdev", "loop0"));
	cJSON_Delete(facts);

	struct hal_mount m;
	assert_int_equal(hal_storage_parse_mountinfo(
			     "31 24 0:26 / /srv\\040data rw,relatime - tmpfs tmpfs rw", &m),
			 0);
	assert_string_equal(m.mount_point, "/srv data");
	assert_int_equal(hal_storage_parse_mountinfo("36 35 98:0 /mnt1 /mnt2 rw - ext3", &m),
			 -EINVAL);
	assert_int_equal(hal_storage_parse_mountinfo("", &m), -EINVAL);
}

/* Inside the unit's sandbox every mount is "ro" (ProtectSystem=strict), so
 * "superblock ro under a rw mount" cannot be seen: the root's read-only
 * superblock over recorded ext4 errors still reads as the kernel's remount;
 * /var/lib/etcd's superblock, read-only on purpose without errors, and
 * /var/lib/containerd's, read-write under the sandbox's ro mount, do not. */
static void sandboxed_remount_seen(void **state)
{
	(void)state;
	struct hal_snapshot *s = snap("generic-sandboxed");
	assert_int_equal(s->storage.n_ro, 4);
	assert_true(s->storage.ro[0].mount_ro);
	assert_true(s->storage.ro[0].super_ro);
	assert_true(s->storage.ro[0].fs_errors);
	assert_true(s->storage.ro_imposed);
	assert_true(hal_mount_remounted_ro(&s->storage.ro[0], s->storage.ro_imposed));
	assert_false(s->storage.ro[1].fs_errors);
	assert_false(hal_mount_remounted_ro(&s->storage.ro[1], s->storage.ro_imposed));
	assert_false(hal_mount_remounted_ro(&s->storage.ro[2], s->storage.ro_imposed));
	free(s);

	cJSON *facts = facts_of("generic-sandboxed");
	const cJSON *root = fmh_find(facts, "hal.readonly", "/");
	assert_true(fmh_jbool(root, "remounted_ro"));
	assert_true(fmh_jbool(root, "fs_errors"));
	assert_true(fmh_jbool(root, "mount_ro_imposed"));
	assert_false(fmh_jbool(fmh_find(facts, "hal.readonly", "/var/lib/etcd"), "remounted_ro"));
	assert_false(fmh_jbool(fmh_find(facts, "hal.readonly", "/var/lib/containerd"), "remounted_ro"));
	cJSON_Delete(facts);

	/* The same superblock with errors=continue: the kernel would not have
	 * remounted it, so a read-only superblock there was somebody's choice. */
	struct hal_mount m = {.mount_ro = true, .super_ro = true, .fs_errors = true};
	snprintf(m.errors, sizeof(m.errors), "continue");
	assert_false(hal_mount_remounted_ro(&m, true));
	m.mount_ro = false; /* seen from the host's namespace: the mount is rw */
	assert_true(hal_mount_remounted_ro(&m, true));
	/* Outside a sandbox a read-only mount is somebody's choice, errors or
	 * not (generic-aarch64's /var/lib/etcd). */
	m.mount_ro = true;
	m.errors[0] = '\0';
	assert_false(hal_mount_remounted_ro(&m, false));
	assert_true(hal_mount_remounted_ro(&m, true));
}

/* Debian 12's 6.1.y kernel after an ext4 error under errors=remount-ro: no
 * "ro" anywhere in mountinfo, the error record after this boot's btime is
 * the sign; an error from before this boot is not. */
static void remount_seen_by_error_record(void **state)
{
	(void)state;
	cJSON *facts = facts_of("generic-remount-6.1");
	const cJSON *etcd = fmh_find(facts, "hal.readonly", "/var/lib/etcd");
	assert_non_null(etcd);
	assert_false(fmh_jbool(etcd, "mount_ro"));
	assert_false(fmh_jbool(etcd, "superblock_ro"));
	assert_true(fmh_jbool(etcd, "error_this_boot"));
	assert_true(fmh_jbool(etcd, "remounted_ro"));
	assert_null(fmh_find(facts, "hal.readonly", "/srv/old"));
	assert_null(fmh_find(facts, "hal.readonly", "/"));
	cJSON_Delete(facts);
}

/* Every file malformed: unknown with a reason for each, never a crash. */
static void malformed_files_are_unknown(void **state)
{
	(void)state;
	struct hal_snapshot *s = snap("malformed");
	assert_string_equal(s->board.desc->id, "rpi4"); /* compatible is fine */
	assert_string_equal(s->board.model, "");
	assert_non_null(strstr(s->board.reason, "malformed /proc/device-tree/model"));
	assert_non_null(strstr(s->board.reason, "malformed /etc/nv_tegra_release"));
	assert_int_equal(s->thermal.n, 3);
	for (int i = 0; i < 3; i++) {
		assert_false(s->thermal.zone[i].known);
		assert_string_not_equal(s->thermal.zone[i].reason, "");
	}
	assert_int_equal(s->cpu.policy[0].cur_khz, -1);
	assert_false(s->throttle.raw_known);
	assert_int_equal(s->throttle.undervoltage_now, HAL_UNKNOWN);
	assert_non_null(strstr(s->throttle.reason, "malformed"));
	assert_int_equal(s->memory.total_kb, -1);
	assert_int_equal(s->memory.swap_total_kb, -1);
	assert_int_equal(s->memory.memcg_enabled, HAL_UNKNOWN);
	assert_non_null(strstr(s->storage.reason, "2 malformed lines"));
	assert_int_equal(s->storage.ext4[0].errors_count, -1);
	assert_non_null(strstr(s->storage.ext4[0].reason, "errors_count"));
	assert_int_equal(s->storage.block[0].life_time_a, -1);
	free(s);

	cJSON *facts = facts_of("malformed");
	const cJSON *m = fmh_find(facts, "hal.memory", "memory");
	assert_string_equal(fmh_jstr(m, "state"), "unknown");
	assert_true(cJSON_IsNull(fmh_field(m, "swap_enabled")));
	assert_true(cJSON_IsNull(fmh_field(m, "memory_cgroup_enabled")));
	const cJSON *e = fmh_find(facts, "hal.ext4", "mmcblk0p2");
	assert_string_equal(fmh_jstr(e, "state"), "unknown");
	assert_true(cJSON_IsNull(fmh_field(e, "has_errors")));
	cJSON_Delete(facts);
}

/* A root with nothing in it: everything unknown, each with its reason. */
static void empty_root_is_unknown(void **state)
{
	(void)state;
	struct hal_snapshot *s = snap("does-not-exist");
	assert_string_equal(s->board.desc->id, "generic");
	assert_non_null(strstr(s->board.reason, "missing /proc/device-tree/model"));
	assert_int_equal(s->thermal.n, 0);
	assert_non_null(strstr(s->thermal.reason, "missing"));
	assert_int_equal(s->cpu.n, 0);
	assert_int_equal(s->memory.memcg_enabled, HAL_UNKNOWN);
	assert_false(s->storage.fs[0].mount_known);
	assert_non_null(strstr(s->storage.reason, "missing /proc/self/mountinfo"));
	free(s);
	cJSON *facts = facts_of("does-not-exist");
	assert_string_equal(fmh_jstr(fmh_find(facts, "hal.thermal", "none"), "state"), "unknown");
	assert_string_equal(fmh_jstr(fmh_find(facts, "hal.fs", "/"), "state"), "unknown");
	cJSON_Delete(facts);
}

static void decoders(void **state)
{
	(void)state;
	struct hal_throttle t;
	memset(&t, 0, sizeof(t));
	hal_power_decode(&t, 0x80008);
	assert_int_equal(t.soft_temp_limit_now, HAL_YES);
	assert_int_equal(t.soft_temp_limit_since_boot, HAL_YES);
	assert_int_equal(t.undervoltage_now, HAL_NO);
	hal_power_decode(&t, 0x20002);
	assert_int_equal(t.freq_capped_now, HAL_YES);
	assert_int_equal(t.freq_capped_since_boot, HAL_YES);

	struct hal_clock c;
	struct timex tx;
	memset(&c, 0, sizeof(c));
	memset(&tx, 0, sizeof(tx));
	tx.status = STA_UNSYNC;
	tx.maxerror = 16000000;
	hal_clock_from_timex(&c, TIME_ERROR, 0, &tx);
	assert_int_equal(c.synchronised, HAL_NO);
	assert_int_equal(c.maxerror_us, 16000000);
	tx.status = STA_PLL;
	tx.maxerror = 12000;
	hal_clock_from_timex(&c, TIME_OK, 0, &tx);
	assert_int_equal(c.synchronised, HAL_YES);
	hal_clock_from_timex(&c, -1, EPERM, &tx);
	assert_int_equal(c.synchronised, HAL_UNKNOWN);
	assert_int_equal(c.maxerror_us, -1);
	assert_non_null(strstr(c.reason, "adjtimex"));

	char rel[32], bd[32];
	assert_int_equal(
	    hal_board_parse_l4t(
		"# R32 (release), REVISION: 7.1, GCID: 1, BOARD: t210ref, EABI: aarch64", rel,
		sizeof(rel), bd, sizeof(bd)),
	    0);
	assert_string_equal(rel, "32.7.1");
	assert_string_equal(bd, "t210ref");
	assert_int_equal(hal_board_parse_l4t("R32 7.1", rel, sizeof(rel), bd, sizeof(bd)), -EINVAL);
	assert_string_equal(hal_ext4_errcode_name(2), "EIO");
	assert_null(hal_ext4_errcode_name(0));
	assert_null(hal_ext4_errcode_name(99));
}

/* probe hal on this machine: the generic board, unknown where it has no
 * sensors, and the clock compared with certificates only when there are some. */
static void host_probe_via_collect(void **state)
{
	(void)state;
	struct fm_facts *f = fm_facts_new();
	assert_int_equal(fm_hal_collect("/", NULL, time(NULL), f), 0);
	const cJSON *b = fm_facts_get(f, "hal.board", "board");
	assert_non_null(b);
	assert_non_null(fm_facts_get(f, "hal.fs", "/"));
	const cJSON *c = fm_facts_get(f, "hal.clock", "clock");
	assert_non_null(c);
	assert_true(cJSON_IsNull(fmh_field(c, "clock_before_newest_cert")));
	assert_string_equal(fmh_jstr(c, "cert_reason"), "no discovery");
	fm_facts_delete(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(identify_each_board),
	    cmocka_unit_test(rpi4_throttled_undervoltage_and_ext4_errors),
	    cmocka_unit_test(rpi3_hwmon_only_memcg_off_swap_on),
	    cmocka_unit_test(rpi5_cgroup_v2_and_rtc),
	    cmocka_unit_test(jetsons_thermal_zones_l4t_emmc),
	    cmocka_unit_test(generic_readonly_remount_and_worn_emmc),
	    cmocka_unit_test(sandboxed_remount_seen),
	    cmocka_unit_test(remount_seen_by_error_record),
	    cmocka_unit_test(malformed_files_are_unknown),
	    cmocka_unit_test(empty_root_is_unknown),
	    cmocka_unit_test(decoders),
	    cmocka_unit_test(host_probe_via_collect),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
