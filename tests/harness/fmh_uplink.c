/* fmh_uplink: see fmh_uplink.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fmh_uplink.h"

#include "fm_harness.h"
#include "fmh_controller.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void fmh_put_fact(struct fm_facts *f, const char *kind, const char *id, const char *json)
{
	cJSON *o = cJSON_Parse(json);
	assert_non_null(o);
	assert_non_null(fm_facts_put(f, kind, id, o));
}

void fmh_incident1_facts(struct fm_facts *f, int64_t now)
{
	char line[2048];
	snprintf(line, sizeof(line),
		 "{\"rule\":\"container-name-conflict.docker\",\"signal\":\"container-name-conflict\","
		 "\"severity\":\"critical\",\"source\":\"kubelet\",\"count\":42,\"last_us\":%lld,"
		 "\"fields\":{\"name\":\"k8s_kube-apiserver_kube-apiserver-pi-master1_kube-system_1403dda53affdfee1130475a6d9609da_24\","
		 "\"blocking_id\":\"eced8537863007db9a915924785306b26238cabbd3feec0e5226e2ad0710807b\"},"
		 "\"message\":\"Error syncing pod\"}",
		 (long long)now * 1000000 - 5000000);
	fmh_put_fact(f, "journal.match",
		     "container-name-conflict.docker/eced8537863007db9a915924785306b26238cabbd3feec0e5226e2ad0710807b", line);
	fmh_put_fact(f, "docker.container", "eced85378630",
		     "{\"container\":\"kube-apiserver\",\"pod\":\"kube-apiserver-pi-master1\",\"namespace\":\"kube-system\","
		     "\"attempt\":24,\"state\":\"running\",\"exit_code\":0,\"sandbox\":false}");
	fmh_put_fact(f, "docker.container", "8470235abd66",
		     "{\"container\":\"kube-apiserver\",\"pod\":\"kube-apiserver-pi-master1\",\"namespace\":\"kube-system\","
		     "\"attempt\":23,\"state\":\"exited\",\"exit_code\":0,\"sandbox\":false}");
	fmh_put_fact(f, "docker.stale_attempt", "8470235abd66",
		     "{\"stale_id\":\"8470235abd66\",\"stale_attempt\":23,\"newer_id\":\"eced85378630\",\"newer_attempt\":24,"
		     "\"pod\":\"kube-apiserver-pi-master1\",\"namespace\":\"kube-system\",\"container\":\"kube-apiserver\"}");
	fmh_put_fact(f, "docker.stale_attempt", "46497b3b5724",
		     "{\"stale_id\":\"46497b3b5724\",\"stale_attempt\":15,\"newer_id\":\"07637544b672\",\"newer_attempt\":17,"
		     "\"pod\":\"kube-apiserver-pi-master1\",\"namespace\":\"kube-system\",\"container\":\"POD\",\"sandbox\":true}");
	fmh_put_fact(f, "apiserver.endpoint", "https://192.168.6.11:6443", "{\"state\":\"refused\"}");
}

void fmh_psk_file(const char *dir, const char *name, const char *hex, char *out, size_t size)
{
	snprintf(out, size, "%s/%s", dir, name);
	int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, hex, strlen(hex)), (ssize_t)strlen(hex));
	close(fd);
}

void fmh_hex(const char *text, char *out, size_t size)
{
	size_t n = 0;
	for (const char *p = text; *p && n + 3 <= size; p++)
		n += (size_t)snprintf(out + n, size - n, "%02x", (unsigned char)*p);
}

int fmh_controller_restart(struct fmh_controller *c, const char *log_name)
{
	char listen[32];
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", c->port);
	snprintf(c->log, sizeof(c->log), "%s/%s", c->dir, log_name);
	const char *argv[12] = {fmh_controller_bin(), "serve", "--listen", listen, "--keys", c->keys, "-v"};
	argv[fmh_controller_store_args(c, argv, 7)] = NULL;
	c->pid = fmh_spawn(argv, c->log);
	if (c->pid < 0)
		return c->pid;
	int rc = fmh_wait_log_pid(c->log, "serving CoAP over DTLS-PSK", c->pid, 10000);
	if (rc < 0) {
		fmh_stop(c->pid);
		c->pid = 0;
	}
	return rc;
}
