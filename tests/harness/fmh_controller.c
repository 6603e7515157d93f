#include "fmh_controller.h"
#include "fmh_pg.h"

#include "fm_loop.h"

#include "fm_harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

const char *fmh_controller_bin(void)
{
	const char *b = getenv("FM_CONTROLLER");
	return b && *b ? b : "fleetmedic-controller";
}

int fmh_free_udp_port(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int rc = 0;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		rc = -errno;
	close(fd);
	return rc < 0 ? rc : ntohs(a.sin_port);
}

static void hex(const char *s, char *out)
{
	for (; *s; s++, out += 2)
		sprintf(out, "%02x", (unsigned char)*s);
	*out = '\0';
}

static int write_keys(const char *path)
{
	char a[2 * sizeof(FMH_KEY_A) + 1], b[2 * sizeof(FMH_KEY_B) + 1], c[2 * sizeof(FMH_KEY_C) + 1];
	hex(FMH_KEY_A, a);
	hex(FMH_KEY_B, b);
	hex(FMH_KEY_C, c);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	FILE *f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		return -errno;
	}
	fprintf(f, "# the test fleet\n%s %s\n%s %s  # the second node\n%s %s\n", FMH_NODE_A, a, FMH_NODE_B, b,
		FMH_NODE_C, c);
	return fclose(f) == 0 ? 0 : -EIO;
}

bool fmh_controller_pg(void)
{
	const char *s = getenv("FMH_STORE");
	return s && strcmp(s, "postgresql") == 0;
}

static struct fmh_pg pg;

/* The harness's cleanup (a test's teardown) stops the cluster and removes
 * its directory: the next controller starts another. */
static void forget_pg(void)
{
	pg.pid = 0;
}

/* A fresh database of the process's PostgreSQL (started on first use). */
static int pg_database(char *conninfo, size_t size)
{
	static int made;
	int rc;
	if (!pg.pid && ((rc = fmh_on_cleanup(forget_pg)) < 0 || (rc = fmh_pg_start(&pg)) < 0))
		return rc;
	char name[32];
	snprintf(name, sizeof(name), "fleet%d", ++made);
	return fmh_pg_createdb(&pg, name, conninfo, size);
}

int fmh_controller_store_args(const struct fmh_controller *c, const char **argv, int n)
{
	argv[n++] = "--db";
	argv[n++] = c->db;
	if (c->control[0]) {
		argv[n++] = "--control";
		argv[n++] = c->control;
	}
	return n;
}

static int start(struct fmh_controller *c, bool insecure, bool http, const char *const *extra,
		 const struct fmh_controller *beside)
{
	int rc;
	memset(c, 0, sizeof(*c));
	c->insecure = insecure;
	if ((rc = fmh_tmpdir(c->dir, sizeof(c->dir))) < 0)
		return rc;
	snprintf(c->keys, sizeof(c->keys), "%s/keys", c->dir);
	snprintf(c->db, sizeof(c->db), "%s/fleet.db", c->dir);
	if (beside) {
		/* its keys and store; a socket of its own */
		snprintf(c->keys, sizeof(c->keys), "%s", beside->keys);
		snprintf(c->db, sizeof(c->db), "%s", beside->db);
		snprintf(c->control, sizeof(c->control), "%s/control.sock", c->dir);
	} else if (fmh_controller_pg()) {
		if ((rc = pg_database(c->db, sizeof(c->db))) < 0)
			return rc;
		snprintf(c->control, sizeof(c->control), "%s/control.sock", c->dir);
	}
	snprintf(c->log, sizeof(c->log), "%s/serve.log", c->dir);
	if (!beside && (rc = write_keys(c->keys)) < 0)
		return rc;
	if ((c->port = fmh_free_udp_port()) < 0)
		return c->port;
	char listen[32];
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", c->port);
	snprintf(c->url, sizeof(c->url), "%s://127.0.0.1:%d", insecure ? "coap" : "coaps", c->port);
	char http_listen[32];
	if (http) {
		if ((c->http_port = fmh_free_port()) < 0)
			return c->http_port;
		snprintf(http_listen, sizeof(http_listen), "127.0.0.1:%d", c->http_port);
		snprintf(c->http_url, sizeof(c->http_url), "http://127.0.0.1:%d", c->http_port);
	}
	const char *argv[28] = {fmh_controller_bin(), "serve", "--listen", listen, "--keys", c->keys, "-v"};
	int n = fmh_controller_store_args(c, argv, 7);
	if (insecure)
		argv[n++] = "--insecure";
	if (http) {
		argv[n++] = "--http";
		argv[n++] = http_listen;
	}
	for (size_t i = 0; extra && extra[i] && n < 27; i++)
		argv[n++] = extra[i];
	c->pid = fmh_spawn(argv, c->log);
	if (c->pid < 0)
		return c->pid;
	rc = fmh_wait_log_pid(c->log, insecure ? "serving PLAIN CoAP" : "serving CoAP over DTLS-PSK", c->pid, 10000);
	if (rc == 0 && http)
		rc = fmh_wait_log_pid(c->log, "http: serving on", c->pid, 10000);
	if (rc < 0) {
		fmh_print_log_tail("fleetmedic-controller serve", c->log, rc);
		fmh_stop(c->pid);
		c->pid = 0;
	}
	return rc;
}

