/* fmh_journal: real journal files for the tests, written by
 * systemd-journal-remote from journal export-format text, and what the
 * agent's `probe journal --follow --json` printed.
 *
 * Entries get this boot's _BOOT_ID and consecutive __REALTIME_TIMESTAMP /
 * __MONOTONIC_TIMESTAMP values of now (whatever the text had is replaced), so
 * they fall inside the agent's default look-back and "current boot". The
 * fixtures in tests/fixtures/journal keep the incidents' own dates for the
 * reader; the builder rewrites them.
 */
#ifndef FMH_JOURNAL_H
#define FMH_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

/* The systemd-journal-remote binary (FMH_JOURNAL_REMOTE or the Debian path). */
const char *fmh_journal_remote(void);

/* Appends the entries of export-format text (blank-line separated "KEY=value"
 * lines) to the journal file `file` (DIR/NAME.journal; created when
 * missing). 0 or -errno (-EIO: systemd-journal-remote failed, its output on
 * stderr). */
int fmh_journal_append(const char *file, const char *text);
/* The same with the text's own __REALTIME_TIMESTAMP, __MONOTONIC_TIMESTAMP
 * and _BOOT_ID kept (an entry written again exactly as it was). */
int fmh_journal_append_export(const char *file, const char *text);
/* fmh_journal_append with a fixture file's contents. */
int fmh_journal_append_fixture(const char *file, const char *fixture);

/* n kubelet-like entries as export text (caller frees): every `every`-th
 * (every > 0) is the incident's container-name conflict naming blocking id
 * `id` (64 hex), the others routine kubelet lines. NULL on ENOMEM. */
char *fmh_journal_kubelet_text(size_t n, size_t every, const char *id);
/* The same in the form a kubelet version and runtime write the conflict:
 *  SEED        Docker, pod_workers.go, unstructured klog (the runtime's
 *              quotes as \"), the seed's own words;
 *  STRUCTURED  Docker, kubelet >= 1.21's structured pod_workers.go line
 *              (inside err="...", the runtime's quotes as \\\");
 * and containerd's refusal ('failed to reserve container name "x": name "x"
 * is reserved for "<id>"', the CRI's names without k8s_) as kubelet 1.28
 * writes it, one line each (containerd/containerd#9545 has all three):
 *  CRI_RUNTIME  remote_runtime.go, structured, err="..." (quotes as \");
 *  CRI_WORKERS  pod_workers.go, structured, nested twice (quotes as \\\");
 *  CRI_MANAGER  kuberuntime_manager.go, klog's unstructured HandleError
 *               "container ... start failed in pod ...: CreateContainerError: ...";
 *  CRI_SANDBOX  pod_workers.go, the sandbox's name refused (CreatePodSandbox). */
enum fmh_kubelet_form {
	FMH_KUBELET_SEED,
	FMH_KUBELET_STRUCTURED,
	FMH_KUBELET_CRI_RUNTIME,
	FMH_KUBELET_CRI_WORKERS,
	FMH_KUBELET_CRI_MANAGER,
	FMH_KUBELET_CRI_SANDBOX,
};
char *fmh_journal_kubelet_form(size_t n, size_t every, const char *id, enum fmh_kubelet_form form);

/* Renames DIR/remote.journal to an archived name (remote@…-…-….journal, ordered
 * by seq), as journald's rotation does. 0 or -errno. */
int fmh_journal_rotate(const char *dir, unsigned seq);

/* In the agent's --follow --json output (the file log), the "count" of the
 * last put of the fact (kind, id), or -1 when there is none. */
long long fmh_follow_count(const char *log, const char *kind, const char *id);
/* The number field key of that last put, or -1. */
long long fmh_follow_num(const char *log, const char *kind, const char *id, const char *key);

#endif
