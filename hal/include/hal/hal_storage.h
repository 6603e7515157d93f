/* hal_storage: filesystems the cluster stands on, ext4's error counters,
 * read-only mounts, and the block devices' health.
 *
 * Mounts come from <root>/proc/self/mountinfo (proc(5)): fields
 * "id parent major:minor root mount-point mount-options ... - fstype source
 * super-options"; octal escapes (\040) are undone. A filesystem is
 * read-only when its mount options or its superblock options say "ro"; ext4
 * remounting itself after an error (errors=remount-ro) shows as a superblock
 * "ro" under a mount still marked "rw" (Linux >= 6.5: the superblock
 * option "emergency_ro" beside "rw").
 *
 * Usage figures are statvfs(2) of <root><path>: with --root / they are the
 * node's; with a fixture root they are those of the filesystem that holds
 * the fixture (a fixture cannot fake them), while which device and options
 * the mount has comes from the fixture's mountinfo.
 *
 * ext4 (Documentation/ABI/testing/sysfs-fs-ext4 and fs/ext4/sysfs.c):
 * /sys/fs/ext4/<dev>/errors_count, first_error_time/_func/_line/_ino/
 * _block/_errcode and last_error_* (errcode: EXT4_ERR_* numbers, 5 =
 * EFSCORRUPTED, "Structure needs cleaning"), warning_count, msg_count.
 * The device is matched to its mount by major:minor (/sys/class/block/<dev>/dev).
 *
 * Block devices (/sys/block/<dev>, loop and ram devices left out): SCSI's
 * device/ioerr_cnt (hex); eMMC's device/life_time ("0xAA 0xBB", type A and
 * B estimates, 0x01 = 0-10 % used ... 0x0A = 90-100 %, 0x0B exceeded) and
 * device/pre_eol_info (0x01 normal, 0x02 warning, 0x03 urgent); device/type
 * ("SD", "MMC"). SD cards report no wear: unknown with that reason.
 */
#ifndef HAL_STORAGE_H
#define HAL_STORAGE_H

#include "hal/hal_read.h"

#include <stdbool.h>
#include <stdint.h>

#define HAL_FS_PATHS  5 /* /, /var/lib/{docker,containerd,etcd,kubelet} */
#define HAL_RO_MAX    8
#define HAL_EXT4_MAX  8
#define HAL_BLOCK_MAX 8

struct hal_mount {
	char mount_point[128];
	char source[96]; /* "/dev/mmcblk0p2", "/dev/root", "overlay" */
	char fstype[24];
	unsigned major, minor;
	bool mount_ro;	   /* the mount's own options */
	bool super_ro;	   /* the filesystem's (superblock) options: "ro" or "emergency_ro" */
	bool emergency_ro; /* "emergency_ro": ext4 (Linux >= 6.5) stopped writes after an error */
	char errors[24];   /* super option errors=...: "remount-ro", "continue", "" */
	bool fs_errors;	      /* ext4 recorded errors on this filesystem (ro[] only) */
	bool error_this_boot; /* the last of them during this boot (/proc/stat btime) */
};

/* true when the kernel, not whoever mounted it, made m read-only:
 *  - ext4's "emergency_ro" superblock option (Linux >= 6.5 shows it);
 *  - an ext4 error recorded during this boot on a filesystem mounted
 *    errors=remount-ro: the kernel has stopped its writes, whatever
 *    mountinfo says (Linux 6.1.y as Debian 12 ships it, after "ext4: don't
 *    set SB_RDONLY after filesystem errors", keeps "rw" there; seen on the
 *    board VM, tests/board);
 *  - a read-only superblock under a mount still "rw" (older kernels, seen
 *    from the host's mount namespace);
 *  - inside a sandbox whose mounts are all read-only (systemd's
 *    ProtectSystem=strict; such a namespace shows read-only mounts over
 *    read-write superblocks: hal_storage's ro_imposed), a read-only superblock over
 *    recorded errors whose behaviour is not "continue" or "panic".
 * ext4's error record (/sys/fs/ext4, since 2.6.3x) reads the same in every
 * mount namespace and on Jetson L4T's 4.9, so no case needs the host's
 * /proc/1/mountinfo (hidden from the unit anyway: ProtectProc=invisible). */
bool hal_mount_remounted_ro(const struct hal_mount *m, bool ro_imposed);

struct hal_fs {
	char path[32];			  /* the path asked about ("/var/lib/etcd") */
	struct hal_mount m;		  /* the mount holding it */
	bool mount_known;		  /* m was found in mountinfo */
	uint64_t size_bytes, avail_bytes; /* statvfs; valid when used_pct >= 0 */
	int used_pct;			  /* 0..100 of what non-root users can use; -1 unknown */
	uint64_t inodes_total, inodes_free;
	char reason[HAL_REASON_MAX];
};

struct hal_ext4_error {
	int64_t time; /* seconds since the epoch; 0 never */
	char func[48];
	int64_t line, ino, block, errcode; /* -1 unknown */
};

struct hal_ext4 {
	char dev[32];					/* "mmcblk0p2", "loop0" */
	unsigned major, minor;				/* valid when dev_known */
	bool dev_known;
	char mount_point[128];				/* "" when not found among the mounts */
	int64_t errors_count, warning_count, msg_count; /* -1 unknown */
	struct hal_ext4_error first, last;
	char reason[HAL_REASON_MAX];
};

struct hal_blockdev {
	char name[32];			       /* "mmcblk0", "sda" */
	char type[8];			       /* mmc device/type: "SD", "MMC"; "" other */
	int64_t ioerr_cnt;		       /* -1 unknown */
	int life_time_a, life_time_b, pre_eol; /* -1 unknown */
	char reason[HAL_REASON_MAX];
};

struct hal_storage {
	int n_fs;
	struct hal_fs fs[HAL_FS_PATHS];
	int n_ro, ro_seen; /* read-only block-device mounts (kept, seen) */
	struct hal_mount ro[HAL_RO_MAX];
	bool ro_imposed; /* this namespace has read-only mounts over read-write
			  * superblocks: flags imposed from above */
	int n_ext4;
	struct hal_ext4 ext4[HAL_EXT4_MAX];
	int n_block;
	struct hal_blockdev block[HAL_BLOCK_MAX];
	char reason[HAL_REASON_MAX]; /* mountinfo / sysfs problems */
};

/* Reads it all. 0, or -errno when mountinfo cannot be read (the rest is
 * still read). Allocates nothing. */
int hal_storage_read(const char *root, struct hal_storage *s);

/* Parses one mountinfo line into m. 0 or -EINVAL. Exposed for the fuzz target. */
int hal_storage_parse_mountinfo(const char *line, struct hal_mount *m);

/* The EXT4_ERR_* code's errno name ("EFSCORRUPTED"), or NULL. */
const char *hal_ext4_errcode_name(int64_t code);

#endif