int fmh_controller_start(struct fmh_controller *c, bool insecure)
{
	return start(c, insecure, false, NULL, NULL);
}

int fmh_controller_start_http(struct fmh_controller *c, bool insecure)
{
	return start(c, insecure, true, NULL, NULL);
}

int fmh_controller_start_with(struct fmh_controller *c, bool insecure, bool http, const char *const *extra)
{
	return start(c, insecure, http, extra, NULL);
}

int fmh_controller_start_beside(struct fmh_controller *c, const struct fmh_controller *first, bool http,
				const char *const *extra)
{
	return start(c, first->insecure, http, extra, first);
}

struct fmh_pg *fmh_controller_pg_cluster(void)
{
	return pg.pid ? &pg : NULL;
}

int fmh_controller_stop(struct fmh_controller *c, int *status)
{
	if (c->pid <= 0)
		return -ESRCH;
	int rc = fmh_stop_status(c->pid, status);
	c->pid = 0;
	return rc;
}

int fmh_coap(const struct fmh_controller *c, const char *identity, const char *key, const char *method,
	     const char *path, const char *payload, char *out, size_t out_size)
{
	char url[256];
	snprintf(url, sizeof(url), "%s/%s", c->url, path);
	const char *argv[20];
	int n = 0;
	argv[n++] = "coap-client-openssl";
	argv[n++] = "-B";
	argv[n++] = "5"; /* give up after 5 s (a refused handshake) */
	argv[n++] = "-m";
	argv[n++] = method;
	if (identity) {
		argv[n++] = "-u";
		argv[n++] = identity;
		argv[n++] = "-k";
		argv[n++] = key;
	}
	if (payload) {
		argv[n++] = "-t";
		argv[n++] = "50";
		argv[n++] = "-e";
		argv[n++] = payload;
	}
	argv[n++] = url;
	argv[n] = NULL;
	int status;
	return fmh_run(argv, out, out_size, &status, 10000);
}

cJSON *fmh_controller_json(const struct fmh_controller *c, int *status, ...)
{
	const char *argv[20];
	int n = 0;
	argv[n++] = fmh_controller_bin();
	va_list ap;
	va_start(ap, status);
	const char *a;
	while ((a = va_arg(ap, const char *)) && n < 10)
		argv[n++] = a;
	va_end(ap);
	n = fmh_controller_store_args(c, argv, n);
	argv[n++] = "--json";
	argv[n] = NULL;
	static char out[256 * 1024];
	char err[4096];
	if (fmh_run2(argv, out, sizeof(out), err, sizeof(err), status, 10000) < 0)
		return NULL;
	if (*err)
		fprintf(stderr, "%s", err);
	return cJSON_Parse(out);
}

void fmh_controller_severity(const struct fmh_controller *c, const char *node, const char *code, char *sev,
			     size_t size)
{
	int status;
	snprintf(sev, size, "%s", "");
	cJSON *j = fmh_controller_json(c, &status, "show", node, NULL);
	const cJSON *d;
	cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(j, "diagnoses"))
	{
		const cJSON *k = cJSON_GetObjectItemCaseSensitive(d, "code"), *v = cJSON_GetObjectItemCaseSensitive(d, "severity");
		if (cJSON_IsString(k) && cJSON_IsString(v) && strcmp(k->valuestring, code) == 0)
			snprintf(sev, size, "%s", v->valuestring);
	}
	cJSON_Delete(j);
}

long fmh_controller_wait(const struct fmh_controller *c, const char *node, const char *code, const char *sev,
			 uint64_t limit_ms)
{
	uint64_t t0 = fm_now_ms();
	char have[32];
	for (;;) {
		fmh_controller_severity(c, node, code, have, sizeof(have));
		uint64_t ms = fm_now_ms() - t0;
		if (strcmp(have, sev) == 0)
			return (long)ms;
		if (ms > limit_ms)
			return -ETIMEDOUT;
		usleep(20000);
	}
}

int fmh_curl(const char *const *prefix, const char *method, const char *url, const char *const *extra, char *out,
	     size_t size)
{
	const char *argv[40];
	int n = 0;
	for (size_t i = 0; prefix && prefix[i] && n < 8; i++)
		argv[n++] = prefix[i];
	const char *base[] = {"curl", "-sS", "--max-time", "60", "-X", method, "-o", "-", "-w", "\n%{http_code}", NULL};
	for (size_t i = 0; base[i]; i++)
		argv[n++] = base[i];
	for (size_t i = 0; extra && extra[i] && n < 37; i++)
		argv[n++] = extra[i];
	argv[n++] = url;
	argv[n] = NULL;
	int status;
	if (fmh_run(argv, out, size, &status, 70000) < 0 || status != 0)
		return -1;
	char *nl = strrchr(out, '\n');
	if (!nl)
		return -1;
	*nl = '\0';
	return atoi(nl + 1);
}

int fmh_post(const struct fmh_controller *c, const char *node, const char *key, const char *path, const char *payload)
{
	char out[4096];
	int rc = fmh_coap(c, node, key, "post", path, payload, out, sizeof(out));
	if (rc < 0)
		return rc;
	if (strstr(out, "4.") || strstr(out, "5.")) {
		fprintf(stderr, "fmh: POST /%s as %s refused: %s\n", path, node, out);
		return -EPROTO;
	}
	return 0;
}
