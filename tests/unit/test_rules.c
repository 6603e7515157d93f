/* fm_rules: the built-in rules against real log lines, the rule syntax,
 * and the bounded match table. */
#include "fm_rules.h"
#include "fmh_check.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static struct fm_rules *rs;

static int setup(void **state)
{
	(void)state;
	char err[256] = "";
	rs = fm_rules_new();
	if (!rs || fm_rules_load_default(rs, err, sizeof(err)) < 0) {
		fprintf(stderr, "default rules: %s\n", err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	fm_rules_delete(&rs);
	return 0;
}

/* The rule that matches line from src, and the field name's value. */
static const char *match(enum fm_rules_source src, const char *line, const char *name, char *val,
			 size_t size)
{
	struct fm_rules_match m;
	int i = fm_rules_match(rs, 0, src, line, strlen(line), &m);
	val[0] = '\0';
	if (i < 0)
		return NULL;
	for (size_t k = 0; name && k < m.nfields; k++)
		if (strcmp(m.name[k], name) == 0) {
			assert_true(m.len[k] < size);
			memcpy(val, m.text + m.off[k], m.len[k]);
			val[m.len[k]] = '\0';
		}
	return fm_rules_id(rs, (size_t)i);
}

struct example {
	enum fm_rules_source src;
	const char *line;
	const char *rule;
	const char *field, *value;
};

static const struct example examples[] = {
	/* incident 1, kubelet's journal line as it was logged */
	{FM_RULES_SRC_KUBELET,
	 "E0322 21:05:33.780814 1115805 pod_workers.go:191] Error syncing pod 1403dda53affdfee1130475a6d9609da (\"kube-apiserver-pi-master1_kube-system(1403dda53affdfee1130475a6d9609da)\"), skipping: failed to \"StartContainer\" for \"kube-apiserver\" with CreateContainerError: \"Error response from daemon: Conflict. The container name \\\"/k8s_kube-apiserver_kube-apiserver-pi-master1_kube-system_1403dda53affdfee1130475a6d9609da_24\\\" is already in use by container \\\"eced8537863007db9a915924785306b26238cabbd3feec0e5226e2ad0710807b\\\". You have to remove (or rename) that container to be able to reuse that name.\"",
	 "container-name-conflict.docker", "blocking_id", "eced8537863007db9a915924785306b26238cabbd3feec0e5226e2ad0710807b"},
	/* the same from dockerd itself, unescaped, wrapped */
	{FM_RULES_SRC_DOCKER,
	 "Handler for POST /v1.40/containers/create returned error: Conflict. The container name \"/k8s_etcd_etcd-pi-master1_kube-system_0123_3\" is already in use by\n container \"8470235abd66\". You have to remove (or rename) that container to be able to reuse that name.",
	 "container-name-conflict.docker", "name", "k8s_etcd_etcd-pi-master1_kube-system_0123_3"},
	{FM_RULES_SRC_KUBELET,
	 "E0102 kuberuntime_manager.go:1] CreateContainer in sandbox failed: rpc error: code = Unknown desc = failed to reserve container name \"kube-apiserver_kube-apiserver-k1_kube-system_c0f7_1\": name \"kube-apiserver_kube-apiserver-k1_kube-system_c0f7_1\" is reserved for \"2cbdc1ab6d4fe5c3e19ac77ee0e42b3c4f0e7bcb06a5f1e0b8dd0a2b0f1a4a61\"",
	 "container-name-conflict.containerd", "blocking_id", "2cbdc1ab6d4fe5c3e19ac77ee0e42b3c4f0e7bcb06a5f1e0b8dd0a2b0f1a4a61"},
	/* incident 2 */
	{FM_RULES_SRC_KUBELET,
	 "E1105 06:07:57.076083     319 kuberuntime_manager.go:840] PodSandboxStatus of sandbox \"7d9ec7433434e66bee7d0458ece2e142e80a5825884cca2f5f17a5f0ca548d2a\" for pod \"kube-apiserver-k1_kube-system(c0f77be12d1bf28aaecf7cc373a774b6)\" error: rpc error: code = Unknown desc = Error response from daemon: open /var/lib/docker/overlay2/74217d05e7d37d111ce00a444c0a4237618a5474a8ca72393feeea664532d30b/lower: structure needs cleaning",
	 "structure-needs-cleaning", "path", "/var/lib/docker/overlay2/74217d05e7d37d111ce00a444c0a4237618a5474a8ca72393feeea664532d30b/lower"},
	{FM_RULES_SRC_KUBELET,
	 "E1105 06:07:57.028616     319 reflector.go:205] Failed to list *v1.Pod: Get https://192.168.1.11:6443/api/v1/pods: dial tcp 192.168.1.11:6443: getsockopt: connection refused",
	 "apiserver-refused", "address", "192.168.1.11:6443"},
	{FM_RULES_SRC_KUBELET,
	 "W0312 03:48:55.993714 1 clientconn.go:1223] grpc: addrConn.createTransport failed to connect to {https://127.0.0.1:2379  <nil> 0 <nil>}. Err :connection error: desc = \"transport: Error while dialing dial tcp 127.0.0.1:2379: connect: connection refused\". Reconnecting...",
	 "etcd-refused", "address", "127.0.0.1:2379"},
	{FM_RULES_SRC_KERNEL, "RPC: fragment too large: 1246907721", "rpc-fragment-too-large", "marker", "1246907721"},
	/* kernel, storage */
	{FM_RULES_SRC_KERNEL,
	 "EXT4-fs error (device mmcblk0p2): ext4_lookup:1701: inode #1310722: comm dockerd: deleted inode referenced: 1311005",
	 "ext4-error", "inode", "1310722"},
	{FM_RULES_SRC_KERNEL, "EXT4-fs (mmcblk0p2): Remounting filesystem read-only", "ext4-remount-ro", "device", "mmcblk0p2"},
	{FM_RULES_SRC_KERNEL, "blk_update_request: I/O error, dev mmcblk0, sector 1234568 op 0x1:(WRITE) flags 0x800 phys_seg 1 prio class 0",
	 "block-io-error", "device", "mmcblk0"},
	{FM_RULES_SRC_KERNEL, "Buffer I/O error on dev sda1, logical block 0, lost async page write", "buffer-io-error", "device", "sda1"},
	{FM_RULES_SRC_KERNEL, "mmc0: Timeout waiting for hardware interrupt.", "mmc-timeout", "host", "mmc0"},
	{FM_RULES_SRC_KERNEL, "mmcblk0: error -110 transferring data, sector 2048, nr 8, cmd response 0x900, card status 0xc00", "mmcblk-error-110", "device", "mmcblk0"},
	{FM_RULES_SRC_KERNEL, "Under-voltage detected! (0x00050005)", "undervoltage", NULL, NULL},
	{FM_RULES_SRC_KERNEL, "hwmon hwmon1: Undervoltage detected!", "undervoltage", NULL, NULL},
	{FM_RULES_SRC_KERNEL, "Out of memory: Killed process 2817 (etcd) total-vm:10731852kB, anon-rss:120000kB", "oom-kill", "process", "etcd"},
	{FM_RULES_SRC_KERNEL, "Memory cgroup out of memory: Killed process 411 (kube-apiserver) total-vm:1kB", "oom-kill", "pid", "411"},
	/* etcd */
	{FM_RULES_SRC_ETCD, "{\"level\":\"warn\",\"msg\":\"apply request took too long\",\"took\":\"1.532s\",\"expected-duration\":\"100ms\"}",
	 "etcd-apply-too-long", "took", "1.532s"},
	{FM_RULES_SRC_ETCD, "2021-03-22 11:01:52.000 W | wal: sync duration of 2.23s, expected less than 1s", "etcd-wal-sync-slow", "took", "2.23s"},
	{FM_RULES_SRC_ETCD, "{\"level\":\"warn\",\"msg\":\"slow fdatasync\",\"took\":\"1.2s\",\"expected-duration\":\"1s\"}", "etcd-slow-fdatasync", "took", "1.2s"},
	{FM_RULES_SRC_ETCD, "etcdserver: mvcc: database space exceeded", "etcd-database-space-exceeded", NULL, NULL},
	{FM_RULES_SRC_ETCD, "{\"msg\":\"alarm raised\",\"alarm\":\"NOSPACE\",\"error\":\"etcdserver: no space\"}", "etcd-no-space", NULL, NULL},
	/* kubelet and the node */
	{FM_RULES_SRC_KUBELET, "E0322 certificate_manager.go:1] x509: certificate has expired or is not yet valid: current time 2021-03-22T11:01:52Z is after 2021-03-20T00:00:00Z",
	 "x509-expired", "bound", "2021-03-20T00:00:00Z"},
	{FM_RULES_SRC_KUBELET, "E0322 kubelet.go:1] skipping pod synchronization - PLEG is not healthy: pleg was last seen active 3m12.5s ago; threshold is 3m0s",
	 "pleg-unhealthy", "ago", "3m12.5s"},
	{FM_RULES_SRC_KUBELET, "kubelet.service: Main process exited, code=exited, status=1/FAILURE", "kubelet-exited", "status", "1"},
	{FM_RULES_SRC_KUBELET, "kubelet.service: Failed with result 'exit-code'.", "kubelet-failed", "result", "exit-code"},
	{FM_RULES_SRC_DOCKER, "docker.service: Main process exited, code=killed, status=9/KILL", "runtime-exited", "unit", "docker"},
	{FM_RULES_SRC_KUBELET, "F0322 server.go:1] failed to run Kubelet: running with swap on is not supported, please disable swap! or set --fail-swap-on flag to false.",
	 "swap-on", NULL, NULL},
	{FM_RULES_SRC_KUBELET, "[ERROR SystemVerification]: missing required cgroups: memory", "memory-cgroup-missing", NULL, NULL},
	{FM_RULES_SRC_KUBELET, "F0322 Failed to start ContainerManager system validation failed - Following Cgroup subsystem not mounted: [memory]",
	 "memory-cgroup-not-mounted", NULL, NULL},
	{FM_RULES_SRC_K3S, "level=fatal msg=\"failed to find memory cgroup (v2)\"", "k3s-memory-cgroup", NULL, NULL},
	{FM_RULES_SRC_KUBELET, "I0322 eviction_manager.go:346] \"Eviction manager: attempting to reclaim\" resourceName=\"ephemeral-storage\"",
	 "eviction", "resource", "ephemeral-storage"},
	{FM_RULES_SRC_KUBELET, "I0322 kubelet_node_status.go:1] Node pi-master1 status is now: NodeHasDiskPressure", "node-disk-pressure", NULL, NULL},
	{FM_RULES_SRC_KUBELET, "I0322 image_gc_manager.go:1] [imageGCManager]: Disk usage on image filesystem is at 91% which is over the high threshold (85%). Trying to free 1 bytes",
	 NULL, NULL, NULL}, /* "Disk" capitalised: not ours (case-sensitive) */
	{FM_RULES_SRC_KUBELET, "E0322 kubelet.go:2183] Container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:docker: network plugin is not ready: cni config uninitialized",
	 "cni-not-ready", "reason", "cni config uninitialized"},
	{FM_RULES_SRC_KUBELET, "failed to setup network for sandbox: open /run/flannel/subnet.env: no such file or directory", "flannel-subnet-missing", NULL, NULL},
	{FM_RULES_SRC_DOCKER, "write /var/lib/docker/tmp/GetImageBlob1: no space left on device", "no-space-left", "path", "/var/lib/docker/tmp/GetImageBlob1"},
	/* the right words from the wrong source do not count */
	{FM_RULES_SRC_ETCD, "RPC: fragment too large: 1246907721", NULL, NULL, NULL},
	{FM_RULES_SRC_KERNEL, "running with swap on is not supported", NULL, NULL, NULL},
	/* routine lines */
	{FM_RULES_SRC_KUBELET, "I0322 21:05:33.780814 1115805 kubelet.go:1914] SyncLoop (housekeeping)", NULL, NULL, NULL},
	{FM_RULES_SRC_KERNEL, "EXT4-fs (mmcblk0p2): mounted filesystem with ordered data mode.", NULL, NULL, NULL},
};

static void test_examples(void **state)
{
	(void)state;
	char val[512];
	for (size_t i = 0; i < sizeof(examples) / sizeof(examples[0]); i++) {
		const struct example *e = &examples[i];
		const char *got = match(e->src, e->line, e->field, val, sizeof(val));
		if (!e->rule) {
			if (got)
				fail_msg("example %zu matched %s, should match nothing", i, got);
			continue;
		}
		if (!got || strcmp(got, e->rule) != 0)
			fail_msg("example %zu: matched %s, expected %s", i, got ? got : "nothing", e->rule);
		if (e->field && strcmp(val, e->value) != 0)
			fail_msg("example %zu (%s): %s = '%s', expected '%s'", i, e->rule, e->field, val, e->value);
	}
}

/* Issue 19: the same rule and the same unescaped field whatever quoting
 * depth the line was written at. */
static void test_quoting_depth(void **state)
{
	(void)state;
	static char line[8192];
	char val[512];
	for (size_t i = 0; i < sizeof(examples) / sizeof(examples[0]); i++) {
		const struct example *e = &examples[i];
		for (int d = 0; d <= 3; d++) {
			assert_int_equal(fmh_requote(line, sizeof(line), e->line, d), 0);
			const char *got = match(e->src, line, e->field, val, sizeof(val));
			if (!e->rule) {
				if (got)
					fail_msg("example %zu at depth %d matched %s, should match nothing", i, d, got);
				continue;
			}
			if (!got || strcmp(got, e->rule) != 0)
				fail_msg("example %zu at depth %d: matched %s, expected %s", i, d,
					 got ? got : "nothing", e->rule);
			if (e->field && strcmp(val, e->value) != 0)
				fail_msg("example %zu (%s) at depth %d: %s = '%s', expected '%s'", i, e->rule, d,
					 e->field, val, e->value);
		}
	}
}

static void test_not_terminated(void **state)
{
	(void)state;
	/* the message is a prefix of a larger buffer: nothing past len counts */
	const char buf[] = "RPC: fragment too large: 1246907721";
	struct fm_rules_match m;
	assert_int_equal(fm_rules_match(rs, 0, FM_RULES_SRC_KERNEL, buf, 20, &m), -1);
	assert_true(fm_rules_match(rs, 0, FM_RULES_SRC_KERNEL, buf, strlen(buf), &m) >= 0);
}

static void test_rpc_marker(void **state)
{
	(void)state;
	char t[5];
	assert_string_equal(fm_rules_rpc_marker(1246907721, t), "java-rmi");
	assert_string_equal(t, "JRMI");
	assert_string_equal(fm_rules_rpc_marker(1195725856, t), "http");
	assert_string_equal(t, "GET ");
	/* the high bit (last fragment) is cleared before decoding */
	assert_string_equal(fm_rules_rpc_marker(1246907721u | 0x80000000u, t), "java-rmi");
	assert_string_equal(fm_rules_rpc_marker(0x16030100, t), "tls");
	assert_string_equal(t, "....");
	assert_string_equal(fm_rules_rpc_marker(99999999999ULL, t), "unknown");
}

static void test_syntax(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"signal x\n",								/* before any rule */
		"rule a\nsignal s\nsources kubelet\nseverity info\nliteral x\n",	/* no regex */
		"rule a\nsignal s\nsources nope\nseverity info\nliteral x\nregex x\n", /* source */
		"rule a\nsignal s\nsources *\nseverity fatal\nliteral x\nregex x\n",	/* severity */
		"rule a\nsignal s\nsources *\nseverity info\nliteral x\nregex (x\n",	/* regex */
		"rule a\nsignal s\nsources *\nseverity info\nliteral x\nregex (?<n>x)\nkey m\n", /* key */
		"rule a\nsignal s\nsources *\nseverity info\nliteral x\nregex (?P<n>x)\n",	/* syntax */
		"rule a\nsignal s\nsources *\nseverity info\nliteral x\nregex [x\n",	/* bracket */
		"rule Bad\n",
		"rule container-name-conflict.docker\n", /* already defined */
		"rule a\nsignal s\nsources *\nseverity info\nliteral x\nregex x\nrule a\n",
		"rule a\nbogus 1\n",
		/* stacked quantifiers: undefined in ERE, exponential in regcomp */
		"rule a\nsignal s\nsources *\nseverity info\nliteral x\nregex xc++++++++++++++++++++++++++++++++\n",
		"rule a\nsignal s\nsources *\nseverity info\nliteral x\nregex x[0-9]{2}*\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char err[256] = "";
		size_t before = fm_rules_count(rs);
		if (fm_rules_load(rs, bad[i], strlen(bad[i]), "t.rules", err, sizeof(err)) != -EINVAL)
			fail_msg("bad rules %zu accepted", i);
		assert_int_equal(fm_rules_count(rs), before); /* nothing half-added */
		assert_non_null(strstr(err, "t.rules:"));
	}
	/* a good extra rule, with groups in brackets and escapes not counted */
	const char good[] = "# extra\nrule extra.one\nsignal custom\nsources kernel kubelet.service\n"
			    "severity warning\nliteral widget\n"
			    "regex \\(widget\\) [(]?(?<a>[a-z]+)[)]? (x)(?<b>[0-9]+)\\.?x*\nkey b\n";
	char err[256] = "";
	assert_int_equal(fm_rules_load(rs, good, strlen(good), "t.rules", err, sizeof(err)), 0);
	struct fm_rules_match m;
	const char line[] = "(widget) (abc) x42";
	int i = fm_rules_match(rs, 0, FM_RULES_SRC_KERNEL, line, strlen(line), &m);
	assert_true(i >= 0);
	assert_string_equal(fm_rules_id(rs, (size_t)i), "extra.one");
	assert_int_equal(m.nfields, 2);
	assert_string_equal(m.name[1], "b");
	assert_int_equal(m.len[1], 2);
	assert_memory_equal(m.text + m.off[1], "42", 2);
	assert_int_equal(fm_rules_match(rs, 0, FM_RULES_SRC_DOCKER, line, strlen(line), &m), -1);
}

/* A flood of one line is one entry; a flood of distinct keys is capped. */
static void test_hits_bounded(void **state)
{
	(void)state;
	struct fm_rules_hits *h = fm_rules_hits_new(rs);
	struct fm_facts *facts = fm_facts_new();
	struct fm_rules_match m;
	char line[128];
	assert_non_null(h);
	for (int i = 0; i < 10000; i++) {
		snprintf(line, sizeof(line), "RPC: fragment too large: 1246907721");
		int r = fm_rules_match(rs, 0, FM_RULES_SRC_KERNEL, line, strlen(line), &m);
		assert_true(r >= 0);
		assert_int_equal(fm_rules_hits_add(h, r, &m, "kernel", 1000 + (uint64_t)i, line, strlen(line)), 0);
	}
	assert_int_equal(fm_rules_hits_publish(h, "kmsg.match", facts), 1);
	const cJSON *f = fm_facts_get(facts, "kmsg.match", "rpc-fragment-too-large/1246907721");
	assert_non_null(f);
	assert_int_equal(cJSON_GetObjectItem(f, "count")->valuedouble, 10000);
	assert_int_equal(cJSON_GetObjectItem(f, "first_us")->valuedouble, 1000);
	assert_int_equal(cJSON_GetObjectItem(f, "last_us")->valuedouble, 10999);
	assert_int_equal(fm_rules_hits_publish(h, "kmsg.match", facts), 0); /* nothing new */

	for (int i = 0; i < 100; i++) {
		snprintf(line, sizeof(line), "RPC: fragment too large: %d", 1000 + i);
		int r = fm_rules_match(rs, 0, FM_RULES_SRC_KERNEL, line, strlen(line), &m);
		fm_rules_hits_add(h, r, &m, "kernel", 5, line, strlen(line));
	}
	assert_int_equal(fm_rules_hits_dropped(h), 100 - (FM_RULES_HITS_MAX - 1));
	assert_int_equal(fm_rules_hits_total(h), 10100);

	/* the state form restores the same table */
	cJSON *saved = fm_rules_hits_json(h);
	struct fm_rules_hits *h2 = fm_rules_hits_new(rs);
	assert_int_equal(fm_rules_hits_restore(h2, saved), 0);
	struct fm_facts *facts2 = fm_facts_new();
	assert_int_equal(fm_rules_hits_publish(h2, "kmsg.match", facts2), FM_RULES_HITS_MAX);
	const cJSON *f2 = fm_facts_get(facts2, "kmsg.match", "rpc-fragment-too-large/1246907721");
	assert_non_null(f2);
	assert_true(cJSON_Compare(f, f2, true));
	assert_int_equal(fm_rules_hits_restore(h2, NULL), -EINVAL);
	cJSON_Delete(saved);
	fm_facts_delete(&facts2);
	fm_rules_hits_delete(&h2);
	fm_facts_delete(&facts);
	fm_rules_hits_delete(&h);
}

/* The daemon's own line (incident 2's scenario, a data root that is not
 * /var/lib/docker): the whole overlay2 path is the key and the field, so
 * two layers are two facts and the file is named in full. */
static void test_long_layer_path(void **state)
{
	(void)state;
	struct fm_rules_hits *h = fm_rules_hits_new(rs);
	struct fm_facts *facts = fm_facts_new();
	struct fm_rules_match m;
	const char *path = "/tmp/fmh.XooxZN/mnt/overlay2/"
			   "9bfbfb7db696099deb53229729505f29ae3786e1e6b7026b3657d477f583618b/lower";
	char line[512], id[256];
	snprintf(line, sizeof(line),
		 "time=\"2026-11-23T16:24:47.572532032Z\" level=error msg=\"Handler for POST "
		 "/v1.41/containers/k8s_kube-apiserver_x/start returned error: open %s: structure needs cleaning\"",
		 path);
	int r = fm_rules_match(rs, 0, FM_RULES_SRC_DOCKER, line, strlen(line), &m);
	assert_true(r >= 0);
	assert_int_equal(fm_rules_hits_add(h, r, &m, "docker.service", 7, line, strlen(line)), 0);
	assert_int_equal(fm_rules_hits_publish(h, "journal.match", facts), 1);
	snprintf(id, sizeof(id), "structure-needs-cleaning/%s", path);
	const cJSON *f = fm_facts_get(facts, "journal.match", id);
	assert_non_null(f);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(f, "fields"), "path")->valuestring, path);
	fm_facts_delete(&facts);
	fm_rules_hits_delete(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_examples),
		cmocka_unit_test(test_quoting_depth),
		cmocka_unit_test(test_not_terminated),
		cmocka_unit_test(test_rpc_marker),
		cmocka_unit_test(test_hits_bounded),
		cmocka_unit_test(test_long_layer_path),
		cmocka_unit_test(test_syntax),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
