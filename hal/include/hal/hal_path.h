/* hal_path: every path the agent reads from the host goes through one root
 * prefix (--root DIR, default "/"), so tests point the agent at a fixture tree.
 */
#ifndef HAL_PATH_H
#define HAL_PATH_H

#include <stddef.h>

/* Writes root + path into out ("/" + "/etc/x" -> "/etc/x", "/tmp/t" +
 * "/etc/x" -> "/tmp/t/etc/x"). path must be absolute. 0, -EINVAL (path not
 * absolute) or -ENAMETOOLONG. */
int hal_path(char *out, size_t size, const char *root, const char *path);

#endif
