/* fmh_journal: journal files for the tests (see fmh_journal.h). */
#include "fmh_journal.h"
#include "fmh_incident.h"

#include "fm_harness.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *fmh_journal_remote(void)
{
	const char *e = getenv("FMH_JOURNAL_REMOTE");
	return e && *e ? e : "/lib/systemd/systemd-journal-remote";
}

static uint64_t clock_us(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void boot_id(char out[33])
{
	char raw[64] = "";
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
	if (f) {
		if (!fgets(raw, sizeof(raw), f))
			raw[0] = '\0';
		fclose(f);
	}
	size_t o = 0;
	for (size_t i = 0; raw[i] && o < 32; i++)
		if (raw[i] != '-' && raw[i] != '\n')
			out[o++] = raw[i];
	out[o] = '\0';
}

/* The scratch export file of this test program. */
static int scratch(char *path, size_t size)
{
	static char dir[PATH_MAX]; /* one scratch directory per test program */
	int rc;
	if (!dir[0] && (rc = fmh_tmpdir(dir, sizeof(dir))) < 0)
		return rc;
	snprintf(path, size, "%s/in.export", dir);
	return 0;
}

/* systemd-journal-remote appends the export file in to file. */
static int remote_write(const char *file, const char *in)
{
	char outarg[PATH_MAX + 16];
	snprintf(outarg, sizeof(outarg), "--output=%s", file);
	const char *argv[] = {fmh_journal_remote(), "--split-mode=none", outarg, in, NULL};
	char log[4096];
	int status;
	int rc = fmh_run(argv, log, sizeof(log), &status, 60000);
	if (rc < 0)
		return rc;
	if (status != 0) {
		fprintf(stderr, "systemd-journal-remote failed (%d):\n%s\n", status, log);
		return -EIO;
	}
	unlink(in);
	return 0;
}

int fmh_journal_append(const char *file, const char *text)
{
	char tmp[PATH_MAX + 32], bid[33];
	int rc;
	if ((rc = scratch(tmp, sizeof(tmp))) < 0)
		return rc;
	FILE *out = fopen(tmp, "w");
	if (!out)
		return -errno;
	boot_id(bid);
	/* consecutive microseconds ending about now */
	size_t entries = 1;
	/* not strstr: ASan's strstr measures the whole rest of the text on
	 * every call, quadratic in a 30,000-entry text */
	for (const char *p = text; *p; p++)
		if (p[0] == '\n' && p[1] == '\n')
			entries++, p++;
	uint64_t rt = clock_us(CLOCK_REALTIME) - entries, mono = clock_us(CLOCK_MONOTONIC) - entries;
	bool start = true;
	for (const char *p = text; *p;) {
		const char *e = strchr(p, '\n');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n == 0) {
			if (!start)
				fputc('\n', out);
			start = true;
		} else {
			if (start) {
				fprintf(out, "__REALTIME_TIMESTAMP=%llu\n__MONOTONIC_TIMESTAMP=%llu\n_BOOT_ID=%s\n",
					(unsigned long long)rt++, (unsigned long long)mono++, bid);
				start = false;
			}
			if (strncmp(p, "__REALTIME_TIMESTAMP=", 21) && strncmp(p, "__MONOTONIC_TIMESTAMP=", 22) &&
			    strncmp(p, "_BOOT_ID=", 9) && strncmp(p, "__CURSOR=", 9)) {
				fwrite(p, 1, n, out);
				fputc('\n', out);
			}
		}
		p += n + (e ? 1 : 0);
	}
	if (!start)
		fputc('\n', out);
	if (fclose(out) != 0)
		return -errno;
	return remote_write(file, tmp);
}

int fmh_journal_append_export(const char *file, const char *text)
{
	char tmp[PATH_MAX + 32];
	int rc;
	if ((rc = scratch(tmp, sizeof(tmp))) < 0)
		return rc;
	FILE *out = fopen(tmp, "w");
	if (!out)
		return -errno;
	fputs(text, out);
	if (fclose(out) != 0)
		return -errno;
	return remote_write(file, tmp);
}

