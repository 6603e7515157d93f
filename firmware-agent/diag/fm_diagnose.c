/* The rules: one function per source of evidence, each emitting diagnoses
 * of DESIGN.md's codes; then the causes absorb the symptoms they explain. */
#include "fm_diagnose.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- the codes ------------------------------------------------------------ */

/* Every diagnosis code of DESIGN.md, once: the component a diagnosis of it
 * is about (NULL: the rule names it, from the container or pod concerned),
 * whether a log line's signal may name it, and the codes it may explain.
 * The list only bounds the relation and keeps it acyclic (a cause is listed
 * before what it explains, and symptoms explain nothing): whether a cause
 * present explains a symptom present is decided by link() below, from the
 * components both are about and the facts of this node. */
static const struct code_info {
	const char *code;
	const char *component;
	bool from_logs;
	const char *explains[8];
} codes[] = {
	{"container-name-conflict", NULL, true, {"control-plane-crashloop", "apiserver-unreachable", "etcd-unreachable"}},
	{"fs-corruption", "filesystem", true,
	 {"control-plane-crashloop", "container-runtime-down", "kubelet-down", "apiserver-unreachable",
	  "etcd-unreachable", "etcd-slow-disk"}},
	{"disk-pressure", "filesystem", true, {"etcd-nospace", "control-plane-crashloop"}},
	{"memory-cgroup-disabled", "kubelet", true, {"kubelet-down", "apiserver-unreachable", "etcd-unreachable"}},
	{"swap-enabled", "kubelet", true, {"kubelet-down", "apiserver-unreachable", "etcd-unreachable"}},
	{"clock-unsynced", "clock", true, {"cert-expired", "apiserver-unreachable", "etcd-unreachable"}},
	{"cert-expired", "certificate", true, {"control-plane-crashloop", "apiserver-unreachable", "etcd-unreachable"}},
	{"container-runtime-down", "runtime", true,
	 {"control-plane-crashloop", "kubelet-down", "apiserver-unreachable", "etcd-unreachable"}},
	{"kubelet-down", "kubelet", true, {"control-plane-crashloop", "apiserver-unreachable", "etcd-unreachable"}},
	{"undervoltage", "board", true, {"throttled", "etcd-slow-disk"}},
	{"etcd-nospace", "etcd", true, {"apiserver-unreachable"}},
	{"control-plane-crashloop", NULL, true, {"apiserver-unreachable", "etcd-unreachable"}},
	{"etcd-unreachable", "etcd", true, {"apiserver-unreachable"}},
	{"etcd-slow-disk", "etcd", true, {NULL}},
	{"apiserver-unreachable", "kube-apiserver", true, {NULL}},
	{"cert-expiring", "certificate", true, {NULL}},
	{"throttled", "board", true, {NULL}},
	{"state-unwritable", "agent", false, {NULL}},
	{"state-corrupt", "agent", false, {NULL}},
};

#define NCODES (sizeof(codes) / sizeof(codes[0]))

static const struct code_info *code_info(const char *code)
{
	for (size_t i = 0; i < NCODES; i++)
		if (strcmp(codes[i].code, code) == 0)
			return &codes[i];
	return NULL;
}

/* Whether the table allows cause to explain symptom at all. */
static bool may_explain(const char *cause, const char *symptom)
{
	const struct code_info *ci = code_info(cause);
	for (size_t j = 0; ci && j < 8 && ci->explains[j]; j++)
		if (strcmp(ci->explains[j], symptom) == 0)
			return true;
	return false;
}

/* A code a log rule's signal may name. */
static bool is_code(const char *code)
{
	const struct code_info *ci = code_info(code);
	return ci && ci->from_logs;
}

bool fm_diagnose_pair(size_t i, const char **cause, const char **symptom)
{
	for (size_t k = 0; k < NCODES; k++) {
		for (size_t j = 0; j < 8 && codes[k].explains[j]; j++) {
			if (i-- == 0) {
				*cause = codes[k].code;
				*symptom = codes[k].explains[j];
				return true;
			}
		}
	}
	return false;
}

/* --- reading facts -------------------------------------------------------- */

static const char *str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const char *str_or(const cJSON *o, const char *key, const char *dflt)
{
	const char *s = str(o, key);
	return s ? s : dflt;
}

static bool num(const cJSON *o, const char *key, double *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!cJSON_IsNumber(v))
		return false;
	*out = v->valuedouble;
	return true;
}

static bool is_true(const cJSON *o, const char *key)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static bool is_false(const cJSON *o, const char *key)
{
	return cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(o, key));
}

static double num_or(const cJSON *o, const char *key, double dflt)
{
	double v;
	return num(o, key, &v) ? v : dflt;
}

