#include "hal/hal_path.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int hal_path(char *out, size_t size, const char *root, const char *path)
{
	if (!path || path[0] != '/')
		return -EINVAL;
	if (!root || !root[0])
		root = "/";
	size_t rl = strlen(root);
	while (rl > 0 && root[rl - 1] == '/')
		rl--; /* "/" and "/tmp/t/" both join without a double slash */
	int n = snprintf(out, size, "%.*s%s", (int)rl, root, path);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return 0;
}