int fmh_journal_append_fixture(const char *file, const char *fixture)
{
	FILE *f = fopen(fixture, "r");
	if (!f)
		return -errno;
	char *buf = malloc(1 << 20);
	size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
	fclose(f);
	if (!buf)
		return -ENOMEM;
	buf[n] = '\0';
	int rc = fmh_journal_append(file, buf);
	free(buf);
	return rc;
}

char *fmh_journal_kubelet_text(size_t n, size_t every, const char *id)
{
	return fmh_journal_kubelet_form(n, every, id, FMH_KUBELET_SEED);
}

/* incident 1's pod (fmh_incident.h has its container names) */
#define I1_POD "kube-apiserver-pi-master1"
#define I1_UID FMH_I1_UID
#define I1_CRI_NAME FMH_I1_CRI_NAME
#define I1_CRI_SANDBOX FMH_I1_CRI_SANDBOX

/* kubelet's line for the conflict in form, naming id. */
static void conflict_line(char *out, size_t size, enum fmh_kubelet_form form, const char *id)
{
	switch (form) {
	case FMH_KUBELET_STRUCTURED:
		snprintf(out, size,
			 "E0322 21:05:33.780814 1115805 pod_workers.go:951] \"Error syncing pod, skipping\" err=\"failed to \\\"StartContainer\\\" for \\\"kube-apiserver\\\" with CreateContainerError: \\\"Error response from daemon: Conflict. The container name \\\\\\\"/k8s_kube-apiserver_" I1_POD "_kube-system_" I1_UID "_24\\\\\\\" is already in use by container \\\\\\\"%s\\\\\\\". You have to remove (or rename) that container to be able to reuse that name.\\\"\" pod=\"kube-system/" I1_POD "\" podUID=" I1_UID,
			 id);
		return;
	case FMH_KUBELET_CRI_RUNTIME:
		snprintf(out, size,
			 "E0322 21:05:33.780814 1115805 remote_runtime.go:319] \"CreateContainer in sandbox from runtime service failed\" err=\"rpc error: code = Unknown desc = failed to reserve container name \\\"" I1_CRI_NAME "\\\": name \\\"" I1_CRI_NAME "\\\" is reserved for \\\"%s\\\"\" podSandboxID=\"f5de5d066682354fa0679cc95a39a5285657f0eb43237f26194426d8fad3636d\"",
			 id);
		return;
	case FMH_KUBELET_CRI_WORKERS:
		snprintf(out, size,
			 "E0322 21:05:33.780814 1115805 pod_workers.go:1300] \"Error syncing pod, skipping\" err=\"failed to \\\"StartContainer\\\" for \\\"kube-apiserver\\\" with CreateContainerError: \\\"failed to reserve container name \\\\\\\"" I1_CRI_NAME "\\\\\\\": name \\\\\\\"" I1_CRI_NAME "\\\\\\\" is reserved for \\\\\\\"%s\\\\\\\"\\\"\" pod=\"kube-system/" I1_POD "\" podUID=\"" I1_UID "\"",
			 id);
		return;
	case FMH_KUBELET_CRI_MANAGER:
		snprintf(out, size,
			 "E0322 21:05:33.780814 1115805 kuberuntime_manager.go:1209] container &Container{Name:kube-apiserver,Image:registry.k8s.io/kube-apiserver:v1.28.0,} start failed in pod " I1_POD "_kube-system(" I1_UID "): CreateContainerError: failed to reserve container name \"" I1_CRI_NAME "\": name \"" I1_CRI_NAME "\" is reserved for \"%s\"",
			 id);
		return;
	case FMH_KUBELET_CRI_SANDBOX:
		snprintf(out, size,
			 "E0322 21:05:33.780814 1115805 pod_workers.go:1300] \"Error syncing pod, skipping\" err=\"failed to \\\"CreatePodSandbox\\\" for \\\"" I1_POD "_kube-system(" I1_UID ")\\\" with CreatePodSandboxError: \\\"Failed to create sandbox for pod \\\\\\\"" I1_POD "_kube-system(" I1_UID ")\\\\\\\": rpc error: code = Unknown desc = failed to reserve sandbox name \\\\\\\"" I1_CRI_SANDBOX "\\\\\\\": name \\\\\\\"" I1_CRI_SANDBOX "\\\\\\\" is reserved for \\\\\\\"%s\\\\\\\"\\\"\" pod=\"kube-system/" I1_POD "\" podUID=\"" I1_UID "\"",
			 id);
		return;
	case FMH_KUBELET_SEED:
	default:
		snprintf(out, size,
			 "E0322 21:05:33.780814 1115805 pod_workers.go:191] Error syncing pod " I1_UID " (\"" I1_POD "_kube-system(" I1_UID ")\"), skipping: failed to \"StartContainer\" for \"kube-apiserver\" with CreateContainerError: \"Error response from daemon: Conflict. The container name \\\"/k8s_kube-apiserver_" I1_POD "_kube-system_" I1_UID "_24\\\" is already in use by container \\\"%s\\\". You have to remove (or rename) that container to be able to reuse that name.\"",
			 id);
		return;
	}
}