static bool is(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

static bool kind_is(const cJSON *f, const char *kind)
{
	const char *k = str(f, "kind");
	return k && strcmp(k, kind) == 0;
}

/* A fact of either container runtime's source about part ("container",
 * "stale_attempt", "crashloop"): Docker's "docker.<part>" or the CRI's
 * "cri.<part>", the same facts whichever runtime (issue 22). */
static bool rt_is(const cJSON *f, const char *part)
{
	const char *k = str(f, "kind");
	return k && ((strncmp(k, "docker.", 7) == 0 && strcmp(k + 7, part) == 0) ||
		     (strncmp(k, "cri.", 4) == 0 && strcmp(k + 4, part) == 0));
}

static bool from_cri(const cJSON *f)
{
	const char *k = str(f, "kind");
	return k && strncmp(k, "cri.", 4) == 0;
}

/* A state other than "ok" that says the server was not reached or did not
 * answer properly ("absent": nothing to reach; "config": our own
 * configuration, reported as exit status 2, not as a diagnosis). */
static bool state_failed(const cJSON *f)
{
	const char *st = str(f, "state");
	return st && strcmp(st, "ok") != 0 && strcmp(st, "absent") != 0 &&
	       strcmp(st, "config") != 0 && strcmp(st, "skipped") != 0;
}

/* --- building diagnoses ------------------------------------------------- */

struct ctx {
	const struct fm_facts *facts;
	int64_t now;
	cJSON *out; /* array of diagnoses, in the order emitted */
	bool oom;
};

/* The diagnosis (code, key) in arr; key NULL: the first of that code. */
static cJSON *find(const cJSON *arr, const char *code, const char *key)
{
	const cJSON *d;
	cJSON_ArrayForEach(d, arr)
	{
		if (strcmp(str_or(d, "code", ""), code) == 0 &&
		    (!key || strcmp(str_or(d, "key", ""), key) == 0))
			return (cJSON *)d;
	}
	return NULL;
}

/* The diagnosis (code, key), made with its summary if new (an existing one
 * keeps its first summary, and gains evidence). NULL on allocation failure. */
static cJSON *emit(struct ctx *c, const char *code, const char *severity, const char *key,
		   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static cJSON *emit(struct ctx *c, const char *code, const char *severity, const char *key,
		   const char *fmt, ...)
{
	char summary[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(summary, sizeof(summary), fmt, ap);
	va_end(ap);
	cJSON *d = find(c->out, code, key);
	if (d) {
		/* The graver finding names the diagnosis. */
		if (fm_diagnose_severity_rank(severity) >
		    fm_diagnose_severity_rank(str(d, "severity"))) {
			cJSON_ReplaceItemInObjectCaseSensitive(d, "severity", cJSON_CreateString(severity));
			cJSON_ReplaceItemInObjectCaseSensitive(d, "summary", cJSON_CreateString(summary));
		}
		return d;
	}
	const struct code_info *ci = code_info(code);
	d = cJSON_CreateObject();
	if (!d || !cJSON_AddStringToObject(d, "code", code) ||
	    !cJSON_AddStringToObject(d, "severity", severity) ||
	    !cJSON_AddStringToObject(d, "key", key) ||
	    !cJSON_AddStringToObject(d, "component", ci && ci->component ? ci->component : "unknown") ||
	    !cJSON_AddStringToObject(d, "instance", key) ||
	    !cJSON_AddStringToObject(d, "summary", summary) || !cJSON_AddArrayToObject(d, "evidence") ||
	    !cJSON_AddArrayToObject(d, "remedy") || !cJSON_AddItemToArray(c->out, d)) {
		cJSON_Delete(d);
		c->oom = true;
		return NULL;
	}
	return d;
}

/* Names the component d is about where the code does not (a container's
 * or a pod's: "kube-apiserver", "etcd", "coredns" ...). */
static void about(struct ctx *c, cJSON *d, const char *component)
{
	if (d && !cJSON_ReplaceItemInObjectCaseSensitive(d, "component", cJSON_CreateString(component)))
		c->oom = true;
}

static bool has_evidence(const cJSON *ev, const char *kind, const char *id)
{
	const cJSON *e;
	cJSON_ArrayForEach(e, ev)
	{
		if (strcmp(str_or(e, "kind", ""), kind) == 0 && strcmp(str_or(e, "id", ""), id) == 0)
			return true;
	}
	return false;
}

/* Adds to d's evidence the fact's kind and id and the listed fields it has
 * (NULL-terminated list; NULL list: every field). Once per fact. */
static void evidence(struct ctx *c, cJSON *d, const cJSON *fact, const char *const *fields)
{
	if (!d)
		return;
	cJSON *ev = cJSON_GetObjectItemCaseSensitive(d, "evidence");
	const char *kind = str_or(fact, "kind", ""), *id = str_or(fact, "id", "");
	if (has_evidence(ev, kind, id))
		return;
	cJSON *e = NULL;
	if (!fields) {
		e = cJSON_Duplicate(fact, 1);
	} else if ((e = cJSON_CreateObject())) {
		cJSON_AddStringToObject(e, "kind", kind);
		cJSON_AddStringToObject(e, "id", id);
		for (size_t i = 0; fields[i]; i++) {
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(fact, fields[i]);
			if (v)
				cJSON_AddItemToObject(e, fields[i], cJSON_Duplicate(v, 1));
		}
	}
	if (!e || !cJSON_AddItemToArray(ev, e)) {
		cJSON_Delete(e);
		c->oom = true;
	}
}

static void remedy(struct ctx *c, cJSON *d, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void remedy(struct ctx *c, cJSON *d, const char *fmt, ...)
{
	if (!d)
		return;
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	cJSON *r = cJSON_GetObjectItemCaseSensitive(d, "remedy");
	const cJSON *have;
	cJSON_ArrayForEach(have, r)
	{
		if (strcmp(have->valuestring, line) == 0)
			return;
	}
	if (!cJSON_AddItemToArray(r, cJSON_CreateString(line)))
		c->oom = true;
}

#define FIELDS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* --- rules: etcd ------------------------------------------------------------ */

/* etcdctl against the endpoint with kubeadm's client certificate. */
#define ETCDCTL                                                                               \
	"ETCDCTL_API=3 etcdctl --endpoints %s --cacert /etc/kubernetes/pki/etcd/ca.crt "     \
	"--cert /etc/kubernetes/pki/etcd/healthcheck-client.crt "                             \
	"--key /etc/kubernetes/pki/etcd/healthcheck-client.key"

static void rule_etcd(struct ctx *c)
{
	for (size_t i = 0; i < fm_facts_count(c->facts); i++) {
		const cJSON *f = fm_facts_at(c->facts, i);
		const char *id = str_or(f, "id", "");
		if (kind_is(f, "etcd.endpoint") && state_failed(f)) {
			cJSON *d = emit(c, "etcd-unreachable", "critical", id, "etcd at %s: %s", id,
					str_or(f, "reason", str_or(f, "state", "failed")));
			evidence(c, d, f, FIELDS("state", "reason", "tls", "origin", "ca_file", "cert_file"));
			remedy(c, d, "docker ps -a --filter name=k8s_etcd");
			remedy(c, d, "journalctl -u kubelet -n 100 --no-pager");
		} else if (kind_is(f, "etcd.health") && is_false(f, "healthy")) {
			cJSON *d = emit(c, "etcd-unreachable", "critical", id, "etcd at %s answers but is not healthy: %s",
					id, str_or(f, "reason", "unhealthy"));
			evidence(c, d, f, FIELDS("healthy", "reason", "via"));
			remedy(c, d, ETCDCTL " endpoint status --write-out=table", id);
		} else if (kind_is(f, "etcd.alarm") && strcmp(str_or(f, "alarm", ""), "NOSPACE") == 0) {
			/* The alarm's id is "URL#NOSPACE". */
			char ep[512];
			snprintf(ep, sizeof(ep), "%.*s", (int)strcspn(id, "#"), id);
			cJSON *d = emit(c, "etcd-nospace", "critical", ep,
					"etcd raised the NOSPACE alarm: its database reached the quota and it refuses writes");
			evidence(c, d, f, FIELDS("alarm", "member_id", "members"));
			const cJSON *st = fm_facts_get(c->facts, "etcd.status", ep);
			if (st)
				evidence(c, d, st, FIELDS("db_size", "db_size_in_use"));
			remedy(c, d,
			       "rev=$(" ETCDCTL " endpoint status --write-out=json | grep -o '\"revision\":[0-9]*' | cut -d: -f2)",
			       ep);
			remedy(c, d, ETCDCTL " compaction $rev", ep);
			remedy(c, d, ETCDCTL " defrag", ep);
			remedy(c, d, ETCDCTL " alarm disarm", ep);
		} else if (kind_is(f, "etcd.disk")) {
			double wal = 0, commit = 0, le = 0;
			bool w = num(f, "wal_fsync_slow_share", &wal);
			bool b = num(f, "backend_commit_slow_share", &commit);
			num(f, "bucket_le_ms", &le);
			if ((w && wal >= 0.01) || (b && commit >= 0.01)) {
				cJSON *d = emit(c, "etcd-slow-disk", "warning", id,
						"%.1f%% of etcd's WAL fsyncs and %.1f%% of its commits took over %.0f ms: the storage is too slow for etcd",
						wal * 100, commit * 100, le);
				evidence(c, d, f, FIELDS("wal_fsync_slow_share", "backend_commit_slow_share", "bucket_le_ms"));
				remedy(c, d, "fio --rw=write --ioengine=sync --fdatasync=1 --directory=/var/lib/etcd --size=22m --bs=2300 --name=etcd-disk-check");
				remedy(c, d, "move /var/lib/etcd to an SSD or eMMC (etcd needs fdatasync p99 under 10 ms)");
			}
		}
	}
}

/* --- rules: kube-apiserver ---------------------------------------------------- */

static void rule_apiserver(struct ctx *c)
{
	for (size_t i = 0; i < fm_facts_count(c->facts); i++) {
		const cJSON *f = fm_facts_at(c->facts, i);
		const char *id = str_or(f, "id", "");
		cJSON *d = NULL;
		if (kind_is(f, "apiserver.endpoint") && state_failed(f)) {
			d = emit(c, "apiserver-unreachable", "critical", id, "kube-apiserver at %s: %s", id,
				 str_or(f, "reason", str_or(f, "state", "failed")));
			evidence(c, d, f, FIELDS("state", "reason", "tls", "origin", "ca_file", "cert_file"));
		} else if ((kind_is(f, "apiserver.readyz") || kind_is(f, "apiserver.livez")) &&
			   is_false(f, "healthy")) {
			const cJSON *failed = cJSON_GetObjectItemCaseSensitive(f, "failed");
			const cJSON *first = cJSON_IsArray(failed) ? cJSON_GetArrayItem(failed, 0) : NULL;
			d = emit(c, "apiserver-unreachable", "critical", id,
				 "kube-apiserver at %s is not ready%s%s", id, first ? ": [-]" : "",
				 first && cJSON_IsString(first) ? first->valuestring : "");
			evidence(c, d, f, FIELDS("healthy", "http_status", "failed", "reason"));
		}
		if (d) {
			remedy(c, d, "docker ps -a --filter name=k8s_kube-apiserver");
			remedy(c, d, "journalctl -u kubelet -n 100 --no-pager");
		}
	}
}

/* --- rules: certificates and the clock ------------------------------------ */

static void rule_certs(struct ctx *c)
{
	for (size_t i = 0; i < fm_facts_count(c->facts); i++) {
		const cJSON *f = fm_facts_at(c->facts, i);
		if (!kind_is(f, "cert") || state_failed(f))
			continue;
		const char *id = str_or(f, "id", ""), *file = str_or(f, "file", id);
		bool k3s = strstr(file, "/rancher/k3s/") != NULL;
		double days = 0;
		bool have_days = num(f, "days_left", &days);
		cJSON *d = NULL;
		if (is_true(f, "not_yet_valid")) {
			d = emit(c, "clock-unsynced", "critical", "clock",
				 "the clock is before the start of %s's validity (%s): the time is wrong, not the certificate",
				 file, str_or(f, "not_before", "?"));
			evidence(c, d, f, FIELDS("file", "subject", "not_before", "not_after"));
			remedy(c, d, "timedatectl set-ntp true");
			remedy(c, d, "timedatectl timesync-status || chronyc tracking");
			continue;
		}
		if (is_true(f, "expired")) {
			d = emit(c, "cert-expired", "critical", file, "the certificate %s (%s) expired on %s", file,
				 str_or(f, "subject", "?"), str_or(f, "not_after", "?"));
		} else if (have_days && days < FM_DIAG_CERT_EXPIRING_DAYS) {
			d = emit(c, "cert-expiring", "warning", file, "the certificate %s (%s) expires in %.0f days, on %s",
				 file, str_or(f, "subject", "?"), days, str_or(f, "not_after", "?"));
		} else {
			continue;
		}
		evidence(c, d, f, FIELDS("file", "subject", "not_before", "not_after", "days_left"));
		if (k3s) {
			remedy(c, d, "k3s certificate rotate");
			remedy(c, d, "systemctl restart k3s");
		} else {
			remedy(c, d, "kubeadm certs renew all");
			remedy(c, d, "mv /etc/kubernetes/manifests /etc/kubernetes/manifests.off && sleep 20 && "
				     "mv /etc/kubernetes/manifests.off /etc/kubernetes/manifests");
		}
	}
}

/* --- rules: the board (hal) -------------------------------------------------- */

/* "/dev/mmcblk0p2" and "mmcblk0p2" are the same device. */
static const char *devname(const char *dev)
{
	return strncmp(dev, "/dev/", 5) == 0 ? dev + 5 : dev;
}

/* Whether path is mount point mp or inside it (component-wise). */
static bool path_inside(const char *path, const char *mp)
{
	size_t n = strlen(mp);
	if (n == 1 && mp[0] == '/')
		return path[0] == '/';
	return strncmp(path, mp, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

/* The device holding path, from the board's facts: the longest hal.fs path
 * (a path the board asked about) or hal.ext4 / hal.readonly mount point
 * that contains it, so evidence about a file and evidence about its device
 * become one finding. A filesystem mounted anywhere (Docker's data-root
 * need not be /var/lib/docker) is found through its ext4 entry. NULL when
 * unknown. */
static const char *device_of(const struct ctx *c, const char *path)
{
	const char *best = NULL;
	size_t best_len = 0;
	for (size_t i = 0; path && i < fm_facts_count(c->facts); i++) {
		const cJSON *f = fm_facts_at(c->facts, i);
		const char *p = kind_is(f, "hal.fs") ? str(f, "path")
				: kind_is(f, "hal.ext4") || kind_is(f, "hal.readonly") ? str(f, "mount_point")
											 : NULL;
		const char *dev = str(f, "device");
		if (!p || !dev || !path_inside(path, p))
			continue;
		if (strlen(p) >= best_len) {
			best = devname(dev);
			best_len = strlen(p);
		}
	}
	return best;
}

/* Where device dev ("loop0", "/dev/mmcblk0p2") is mounted, from the board's
 * facts; NULL when unknown. */
static const char *mount_of(const struct ctx *c, const char *dev)
{
	for (size_t i = 0; dev && i < fm_facts_count(c->facts); i++) {
		const cJSON *f = fm_facts_at(c->facts, i);
		const char *d = str(f, "device"), *mp = str(f, "mount_point");
		if ((kind_is(f, "hal.ext4") || kind_is(f, "hal.readonly") || kind_is(f, "hal.fs")) && d &&
		    mp && strcmp(devname(d), devname(dev)) == 0)
			return mp;
	}
	return NULL;
}

/* The first absolute path in text that runs through an overlay2 directory
 * ("open /var/lib/docker/overlay2/74217d05e7d3/lower: structure needs
 * cleaning" -> "/var/lib/docker/overlay2/74217d05e7d3/lower"): the file
 * Docker could not read. false when text names none. */
static bool overlay_path(const char *text, char *out, size_t size)
{
	const char *o = text ? strstr(text, "/overlay2/") : NULL;
	if (!o)
		return false;
	const char *b = o;
	while (b > text && b[-1] != ' ' && b[-1] != '"' && b[-1] != '\'' && b[-1] != '=')
		b--;
	size_t n = strcspn(b, " :\"'\\,");
	if (b[0] != '/' || n >= size)
		return false;
	memcpy(out, b, n);
	out[n] = '\0';
	return true;
}

/* Whether Docker keeps its data on the filesystem mounted on mp (not the
 * root): it holds /var/lib/docker, Docker's default data root, or the
 * daemon named an overlay2 path in it (a daemon with another --data-root). */
static bool docker_on(const struct ctx *c, const char *mp)
{
	char p[512];
	if (strcmp(mp, "/") != 0 && path_inside("/var/lib/docker", mp))
		return true;
	for (size_t i = 0; i < fm_facts_count(c->facts); i++) {
		const cJSON *f = fm_facts_at(c->facts, i);
		const char *text = kind_is(f, "docker.logs") ? str(f, "error")
				   : kind_is(f, "docker.container") ? str(f, "inspect_error")
				   : kind_is(f, "journal.match") ? str(f, "message")
								  : NULL;
		if (overlay_path(text, p, sizeof(p)) && path_inside(p, mp))
			return true;
	}
	return false;
}

/* Whether the filesystem is the root one: mounted on /, or, with its mount
 * unknown, the device hal found under /; with nothing known, the root is
 * assumed (where /var/lib/docker and /var/lib/etcd live by default). */
static bool root_fs(const struct ctx *c, const char *dev, const char *mount_point)
{
	if (mount_point)
		return strcmp(mount_point, "/") == 0;
	if (!dev || !dev[0])
		return true;
	const char *root = device_of(c, "/");
	return !root || strcmp(root, devname(dev)) == 0;
}

/* fsck for a filesystem. The root cannot be unmounted, so it is marked for
 * the check at the next boot (what incident 2 ended with). Any other one is
 * unmounted and checked now; when Docker's data is on it, Docker stops
 * first (its layers hold the mount busy), and kubelet and docker.socket
 * with it, or the next request through the socket starts the daemon again. */
static void remedy_fsck(struct ctx *c, cJSON *d, const char *dev, const char *mount_point)
{
	if (root_fs(c, dev, mount_point)) {
		remedy(c, d, "touch /forcefsck && reboot");
		return;
	}
	bool docker = mount_point && docker_on(c, mount_point);
	if (docker)
		remedy(c, d, "systemctl stop kubelet docker.socket docker");
	if (mount_point)
		remedy(c, d, "umount %s", mount_point);
	else
		remedy(c, d, "umount /dev/%s", devname(dev));
	remedy(c, d, "e2fsck -f /dev/%s", devname(dev));
	if (mount_point)
		remedy(c, d, "mount /dev/%s %s", devname(dev), mount_point);
	if (docker)
		remedy(c, d, "systemctl start docker kubelet");
}

static void rule_storage(struct ctx *c, const cJSON *f, const char *id)
{
	double n = 0;
	if (kind_is(f, "hal.ext4") && num(f, "errors_count", &n) && n > 0) {
		const char *dev = str_or(f, "device", id), *mp = str(f, "mount_point");
		cJSON *d = emit(c, "fs-corruption", "critical", devname(dev),
				"the ext4 filesystem on %s%s%s has recorded %.0f error%s (last: %s, inode %.0f): it is corrupted",
				devname(dev), mp ? " mounted on " : "", mp ? mp : "", n, n == 1 ? "" : "s",
				str_or(f, "last_error_func", "?"),
				cJSON_IsNumber(cJSON_GetObjectItem(f, "last_error_ino"))
					? cJSON_GetObjectItem(f, "last_error_ino")->valuedouble
					: 0);
		evidence(c, d, f, FIELDS("device", "mount_point", "errors_count", "last_error_time",
					 "last_error_func", "last_error_ino", "last_error_errcode_name"));
		remedy_fsck(c, d, dev, mp);
	} else if (kind_is(f, "hal.readonly") && (is_true(f, "remounted_ro") || is_true(f, "emergency_ro"))) {
		const char *dev = str_or(f, "device", id), *mp = str_or(f, "mount_point", id);
		cJSON *d = emit(c, "fs-corruption", "critical", devname(dev),
				"the kernel made %s (%s) read-only after an error: the filesystem is damaged", mp,
				devname(dev));
		evidence(c, d, f, FIELDS("device", "mount_point", "fstype", "remounted_ro", "emergency_ro"));
		remedy_fsck(c, d, dev, mp);
	} else if (kind_is(f, "hal.fs") && num(f, "used_pct", &n)) {
		double inodes = 0;
		num(f, "inodes_used_pct", &inodes);
		if (n < 90 && inodes < 90)
			return;
		const char *mp = str_or(f, "mount_point", id);
		cJSON *d = emit(c, "disk-pressure", n >= 97 || inodes >= 97 ? "critical" : "warning", mp,
				"%s is %.0f%% full (inodes %.0f%%): kubelet evicts pods and etcd stops below 10%% free",
				mp, n, inodes);
		evidence(c, d, f, FIELDS("path", "mount_point", "device", "used_pct", "inodes_used_pct", "avail_bytes"));
		remedy(c, d, "du -xh --max-depth=3 %s 2>/dev/null | sort -h | tail -20", mp);
		remedy(c, d, "docker container prune -f && docker image prune -f");
		remedy(c, d, "journalctl --vacuum-size=100M");
	}
}

static void rule_board(struct ctx *c, const cJSON *f)
{
	double t = 0;
	if (kind_is(f, "hal.throttle")) {
		bool now = is_true(f, "undervoltage_now"), ever = is_true(f, "undervoltage_since_boot");
		if (now || ever) {
			cJSON *d = emit(c, "undervoltage", now ? "critical" : "warning", "power",
					now ? "the board is under-voltage now: the supply cannot hold 5 V (SD card corruption and crashes follow)"
					    : "the board has been under-voltage since boot: the supply cannot hold 5 V under load");
			evidence(c, d, f, FIELDS("undervoltage_now", "undervoltage_since_boot", "raw", "source"));
			remedy(c, d, "vcgencmd get_throttled");
			remedy(c, d, "use the board's official supply (Pi 4: 5.1 V 3 A, Pi 5: 5.1 V 5 A) and a short, thick cable");
		}
		if (is_true(f, "throttled_now") || is_true(f, "freq_capped_now") || is_true(f, "soft_temp_limit_now")) {
			cJSON *d = emit(c, "throttled", "warning", "cpu",
					"the firmware is throttling the CPU now (%s)",
					is_true(f, "soft_temp_limit_now") ? "soft temperature limit" : "frequency capped");
			evidence(c, d, f, FIELDS("throttled_now", "freq_capped_now", "soft_temp_limit_now", "raw"));
			remedy(c, d, "vcgencmd measure_temp && vcgencmd get_throttled");
			remedy(c, d, "add a heatsink and fan, or lower the load");
		}
	} else if (kind_is(f, "hal.thermal") && num(f, "temp_c", &t) && t >= 85) {
		cJSON *d = emit(c, "throttled", "warning", "cpu", "the %s zone is at %.0f °C: the SoC throttles from 80-85 °C",
				str_or(f, "type", "thermal"), t);
		evidence(c, d, f, FIELDS("type", "temp_c"));
		remedy(c, d, "add a heatsink and fan, or lower the load");
	} else if (kind_is(f, "hal.memory")) {
		if (is_false(f, "memory_cgroup_enabled")) {
			cJSON *d = emit(c, "memory-cgroup-disabled", "critical", "memory-cgroup",
					"the memory cgroup is disabled (%s): kubelet refuses to start",
					str_or(f, "memory_cgroup_reason", "kernel command line"));
			evidence(c, d, f, FIELDS("memory_cgroup_enabled", "memory_cgroup_reason", "cmdline_cgroup_disable_memory"));
			remedy(c, d, "sed -i '1 s/$/ cgroup_enable=memory cgroup_memory=1/' /boot/firmware/cmdline.txt || "
				     "sed -i '1 s/$/ cgroup_enable=memory cgroup_memory=1/' /boot/cmdline.txt");
			remedy(c, d, "reboot");
		}
		if (is_true(f, "swap_enabled")) {
			cJSON *d = emit(c, "swap-enabled", "warning", "swap",
					"swap is on: kubelet refuses to start with swap unless configured to allow it");
			evidence(c, d, f, FIELDS("swap_enabled", "swap_total_bytes", "swap_used_bytes"));
			remedy(c, d, "swapoff -a");
			remedy(c, d, "systemctl disable --now dphys-swapfile 2>/dev/null; sed -i '/ swap / s/^/#/' /etc/fstab");
		}
	} else if (kind_is(f, "hal.clock")) {
		if (is_true(f, "clock_before_newest_cert")) {
			cJSON *d = emit(c, "clock-unsynced", "critical", "clock",
					"the clock (%s) is before %s was issued (%s): every certificate looks not yet valid",
					str_or(f, "now", "?"), str_or(f, "newest_cert", "a certificate"),
					str_or(f, "newest_cert_not_before", "?"));
			evidence(c, d, f, FIELDS("now", "synchronised", "rtc_present", "newest_cert", "newest_cert_not_before"));
		} else if (is_false(f, "synchronised")) {
			cJSON *d = emit(c, "clock-unsynced", "warning", "clock",
					"the clock is not synchronised (NTP)%s",
					is_false(f, "rtc_present") ? " and the board has no RTC: it starts at a wrong time after every power cut" : "");
			evidence(c, d, f, FIELDS("now", "synchronised", "maxerror_us", "rtc_present"));
		} else {
			return;
		}
		cJSON *d = find(c->out, "clock-unsynced", "clock");
		remedy(c, d, "timedatectl set-ntp true");
		remedy(c, d, "timedatectl timesync-status || chronyc tracking");
		if (is_false(f, "rtc_present"))
			remedy(c, d, "apt-get install fake-hwclock");
	}
}

static void rule_hal(struct ctx *c)
{
	for (size_t i = 0; i < fm_facts_count(c->facts); i++) {
		const cJSON *f = fm_facts_at(c->facts, i);
		rule_storage(c, f, str_or(f, "id", ""));
		rule_board(c, f);
	}
}

/* --- rules: Docker ------------------------------------------------------------ */

/* "namespace/pod/container" of a container fact. */
static void pod_container(char *out, size_t size, const cJSON *f)
{
	snprintf(out, size, "%s/%s/%s", str_or(f, "namespace", "?"), str_or(f, "pod", "?"),
		 str_or(f, "container", "?"));
}

/* Whether the control-plane container fact is an exited attempt that has a
 * newer one (kubelet keeps the previous attempt: not a finding by itself). */
static bool is_stale(const struct ctx *c, const char *short_id)
{
	for (size_t i = 0; i < fm_facts_count(c->facts); i++) {
		const cJSON *f = fm_facts_at(c->facts, i);
		if (rt_is(f, "stale_attempt") && strcmp(str_or(f, "stale_id", ""), short_id) == 0)
			return true;
	}
	return false;
}

/* The CRI runtime a cri.runtime fact is about, by where its socket was
 * found: "k3s", "CRI-O" or "containerd". */
static const char *cri_name(const cJSON *f)
{
	const char *o = str_or(f, "origin", "");
	return strstr(o, "k3s") ? "k3s" : strstr(o, "CRI-O") ? "CRI-O" : "containerd";
}

static void rule_runtime_down(struct ctx *c, const cJSON *f, const char *id)
{
	if (kind_is(f, "docker.daemon")) {
		cJSON *d = emit(c, "container-runtime-down", "critical", id, "the Docker engine at %s does not answer: %s",
				id, str_or(f, "reason", str_or(f, "state", "failed")));
		evidence(c, d, f, FIELDS("state", "reason"));
		remedy(c, d, "systemctl status docker containerd --no-pager");
		remedy(c, d, "journalctl -u docker -n 50 --no-pager");
		remedy(c, d, "systemctl restart docker");
		return;
	}
	/* A containerd serving no CRI (Docker's own, cri disabled) is not
	 * kubelet's runtime: not down. */
	if (is(str_or(f, "state", ""), "no-cri"))
		return;
	const char *rt = cri_name(f);
	const char *unit = is(rt, "k3s") ? "k3s" : is(rt, "CRI-O") ? "crio" : "containerd";
	cJSON *d = emit(c, "container-runtime-down", "critical", id, "%s at %s does not answer: %s", rt, id,
			str_or(f, "reason", str_or(f, "state", "failed")));
	evidence(c, d, f, FIELDS("state", "reason", "origin"));
	remedy(c, d, "systemctl status %s --no-pager", unit);
	remedy(c, d, "journalctl -u %s -n 50 --no-pager", unit);
	remedy(c, d, "systemctl restart %s", unit);
}

static void rule_docker(struct ctx *c)
{
	for (size_t i = 0; i < fm_facts_count(c->facts); i++) {
		const cJSON *f = fm_facts_at(c->facts, i);
		const char *id = str_or(f, "id", "");
		char pc[400];
		double n = 0, code = 0, window = 0;
		if ((kind_is(f, "docker.daemon") || kind_is(f, "cri.runtime")) && state_failed(f)) {
			rule_runtime_down(c, f, id);
		} else if (rt_is(f, "crashloop") && num(f, "exits", &n)) {
			num(f, "window_s", &window);
			num(f, "last_exit_code", &code);
			cJSON *d = emit(c, "control-plane-crashloop", "critical", id,
					"%s exited %.0f times in %.0f minutes (last exit code %.0f)", id, n,
					window / 60, code);
			about(c, d, str_or(f, "container", "?"));
			evidence(c, d, f, FIELDS("exits", "window_s", "last_exit_code", "last_exit_at", "counted_from"));
			remedy(c, d, "journalctl -u kubelet -n 100 --no-pager");
		} else if (rt_is(f, "container") && !is_true(f, "sandbox") &&
			   strcmp(str_or(f, "state", ""), "exited") == 0 && num(f, "exit_code", &code) &&
			   code != 0 && !is_stale(c, id)) {
			pod_container(pc, sizeof(pc), f);
			cJSON *d = emit(c, "control-plane-crashloop", "critical", pc,
					"%s (container %s) exited with code %.0f%s%s and was not started again", pc,
					id, code, str(f, "exited_at") ? " at " : "", str_or(f, "exited_at", ""));
			about(c, d, str_or(f, "container", "?"));
			evidence(c, d, f, FIELDS("name", "state", "exit_code", "exited_at", "oom_killed", "error",
						 "restart_count"));
			remedy(c, d, "%s logs --tail 50 %s", from_cri(f) ? "crictl" : "docker", id);
			remedy(c, d, "journalctl -u kubelet -n 100 --no-pager");
		}
	}
	/* Logs that cannot be read: evidence for the container's finding, and
	 * when the daemon cannot find a layer under overlay2, for the storage. */
	for (size_t i = 0; i < fm_facts_count(c->facts); i++) {
		const cJSON *f = fm_facts_at(c->facts, i);
		const char *err = str(f, "error");
		if (!kind_is(f, "docker.logs") || !state_failed(f) || !err)
			continue;
		const cJSON *ct = fm_facts_get(c->facts, "docker.container", str_or(f, "id", ""));
		if (ct) {
			char pc[400];
			pod_container(pc, sizeof(pc), ct);
			evidence(c, find(c->out, "control-plane-crashloop", pc), f, FIELDS("state", "error"));
		}
		char layer[512];
		if (overlay_path(err, layer, sizeof(layer))) {
			/* The filesystem under the layer: where the daemon's data
			 * root is mounted (its ext4 entry), else the device of
			 * /var/lib/docker. "structure needs cleaning" is the
			 * filesystem's own EUCLEAN: corruption, not a guess. */
			char data_root[512];
			snprintf(data_root, sizeof(data_root), "%.*s", (int)(strstr(layer, "/overlay2/") - layer),
				 layer);
			const char *dev = device_of(c, layer);
			bool euclean = strstr(err, "structure needs cleaning") != NULL;
			cJSON *d = emit(c, "fs-corruption", euclean ? "critical" : "warning", dev ? dev : data_root,
					"Docker cannot read a layer of container %s (%s): the filesystem under %s is damaged",
					str_or(f, "id", "?"), err, data_root);
			evidence(c, d, f, FIELDS("state", "error"));
			/* The filesystem's own error on a known device: its fsck;
			 * anything less certain: what the kernel said first. */
			if (dev && euclean)
				remedy_fsck(c, d, dev, mount_of(c, dev));
			else
				remedy(c, d, "dmesg | grep -i -E 'ext4|i/o error|mmc'");
		}
	}
}

/* --- rules: log lines (journal, kernel log) ---------------------------------- */

/* Log lines older than this are history, not the present state. */
#define LOG_WINDOW_S 3600

/* Which exited containers to remove for a name conflict on pod (the stale
 * attempts of the same pod, sandboxes included, as in incident 1), as one
 * command; false when the Docker source knows of none. */
static bool stale_of_pod(struct ctx *c, const char *ns, const char *pod, cJSON *d,
			 char *cmd, size_t size)
{
	size_t len = (size_t)snprintf(cmd, size, "docker rm");
	bool any = false;
	for (size_t i = 0; i < fm_facts_count(c->facts); i++) {
		const cJSON *f = fm_facts_at(c->facts, i);
		if (!kind_is(f, "docker.stale_attempt") || strcmp(str_or(f, "pod", ""), pod) != 0 ||
		    strcmp(str_or(f, "namespace", ""), ns) != 0)
			continue;
		len += (size_t)snprintf(cmd + len, len < size ? size - len : 0, " %s", str_or(f, "stale_id", "?"));
		any = true;
		evidence(c, d, f,
			 FIELDS("stale_id", "stale_name", "stale_attempt", "newer_id", "newer_attempt", "newer_state"));
	}
	return any && len < size;
}

/* "k8s_<container>_<pod>_<namespace>_<uid>_<attempt>" -> pod and namespace. */
static bool kubelet_name(const char *name, char *pod, size_t pod_size, char *ns, size_t ns_size)
{
	const char *p[6];
	int n = 0;
	if (strncmp(name, "k8s_", 4) != 0)
		return false;
	for (const char *q = name; *q && n < 6; q++)
		if (*q == '_')
			p[n++] = q;
	if (n != 5)
		return false;
	snprintf(pod, pod_size, "%.*s", (int)(p[2] - p[1] - 1), p[1] + 1);
	snprintf(ns, ns_size, "%.*s", (int)(p[3] - p[2] - 1), p[2] + 1);
	return true;
}

static bool docker_answers(const struct ctx *c)
{
	for (size_t i = 0; i < fm_facts_count(c->facts); i++) {
		const cJSON *f = fm_facts_at(c->facts, i);
		if (kind_is(f, "docker.daemon") && strcmp(str_or(f, "state", ""), "ok") == 0)
			return true;
	}
	return false;
}

/* The component a runtime name is about: Docker's "k8s_<container>_<pod>_
 * <ns>_<uid>_<attempt>" and the CRI's "<container>_<pod>_..." name the
 * container; a sandbox (Docker's k8s_POD_<pod>_..., the CRI's "<pod>_<ns>_
 * <uid>_<attempt>" with object "sandbox") names its pod, and a control-plane
 * static pod ("kube-apiserver-<node>") its component. */
static void name_component(const char *name, const char *object, char *out, size_t size)
{
	static const char *const statics[] = {"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"};
	const char *p = strncmp(name, "k8s_", 4) == 0 ? name + 4 : name;
	bool sandbox = object && strcmp(object, "sandbox") == 0;
	if (strncmp(p, "POD_", 4) == 0) {
		p += 4;
		sandbox = true;
	}
	size_t n = strcspn(p, "_");
	if (sandbox) {
		for (size_t i = 0; i < sizeof(statics) / sizeof(statics[0]); i++) {
			size_t l = strlen(statics[i]);
			if (n > l && strncmp(p, statics[i], l) == 0 && p[l] == '-') {
				n = l;
				break;
			}
		}
	}
	snprintf(out, size, "%.*s", (int)n, p);
}

/* A reservation refused without the holder's id (CRI-O names the request
 * it refuses): the runtime's own listing is where to look, and the rule's
 * severity stands (CRI-O logs it while a slow creation is still running). */
static void rule_name_reserved(struct ctx *c, const cJSON *f, const char *name)
{
	cJSON *d = emit(c, "container-name-conflict", str_or(f, "severity", "warning"), name,
			"the runtime refused the name %s: it is reserved (a creation still running, or a stale reservation)",
			name);
	char comp[128];
	name_component(name, NULL, comp, sizeof(comp));
	about(c, d, comp);
	evidence(c, d, f, FIELDS("source", "count", "last_us", "fields"));
	remedy(c, d, "crictl ps -a");
	remedy(c, d, "crictl pods");
	remedy(c, d, "journalctl -u crio -u containerd -n 50 --no-pager");
}

/* containerd's CRI plugin refused the name (fields "object": container or
 * sandbox) and named the id holding it. Until the agent asks the runtime
 * itself (issue 22), the remedy looks the holder up first: removing it is
 * right when it is a stale attempt (created, never started, or exited), and
 * an id the runtime no longer knows means its name index is out of step
 * with its containers, which only a restart of containerd clears. */
/* The CRI runtime that answered (its cri.runtime fact), or NULL. */
static const cJSON *cri_answering(const struct ctx *c)
{
	for (size_t i = 0; i < fm_facts_count(c->facts); i++) {
		const cJSON *f = fm_facts_at(c->facts, i);
		if (kind_is(f, "cri.runtime") && is(str_or(f, "state", ""), "ok"))
			return f;
	}
	return NULL;
}

/* The fix for a name the CRI runtime reserves for id: what the runtime
 * says of id decides it (holder: its cri.container or cri.sandbox fact;
 * rt: the runtime that answered; both NULL when it was not asked). Ids go
 * as their first 12 characters, as crictl shows them: containerd's CRI
 * stores find a container or sandbox by any unique prefix (truncindex;
 * containerd 1.6, pkg/cri/store/container/container.go, Store.Get), CRI-O
 * by its short id. */
static void remedy_cri_reserved(struct ctx *c, cJSON *d, const char *object, const char *id,
				const cJSON *holder, const cJSON *rt)
{
	bool sandbox = strcmp(object, "sandbox") == 0;
	const char *rm = sandbox ? "rmp" : "rm", *inspect = sandbox ? "inspectp" : "inspect";
	if (holder) {
		/* Known and not running: kubelet is done with it. */
		if (!is(str_or(holder, "state", ""), "running") &&
		    !is(str_or(holder, "state", ""), "ready")) {
			remedy(c, d, "crictl %s %.12s", rm, id);
			return;
		}
		remedy(c, d, "crictl %s %.12s", inspect, id);
		remedy(c, d, "crictl %s %.12s && crictl %s %.12s", sandbox ? "stopp" : "stop", id,
		       rm, id);
		return;
	}
	if (rt) {
		/* The runtime answers and lists no such container: its name
		 * index is out of step with its containers; only a restart
		 * rebuilds it. */
		remedy(c, d, "systemctl restart %s", is(cri_name(rt), "k3s") ? "k3s" : "containerd");
		return;
	}
	/* Not asked: one line does both. crictl inspect fails for an id the
	 * runtime does not know (RemoveContainer would answer success for it:
	 * containerd 1.6, container_remove.go), and only then the restart. */
	remedy(c, d, "crictl %s %.12s && crictl %s %.12s || systemctl restart containerd", inspect,
	       id, rm, id);
}

static void rule_name_conflict(struct ctx *c, const cJSON *f, const cJSON *fields)
{
	const char *name = str_or(fields, "name", "?"), *blocking = str_or(fields, "blocking_id", "");
	const char *object = str(fields, "object");
	if (!blocking[0]) {
		rule_name_reserved(c, f, name);
		return;
	}
	char shortid[13], pod[128] = "", ns[64] = "", cmd[512];
	snprintf(shortid, sizeof(shortid), "%s", blocking);
	bool sandbox = object && strcmp(object, "sandbox") == 0;
	/* What the runtime says of the holder: Docker's container, or the
	 * CRI's container or sandbox (unknown when the runtime answers
	 * without it). */
	const cJSON *rt = object ? cri_answering(c) : NULL;
	const cJSON *holder = fm_facts_get(c->facts, !object ? "docker.container" : sandbox ? "cri.sandbox" : "cri.container",
					   shortid);
	const char *state = holder ? str_or(holder, "state", "?") : rt ? "unknown to the runtime" : NULL;
	/* The key names the whole kubelet name; the summary says which
	 * container in few words (it travels in a 320-byte report). Docker's
	 * names are k8s_<container>_<pod>_…; the CRI's drop the k8s_. */
	const char *what = strncmp(name, "k8s_", 4) == 0 ? name + 4 : name;
	const char *us = strchr(what, '_');
	int what_len = us ? (int)(us - what) : (int)strlen(what);
	/* short: the seed's whole report is 320 bytes (DESIGN.md) */
	cJSON *d = emit(c, "container-name-conflict", "critical", name, "%.*s blocked: name held by %s%s%s%s%s",
			what_len, what, sandbox ? "sandbox " : "", shortid, state ? " (" : "", state ? state : "",
			state ? ")" : "");
	char comp[128];
	name_component(name, object, comp, sizeof(comp));
	about(c, d, comp);
	evidence(c, d, f, FIELDS("source", "count", "last_us", "fields"));
	if (holder)
		evidence(c, d, holder, FIELDS("name", "state", "attempt", "full_id", "exit_code", "error"));
	else if (rt)
		evidence(c, d, rt, FIELDS("state", "runtime_name", "runtime_version", "containers", "sandboxes"));
	if (object) {
		remedy_cri_reserved(c, d, object, blocking, holder, rt);
		return;
	}
	bool parsed = kubelet_name(name, pod, sizeof(pod), ns, sizeof(ns));
	if (parsed && stale_of_pod(c, ns, pod, d, cmd, sizeof(cmd))) {
		remedy(c, d, "%s", cmd);
	} else if (parsed && holder && strcmp(str_or(holder, "state", ""), "running") == 0 && docker_answers(c)) {
		/* Docker says the name's holder runs and nothing stale is left:
		 * what kubelet logged is the past (the fix was applied). */
		cJSON_ReplaceItemInObjectCaseSensitive(d, "severity", cJSON_CreateString("info"));
		cJSON_ReplaceItemInObjectCaseSensitive(
			d, "summary",
			cJSON_CreateString("kubelet logged a name conflict on the control plane within the hour; "
					   "Docker now shows the name's holder running and no stale attempt left"));
		remedy(c, d, "journalctl -u kubelet -n 20 --no-pager");
	} else if (pod[0]) {
		remedy(c, d, "docker ps -a --filter name=_%s_%s_", pod, ns);
		remedy(c, d, "docker rm $(docker ps -aq --filter status=exited --filter name=_%s_%s_)", pod, ns);
	} else {
		remedy(c, d, "docker ps -a | grep Exited");
	}
}

static void rule_logs(struct ctx *c)
{
	for (size_t i = 0; i < fm_facts_count(c->facts); i++) {
		const cJSON *f = fm_facts_at(c->facts, i);
		if (!kind_is(f, "journal.match") && !kind_is(f, "kmsg.match"))
			continue;
		double last_us = 0;
		if (num(f, "last_us", &last_us) && last_us / 1e6 < (double)(c->now - LOG_WINDOW_S))
			continue;
		const char *signal = str_or(f, "signal", ""), *sev = str_or(f, "severity", "warning");
		const cJSON *fields = cJSON_GetObjectItemCaseSensitive(f, "fields");
		if (strcmp(signal, "container-name-conflict") == 0) {
			rule_name_conflict(c, f, fields);
			continue;
		}
		if (strcmp(signal, "fs-corruption") == 0 || strcmp(signal, "fs-readonly") == 0) {
			const char *path = str(fields, "path"), *dev = str(fields, "device");
			const char *key = dev ? devname(dev) : device_of(c, path);
			cJSON *d = emit(c, "fs-corruption", "critical", key ? key : path ? path : "filesystem",
					"the %s log says the filesystem%s%s is damaged: %s", str_or(f, "source", "?"),
					key ? " on " : "", key ? key : "", str_or(f, "message", "?"));
			evidence(c, d, f, FIELDS("source", "count", "last_us", "fields", "message"));
			remedy_fsck(c, d, key ? key : "", mount_of(c, key));
			continue;
		}
		if (fm_diagnose_severity_rank(sev) < 0 || !is_code(signal))
			continue;
		/* The other signals name a diagnosis code: the log line joins the
		 * diagnosis the probes made of it, or stands alone. */
		cJSON *d = find(c->out, signal, NULL);
		bool made = !d;
		/* kubelet's own refusal confirms what the board suggested
		 * (swap on): the graver word stands */
		if (d && fm_diagnose_severity_rank(sev) > fm_diagnose_severity_rank(str(d, "severity")))
			cJSON_ReplaceItemInObjectCaseSensitive(d, "severity", cJSON_CreateString(sev));
		if (!d)
			d = emit(c, signal, sev, str_or(f, "id", signal), "%s logged %.0f time%s: %s",
				 str_or(f, "source", "?"), num_or(f, "count", 1), num_or(f, "count", 1) == 1 ? "" : "s",
				 str_or(f, "message", "?"));
		/* a code about a container (a crash loop kubelet logged): the
		 * rule's container field names it */
		if (made && d && !code_info(signal)->component)
			about(c, d, str_or(fields, "container", "unknown"));
		evidence(c, d, f, FIELDS("source", "count", "last_us", "fields", "message"));
	}
}

/* --- rules: the agent itself --------------------------------------------- */

/* A state file the agent could not take at start (agent.state "corrupt",
 * one per file, put by the run loop while the copy kept aside is there):
 * put aside, the agent started from a clean state. A warning keyed by the
 * file's name: what it held (unsent reports, a log cursor) is lost, the
 * agent itself runs; a damaged state file is often the first sign of a
 * damaged filesystem. */
static void rule_state_corrupt(struct ctx *c, const cJSON *f)
{
	const char *dir = str_or(f, "path", "?"), *file = str_or(f, "file", "?"), *kept = str_or(f, "kept", "");
	cJSON *d;
	if (kept[0])
		d = emit(c, "state-corrupt", "warning", file,
			 "the agent's state file %s/%s %s: kept aside as %s, the agent started from a clean state",
			 dir, file, str_or(f, "reason", "?"), kept);
	else
		d = emit(c, "state-corrupt", "warning", file,
			 "the agent's state file %s/%s %s and could not be put aside: the agent started from a clean state",
			 dir, file, str_or(f, "reason", "?"));
	evidence(c, d, f, FIELDS("path", "file", "kept", "reason", "at"));
	if (kept[0])
		remedy(c, d, "ls -ln %s/%s.bad-*", dir, file);
	remedy(c, d, "journalctl -k | grep -iE 'I/O error|EXT4-fs error|read-only'");
	if (kept[0])
		remedy(c, d, "rm %s/%s once looked at (this diagnosis resolves then)", dir, kept);
}

/* The state dir cannot be written (agent.state, put by the run loop): the
 * agent still reports, but what it would need after a restart (the unsent
 * reports, the journal and kmsg cursors) is in its memory only. A warning:
 * nothing of the cluster is broken by it. Explains nothing and is
 * explained by nothing (disk-pressure is keyed by a mount point the
 * explain table cannot match to this dir). */
static void rule_agent(struct ctx *c)
{
	for (size_t i = 0; i < fm_facts_count(c->facts); i++) {
		const cJSON *f = fm_facts_at(c->facts, i);
		if (!kind_is(f, "agent.state"))
			continue;
		if (strcmp(str_or(f, "state", "ok"), "corrupt") == 0) {
			rule_state_corrupt(c, f);
			continue;
		}
		if (strcmp(str_or(f, "state", "ok"), "unwritable") != 0)
			continue;
		const char *dir = str_or(f, "path", str_or(f, "id", "?"));
		cJSON *d = emit(c, "state-unwritable", "warning", str_or(f, "id", dir),
				"the agent cannot persist its state: %s; the unsent reports and the log cursors are kept in memory, a restart of the agent would lose them",
				str_or(f, "reason", "?"));
		evidence(c, d, f, FIELDS("path", "device", "reason", "failed_writes", "failing_writes", "last_file",
					 "last_error"));
		if (num_or(f, "last_errno", 0) == ENOSPC) {
			remedy(c, d, "df -h %s", dir);
			remedy(c, d, "du -xh --max-depth=2 \"$(stat -c %%m %s)\" 2>/dev/null | sort -h | tail -20", dir);
		} else {
			remedy(c, d, "journalctl -k | grep -iE 'I/O error|EXT4-fs error|read-only'");
		}
		remedy(c, d, "do not restart fleetmedic-agent until it writes %s again (this diagnosis resolves then)", dir);
	}
}

/* --- the whole ------------------------------------------------------------ */

typedef void (*rule_fn)(struct ctx *c);
static const rule_fn rules[] = {rule_etcd, rule_apiserver, rule_certs, rule_hal, rule_docker, rule_logs, rule_agent};

int fm_diagnose_severity_rank(const char *severity)
{
	if (!severity)
		return -1;
	if (strcmp(severity, "critical") == 0)
		return 2;
	if (strcmp(severity, "warning") == 0)
		return 1;
	if (strcmp(severity, "info") == 0)
		return 0;
	return -1;
}

/* --- what explains what, on this node ------------------------------------ */

/* How strongly a cause explains a symptom: not at all; through what the
 * symptom's component depends on (kube-apiserver refusing while etcd is
 * down: it exits when it cannot reach etcd, but something of its own may
 * be wrong too); or directly (the symptom's component is the cause's, its
 * data lies on the damaged filesystem, it names the failing check). A
 * symptom is folded into its strongest cause only. */
enum strength { NO_LINK, DEPENDS, DIRECT };

static const char *code_of(const cJSON *d)
{
	return str_or(d, "code", "");
}

static const char *comp_of(const cJSON *d)
{
	return str_or(d, "component", "");
}


/* The same block device, whichever way it is written. */
static bool same_dev(const char *a, const char *b)
{
	return a && b && strcmp(devname(a), devname(b)) == 0;
}

/* Whether the control plane runs as static pods in the container runtime
 * (kubeadm: etcd found through its manifest), or comp has a container in
 * it. On k3s, etcd and kube-apiserver are part of the k3s process. */
static bool in_runtime(const struct ctx *c, const char *comp)
{
	for (size_t i = 0; i < fm_facts_count(c->facts); i++) {
		const cJSON *f = fm_facts_at(c->facts, i);
		if ((rt_is(f, "container") || rt_is(f, "crashloop")) && is(str_or(f, "container", ""), comp))
			return true;
		if (kind_is(f, "etcd.endpoint") && strstr(str_or(f, "origin", ""), "/manifests/") &&
		    (is(comp, "etcd") || is(comp, "kube-apiserver") || is(comp, "kube-controller-manager") ||
		     is(comp, "kube-scheduler")))
			return true;
	}
	return false;
}

/* Whether the runtime answers (Docker, or the CRI's) and holds a
 * container of comp. */
static bool runtime_holds(const struct ctx *c, const char *comp)
{
	bool answers = false, holds = false;
	for (size_t i = 0; i < fm_facts_count(c->facts); i++) {
		const cJSON *f = fm_facts_at(c->facts, i);
		answers |= (kind_is(f, "docker.daemon") || kind_is(f, "cri.runtime")) && is(str_or(f, "state", ""), "ok");
		holds |= (rt_is(f, "container") || rt_is(f, "crashloop")) && is(str_or(f, "container", ""), comp);
	}
	return answers && holds;
}

/* Whether path (a host path: "/var/lib/etcd") lives on device dev. */
static bool path_on(const struct ctx *c, const char *path, const char *dev)
{
	return same_dev(device_of(c, path), dev);
}

/* Whether the container runtime keeps its data (image layers, containers)
 * on dev: Docker's or containerd's default data root is on it, or the
 * daemon named an overlay2 path under its mount point. */
static bool runtime_on(const struct ctx *c, const char *dev)
{
	const char *mp = mount_of(c, dev);
	if ((mp && docker_on(c, mp)) || path_on(c, "/var/lib/docker", dev))
		return true;
	/* Docker's containers live under its own data root, not containerd's */
	for (size_t i = 0; i < fm_facts_count(c->facts); i++) {
		const cJSON *f = fm_facts_at(c->facts, i);
		if ((kind_is(f, "docker.daemon") && !is(str_or(f, "state", "absent"), "absent") &&
		     !is(str_or(f, "state", ""), "config")) ||
		    kind_is(f, "docker.container") || kind_is(f, "docker.crashloop"))
			return false;
	}
	return path_on(c, "/var/lib/containerd", dev);
}

/* Whether what component comp keeps on disk lies on dev: etcd's data dir,
 * kubelet's root dir, the runtime's data root; and for a component run in
 * the runtime, its image layers. */
static bool data_on(const struct ctx *c, const char *comp, const char *dev, char *why, size_t n)
{
	if (is(comp, "etcd") && path_on(c, "/var/lib/etcd", dev)) {
		snprintf(why, n, "etcd's data (/var/lib/etcd) is on %s", devname(dev));
		return true;
	}
	if (is(comp, "kubelet") && path_on(c, "/var/lib/kubelet", dev)) {
		snprintf(why, n, "kubelet's root dir (/var/lib/kubelet) is on %s", devname(dev));
		return true;
	}
	if (!runtime_on(c, dev))
		return false;
	if (is(comp, "runtime")) {
		snprintf(why, n, "the container runtime's data root is on %s", devname(dev));
		return true;
	}
	if (!is(comp, "kubelet") && in_runtime(c, comp)) {
		snprintf(why, n, "%s runs from image layers on %s (the container runtime's data root)", comp,
			 devname(dev));
		return true;
	}
	return false;
}

/* The same, for a filesystem named by its mount point (disk-pressure). */
static bool data_under(const struct ctx *c, const char *comp, const char *mp, char *why, size_t n)
{
	const char *dev = NULL;
	for (size_t i = 0; i < fm_facts_count(c->facts) && !dev; i++) {
		const cJSON *f = fm_facts_at(c->facts, i);
		if (kind_is(f, "hal.fs") && is(str_or(f, "mount_point", ""), mp))
			dev = str(f, "device");
	}
	return dev && data_on(c, comp, dev, why, n);
}

/* How kube-apiserver's failure (symptom b) depends on etcd: DIRECT when it
 * names its etcd check ([-]etcd in /readyz or /livez), DEPENDS when it does
 * not serve at all (it exits when it cannot reach etcd), else NO_LINK. */
static enum strength needs_etcd(const struct ctx *c, const cJSON *b)
{
	if (!is(code_of(b), "apiserver-unreachable"))
		return NO_LINK;
	const char *url = str_or(b, "key", "");
	const char *hz[] = {"apiserver.readyz", "apiserver.livez"};
	for (size_t i = 0; i < 2; i++) {
		const cJSON *f = fm_facts_get(c->facts, hz[i], url), *x;
		cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(f, "failed"))
		{
			if (cJSON_IsString(x) && strncmp(x->valuestring, "etcd", 4) == 0)
				return DIRECT;
		}
	}
	const cJSON *ep = fm_facts_get(c->facts, "apiserver.endpoint", url);
	const char *st = str_or(ep, "state", "");
	return is(st, "refused") || is(st, "timeout") || is(st, "closed") || is(st, "reset") ? DEPENDS : NO_LINK;
}

/* Whether etcd (diagnosis d, etcd-unreachable) does not serve at all: its
 * port refuses or is silent, or it answers unhealthy. */
static bool etcd_down(const struct ctx *c, const cJSON *d)
{
	const char *url = str_or(d, "key", "");
	const cJSON *ep = fm_facts_get(c->facts, "etcd.endpoint", url);
	const char *st = str_or(ep, "state", "");
	return is(st, "refused") || is(st, "timeout") || is(st, "closed") || is(st, "reset") ||
	       is_false(fm_facts_get(c->facts, "etcd.health", url), "healthy");
}

/* Whether one of d's log lines (its evidence's messages) says word. */
static bool says(const cJSON *d, const char *word)
{
	const cJSON *e;
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(d, "evidence"))
	{
		const char *m = str(e, "message");
		if (m && strstr(m, word))
			return true;
	}
	return false;
}

/* The evidence of d of that kind, or NULL. */
static const cJSON *evidence_of(const cJSON *d, const char *kind)
{
	const cJSON *e;
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(d, "evidence"))
	{
		if (kind_is(e, kind))
			return e;
	}
	return NULL;
}

/* The endpoint fact behind an unreachable-server symptom. */
static const cJSON *endpoint_of(const struct ctx *c, const cJSON *b)
{
	const char *kind = is(code_of(b), "etcd-unreachable")	     ? "etcd.endpoint"
			   : is(code_of(b), "apiserver-unreachable") ? "apiserver.endpoint"
								     : NULL;
	return kind ? fm_facts_get(c->facts, kind, str_or(b, "key", "")) : NULL;
}

static bool ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), t = strlen(tail);
	return n >= t && strcmp(s + n - t, tail) == 0;
}

/* The component that uses certificate file f (kubeadm's and k3s's names),
 * and whether it is the one kube-apiserver presents to etcd. */
static const char *cert_user(const char *f, bool *etcd_client)
{
	*etcd_client = ends_with(f, "/apiserver-etcd-client.crt") || ends_with(f, "/tls/etcd/client.crt");
	if (*etcd_client || strstr(f, "/apiserver") || strstr(f, "front-proxy") ||
	    strstr(f, "serving-kube-apiserver") || strstr(f, "client-kube-apiserver"))
		return "kube-apiserver";
	if (strstr(f, "/etcd/"))
		return "etcd";
	if (strstr(f, "controller-manager") || strstr(f, "controller.crt"))
		return "kube-controller-manager";
	if (strstr(f, "scheduler"))
		return "kube-scheduler";
	if (strstr(f, "kubelet"))
		return "kubelet";
	return NULL;
}

/* An expired certificate f explains symptom b when b's component uses it:
 * the agent's own TLS to the server failing with it (the CA or client
 * certificate the probe used, the server's serving certificate), the
 * apiserver's etcd check with its etcd client certificate, a crash loop of
 * the component that loads it. */
static enum strength cert_link(const struct ctx *c, const char *f, const cJSON *b, char *why, size_t n)
{
	bool etcd_client = false;
	const char *user = cert_user(f, &etcd_client);
	const cJSON *ep = endpoint_of(c, b);
	if (ep && is(str_or(ep, "state", ""), "tls")) {
		bool ours = is(str_or(ep, "ca_file", ""), f) || is(str_or(ep, "cert_file", ""), f);
		bool serving = user && is(user, comp_of(b)) && !etcd_client;
		if (ours || serving) {
			snprintf(why, n, "%s's TLS fails (%s) with %s, %s", comp_of(b), str_or(ep, "tls", "?"), f,
				 ours ? "which the agent uses to reach it" : "its serving certificate");
			return DIRECT;
		}
	}
	if (etcd_client && needs_etcd(c, b)) {
		snprintf(why, n, "kube-apiserver reaches etcd with %s", f);
		return DIRECT;
	}
	if (is(code_of(b), "control-plane-crashloop") && user && is(user, comp_of(b))) {
		snprintf(why, n, "%s loads %s", user, f);
		return DIRECT;
	}
	return NO_LINK;
}

/* An unsynchronised clock explains a certificate only when the clock's
 * error (maxerror) reaches back over its notAfter, and a server's TLS
 * failure only when the handshake failed on a certificate's validity;
 * never an unreachable server by itself. */
static enum strength clock_link(const struct ctx *c, const cJSON *b, char *why, size_t n)
{
	const cJSON *clk = fm_facts_get(c->facts, "hal.clock", "clock");
	if (is(code_of(b), "cert-expired")) {
		const cJSON *cert = fm_facts_get(c->facts, "cert", str_or(b, "key", ""));
		double maxerr = 0, days = 0;
		if (is_false(clk, "synchronised") && num(clk, "maxerror_us", &maxerr) &&
		    num(cert, "days_left", &days) && -days * 86400 < maxerr / 1e6) {
			snprintf(why, n, "the clock may be %.0f s off, and %s expired %.1f days ago", maxerr / 1e6,
				 str_or(b, "key", "?"), -days);
			return DIRECT;
		}
		return NO_LINK;
	}
	/* a clock behind the certificates makes them not yet valid; which way
	 * an unsynchronised clock is off is not known otherwise */
	const cJSON *ep = endpoint_of(c, b);
	if (ep && is(str_or(ep, "state", ""), "tls") && is(str_or(ep, "tls", ""), "cert-not-yet-valid") &&
	    is_true(clk, "clock_before_newest_cert")) {
		snprintf(why, n, "%s's TLS fails on a certificate not yet valid, and the clock is before %s was issued",
			 comp_of(b), str_or(clk, "newest_cert", "the newest certificate"));
		return DIRECT;
	}
	return NO_LINK;
}

/* Whether cause a explains symptom b on this node, how strongly, and why
 * (one sentence, the link's evidence). */
static enum strength link(const struct ctx *c, const cJSON *a, const cJSON *b, char *why, size_t n)
{
	const char *ac = code_of(a), *bc = code_of(b), *bcomp = comp_of(b), *key = str_or(a, "key", "");
	why[0] = '\0';
	if (a == b || !may_explain(ac, bc) ||
	    fm_diagnose_severity_rank(str(a, "severity")) < fm_diagnose_severity_rank(str(b, "severity")))
		return NO_LINK;
	if (is(ac, "container-name-conflict") || is(ac, "control-plane-crashloop")) {
		if (is(comp_of(a), bcomp)) {
			snprintf(why, n, is(ac, "container-name-conflict") ? "%s's container cannot be created"
									    : "%s's container keeps exiting",
				 bcomp);
			return DIRECT;
		}
		enum strength s = is(comp_of(a), "etcd") ? needs_etcd(c, b) : NO_LINK;
		if (s)
			snprintf(why, n, "kube-apiserver needs etcd, whose container %s",
				 is(ac, "container-name-conflict") ? "cannot be created" : "keeps exiting");
		return s;
	}
	if (is(ac, "etcd-unreachable") || is(ac, "etcd-nospace")) {
		enum strength s = needs_etcd(c, b);
		/* only an etcd that does not serve takes kube-apiserver down:
		 * the agent's own client certificate refused says nothing of it */
		if ((is(ac, "etcd-nospace") || !etcd_down(c, a)) && s != DIRECT)
			return NO_LINK;
		if (s)
			snprintf(why, n, s == DIRECT ? "kube-apiserver's etcd check fails" : "kube-apiserver exits when it cannot reach etcd");
		return s;
	}
	if (is(ac, "fs-corruption"))
		return data_on(c, bcomp, key, why, n) ? DIRECT : NO_LINK;
	if (is(ac, "disk-pressure"))
		return data_under(c, bcomp, key, why, n) ? DIRECT : NO_LINK;
	if (is(ac, "cert-expired"))
		return cert_link(c, key, b, why, n);
	if (is(ac, "clock-unsynced"))
		return clock_link(c, b, why, n);
	if (is(ac, "undervoltage")) {
		/* the firmware throttles on under-voltage (not on heat alone);
		 * an SD card on a sagging supply stalls its writes */
		const cJSON *t = evidence_of(b, "hal.throttle");
		if (is(bc, "throttled") && t && (is_true(t, "throttled_now") || is_true(t, "freq_capped_now"))) {
			snprintf(why, n, "the firmware caps the CPU while the supply sags");
			return DIRECT;
		}
		const char *dev = device_of(c, "/var/lib/etcd");
		if (is(bc, "etcd-slow-disk") && dev && strncmp(dev, "mmcblk", 6) == 0) {
			snprintf(why, n, "etcd's data is on the SD card/eMMC %s, on the same sagging supply", dev);
			return DIRECT;
		}
		return NO_LINK;
	}
	const cJSON *bev = cJSON_GetObjectItemCaseSensitive(b, "evidence");
	bool restarting = is(bc, "control-plane-crashloop") && (has_evidence(bev, "docker.crashloop", str_or(b, "key", "")) ||
								has_evidence(bev, "cri.crashloop", str_or(b, "key", "")));
	if (is(ac, "container-runtime-down")) {
		/* kubelet exits at start when its runtime's socket does not answer;
		 * a container the runtime holds while it answers is not the down
		 * runtime's (containerd's unit failing beside a healthy dockerd) */
		if (is(bc, "kubelet-down") ? says(b, "runtime") || says(b, ".sock") || says(b, "CRI")
					   : !runtime_holds(c, bcomp) &&
						     (is(bc, "control-plane-crashloop") || in_runtime(c, bcomp))) {
			snprintf(why, n, is(bc, "kubelet-down") ? "kubelet fails on its container runtime's socket"
								: "%s runs in the container runtime",
				 bcomp);
			return DIRECT;
		}
		return NO_LINK;
	}
	if (is(ac, "kubelet-down")) {
		/* kubelet restarting a crash-looping container is alive; one
		 * exited and never started again, or a static pod gone, is not */
		bool crashloop = is(bc, "control-plane-crashloop");
		if ((crashloop && !restarting) || (!crashloop && in_runtime(c, bcomp))) {
			snprintf(why, n, crashloop ? "%s exited, and only kubelet starts it again" : "kubelet starts %s (a static pod)",
				 bcomp);
			return DIRECT;
		}
		return NO_LINK;
	}
	if (is(ac, "memory-cgroup-disabled") || is(ac, "swap-enabled")) {
		bool swap = is(ac, "swap-enabled");
		if (is(bc, "kubelet-down")) {
			if (swap ? !says(b, "swap") : !says(b, "cgroup") && !says(b, "memory"))
				return NO_LINK;
			snprintf(why, n, "kubelet refuses to start %s", swap ? "with swap on" : "without the memory cgroup");
			return DIRECT;
		}
		if (in_runtime(c, bcomp)) {
			snprintf(why, n, "kubelet refuses to start, and it starts %s (a static pod)", bcomp);
			return DEPENDS;
		}
	}
	return NO_LINK;
}

static int rank_of(const cJSON *d)
{
	/* Causes (codes that explain something) before pure symptoms at the
	 * same severity. */
	int r = fm_diagnose_severity_rank(str_or(d, "severity", "")) * 2;
	const struct code_info *ci = code_info(code_of(d));
	return ci && ci->explains[0] ? r + 1 : r;
}

/* Each diagnosis's strongest cause among the others (by strength, then
 * rank, then order), or none: the attribution that decides what stands on
 * its own. The table is acyclic, so the parents form a forest. */
struct attribution {
	size_t n;
	cJSON **d;
	int *parent;
	char (*why)[200];
};

static void attribution_free(struct attribution *at)
{
	free(at->d);
	free(at->parent);
	free(at->why);
}

/* -ENOMEM or 0. */
static int attribute(const struct ctx *c, struct attribution *at)
{
	size_t n = (size_t)cJSON_GetArraySize(c->out);
	at->n = 0;
	at->d = calloc(n + 1, sizeof(*at->d));
	at->parent = calloc(n + 1, sizeof(*at->parent));
	at->why = calloc(n + 1, sizeof(*at->why));
	if (!at->d || !at->parent || !at->why)
		return -ENOMEM;
	cJSON *d;
	cJSON_ArrayForEach(d, c->out)
	{
		at->d[at->n++] = d;
	}
	for (size_t b = 0; b < at->n; b++) {
		enum strength best = NO_LINK;
		at->parent[b] = -1;
		for (size_t a = 0; a < at->n; a++) {
			char why[200];
			enum strength s = link(c, at->d[a], at->d[b], why, sizeof(why));
			if (s > best || (s && s == best && rank_of(at->d[a]) > rank_of(at->d[at->parent[b]]))) {
				best = s;
				at->parent[b] = (int)a;
				snprintf(at->why[b], sizeof(at->why[b]), "%s", why);
			}
		}
	}
	return 0;
}

static void add_code(cJSON *list, const char *code)
{
	const cJSON *x;
	cJSON_ArrayForEach(x, list)
	{
		if (strcmp(x->valuestring, code) == 0)
			return;
	}
	cJSON_AddItemToArray(list, cJSON_CreateString(code));
}

/* Folds into top (a copy of at->d[t]) everything attributed to it,
 * directly or through a chain: their codes into "explains", each with its
 * component and why into "links", their evidence into its evidence. */
static void absorb(struct ctx *c, cJSON *top, const struct attribution *at, size_t t)
{
	cJSON *names = cJSON_CreateArray(), *links = cJSON_CreateArray();
	cJSON *ev = cJSON_GetObjectItemCaseSensitive(top, "evidence");
	/* each diagnosis has one parent: it is pushed at most once */
	size_t *stack = malloc((at->n + 1) * sizeof(*stack)), ns = 0;
	if (!stack) {
		c->oom = true;
		ns = 0;
	} else {
		stack[ns++] = t;
	}
	while (ns > 0 && names && links) {
		size_t p = stack[--ns];
		for (size_t b = 0; b < at->n; b++) {
			if (at->parent[b] != (int)p)
				continue;
			stack[ns++] = b;
			const cJSON *o = at->d[b];
			add_code(names, code_of(o));
			cJSON *l = cJSON_CreateObject();
			if (!l || !cJSON_AddStringToObject(l, "code", code_of(o)) ||
			    !cJSON_AddStringToObject(l, "key", str_or(o, "key", "")) ||
			    !cJSON_AddStringToObject(l, "component", comp_of(o)) ||
			    !cJSON_AddStringToObject(l, "via", code_of(at->d[p])) ||
			    !cJSON_AddStringToObject(l, "because", at->why[b]) || !cJSON_AddItemToArray(links, l)) {
				cJSON_Delete(l);
				c->oom = true;
			}
			const cJSON *e;
			cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(o, "evidence"))
			{
				if (!has_evidence(ev, str_or(e, "kind", ""), str_or(e, "id", "")))
					cJSON_AddItemToArray(ev, cJSON_Duplicate(e, 1));
			}
		}
	}
	free(stack);
	if (cJSON_GetArraySize(names) > 0 && cJSON_GetArraySize(links) > 0) {
		if (!cJSON_AddItemToObject(top, "explains", names)) {
			cJSON_Delete(names);
			c->oom = true;
		}
		if (!cJSON_AddItemToObject(top, "links", links)) {
			cJSON_Delete(links);
			c->oom = true;
		}
	} else {
		cJSON_Delete(names);
		cJSON_Delete(links);
	}
}

