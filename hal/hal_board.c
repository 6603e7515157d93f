#include "hal/hal_board.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define DT "/proc/device-tree"

/* Appends a reason without losing the earlier ones. */
static void add_reason(struct hal_board *b, const char *what)
{
	size_t n = strlen(b->reason);
	if (n)
		hal_fmt(b->reason + n, sizeof(b->reason) - n, "; %s", what);
	else
		hal_copy(b->reason, sizeof(b->reason), what);
}

/* The device-tree property at path as text: NUL separators become ", ".
 * A property must end with NUL (the kernel's format); one that does not is
 * malformed. Returns the number of strings or -errno. */
static int read_dt_strings(const char *root, const char *path, char *out, size_t size, char *raw,
			   size_t rawsize)
{
	int len = hal_read_text(root, path, raw, rawsize);
	if (len < 0)
		return len;
	if (len == 0 || raw[len - 1] != '\0')
		return -EINVAL;
	out[0] = '\0';
	int count = 0;
	for (int i = 0; i < len;) {
		const char *s = raw + i;
		size_t sl = strlen(s);
		i += (int)sl + 1;
		if (!sl)
			continue;
		for (size_t k = 0; k < sl; k++)
			if (s[k] < 0x20 || s[k] > 0x7e)
				return -EINVAL;
		size_t ol = strlen(out);
		hal_fmt(out + ol, size - ol, "%s%s", count ? ", " : "", s);
		count++;
	}
	return count ? count : -EINVAL;
}

/* true when the ", "-joined list holds want as a whole entry. */
static bool list_has(const char *list, const char *want)
{
	size_t wl = strlen(want);
	for (const char *p = list; (p = strstr(p, want)) != NULL; p += wl) {
		bool start = p == list || (p >= list + 2 && p[-2] == ',' && p[-1] == ' ');
		bool end = p[wl] == '\0' || p[wl] == ',';
		if (start && end)
			return true;
	}
	return false;
}

static void arch_from_cpuinfo(const char *cpuinfo, struct hal_board *b)
{
	char v[64];
	if (hal_text_field(cpuinfo, "CPU architecture", v, sizeof(v)) == 0) {
		/* ARMv7 kernels print 7; arm64 kernels print 8 (a 32-bit
		 * userland on them still runs an aarch64 kernel). */
		if (!strcmp(v, "8"))
			hal_copy(b->arch, sizeof(b->arch), "aarch64");
		else if (!strcmp(v, "7"))
			hal_copy(b->arch, sizeof(b->arch), "armhf");
	} else if (hal_text_field(cpuinfo, "vendor_id", v, sizeof(v)) == 0 &&
		   hal_text_field(cpuinfo, "flags", v, sizeof(v)) == 0) {
		hal_copy(b->arch, sizeof(b->arch), "x86_64");
	}
}

int hal_board_parse_l4t(const char *line, char *release, size_t rsize, char *board, size_t bsize)
{
	unsigned major;
	const char *r = strstr(line, "# R");
	const char *rev = strstr(line, "REVISION:");
	if (!r || !rev || sscanf(r, "# R%u", &major) != 1 || major > 999)
		return -EINVAL;
	rev += strlen("REVISION:");
	while (*rev == ' ')
		rev++;
	size_t n = strspn(rev, "0123456789.");
	if (n == 0 || n > 16)
		return -EINVAL;
	hal_fmt(release, rsize, "%u.%.*s", major, (int)n, rev);
	board[0] = '\0';
	const char *bd = strstr(line, "BOARD:");
	if (bd) {
		bd += strlen("BOARD:");
		while (*bd == ' ')
			bd++;
		size_t bl = strcspn(bd, ", \n");
		hal_fmt(board, bsize, "%.*s", (int)bl, bd);
	}
	return 0;
}