char *fmh_journal_kubelet_form(size_t n, size_t every, const char *id, enum fmh_kubelet_form form)
{
	size_t cap = n * 1100 + 1, len = 0;
	char *s = malloc(cap);
	if (!s)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const char *msg;
		char conflict[1000];
		if (every && i % every == every - 1) {
			conflict_line(conflict, sizeof(conflict), form, id);
			msg = conflict;
		} else {
			msg = "I0322 21:05:33.780814 1115805 kubelet.go:1914] SyncLoop (housekeeping): status of pod kube-proxy-7x2lq_kube-system unchanged";
		}
		len += (size_t)snprintf(s + len, cap - len,
					"_TRANSPORT=stdout\n_SYSTEMD_UNIT=kubelet.service\nSYSLOG_IDENTIFIER=kubelet\nPRIORITY=6\nMESSAGE=%s\n\n",
					msg);
	}
	return s;
}

int fmh_journal_rotate(const char *dir, unsigned seq)
{
	char from[PATH_MAX], to[PATH_MAX];
	snprintf(from, sizeof(from), "%s/remote.journal", dir);
	snprintf(to, sizeof(to), "%s/remote@%032x-%016x-%016llx.journal", dir, seq + 1, seq + 1,
		 (unsigned long long)clock_us(CLOCK_REALTIME));
	return rename(from, to) < 0 ? -errno : 0;
}

long long fmh_follow_num(const char *log, const char *kind, const char *id, const char *key)
{
	FILE *f = fopen(log, "r");
	if (!f)
		return -1;
	long long v = -1;
	char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, f) > 0) {
		if (!strstr(line, kind))
			continue;
		cJSON *o = cJSON_Parse(line);
		const cJSON *fact = cJSON_GetObjectItemCaseSensitive(o, "fact");
		const cJSON *k = cJSON_GetObjectItemCaseSensitive(fact, "kind");
		const cJSON *i = cJSON_GetObjectItemCaseSensitive(fact, "id");
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(fact, key);
		if (cJSON_IsString(k) && strcmp(k->valuestring, kind) == 0 && cJSON_IsString(i) &&
		    strcmp(i->valuestring, id) == 0 && cJSON_IsNumber(n))
			v = (long long)n->valuedouble;
		cJSON_Delete(o);
	}
	free(line);
	fclose(f);
	return v;
}

long long fmh_follow_count(const char *log, const char *kind, const char *id)
{
	return fmh_follow_num(log, kind, id, "count");
}
