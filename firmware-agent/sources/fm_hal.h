/* fm_hal: the board's hal readings as facts (kinds "hal.*"), and the clock
 * compared with the node's certificates.
 *
 * Facts (a field that could not be read is JSON null, and the fact has
 * "state": "unknown" with a "reason" when any of its deciding fields is):
 *   hal.board    id "board": board_id, name, model, compatible, soc, arch,
 *                revision, l4t_release, l4t_board, triplet, matched_by,
 *                sensors (what the board descriptor says it has)
 *   hal.thermal  id "thermal_zoneN": zone, type, temp_c
 *   hal.cpufreq  id "policyN": cur_mhz, max_mhz, hw_max_mhz, governor,
 *                freq_limited (max below what the chip can do)
 *   hal.throttle id "firmware": undervoltage_now, freq_capped_now,
 *                throttled_now, soft_temp_limit_now and the same *_since_boot,
 *                raw ("0x50005"), source (sysfs|mailbox|hwmon), path;
 *                state "absent" on boards without these flags (not a Pi)
 *   hal.memory   id "memory": total_bytes, available_bytes, swap_total_bytes,
 *                swap_used_bytes, swap_enabled, memory_cgroup_enabled,
 *                memory_cgroup_reason, cmdline_cgroup_disable_memory,
 *                cmdline_cgroup_enable_memory
 *   hal.fs       id the path ("/", "/var/lib/etcd" ...): path, mount_point,
 *                device, fstype, size_bytes, avail_bytes, used_pct,
 *                inodes_used_pct, read_only, errors_behavior
 *   hal.readonly id the mount point: every block-device mount that is
 *                read-only: device, fstype, mount_ro, superblock_ro,
 *                emergency_ro (ext4 >= Linux 6.5 after an error),
 *                (also a mount whose ext4 recorded an error this boot under
 *                errors=remount-ro, "rw" as it may still read),
 *                fs_errors (ext4 recorded errors on it), error_this_boot
 *                (the last one since /proc/stat's btime), mount_ro_imposed
 *                (this namespace's mounts are made read-only from above: a
 *                sandbox), remounted_ro (the
 *                kernel did it, typically ext4's errors=remount-ro: see
 *                hal_mount_remounted_ro, which also holds inside the unit's
 *                sandbox, where every mount is "ro"), errors_behavior
 *   hal.ext4     id the device ("mmcblk0p2"): device, mount_point,
 *                errors_count, has_errors, warning_count, msg_count,
 *                first_error_* and last_error_* (time as RFC 3339, func,
 *                line, ino, block, errcode, errcode_name "EFSCORRUPTED")
 *   hal.blockdev id the disk ("mmcblk0"): type, io_errors, life_time_a,
 *                life_time_b (0x01..0x0B), life_used_pct_max, pre_eol
 *                ("normal", "warning", "urgent")
 *   hal.clock    id "clock": now, synchronised, time_state, maxerror_us,
 *                esterror_us, rtc_present, rtc_name, rtc_time, rtc_hctosys,
 *                newest_cert_not_before, newest_cert, clock_before_newest_cert
 */
#ifndef FM_HAL_H
#define FM_HAL_H

#include "fm_facts.h"

#include <time.h>

struct hal_snapshot;
struct fm_discovery;

/* Puts the facts for a snapshot (board identified, hal_read_all done).
 * Borrows s. 0 or -ENOMEM. */
int fm_hal_put(struct fm_facts *facts, const struct hal_snapshot *s);

/* Adds the certificate comparison to the hal.clock fact already in facts:
 * the newest notBefore among the node's certificates (d's PKI and
 * kubeconfigs, found by fm_certs) against now; when facts already hold the
 * node's "cert" facts (check: the apiserver source put them) those are used
 * instead of reading the files again. d may be NULL (then the fields are
 * null with the reason). 0 or -ENOMEM / -ENOENT (no hal.clock). */
int fm_hal_put_cert_clock(struct fm_facts *facts, const struct fm_discovery *d, time_t now);

/* Identifies the board under root, reads everything, puts the facts, then
 * the certificate comparison. 0 or -ENOMEM. */
int fm_hal_collect(const char *root, const struct fm_discovery *d, time_t now,
		   struct fm_facts *facts);

#endif
