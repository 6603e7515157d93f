#include "hal/hal_cpu.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define CPUFREQ "/sys/devices/system/cpu/cpufreq"

static int add_policy(const char *name, void *ctx)
{
	struct hal_cpu *c = ctx;
	int64_t idx;
	if (hal_parse_s64(name + strlen("policy"), 10, &idx) < 0 || c->n >= HAL_CPUFREQ_MAX)
		return 0;
	/* Keep policy order (policy0 first) without allocating. */
	int pos = c->n;
	while (pos > 0 && strlen(c->policy[pos - 1].policy) >= strlen(name) &&
	       strcmp(c->policy[pos - 1].policy, name) > 0)
		pos--;
	memmove(&c->policy[pos + 1], &c->policy[pos], (size_t)(c->n - pos) * sizeof(c->policy[0]));
	memset(&c->policy[pos], 0, sizeof(c->policy[pos]));
	hal_copy(c->policy[pos].policy, sizeof(c->policy[pos].policy), name);
	c->n++;
	return 0;
}

static int64_t read_khz(const char *root, const char *policy, const char *file, char *reason,
			size_t rsize)
{
	char p[128];
	int64_t v;
	hal_fmt(p, sizeof(p), CPUFREQ "/%s/%s", policy, file);
	int rc = hal_read_s64(root, p, &v);
	if (rc == 0 && v <= 0)
		rc = -EINVAL;
	if (rc < 0) {
		if (!reason[0])
			hal_reason(reason, rsize, rc, p);
		return -1;
	}
	return v;
}

int hal_cpu_read(const char *root, struct hal_cpu *c)
{
	memset(c, 0, sizeof(*c));
	int rc = hal_dir_each(root, CPUFREQ, "policy", add_policy, c);
	if (rc < 0) {
		hal_reason(c->reason, sizeof(c->reason), rc, CPUFREQ);
		return rc;
	}
	if (c->n == 0)
		hal_copy(c->reason, sizeof(c->reason),
			 "no cpufreq policies (no frequency scaling)");
	for (int i = 0; i < c->n; i++) {
		struct hal_cpufreq *f = &c->policy[i];
		f->cur_khz =
		    read_khz(root, f->policy, "scaling_cur_freq", f->reason, sizeof(f->reason));
		f->max_khz =
		    read_khz(root, f->policy, "scaling_max_freq", f->reason, sizeof(f->reason));
		f->hw_max_khz =
		    read_khz(root, f->policy, "cpuinfo_max_freq", f->reason, sizeof(f->reason));
		char p[128];
		hal_fmt(p, sizeof(p), CPUFREQ "/%s/scaling_governor", f->policy);
		if (hal_read_line(root, p, f->governor, sizeof(f->governor)) < 0)
			f->governor[0] = '\0';
	}
	return 0;
}

/* A meminfo "Key:   123 kB" value in kB, or -1. */
static int64_t meminfo_kb(const char *text, const char *key, int *bad)
{
	char v[48];
	int64_t n;
	if (hal_text_field(text, key, v, sizeof(v)) < 0) {
		(*bad)++;
		return -1;
	}
	size_t l = strlen(v);
	if (l > 3 && !strcmp(v + l - 3, " kB"))
		v[l - 3] = '\0';
	if (hal_parse_s64(v, 10, &n) < 0 || n < 0) {
		(*bad)++;
		return -1;
	}
	return n;
}

/* true when the command line holds the word param=value (value one of a
 * comma list: cgroup_disable=cpuset,memory). */
static bool cmdline_has(const char *cmdline, const char *param, const char *value)
{
	size_t pl = strlen(param), vl = strlen(value);
	for (const char *w = cmdline; *w;) {
		size_t wl = strcspn(w, " \t\n");
		if (wl > pl && !strncmp(w, param, pl) && w[pl] == '=') {
			for (const char *v = w + pl + 1; v < w + wl;) {
				size_t n = strcspn(v, ", \t\n");
				if (n == vl && !strncmp(v, value, vl))
					return true;
				v += n + 1;
			}
		}
		w += wl;
		while (*w == ' ' || *w == '\t' || *w == '\n')
			w++;
	}
	return false;
}

