#include "bench_proc.h"

#include <ctype.h>
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

long fmh_proc_kb(const char *path, const char *name)
{
	char line[256];
	long v = -1;
	size_t n = strlen(name);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, name, n) == 0 && line[n] == ':') {
			v = strtol(line + n + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* /proc/PID/stat's fields after the command (which may hold spaces and
 * parentheses: the last ')' ends it): ppid (field 4) and cutime + cstime
 * (16, 17) in clock ticks. false when the process is gone. */
static bool proc_stat(long pid, long *ppid, unsigned long long *children_ticks)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	if (!p)
		return false;
	unsigned long long cu = 0, cs = 0;
	/* state ppid pgrp session tty tpgid flags minflt cminflt majflt
	 * cmajflt utime stime cutime cstime */
	if (sscanf(p + 1, " %*c %ld %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %llu %llu", ppid,
		   &cu, &cs) != 3)
		return false;
	*children_ticks = cu + cs;
	return true;
}

bool fmh_proc_sched(long pid, double *on_cpu_s, double *waiting_s)
{
	char path[64];
	unsigned long long run, wait;
	if (pid <= 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%ld/schedstat", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	int n = fscanf(f, "%llu %llu", &run, &wait);
	fclose(f);
	if (n != 2)
		return false;
	*on_cpu_s = (double)run / 1e9;
	*waiting_s = (double)wait / 1e9;
	return true;
}

/* pid's time on a CPU, s; 0 when gone. */
static double proc_run_s(long pid)
{
	double run, wait;
	return fmh_proc_sched(pid, &run, &wait) ? run : 0;
}

double fmh_proc_tree_cpu_s(long pid)
{
	long ppid;
	unsigned long long reaped, ignored;
	if (pid <= 0 || !proc_stat(pid, &ppid, &reaped))
		return -1;
	double run = proc_run_s(pid);
	DIR *d = opendir("/proc");
	if (!d)
		return -1;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		long child = strtol(e->d_name, NULL, 10);
		if (child != pid && proc_stat(child, &ppid, &ignored) && ppid == pid)
			run += proc_run_s(child);
	}
	closedir(d);
	long tick = sysconf(_SC_CLK_TCK);
	return run + (double)reaped / (double)(tick > 0 ? tick : 100);
}
