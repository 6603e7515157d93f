/* hal_read: the few ways hal reads the host, all under the root prefix and
 * none allocating: open/read/close into the caller's buffer, directories
 * listed with getdents64 into a stack buffer (opendir would malloc).
 *
 * Every function returns 0 (or a length / count) or a negative errno:
 * -ENOENT the file is not there, -EINVAL its contents are not what the
 * kernel documents, -ENAMETOOLONG the joined path does not fit.
 */
#ifndef HAL_READ_H
#define HAL_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HAL_PATH_MAX   512 /* a joined path (root + sysfs path) */
#define HAL_NAME_MAX   64  /* a directory entry hal keeps (thermal_zone12, mmcblk0p2) */
#define HAL_REASON_MAX 160 /* why a reading is unknown, for a person */

/* A yes/no fact that may not be known. */
enum hal_tri { HAL_UNKNOWN = -1, HAL_NO = 0, HAL_YES = 1 };

/* Opens root + path with flags (O_CLOEXEC and O_NOCTTY added): the fd, or
 * -errno / -ENAMETOOLONG. Every hal read starts here. */
int hal_open(const char *root, const char *path, int flags);

/* Reads root + path into buf (at most size - 1 bytes, NUL-terminated; a
 * longer file is cut, as sysfs files never are). Returns the length read. */
int hal_read_text(const char *root, const char *path, char *buf, size_t size);

/* hal_read_text, then the first line without its newline and surrounding
 * blanks. -EINVAL when that is empty. */
int hal_read_line(const char *root, const char *path, char *buf, size_t size);

/* The file's first line as an integer (decimal, or hex with 0x; hex=true
 * reads bare hex as get_throttled prints it). -EINVAL when it is not one. */
int hal_read_s64(const char *root, const char *path, int64_t *out);
int hal_read_u64_hex(const char *root, const char *path, uint64_t *out);

/* Parses s as a whole integer (surrounding blanks allowed). base 0: 0x is
 * hex, otherwise decimal. 0 or -EINVAL. */
int hal_parse_s64(const char *s, int base, int64_t *out);

/* true when root + path exists. */
bool hal_exists(const char *root, const char *path);

/* Calls fn(name, ctx) for every entry of directory root + path whose name
 * starts with prefix ("" for all; "." and ".." never), in the kernel's
 * order. fn returns 0 to go on, anything else to stop (which is returned).
 * Returns the number of entries visited or -errno. */
int hal_dir_each(const char *root, const char *path, const char *prefix,
		 int (*fn)(const char *name, void *ctx), void *ctx);

/* Calls fn(line, ctx) for every line of root + path (without its newline),
 * reading 8 KiB at a time into a stack buffer, so files of any length
 * (mountinfo on a Docker host) cost no memory. A line longer than
 * HAL_LINE_MAX is skipped. fn returns 0 to go on. Returns the lines seen or -errno. */
#define HAL_LINE_MAX 4096
int hal_each_line(const char *root, const char *path, int (*fn)(char *line, void *ctx), void *ctx);

/* snprintf into a fixed buffer; the result is cut when too long. */
void hal_fmt(char *out, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A reason from a read's -errno: "missing /sys/...", "malformed /sys/..." ... */
void hal_reason(char *out, size_t size, int err, const char *path);

/* Copies src into dst (cut to size - 1). */
void hal_copy(char *dst, size_t size, const char *src);

/* The value of the "key<sep>value" line in text (meminfo "MemTotal:", cpuinfo
 * "Hardware\t: "), copied without blanks into out. Key must match the whole
 * name. 0 or -ENOENT. */
int hal_text_field(const char *text, const char *key, char *out, size_t size);

#endif
