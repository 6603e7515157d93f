#include "fmh_prom.h"

#include "fm_harness.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int fmh_prometheus_start(struct fmh_prometheus *p, const char *target, int interval_s)
{
	int rc;
	memset(p, 0, sizeof(*p));
	if ((rc = fmh_tmpdir(p->dir, sizeof(p->dir))) < 0)
		return rc;
	if ((p->port = fmh_free_port()) < 0)
		return p->port;
	snprintf(p->url, sizeof(p->url), "http://127.0.0.1:%d", p->port);
	snprintf(p->log, sizeof(p->log), "%s/prometheus.log", p->dir);
	char conf[PATH_MAX + 32], data[PATH_MAX + 32], listen[64], cflag[PATH_MAX + 48], dflag[PATH_MAX + 48];
	snprintf(conf, sizeof(conf), "%s/prometheus.yml", p->dir);
	snprintf(data, sizeof(data), "%s/data", p->dir);
	FILE *f = fopen(conf, "w");
	if (!f)
		return -errno;
	fprintf(f,
		"global:\n  scrape_interval: %ds\n  scrape_timeout: %ds\n  evaluation_interval: %ds\n"
		"scrape_configs:\n  - job_name: fleetmedic\n    static_configs:\n      - targets: ['%s']\n",
		interval_s, interval_s, interval_s, target);
	if (fclose(f) != 0)
		return -EIO;
	snprintf(listen, sizeof(listen), "--web.listen-address=127.0.0.1:%d", p->port);
	snprintf(cflag, sizeof(cflag), "--config.file=%s", conf);
	snprintf(dflag, sizeof(dflag), "--storage.tsdb.path=%s", data);
	const char *argv[] = {"prometheus", cflag, dflag, listen, "--log.level=info", NULL};
	p->pid = fmh_spawn(argv, p->log);
	if (p->pid < 0)
		return p->pid;
	rc = fmh_wait_log_pid(p->log, "Server is ready to receive web requests", p->pid, 60000);
	if (rc < 0) {
		fmh_print_log_tail("prometheus", p->log, rc);
		fmh_stop(p->pid);
		p->pid = 0;
	}
	return rc;
}

int fmh_alertmanager_start(struct fmh_alertmanager *am)
{
	int rc;
	if (!am->port) {
		memset(am, 0, sizeof(*am));
		if ((rc = fmh_tmpdir(am->dir, sizeof(am->dir))) < 0)
			return rc;
		if ((am->port = fmh_free_port()) < 0)
			return am->port;
		snprintf(am->url, sizeof(am->url), "http://127.0.0.1:%d", am->port);
	}
	char conf[PATH_MAX + 32], cflag[PATH_MAX + 48], sflag[PATH_MAX + 48], listen[64];
	snprintf(conf, sizeof(conf), "%s/alertmanager.yml", am->dir);
	snprintf(am->log, sizeof(am->log), "%s/alertmanager.log", am->dir);
	FILE *f = fopen(conf, "w");
	if (!f)
		return -errno;
	fputs("route:\n  receiver: 'nowhere'\nreceivers:\n  - name: 'nowhere'\n", f);
	if (fclose(f) != 0)
		return -EIO;
	snprintf(cflag, sizeof(cflag), "--config.file=%s", conf);
	snprintf(sflag, sizeof(sflag), "--storage.path=%s/data", am->dir);
	snprintf(listen, sizeof(listen), "--web.listen-address=127.0.0.1:%d", am->port);
	/* a log of its own per start: the wait below must see this one's line */
	unlink(am->log);
	const char *argv[] = {"prometheus-alertmanager", cflag, sflag, listen, "--cluster.listen-address=", NULL};
	am->pid = fmh_spawn(argv, am->log);
	if (am->pid < 0)
		return am->pid;
	rc = fmh_wait_log_pid(am->log, "msg=\"Listening on\"", am->pid, 60000);
	if (rc < 0) {
		fmh_print_log_tail("prometheus-alertmanager", am->log, rc);
		fmh_stop(am->pid);
		am->pid = 0;
	}
	return rc;
}

cJSON *fmh_alertmanager_alerts(const struct fmh_alertmanager *am)
{
	static char out[1 << 20];
	char url[128];
	snprintf(url, sizeof(url), "%s/api/v2/alerts", am->url);
	const char *argv[] = {"curl", "-sS", "--max-time", "10", url, NULL};
	int status;
	if (fmh_run(argv, out, sizeof(out), &status, 15000) < 0 || status != 0)
		return NULL;
	cJSON *j = cJSON_Parse(out);
	if (!cJSON_IsArray(j)) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

cJSON *fmh_prometheus_query(const struct fmh_prometheus *p, const char *promql)
{
	static char out[1 << 20];
	char url[128], q[1024];
	snprintf(url, sizeof(url), "%s/api/v1/query", p->url);
	snprintf(q, sizeof(q), "query=%s", promql);
	const char *argv[] = {"curl", "-sS", "--max-time", "10", "--data-urlencode", q, url, NULL};
	int status;
	if (fmh_run(argv, out, sizeof(out), &status, 15000) < 0 || status != 0)
		return NULL;
	cJSON *j = cJSON_Parse(out);
	cJSON *data = cJSON_GetObjectItem(j, "data");
	cJSON *result = data ? cJSON_DetachItemFromObject(data, "result") : NULL;
	if (!j || strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(j, "status")) ? cJSON_GetStringValue(cJSON_GetObjectItem(j, "status")) : "", "success") != 0) {
		cJSON_Delete(result);
		result = NULL;
	}
	cJSON_Delete(j);
	return result;
}

double fmh_prometheus_value(const struct fmh_prometheus *p, const char *promql)
{
	cJSON *r = fmh_prometheus_query(p, promql);
	const cJSON *v = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(r, 0), "value"), 1);
	double d = cJSON_IsString(v) ? strtod(v->valuestring, NULL) : -1;
	cJSON_Delete(r);
	return d;
}