cJSON *fm_diagnose(const struct fm_facts *facts, int64_t now)
{
	struct ctx c = {.facts = facts, .now = now, .out = cJSON_CreateArray()};
	struct attribution a = {0}, *at = &a;
	cJSON *result = NULL;
	if (!c.out)
		goto out_oom;
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		rules[i](&c);
	if (attribute(&c, at) < 0)
		goto out_oom;

	result = cJSON_CreateArray();
	if (!result)
		goto out_oom;
	/* The top: what nothing present explains, in rank order (stable). */
	for (int rank = 5; rank >= -2; rank--) {
		for (size_t i = 0; i < at->n; i++) {
			if (rank_of(at->d[i]) != rank || at->parent[i] >= 0)
				continue;
			cJSON *copy = cJSON_Duplicate(at->d[i], 1);
			if (!copy || !cJSON_AddItemToArray(result, copy)) {
				cJSON_Delete(copy);
				goto out_oom;
			}
			absorb(&c, copy, at, i);
		}
	}
	if (c.oom)
		goto out_oom;
	cJSON_Delete(c.out);
	attribution_free(at);
	return result;

out_oom:
	cJSON_Delete(result);
	cJSON_Delete(c.out);
	attribution_free(at);
	return NULL;
}

bool fm_diagnose_critical(const cJSON *diagnoses)
{
	const cJSON *d;
	cJSON_ArrayForEach(d, diagnoses)
	{
		if (fm_diagnose_severity_rank(str(d, "severity")) == 2)
			return true;
	}
	return false;
}

