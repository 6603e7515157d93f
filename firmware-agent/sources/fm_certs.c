/* fm_certs: see fm_certs.h. */
#include "fm_certs.h"

#include "fm_discover.h"
#include "fm_httpc.h"
#include "fm_kubeconfig.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_DIR_ENTRIES 1024 /* names looked at in one directory */

void fm_certs_rfc3339(char *out, size_t size, time_t t)
{
	struct tm tm;
	if (!gmtime_r(&t, &tm) || !strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, size, "%s", "");
}

/* Whole days from now to t, floored: -1 from one second after t up to a
 * full day after it, the way "expired yesterday" reads. */
static int64_t days_until(time_t t, time_t now)
{
	int64_t d = (int64_t)t - (int64_t)now;
	int64_t days = d / 86400;
	if (d % 86400 < 0)
		days--;
	return days;
}

cJSON *fm_certs_fields(const struct fm_cert_info *ci, const char *file, time_t now)
{
	char nb[32], na[32];
	cJSON *f = cJSON_CreateObject();
	if (!f)
		return NULL;
	fm_certs_rfc3339(nb, sizeof(nb), ci->not_before);
	fm_certs_rfc3339(na, sizeof(na), ci->not_after);
	bool expired = now > ci->not_after;
	bool not_yet = now < ci->not_before;
	if (file)
		cJSON_AddStringToObject(f, "file", file);
	cJSON_AddStringToObject(f, "subject", ci->subject);
	cJSON_AddStringToObject(f, "issuer", ci->issuer);
	cJSON_AddStringToObject(f, "not_before", nb);
	cJSON_AddStringToObject(f, "not_after", na);
	cJSON_AddNumberToObject(f, "days_left", (double)days_until(ci->not_after, now));
	cJSON_AddBoolToObject(f, "expired", expired);
	cJSON_AddBoolToObject(f, "not_yet_valid", not_yet);
	cJSON_AddBoolToObject(f, "clock_outside_validity", expired || not_yet);
	cJSON_AddBoolToObject(f, "is_ca", ci->is_ca);
	cJSON *sans = cJSON_AddArrayToObject(f, "sans");
	for (int i = 0; sans && i < ci->n_sans; i++)
		cJSON_AddItemToArray(sans, cJSON_CreateString(ci->sans[i]));
	return f;
}

int fm_certs_put_info(struct fm_facts *facts, const char *id, const char *file,
		      const struct fm_cert_info *ci, time_t now)
{
	cJSON *f = fm_certs_fields(ci, file, now);
	return f && fm_facts_put(facts, "cert", id, f) ? 0 : -ENOMEM;
}

static const char *state_of(int rc)
{
	switch (rc) {
	case -ENOENT: return "missing";
	case -EINVAL:
	case -ENODATA: return "malformed";
	case -EMSGSIZE: return "too-large";
	}
	return "unreadable";
}

static void put_failure(struct fm_facts *facts, const char *id, const char *file, int rc,
			const char *reason)
{
	cJSON *f = cJSON_CreateObject();
	if (!f)
		return;
	cJSON_AddStringToObject(f, "file", file);
	cJSON_AddStringToObject(f, "state", state_of(rc));
	cJSON_AddStringToObject(f, "reason", reason);
	fm_facts_put(facts, "cert", id, f);
}

/* Facts for ci[0..n): the first under id, the others under id#2 ... */
static int put_all(struct fm_facts *facts, const char *id, const char *file,
		   const struct fm_cert_info *ci, size_t n, time_t now)
{
	char sub[PATH_MAX + 16];
	for (size_t i = 0; i < n; i++) {
		if (i)
			snprintf(sub, sizeof(sub), "%s#%zu", id, i + 1);
		int rc = fm_certs_put_info(facts, i ? sub : id, file, &ci[i], now);
		if (rc < 0)
			return rc;
	}
	return (int)n;
}

/* quiet_nodata: a file with PEM but no certificate (a key) is no news. */
static int put_file(struct fm_facts *facts, const char *path, time_t now, bool quiet_nodata)
{
	struct fm_cert_info ci[FM_CERTS_PER_FILE];
	char err[PATH_MAX + 200];
	size_t n;
	int rc = fm_tls_cert_info_file(path, ci, FM_CERTS_PER_FILE, &n, err, sizeof(err));
	if (rc == -ENODATA && quiet_nodata)
		return rc;
	if (rc < 0) {
		put_failure(facts, path, path, rc, err);
		return rc;
	}
	return put_all(facts, path, path, ci, n, now);
}

int fm_certs_put_file(struct fm_facts *facts, const char *path, time_t now)
{
	return put_file(facts, path, now, false);
}

int fm_certs_put_pem(struct fm_facts *facts, const char *id, const char *file, const char *pem,
		     size_t len, time_t now)
{
	struct fm_cert_info ci[FM_CERTS_PER_FILE];
	char err[256], reason[PATH_MAX + 300];
	size_t n;
	int rc = fm_tls_cert_info_pem(pem, len, ci, FM_CERTS_PER_FILE, &n, err, sizeof(err));
	if (rc < 0) {
		snprintf(reason, sizeof(reason), "%s: embedded certificate: %s", id, err);
		put_failure(facts, id, file, rc, reason);
		return rc;
	}
	return put_all(facts, id, file, ci, n, now);
}

