/* fmh_node: see fmh_node.h. */
#include "fmh_node.h"

#include "fmh_controller.h"
#include "fmh_uplink.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>

int fmh_node_conf(const char *dir, const char *url, const char *extra, char *conf, size_t size)
{
	char hex[128], psk[PATH_MAX];
	fmh_hex(FMH_KEY_A, hex, sizeof(hex));
	fmh_psk_file(dir, "psk", hex, psk, sizeof(psk));
	snprintf(conf, size, "%s/fleetmedic.conf", dir);
	FILE *f = fopen(conf, "we");
	if (!f)
		return -errno;
	fprintf(f,
		"# the node's config, as an installer writes it\n"
		"controller = %s\npsk-identity = %s\npsk-file = %s\nstate-dir = %s/state\nallow-actions = rm\n%s",
		url, FMH_NODE_A, psk, dir, extra ? extra : "");
	return fclose(f) == 0 ? 0 : -errno;
}

int fmh_node_ext4_errors(const char *root, const char *dev, const char *count)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/sys/fs/ext4/%s/errors_count", root, dev);
	FILE *f = fopen(p, "we");
	if (!f)
		return -errno;
	fputs(count, f);
	return fclose(f) == 0 ? 0 : -errno;
}