/* --- stability ------------------------------------------------------------ */

struct fm_diag_track {
	uint64_t hold_ms;
	/* The evaluations so far: a diagnosis present in the last one has
	 * "seen_gen" == gen. (Not its time: two evaluations may fall in one
	 * millisecond, the second without it.) */
	uint64_t gen;
	cJSON *active; /* array of diagnoses, each with "last_seen_ms" and "seen_gen" */
};

/* The tracker's own fields off a copy of a diagnosis. */
static void strip_tracking(cJSON *o)
{
	cJSON_DeleteItemFromObjectCaseSensitive(o, "last_seen_ms");
	cJSON_DeleteItemFromObjectCaseSensitive(o, "seen_gen");
}

/* A copy of d seen now (in the evaluation numbered gen). */
static cJSON *seen_copy(const cJSON *d, uint64_t now_ms, uint64_t gen)
{
	cJSON *copy = cJSON_Duplicate(d, 1);
	if (copy)
		strip_tracking(copy);
	if (!copy || !cJSON_AddNumberToObject(copy, "last_seen_ms", (double)now_ms) ||
	    !cJSON_AddNumberToObject(copy, "seen_gen", (double)gen)) {
		cJSON_Delete(copy);
		return NULL;
	}
	return copy;
}

void fm_diag_track_set_hold(struct fm_diag_track *t, uint64_t hold_ms)
{
	t->hold_ms = hold_ms;
}