static const struct board_desc *match(const struct hal_board *b)
{
	const struct board_desc *best = NULL;
	for (size_t i = 0; i < board_table_len; i++) {
		const struct board_desc *d = board_table[i];
		if (d->generic_arch || (best && best->order <= d->order))
			continue;
		for (int k = 0; k < BOARD_MAX_COMPAT && d->compatible[k]; k++)
			if (b->compatible[0] && list_has(b->compatible, d->compatible[k]))
				best = d;
	}
	return best;
}

void hal_board_identify(const char *root, struct hal_board *b)
{
	memset(b, 0, sizeof(*b));
	char raw[512], why[HAL_REASON_MAX];
	int rc = read_dt_strings(root, DT "/model", b->model, sizeof(b->model), raw, sizeof(raw));
	if (rc < 0) {
		b->model[0] = '\0';
		hal_reason(why, sizeof(why), rc, DT "/model");
		add_reason(b, why);
	}
	rc = read_dt_strings(root, DT "/compatible", b->compatible, sizeof(b->compatible), raw,
			     sizeof(raw));
	if (rc < 0) {
		b->compatible[0] = '\0';
		hal_reason(why, sizeof(why), rc, DT "/compatible");
		add_reason(b, why);
	}

	char cpuinfo[8192];
	rc = hal_read_text(root, "/proc/cpuinfo", cpuinfo, sizeof(cpuinfo));
	if (rc < 0) {
		hal_reason(why, sizeof(why), rc, "/proc/cpuinfo");
		add_reason(b, why);
	} else {
		arch_from_cpuinfo(cpuinfo, b);
		hal_text_field(cpuinfo, "Revision", b->revision, sizeof(b->revision));
		if (!b->model[0])
			hal_text_field(cpuinfo, "Model", b->model, sizeof(b->model));
		if (!b->arch[0])
			add_reason(b, "architecture not recognised in /proc/cpuinfo");
	}

	char l4t[256];
	rc = hal_read_line(root, "/etc/nv_tegra_release", l4t, sizeof(l4t));
	if (rc >= 0 && hal_board_parse_l4t(l4t, b->l4t_release, sizeof(b->l4t_release),
					   b->l4t_board, sizeof(b->l4t_board)) < 0)
		add_reason(b, "malformed /etc/nv_tegra_release");

	const struct board_desc *d = match(b);
	if (d) {
		for (int k = 0; k < BOARD_MAX_COMPAT && d->compatible[k]; k++)
			if (list_has(b->compatible, d->compatible[k])) {
				hal_fmt(b->matched_by, sizeof(b->matched_by), "compatible %s",
					d->compatible[k]);
				break;
			}
	}
	for (size_t i = 0; !d && i < board_table_len; i++) {
		const struct board_desc *c = board_table[i];
		if (c->model_prefix && b->model[0] &&
		    !strncmp(b->model, c->model_prefix, strlen(c->model_prefix))) {
			d = c;
			hal_copy(b->matched_by, sizeof(b->matched_by), "model");
		}
	}
	for (size_t i = 0; !d && i < board_table_len; i++) {
		const struct board_desc *c = board_table[i];
		if (c->generic_arch && c->generic_arch[0] && !strcmp(c->generic_arch, b->arch)) {
			d = c;
			hal_copy(b->matched_by, sizeof(b->matched_by), "cpuinfo architecture");
		}
	}
	for (size_t i = 0; !d && i < board_table_len; i++)
		if (board_table[i]->generic_arch && !board_table[i]->generic_arch[0]) {
			d = board_table[i];
			hal_copy(b->matched_by, sizeof(b->matched_by), "nothing recognised");
		}
	b->desc = d;

	if (d && d->soc) {
		hal_copy(b->soc, sizeof(b->soc), d->soc);
	} else {
		/* The SoC is the last compatible entry ("nvidia,tegra194"). */
		const char *last = strrchr(b->compatible, ' ');
		last = last ? last + 1 : b->compatible;
		const char *comma = strchr(last, ',');
		if (comma && comma[1])
			hal_copy(b->soc, sizeof(b->soc), comma + 1);
	}
	if (!b->soc[0] && cpuinfo[0])
		hal_text_field(cpuinfo, "model name", b->soc, sizeof(b->soc));
}