static void memcg(const char *root, struct hal_memory *m)
{
	char buf[2048];
	int rc = hal_read_text(root, "/proc/cmdline", buf, sizeof(buf));
	if (rc >= 0) {
		m->cmdline_disable_memory = cmdline_has(buf, "cgroup_disable", "memory");
		m->cmdline_enable_memory = cmdline_has(buf, "cgroup_enable", "memory");
	}
	const char *cmd_note =
	    m->cmdline_disable_memory ? " (the kernel command line has cgroup_disable=memory)" : "";

	rc = hal_read_text(root, "/proc/cgroups", buf, sizeof(buf));
	bool cgroups_valid = rc >= 0 && !strncmp(buf, "#subsys_name", 12);
	if (rc >= 0) {
		/* "#subsys_name hierarchy num_cgroups enabled" */
		for (const char *l = buf; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
			unsigned hier, num, en;
			char name[32];
			if (sscanf(l, "%31s %u %u %u", name, &hier, &num, &en) != 4 ||
			    strcmp(name, "memory") != 0)
				continue;
			m->memcg_enabled = en ? HAL_YES : HAL_NO;
			hal_fmt(m->memcg_reason, sizeof(m->memcg_reason),
				"/proc/cgroups: memory enabled=%u%s", en, en ? "" : cmd_note);
			return;
		}
	}
	/* Newer kernels leave cgroup v2-only controllers out of /proc/cgroups. */
	rc = hal_read_line(root, "/sys/fs/cgroup/cgroup.controllers", buf, sizeof(buf));
	if (rc >= 0) {
		bool has = false;
		for (char *w = buf; *w;) {
			size_t n = strcspn(w, " ");
			if (n == 6 && !strncmp(w, "memory", 6))
				has = true;
			w += n;
			while (*w == ' ')
				w++;
		}
		m->memcg_enabled = has ? HAL_YES : HAL_NO;
		hal_fmt(m->memcg_reason, sizeof(m->memcg_reason),
			"/sys/fs/cgroup/cgroup.controllers %s memory%s", has ? "lists" : "lacks",
			has ? "" : cmd_note);
		return;
	}
	if (cgroups_valid) {
		/* A well-formed list without it: the kernel has no memory cgroup. */
		m->memcg_enabled = HAL_NO;
		hal_copy(m->memcg_reason, sizeof(m->memcg_reason),
			 "the kernel has no memory cgroup (not in /proc/cgroups, no cgroup v2)");
		return;
	}
	if (m->cmdline_disable_memory) {
		m->memcg_enabled = HAL_NO;
		hal_copy(m->memcg_reason, sizeof(m->memcg_reason),
			 "the kernel command line has cgroup_disable=memory");
		return;
	}
	m->memcg_enabled = HAL_UNKNOWN;
	hal_copy(m->memcg_reason, sizeof(m->memcg_reason),
		 rc < 0 ? "/proc/cgroups and /sys/fs/cgroup/cgroup.controllers are missing"
			: "malformed /proc/cgroups and no /sys/fs/cgroup/cgroup.controllers");
}

int hal_memory_read(const char *root, struct hal_memory *m)
{
	memset(m, 0, sizeof(*m));
	char buf[8192];
	int bad = 0;
	int rc = hal_read_text(root, "/proc/meminfo", buf, sizeof(buf));
	if (rc < 0) {
		hal_reason(m->reason, sizeof(m->reason), rc, "/proc/meminfo");
		m->total_kb = m->available_kb = m->swap_total_kb = m->swap_free_kb = -1;
	} else {
		m->total_kb = meminfo_kb(buf, "MemTotal", &bad);
		m->available_kb = meminfo_kb(buf, "MemAvailable", &bad);
		m->swap_total_kb = meminfo_kb(buf, "SwapTotal", &bad);
		m->swap_free_kb = meminfo_kb(buf, "SwapFree", &bad);
		if (bad)
			hal_fmt(m->reason, sizeof(m->reason),
				"malformed /proc/meminfo: %d of MemTotal, MemAvailable, SwapTotal, "
				"SwapFree missing or not numbers",
				bad);
	}
	memcg(root, m);
	return rc < 0 ? rc : (bad ? -EINVAL : 0);
}