struct fm_diag_track *fm_diag_track_new(uint64_t hold_ms)
{
	struct fm_diag_track *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->hold_ms = hold_ms;
	t->active = cJSON_CreateArray();
	if (!t->active)
		fm_diag_track_delete(&t);
	return t;
}

void fm_diag_track_delete(struct fm_diag_track **t)
{
	if (!t || !*t)
		return;
	cJSON_Delete((*t)->active);
	free(*t);
	*t = NULL;
}

static cJSON *changed(const cJSON *d, const char *change, bool whole)
{
	cJSON *o;
	if (whole) {
		o = cJSON_Duplicate(d, 1);
		if (o)
			strip_tracking(o);
	} else {
		o = cJSON_CreateObject();
		if (o) {
			cJSON_AddStringToObject(o, "code", str_or(d, "code", ""));
			cJSON_AddStringToObject(o, "key", str_or(d, "key", ""));
			cJSON_AddStringToObject(o, "summary", str_or(d, "summary", ""));
		}
	}
	if (o && !cJSON_AddStringToObject(o, "change", change)) {
		cJSON_Delete(o);
		o = NULL;
	}
	return o;
}

static bool same_field(const cJSON *a, const cJSON *b, const char *field)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(a, field), *y = cJSON_GetObjectItemCaseSensitive(b, field);
	if (!x || !y)
		return !x && !y;
	return cJSON_Compare(x, y, true);
}