static bool cert_name(const char *name)
{
	size_t l = strlen(name);
	return l > 4 && (strcmp(name + l - 4, ".crt") == 0 || strcmp(name + l - 4, ".pem") == 0);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct scan {
	struct fm_facts *facts;
	time_t now;
	int candidates; /* *.crt / *.pem files looked at */
	int files;      /* of them, those put as facts */
};

/* The names in dir, sorted (a stable order of facts from run to run).
 * Caller frees each and the array. -errno when dir cannot be read. */
static int list_dir(const char *dir, char ***names, size_t *n)
{
	DIR *d = opendir(dir);
	*names = NULL;
	*n = 0;
	if (!d)
		return -errno;
	size_t cap = 0;
	struct dirent *de;
	while ((de = readdir(d)) && *n < MAX_DIR_ENTRIES) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (*n == cap) {
			size_t ncap = cap ? cap * 2 : 32;
			char **nn = realloc(*names, ncap * sizeof(**names));
			if (!nn)
				break;
			*names = nn;
			cap = ncap;
		}
		char *s = strdup(de->d_name);
		if (!s)
			break;
		(*names)[(*n)++] = s;
	}
	closedir(d);
	if (*n)
		qsort(*names, *n, sizeof(**names), by_name);
	return 0;
}

/* Returns -errno when dir itself cannot be listed; below it, unreadable
 * directories are passed over (the caller asked about the top one). */
static int scan(struct scan *s, const char *dir, int depth)
{
	char **names;
	size_t n;
	int rc = list_dir(dir, &names, &n);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		char path[PATH_MAX];
		struct stat sb;
		if (s->candidates >= FM_CERTS_MAX_FILES)
			break;
		if (snprintf(path, sizeof(path), "%s/%s", dir, names[i]) >= (int)sizeof(path))
			continue;
		if (lstat(path, &sb) < 0)
			continue;
		if (S_ISDIR(sb.st_mode)) {
			/* Not through symlinks: a link to / must not become a walk of the disk. */
			if (depth < FM_CERTS_MAX_DEPTH)
				scan(s, path, depth + 1);
			continue;
		}
		if (!cert_name(names[i]))
			continue;
		if (S_ISLNK(sb.st_mode) && (stat(path, &sb) < 0 || !S_ISREG(sb.st_mode)))
			continue;
		if (!S_ISREG(sb.st_mode))
			continue;
		s->candidates++;
		if (put_file(s->facts, path, s->now, true) > 0)
			s->files++;
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return 0;
}

int fm_certs_scan_dir(struct fm_facts *facts, const char *dir, time_t now, int *n_files,
		      char *err, size_t errlen)
{
	struct scan s = {.facts = facts, .now = now};
	if (n_files)
		*n_files = 0;
	int rc = scan(&s, dir, 0);
	if (rc < 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(-rc));
		return rc;
	}
	if (n_files)
		*n_files = s.files;
	return 0;
}

void fm_certs_put_endpoint(struct fm_facts *facts, const struct fm_endpoint *ep,
			   const struct fm_httpc *c, time_t now)
{
	if (c->have_peer_cert) {
		char id[sizeof(ep->url) + 16];
		snprintf(id, sizeof(id), "%s (served)", ep->url);
		cJSON *f = fm_certs_fields(&c->peer_cert, ep->url, now);
		if (f) {
			cJSON_AddBoolToObject(f, "served", true);
			fm_facts_put(facts, "cert", id, f);
		}
	}
	if (!ep->ca_pem && ep->ca[0])
		fm_certs_put_file(facts, ep->ca, now);
	if (!ep->cert_pem && ep->cert[0])
		fm_certs_put_file(facts, ep->cert, now);
}

static void put_kubeconfig(struct fm_facts *facts, const char *path, const char *root, time_t now)
{
	struct fm_kubeconfig kc;
	char err[512], id[PATH_MAX + 40];
	int rc = fm_kubeconfig_load(&kc, path, root, err, sizeof(err));
	if (rc < 0) {
		cJSON *f = cJSON_CreateObject();
		cJSON_AddStringToObject(f, "state", rc == -ENOENT || rc == -EACCES ? "unreadable" : "malformed");
		cJSON_AddStringToObject(f, "reason", err);
		cJSON_AddStringToObject(f, "file", path);
		fm_facts_put(facts, "cert", path, f);
		return;
	}
	if (kc.ca_pem) {
		snprintf(id, sizeof(id), "%s#certificate-authority-data", path);
		fm_certs_put_pem(facts, id, path, kc.ca_pem, strlen(kc.ca_pem), now);
	} else if (kc.ca_file[0]) {
		fm_certs_put_file(facts, kc.ca_file, now);
	}
	if (kc.cert_pem) {
		snprintf(id, sizeof(id), "%s#client-certificate-data", path);
		fm_certs_put_pem(facts, id, path, kc.cert_pem, strlen(kc.cert_pem), now);
	} else if (kc.cert_file[0]) {
		fm_certs_put_file(facts, kc.cert_file, now);
	}
	fm_kubeconfig_free(&kc);
}

void fm_certs_put_node(struct fm_facts *facts, const struct fm_discovery *d, time_t now)
{
	char err[256];
	for (int i = 0; i < d->n_pki_dirs; i++) {
		if (fm_certs_scan_dir(facts, d->pki_dirs[i], now, NULL, err, sizeof(err)) < 0) {
			cJSON *f = cJSON_CreateObject();
			cJSON_AddStringToObject(f, "state", "unreadable");
			cJSON_AddStringToObject(f, "reason", err);
			fm_facts_put(facts, "cert", d->pki_dirs[i], f);
		}
	}
	for (int i = 0; i < d->n_kubeconfigs; i++)
		put_kubeconfig(facts, d->kubeconfigs[i], d->root, now);
}
