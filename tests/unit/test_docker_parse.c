/* The Docker source's parsers with canned bytes, and the watcher against a
 * fake daemon on a unix socket that answers malformed and truncated JSON. */
#include "fm_docker.h"
#include "fm_docker_json.h"
#include "fm_facts.h"
#include "fm_loop.h"
#include "fmh_check.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static void test_name(void **state)
{
	(void)state;
	struct fm_docker_name n;
	assert_int_equal(fm_docker_name_parse("/k8s_kube-apiserver_kube-apiserver-pi-master1_kube-system_"
					      "1403dda53affdfee1130475a6d9609da_23", &n), 0);
	assert_string_equal(n.container, "kube-apiserver");
	assert_string_equal(n.pod, "kube-apiserver-pi-master1");
	assert_string_equal(n.ns, "kube-system");
	assert_string_equal(n.uid, "1403dda53affdfee1130475a6d9609da");
	assert_int_equal(n.attempt, 23);
	assert_false(n.sandbox);
	assert_true(fm_docker_name_control_plane(&n));
	assert_int_equal(fm_docker_name_parse("k8s_POD_etcd-pi-master1_kube-system_u_15", &n), 0);
	assert_true(n.sandbox);
	assert_true(fm_docker_name_control_plane(&n));
	assert_int_equal(fm_docker_name_parse("k8s_app_web-1_default_u_0", &n), 0);
	assert_false(fm_docker_name_control_plane(&n));
	assert_int_equal(fm_docker_name_parse("k8s_coredns_coredns-5d_kube-system_u_1", &n), 0);
	assert_false(fm_docker_name_control_plane(&n));
	static const char *const bad[] = {"", "k8s_", "k8s_a_b_c_d", "k8s_a_b_c_d_e_1", "k8s_a_b_c_d_1x",
					  "k8s_a__c_d_1", "k8s_a_b_c_d_", "nginx", "k8s_a_b_c_d_1234567890",
					  "k8s_a_b_c_d_-1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(fm_docker_name_parse(bad[i], &n), -EINVAL);
	char longpod[400] = "k8s_c_";
	memset(longpod + 6, 'p', 300);
	strcpy(longpod + 306, "_ns_u_1");
	assert_int_equal(fm_docker_name_parse(longpod, &n), -EINVAL);
}

static const char LIST[] =
	"[{\"Id\":\"8470235abd66aaaa\",\"Names\":[\"/k8s_kube-apiserver_kube-apiserver-n_kube-system_u_23\"],"
	"\"State\":\"exited\",\"Status\":\"Exited (255) 10 days ago\",\"Created\":1700000000},"
	"{\"Id\":\"eced85378630bbbb\",\"Names\":[\"/k8s_kube-apiserver_kube-apiserver-n_kube-system_u_24\"],"
	"\"State\":\"running\",\"Status\":\"Up 10 days\"},"
	"{\"Id\":\"ffff\",\"Names\":[\"/nginx\"],\"State\":\"exited\"}]";

static void test_list(void **state)
{
	(void)state;
	struct fm_docker_ctr c[4];
	struct fm_docker_counts k;
	size_t n, dropped;
	char err[200];
	assert_int_equal(fm_docker_list_parse(LIST, strlen(LIST), c, 4, &n, &dropped, &k, err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	assert_int_equal(k.total, 3);
	assert_int_equal(k.exited, 2);
	assert_int_equal(k.running, 1);
	assert_string_equal(c[0].id, "8470235abd66aaaa");
	assert_int_equal(c[0].exit_code, 255);
	assert_int_equal(c[0].kn.attempt, 23);
	assert_int_equal(fm_docker_list_parse(LIST, strlen(LIST), c, 1, &n, &dropped, &k, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_int_equal(dropped, 1);
	/* Truncated at every length: an error with a reason, never a crash. */
	for (size_t l = 0; l < strlen(LIST); l++) {
		err[0] = '\0';
		assert_int_equal(fm_docker_list_parse(LIST, l, c, 4, &n, &dropped, &k, err, sizeof(err)),
				 -EBADMSG);
		assert_true(err[0]);
	}
	assert_int_equal(fm_docker_list_parse("{}", 2, c, 4, &n, &dropped, &k, err, sizeof(err)), -EBADMSG);
	assert_string_equal(err, "container list: not a JSON array");
	assert_int_equal(fm_docker_list_parse("[{\"Id\":1}]", 10, c, 4, &n, &dropped, &k, err, sizeof(err)),
			 -EBADMSG);
	char deep[200];
	memset(deep, '[', 100);
	memset(deep + 100, ']', 100);
	assert_int_equal(fm_docker_list_parse(deep, 200, c, 4, &n, &dropped, &k, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "deeper than 32"));
}

static void test_inspect_version_time(void **state)
{
	(void)state;
	static const char I[] = "{\"Id\":\"abc\",\"Name\":\"/k8s_etcd_etcd-n_kube-system_u_3\",\"RestartCount\":2,"
				"\"State\":{\"Status\":\"exited\",\"ExitCode\":137,\"OOMKilled\":true,\"Error\":\"\","
				"\"StartedAt\":\"2021-03-12T03:29:07.1Z\",\"FinishedAt\":\"2021-03-12T03:48:55.99+01:00\"},"
				"\"Config\":{\"Tty\":false}}";
	struct fm_docker_ctr c = {0};
	char err[200];
	assert_int_equal(fm_docker_inspect_parse(I, strlen(I), &c, err, sizeof(err)), 0);
	assert_int_equal(c.exit_code, 137);
	assert_true(c.oom_killed);
	assert_int_equal(c.restart_count, 2);
	assert_true(c.kubelet);
	assert_int_equal(c.finished_s, 1615520935LL - 3600); /* 03:48:55+01:00 */
	assert_int_equal(fm_docker_inspect_parse("{\"State\":{}}", 12, &c, err, sizeof(err)), -EBADMSG);
	long long t;
	assert_int_equal(fm_docker_time_parse("0001-01-01T00:00:00Z", &t), 0);
	assert_int_equal(t, 0);
	assert_int_equal(fm_docker_time_parse("yesterday", &t), -EINVAL);

	struct fm_docker_version v;
	static const char V[] = "{\"Version\":\"28.0.1\",\"ApiVersion\":\"1.48\",\"MinAPIVersion\":\"1.24\"}";
	assert_int_equal(fm_docker_version_parse(V, strlen(V), &v, err, sizeof(err)), 0);
	assert_int_equal(v.api_minor, 48);
	assert_int_equal(fm_docker_version_parse("{\"ApiVersion\":\"2\"}", 18, &v, err, sizeof(err)), -EBADMSG);
}

struct got {
	int n;
	struct fm_docker_event last;
	int bad;
};

static void on_line(void *ctx, const char *line, size_t len)
{
	struct got *g = ctx;
	char err[160];
	if (fm_docker_event_parse(line, len, &g->last, err, sizeof(err)) == 0)
		g->n++;
	else
		g->bad++;
}

static const char EVENTS[] =
	"{\"status\":\"die\",\"id\":\"abc\",\"Type\":\"container\",\"Action\":\"die\",\"Actor\":{\"ID\":\"abc\","
	"\"Attributes\":{\"exitCode\":\"137\",\"name\":\"k8s_etcd_etcd-n_kube-system_u_3\"}},"
	"\"scope\":\"local\",\"time\":1700000001,\"timeNano\":1700000001123456789}\n"
	"{\"Type\":\"container\",\"Action\":\"health_status: healthy\",\"Actor\":{\"ID\":\"def\"},\"time\":1700000002}\n";

static void test_events_split_everywhere(void **state)
{
	(void)state;
	size_t len = strlen(EVENTS);
	for (size_t a = 0; a <= len; a++) {
		struct fm_docker_lines l;
		struct got g = {0};
		assert_int_equal(fm_docker_lines_init(&l, 0), 0);
		fm_docker_lines_feed(&l, EVENTS, a, on_line, &g);
		fm_docker_lines_feed(&l, EVENTS + a, len - a, on_line, &g);
		assert_int_equal(g.n, 2);
		assert_int_equal(g.bad, 0);
		assert_string_equal(g.last.action, "health_status: healthy");
		fm_docker_lines_free(&l);
	}
	/* Byte by byte. */
	struct fm_docker_lines l;
	struct got g = {0};
	assert_int_equal(fm_docker_lines_init(&l, 0), 0);
	for (size_t i = 0; i < len; i++) {
		fm_docker_lines_feed(&l, EVENTS + i, 1, on_line, &g);
		if (g.n == 1 && i < len / 2)
			assert_int_equal(g.last.exit_code, 137);
	}
	assert_int_equal(g.n, 2);
	fm_docker_lines_free(&l);
}

static void test_events_huge_and_bad(void **state)
{
	(void)state;
	struct fm_docker_lines l;
	struct got g = {0};
	assert_int_equal(fm_docker_lines_init(&l, 128), 0);
	char big[1000];
	memset(big, 'x', sizeof(big));
	fm_docker_lines_feed(&l, big, sizeof(big), on_line, &g);
	fm_docker_lines_feed(&l, big, sizeof(big), on_line, &g);
	assert_int_equal(l.refused, 1);
	fm_docker_lines_feed(&l, "\n{not json}\n{\"Type\":\"container\"}\n", 34, on_line, &g);
	assert_int_equal(g.bad, 2);
	fm_docker_lines_feed(&l, EVENTS, strlen(EVENTS), on_line, &g);
	assert_int_equal(g.n, 1); /* EVENTS' first line is longer than 128: refused */
	assert_int_equal(l.refused, 2);
	fm_docker_lines_free(&l);
}

static void test_log_frames(void **state)
{
	(void)state;
	static const char F[] = "\2\0\0\0\0\0\0\4err\n\1\0\0\0\0\0\0\6hi\nyo\n";
	cJSON *lines = cJSON_CreateArray();
	char err[200];
	assert_int_equal(fm_docker_logs_demux(F, sizeof(F) - 1, false, lines, 10, err, sizeof(err)), 0);
	assert_int_equal(cJSON_GetArraySize(lines), 3);
	assert_string_equal(cJSON_GetArrayItem(lines, 2)->valuestring, "yo");
	cJSON_Delete(lines);
	lines = cJSON_CreateArray();
	assert_int_equal(fm_docker_logs_demux(F, sizeof(F) - 1, false, lines, 2, err, sizeof(err)), 0);
	assert_int_equal(cJSON_GetArraySize(lines), 2); /* the tail */
	cJSON_Delete(lines);
	/* A header that claims more than follows. */
	static const char LIE[] = "\1\0\0\0\x7f\xff\xff\xffhello";
	lines = cJSON_CreateArray();
	assert_int_equal(fm_docker_logs_demux(LIE, sizeof(LIE) - 1, false, lines, 10, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "claims 2147483647 bytes but only 5 follow"));
	assert_int_equal(fm_docker_logs_demux(F, 5, false, lines, 10, err, sizeof(err)), -EBADMSG);
	assert_int_equal(fm_docker_logs_demux("hello", 5, false, lines, 10, err, sizeof(err)), -EBADMSG);
	assert_int_equal(fm_docker_logs_demux("a\r\nb", 4, true, lines, 10, err, sizeof(err)), 0);
	assert_string_equal(cJSON_GetArrayItem(lines, 0)->valuestring, "a");
	cJSON_Delete(lines);
	char msg[100];
	static const char E[] = "{\"message\":\"stat /x: no such file or directory\"}";
	fm_docker_error_text(E, strlen(E), msg, sizeof(msg));
	assert_string_equal(msg, "stat /x: no such file or directory");
	fm_docker_error_text("plain\n", 6, msg, sizeof(msg));
	assert_string_equal(msg, "plain");
}

/* --- a fake daemon -------------------------------------------------------------- */

/* Serves every connection one canned answer chosen by the request's path,
 * then closes it. Runs in a child process until killed. */
static void fake_daemon(int lfd, const char *list_answer)
{
	for (;;) {
		int c = accept(lfd, NULL, NULL);
		if (c < 0)
			_exit(0);
		char req[4096];
		ssize_t n = read(c, req, sizeof(req) - 1);
		req[n > 0 ? n : 0] = '\0';
		const char *body;
		if (strstr(req, "GET /version"))
			body = "{\"Version\":\"20.10.24\",\"ApiVersion\":\"1.41\"}";
		else if (strstr(req, "/containers/json"))
			body = list_answer;
		else
			body = "{\"message\":\"no\"}";
		char head[256];
		int hl = snprintf(head, sizeof(head),
				  "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
				  strlen(body));
		if (write(c, head, (size_t)hl) < 0 || write(c, body, strlen(body)) < 0)
			_exit(1);
		if (strstr(req, "/events")) /* keep the stream open */
			continue;
		close(c);
	}
}

static const cJSON *daemon_fact(struct fm_facts *f, const char *host)
{
	return fm_facts_get(f, "docker.daemon", host);
}

static void run_fake(const char *list_answer, const char *want_state, const char *want_reason)
{
	char dir[] = "/tmp/fmdk.XXXXXX", path[64], host[80];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/d.sock", dir);
	snprintf(host, sizeof(host), "unix://%s", path);
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 16), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fake_daemon(lfd, list_answer);
	}
	close(lfd);

	struct fm_loop *loop = fm_loop_new();
	struct fm_facts *facts = fm_facts_new();
	struct fm_docker_opts o = {.host = host, .once = true, .backoff_min_ms = 10000};
	char err[200];
	struct fm_docker_watch *w = fm_docker_watch_new(loop, &o, facts, err, sizeof(err));
	assert_non_null(w);
	uint64_t end = fm_now_ms() + 5000;
	while (!fm_docker_watch_synced(w) && !fm_docker_watch_failed(w) && fm_now_ms() < end)
		fm_loop_run_once(loop, 50);
	const cJSON *d = daemon_fact(facts, host);
	assert_non_null(d);
	assert_string_equal(fmh_jstr(d, "state"), want_state);
	if (want_reason)
		assert_non_null(strstr(fmh_jstr(d, "reason"), want_reason));
	fm_docker_watch_delete(&w);
	fm_facts_delete(&facts);
	fm_loop_delete(&loop);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	unlink(path);
	rmdir(dir);
}

static void test_fake_daemon(void **state)
{
	(void)state;
	run_fake("[]", "ok", NULL);
	run_fake("[{\"Id\":\"a\",\"State\":\"exi", "malformed", "container list: not JSON (at byte");
	run_fake("[{\"Id\":\"a\",\"State\":}]", "malformed", "container list: not JSON (at byte");
	run_fake("{\"message\":\"x\"}", "malformed", "not a JSON array");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_inspect_version_time),
		cmocka_unit_test(test_events_split_everywhere),
		cmocka_unit_test(test_events_huge_and_bad),
		cmocka_unit_test(test_log_frames),
		cmocka_unit_test(test_fake_daemon),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