int fm_diag_track_seed(struct fm_diag_track *t, const cJSON *active, uint64_t now_ms)
{
	cJSON *next = cJSON_CreateArray();
	const cJSON *d;
	if (!next)
		return -ENOMEM;
	cJSON_ArrayForEach(d, active)
	{
		if (!str(d, "code") || !str(d, "key") || find(next, str(d, "code"), str(d, "key")))
			continue;
		cJSON *copy = seen_copy(d, now_ms, t->gen);
		if (!copy || !cJSON_AddItemToArray(next, copy)) {
			cJSON_Delete(copy);
			cJSON_Delete(next);
			return -ENOMEM;
		}
	}
	cJSON_Delete(t->active);
	t->active = next;
	return 0;
}

/* Whether some diagnosis of the evaluation explains (code, key): names it
 * in its links. */
static bool explained(const cJSON *diagnoses, const char *code, const char *key)
{
	const cJSON *d, *x;
	cJSON_ArrayForEach(d, diagnoses)
	{
		cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(d, "links"))
		{
			if (strcmp(str_or(x, "code", ""), code) == 0 && strcmp(str_or(x, "key", ""), key) == 0)
				return true;
		}
	}
	return false;
}

cJSON *fm_diag_track_update(struct fm_diag_track *t, const cJSON *diagnoses, uint64_t now_ms)
{
	cJSON *changes = cJSON_CreateArray();
	cJSON *next = cJSON_Duplicate(t->active, 1);
	if (!changes || !next)
		goto out_oom;
	const cJSON *d;
	cJSON_ArrayForEach(d, diagnoses)
	{
		const char *code = str_or(d, "code", ""), *key = str_or(d, "key", "");
		cJSON *have = find(next, code, key);
		cJSON *copy = seen_copy(d, now_ms, t->gen + 1);
		if (!copy)
			goto out_oom;
		if (have) {
			/* Still raised; what a person acts on (severity, summary,
			 * remedy) may have changed: that is reported too. */
			bool differs = !same_field(have, copy, "severity") || !same_field(have, copy, "summary") ||
				       !same_field(have, copy, "remedy") || !same_field(have, copy, "explains");
			cJSON *ch = differs ? changed(copy, "changed", true) : NULL;
			if (differs && (!ch || !cJSON_AddItemToArray(changes, ch))) {
				cJSON_Delete(ch);
				cJSON_Delete(copy);
				goto out_oom;
			}
			cJSON_ReplaceItemViaPointer(next, have, copy);
			continue;
		}
		cJSON *ch = changed(copy, "raised", true);
		if (!ch || !cJSON_AddItemToArray(changes, ch) || !cJSON_AddItemToArray(next, copy)) {
			cJSON_Delete(ch);
			cJSON_Delete(copy);
			goto out_oom;
		}
	}
	cJSON *a = next->child;
	while (a) {
		cJSON *after = a->next;
		double seen = 0, gen = 0;
		num(a, "last_seen_ms", &seen);
		num(a, "seen_gen", &gen);
		bool absent = gen < (double)(t->gen + 1); /* not in this evaluation */
		/* Absent because a cause now explains it is not a flap: the
		 * symptom is folded into its cause at once, not shown beside it
		 * for the hold time. */
		bool absorbed = absent && explained(diagnoses, str_or(a, "code", ""), str_or(a, "key", ""));
		if (absent && (absorbed || (double)now_ms - seen >= (double)t->hold_ms)) {
			cJSON *ch = changed(a, "resolved", false);
			if (!ch || !cJSON_AddItemToArray(changes, ch)) {
				cJSON_Delete(ch);
				goto out_oom;
			}
			cJSON_Delete(cJSON_DetachItemViaPointer(next, a));
		}
		a = after;
	}
	cJSON_Delete(t->active);
	t->active = next;
	t->gen++;
	return changes;

out_oom:
	cJSON_Delete(changes);
	cJSON_Delete(next);
	return NULL;
}

uint64_t fm_diag_track_due_ms(const struct fm_diag_track *t)
{
	uint64_t due = 0;
	const cJSON *a;
	cJSON_ArrayForEach(a, t->active)
	{
		double seen = 0, gen = 0;
		num(a, "last_seen_ms", &seen);
		num(a, "seen_gen", &gen);
		if (gen >= (double)t->gen)
			continue; /* present in the last evaluation */
		uint64_t at = (uint64_t)seen + t->hold_ms;
		if (!due || at < due)
			due = at;
	}
	return due;
}

cJSON *fm_diag_track_active(const struct fm_diag_track *t)
{
	cJSON *out = cJSON_Duplicate(t->active, 1);
	cJSON *d;
	cJSON_ArrayForEach(d, out)
	{
		strip_tracking(d);
	}
	return out;
}
