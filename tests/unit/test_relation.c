/* The explain relation over the whole of it (issue 20): for every (cause,
 * symptom) pair of codes the engine may link (fm_diagnose_pair), one node
 * where the link holds (the symptom is folded into the cause, named in its
 * "links" with why) and one where it does not (both stand on their own).
 * A pair the engine knows without a case here fails the test, so the
 * relation cannot grow untested.
 *
 * Facts are hand-made, in the shape the sources put them; "@T" in a fact
 * stands for the evaluation time in microseconds (log lines must be recent
 * to count). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fm_diagnose.h"
#include "fmh_uplink.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1795000000 /* 2026-11-18 */

struct fact {
	const char *kind, *id, *json;
};

#define API "https://127.0.0.1:6443"
#define ETCD "https://127.0.0.1:2379"

/* --- the facts the cases are made of ------------------------------------ */

#define A_REFUSED {"apiserver.endpoint", API, "{\"state\":\"refused\"}"}
#define A_ETCD_CHECK {"apiserver.readyz", API, "{\"healthy\":false,\"http_status\":500,\"failed\":[\"etcd\"]}"}
#define A_NOT_YET_VALID {"apiserver.endpoint", API, "{\"state\":\"tls\",\"tls\":\"cert-not-yet-valid\"}"}
#define A_TLS_ALERT {"apiserver.endpoint", API, "{\"state\":\"tls\",\"tls\":\"alert\"}"}
#define E_REFUSED {"etcd.endpoint", ETCD, "{\"state\":\"refused\",\"origin\":\"/var/lib/rancher/k3s/server/db/etcd/config\"}"}
/* kubeadm: etcd found through its static pod manifest */
#define E_REFUSED_KUBEADM {"etcd.endpoint", ETCD, "{\"state\":\"refused\",\"origin\":\"/etc/kubernetes/manifests/etcd.yaml\"}"}
#define E_OK_KUBEADM {"etcd.endpoint", ETCD, "{\"state\":\"ok\",\"origin\":\"/etc/kubernetes/manifests/etcd.yaml\"}"}
/* the agent's own client certificate refused: etcd itself serves */
#define E_OWN_CERT_REFUSED                                                                                      \
	{"etcd.endpoint", ETCD,                                                                                 \
	 "{\"state\":\"tls\",\"tls\":\"client-cert-rejected\",\"cert_file\":\"/etc/kubernetes/pki/etcd/healthcheck-client.crt\"," \
	 "\"ca_file\":\"/etc/kubernetes/pki/etcd/ca.crt\"}"}
#define E_NOT_YET_VALID {"etcd.endpoint", ETCD, "{\"state\":\"tls\",\"tls\":\"cert-not-yet-valid\"}"}
#define E_SLOW_DISK {"etcd.disk", ETCD, "{\"wal_fsync_slow_share\":0.25,\"backend_commit_slow_share\":0.02,\"bucket_le_ms\":128}"}
#define E_NOSPACE {"etcd.alarm", ETCD "#NOSPACE", "{\"alarm\":\"NOSPACE\",\"member_id\":\"8e9e05c52164694d\",\"members\":1}"}
#define E_OK {"etcd.endpoint", ETCD, "{\"state\":\"ok\"}"}

#define CRASHLOOP(c)                                                                           \
	{"docker.crashloop", "kube-system/" c "-k1/" c,                                          \
	 "{\"container\":\"" c "\",\"pod\":\"" c "-k1\",\"namespace\":\"kube-system\",\"exits\":5," \
	 "\"window_s\":600,\"last_exit_code\":1}"}
/* exited once and never started again */
#define EXITED(c)                                                                              \
	{"docker.container", "6ef208ad4c36",                                                     \
	 "{\"container\":\"" c "\",\"pod\":\"" c "-k1\",\"namespace\":\"kube-system\",\"attempt\":5," \
	 "\"state\":\"exited\",\"exit_code\":255,\"sandbox\":false}"}
#define RUNNING(c)                                                                             \
	{"docker.container", "0a1b2c3d4e5f",                                                     \
	 "{\"container\":\"" c "\",\"pod\":\"" c "-k1\",\"namespace\":\"kube-system\",\"attempt\":2," \
	 "\"state\":\"running\",\"sandbox\":false}"}
/* kubelet's line: the name of c's container held by another */
#define CONFLICT(c)                                                                                               \
	{"journal.match", "container-name-conflict.docker/" c,                                                      \
	 "{\"signal\":\"container-name-conflict\",\"severity\":\"critical\",\"source\":\"kubelet\",\"count\":3,"    \
	 "\"last_us\":@T,\"fields\":{\"name\":\"k8s_" c "_" c "-k1_kube-system_0f2a_24\","                          \
	 "\"blocking_id\":\"eced8537863007db9a915924785306b26238cabbd3feec0e5226e2ad0710807b\"}}"}
#define KUBELET_DOWN(msg)                                                                                 \
	{"journal.match", "kubelet-exited/kubelet",                                                         \
	 "{\"signal\":\"kubelet-down\",\"severity\":\"critical\",\"source\":\"kubelet.service\",\"count\":1," \
	 "\"last_us\":@T,\"message\":\"" msg "\"}"}
#define KUBELET_DOWN_ON_RUNTIME                                                                                 \
	KUBELET_DOWN("E1118 run.go:74] \\\"command failed\\\" err=\\\"failed to run Kubelet: validate service "   \
		     "connection: CRI v1 runtime API is not implemented for endpoint \\\\\\\"unix:///run/containerd/" \
		     "containerd.sock\\\\\\\"\\\"")
#define KUBELET_DOWN_ON_CONFIG                                                                             \
	KUBELET_DOWN("E1118 run.go:74] \\\"command failed\\\" err=\\\"failed to load kubelet config file, path: " \
		     "/var/lib/kubelet/config.yaml, error: open /var/lib/kubelet/config.yaml: no such file or directory\\\"")
#define KUBELET_DOWN_ON_CGROUP \
	KUBELET_DOWN("E1118 server.go:302] \\\"Failed to run kubelet\\\" err=\\\"failed to run Kubelet: system validation failed - Following Cgroup subsystem not mounted: [memory]\\\"")
#define KUBELET_DOWN_ON_SWAP \
	KUBELET_DOWN("E1118 server.go:302] \\\"Failed to run kubelet\\\" err=\\\"failed to run Kubelet: running with swap on is not supported, please disable swap!\\\"")
#define RUNTIME_DOWN {"docker.daemon", "unix:///var/run/docker.sock", "{\"state\":\"refused\",\"reason\":\"connection refused\"}"}
#define DOCKER_OK {"docker.daemon", "unix:///var/run/docker.sock", "{\"state\":\"ok\"}"}
#define CONTAINERD_FAILED                                                                                           \
	{"journal.match", "runtime-failed/containerd",                                                                \
	 "{\"signal\":\"container-runtime-down\",\"severity\":\"critical\",\"source\":\"systemd\",\"count\":1," \
	 "\"last_us\":@T,\"message\":\"containerd.service: Failed with result 'exit-code'.\"}"}

/* The filesystems: loop0 (mounted on /srv/data) damaged, the root (vda) healthy. */
#define LOOP0_DAMAGED {"hal.ext4", "loop0", "{\"device\":\"loop0\",\"mount_point\":\"/srv/data\",\"errors_count\":2}"}
#define ON(path, mp, dev) {"hal.fs", path, "{\"path\":\"" path "\",\"mount_point\":\"" mp "\",\"device\":\"" dev "\"}"}
#define ON_LOOP0(path) ON(path, "/srv/data", "/dev/loop0")
#define ON_ROOT(path) ON(path, "/", "/dev/vda")
#define ROOT_FULL {"hal.fs", "/", "{\"path\":\"/\",\"mount_point\":\"/\",\"device\":\"/dev/vda\",\"used_pct\":98,\"inodes_used_pct\":4}"}
#define ON_LOOP1(path) ON(path, "/srv/other", "/dev/loop1")

#define MEMCG_OFF {"hal.memory", "memory", "{\"memory_cgroup_enabled\":false,\"memory_cgroup_reason\":\"cgroup_disable=memory\"}"}
/* swap on, and kubelet's own line refusing it */
#define SWAP_ON {"hal.memory", "memory", "{\"memory_cgroup_enabled\":true,\"swap_enabled\":true}"}
#define SWAP_REFUSED                                                                                       \
	{"journal.match", "swap-on/kubelet",                                                                 \
	 "{\"signal\":\"swap-enabled\",\"severity\":\"critical\",\"source\":\"kubelet.service\",\"count\":1," \
	 "\"last_us\":@T,\"message\":\"running with swap on is not supported\"}"}

/* The clock behind the newest certificate (a board without RTC after a
 * power cut); then unsynchronised with the kernel's largest error. */
#define CLOCK_BEHIND                                                                           \
	{"hal.clock", "clock",                                                                   \
	 "{\"now\":\"2026-01-01T00:00:00Z\",\"synchronised\":false,\"maxerror_us\":16000000,"     \
	 "\"rtc_present\":false,\"newest_cert\":\"/etc/kubernetes/pki/ca.crt\",\"clock_before_newest_cert\":true}"}
#define CERT(file, days)                                                                                  \
	{"cert", file,                                                                                      \
	 "{\"file\":\"" file "\",\"subject\":\"CN=x\",\"not_after\":\"2026-11-18T00:00:00Z\",\"days_left\":" days \
	 ",\"expired\":true,\"not_yet_valid\":false}"}

#define UNDERVOLT_THROTTLING                                                                   \
	{"hal.throttle", "firmware",                                                             \
	 "{\"undervoltage_now\":true,\"undervoltage_since_boot\":true,\"throttled_now\":true,"   \
	 "\"freq_capped_now\":true,\"raw\":\"0x50007\"}"}
#define UNDERVOLT_ONLY {"hal.throttle", "firmware", "{\"undervoltage_now\":true,\"undervoltage_since_boot\":true,\"raw\":\"0x50001\"}"}
#define HOT {"hal.thermal", "thermal_zone0", "{\"type\":\"cpu-thermal\",\"temp_c\":88}"}

/* --- the cases ------------------------------------------------------------ */

#define MAXF 8
struct rcase {
	const char *cause, *symptom;
	struct fact yes[MAXF]; /* the link holds */
	struct fact no[MAXF];  /* the same codes, the link does not hold */
};

static const struct rcase cases[] = {
	{"container-name-conflict", "control-plane-crashloop",
	 {CONFLICT("kube-apiserver"), CRASHLOOP("kube-apiserver")},
	 {CONFLICT("kube-apiserver"), CRASHLOOP("kube-scheduler")}},
	{"container-name-conflict", "apiserver-unreachable",
	 {CONFLICT("kube-apiserver"), A_REFUSED},
	 {CONFLICT("coredns"), A_REFUSED}},
	{"container-name-conflict", "etcd-unreachable",
	 {CONFLICT("etcd"), E_REFUSED},
	 {CONFLICT("kube-apiserver"), E_REFUSED}},

	{"fs-corruption", "control-plane-crashloop",
	 {LOOP0_DAMAGED, ON_LOOP0("/var/lib/docker"), CRASHLOOP("kube-apiserver")},
	 {LOOP0_DAMAGED, ON_ROOT("/var/lib/docker"), CRASHLOOP("kube-apiserver")}},
	{"fs-corruption", "container-runtime-down",
	 {LOOP0_DAMAGED, ON_LOOP0("/var/lib/docker"), RUNTIME_DOWN},
	 {LOOP0_DAMAGED, ON_ROOT("/var/lib/docker"), ON_ROOT("/var/lib/containerd"), RUNTIME_DOWN}},
	{"fs-corruption", "kubelet-down",
	 {LOOP0_DAMAGED, ON_LOOP0("/var/lib/kubelet"), KUBELET_DOWN_ON_CONFIG},
	 {LOOP0_DAMAGED, ON_ROOT("/var/lib/kubelet"), KUBELET_DOWN_ON_CONFIG}},
	/* kube-apiserver runs from the runtime's layers (a container of it is
	 * known); on k3s it is part of the k3s process */
	{"fs-corruption", "apiserver-unreachable",
	 {LOOP0_DAMAGED, ON_LOOP0("/var/lib/docker"), RUNNING("kube-apiserver"), A_REFUSED},
	 {LOOP0_DAMAGED, ON_LOOP0("/var/lib/docker"), A_REFUSED}},
	{"fs-corruption", "etcd-unreachable",
	 {LOOP0_DAMAGED, ON_LOOP0("/var/lib/etcd"), E_REFUSED},
	 {LOOP0_DAMAGED, ON_ROOT("/var/lib/etcd"), ON_ROOT("/var/lib/docker"), E_REFUSED}},
	{"fs-corruption", "etcd-slow-disk",
	 {LOOP0_DAMAGED, ON_LOOP0("/var/lib/etcd"), E_SLOW_DISK},
	 {LOOP0_DAMAGED, ON_ROOT("/var/lib/etcd"), E_SLOW_DISK}},

	{"disk-pressure", "etcd-nospace",
	 {ROOT_FULL, ON_ROOT("/var/lib/etcd"), E_OK, E_NOSPACE},
	 {ROOT_FULL, ON_LOOP1("/var/lib/etcd"), E_OK, E_NOSPACE}},
	{"disk-pressure", "control-plane-crashloop",
	 {ROOT_FULL, ON_ROOT("/var/lib/docker"), CRASHLOOP("kube-apiserver")},
	 {ROOT_FULL, ON_LOOP1("/var/lib/docker"), ON_LOOP1("/var/lib/containerd"), CRASHLOOP("kube-apiserver")}},

	/* kubelet's own words say why it stopped */
	{"memory-cgroup-disabled", "kubelet-down",
	 {MEMCG_OFF, KUBELET_DOWN_ON_CGROUP},
	 {MEMCG_OFF, KUBELET_DOWN_ON_CONFIG}},
	/* static pods (kubeadm) need kubelet; k3s's apiserver and etcd do not */
	{"memory-cgroup-disabled", "apiserver-unreachable",
	 {MEMCG_OFF, E_OK_KUBEADM, A_REFUSED},
	 {MEMCG_OFF, A_REFUSED}},
	{"memory-cgroup-disabled", "etcd-unreachable",
	 {MEMCG_OFF, E_REFUSED_KUBEADM},
	 {MEMCG_OFF, E_REFUSED}},
	{"swap-enabled", "kubelet-down",
	 {SWAP_ON, SWAP_REFUSED, KUBELET_DOWN_ON_SWAP},
	 {SWAP_ON, SWAP_REFUSED, KUBELET_DOWN_ON_CONFIG}},
	{"swap-enabled", "apiserver-unreachable",
	 {SWAP_ON, SWAP_REFUSED, E_OK_KUBEADM, A_REFUSED},
	 {SWAP_ON, SWAP_REFUSED, A_REFUSED}},
	{"swap-enabled", "etcd-unreachable",
	 {SWAP_ON, SWAP_REFUSED, E_REFUSED_KUBEADM},
	 {SWAP_ON, SWAP_REFUSED, E_REFUSED}},

	/* an unsynchronised clock explains an expiry only within its error */
	{"clock-unsynced", "cert-expired",
	 {CLOCK_BEHIND, CERT("/etc/kubernetes/pki/apiserver.crt", "-0.00005")},
	 {CLOCK_BEHIND, CERT("/etc/kubernetes/pki/apiserver.crt", "-17")}},
	{"clock-unsynced", "apiserver-unreachable",
	 {CLOCK_BEHIND, A_NOT_YET_VALID},
	 {CLOCK_BEHIND, A_REFUSED}},
	{"clock-unsynced", "etcd-unreachable",
	 {CLOCK_BEHIND, E_NOT_YET_VALID},
	 {CLOCK_BEHIND, E_REFUSED}},

	{"cert-expired", "control-plane-crashloop",
	 {CERT("/etc/kubernetes/pki/etcd/server.crt", "-3"), CRASHLOOP("etcd")},
	 {CERT("/etc/kubernetes/pki/etcd/server.crt", "-3"), CRASHLOOP("kube-apiserver")}},
	{"cert-expired", "apiserver-unreachable",
	 {CERT("/etc/kubernetes/pki/apiserver-etcd-client.crt", "-3"), E_OK, A_ETCD_CHECK},
	 {CERT("/etc/kubernetes/pki/etcd/peer.crt", "-3"), A_REFUSED}},
	{"cert-expired", "etcd-unreachable",
	 {CERT("/etc/kubernetes/pki/etcd/healthcheck-client.crt", "-3"), E_OWN_CERT_REFUSED},
	 {CERT("/etc/kubernetes/pki/front-proxy-client.crt", "-3"), E_OWN_CERT_REFUSED}},

	/* the container's runtime is the one down; containerd's unit failing
	 * beside a Docker that answers and holds the container is not it */
	{"container-runtime-down", "control-plane-crashloop",
	 {RUNTIME_DOWN, EXITED("kube-apiserver")},
	 {CONTAINERD_FAILED, DOCKER_OK, EXITED("kube-apiserver")}},
	{"container-runtime-down", "kubelet-down",
	 {RUNTIME_DOWN, KUBELET_DOWN_ON_RUNTIME},
	 {RUNTIME_DOWN, KUBELET_DOWN_ON_CONFIG}},
	{"container-runtime-down", "apiserver-unreachable",
	 {RUNTIME_DOWN, E_OK_KUBEADM, A_REFUSED},
	 {RUNTIME_DOWN, A_REFUSED}},
	{"container-runtime-down", "etcd-unreachable",
	 {RUNTIME_DOWN, E_REFUSED_KUBEADM},
	 {RUNTIME_DOWN, E_REFUSED}},

	/* kubelet restarting a crash loop is alive */
	{"kubelet-down", "control-plane-crashloop",
	 {KUBELET_DOWN_ON_CONFIG, EXITED("kube-apiserver")},
	 {KUBELET_DOWN_ON_CONFIG, CRASHLOOP("kube-apiserver")}},
	{"kubelet-down", "apiserver-unreachable",
	 {KUBELET_DOWN_ON_CONFIG, E_OK_KUBEADM, A_REFUSED},
	 {KUBELET_DOWN_ON_CONFIG, A_REFUSED}},
	{"kubelet-down", "etcd-unreachable",
	 {KUBELET_DOWN_ON_CONFIG, E_REFUSED_KUBEADM},
	 {KUBELET_DOWN_ON_CONFIG, E_REFUSED}},

	/* the firmware's throttling, not the heat's; etcd on the SD card */
	{"undervoltage", "throttled",
	 {UNDERVOLT_THROTTLING},
	 {UNDERVOLT_ONLY, HOT}},
	{"undervoltage", "etcd-slow-disk",
	 {UNDERVOLT_ONLY, ON("/var/lib/etcd", "/", "/dev/mmcblk0p2"), E_SLOW_DISK},
	 {UNDERVOLT_ONLY, ON("/var/lib/etcd", "/var/lib/etcd", "/dev/nvme0n1p1"), E_SLOW_DISK}},

	/* NOSPACE takes the apiserver's etcd check down, not its listener */
	{"etcd-nospace", "apiserver-unreachable",
	 {E_OK, E_NOSPACE, A_ETCD_CHECK},
	 {E_OK, E_NOSPACE, A_REFUSED}},

	{"control-plane-crashloop", "apiserver-unreachable",
	 {CRASHLOOP("kube-apiserver"), A_REFUSED},
	 {CRASHLOOP("kube-scheduler"), A_REFUSED}},
	{"control-plane-crashloop", "etcd-unreachable",
	 {CRASHLOOP("etcd"), E_REFUSED},
	 {CRASHLOOP("kube-apiserver"), E_REFUSED}},

	/* etcd not serving takes the apiserver down; the agent's own client
	 * certificate refused says nothing of etcd */
	{"etcd-unreachable", "apiserver-unreachable",
	 {E_REFUSED, A_REFUSED},
	 {E_OWN_CERT_REFUSED, A_REFUSED}},
};

/* --- running them ------------------------------------------------------- */

static void put(struct fm_facts *f, const struct fact *fs)
{
	for (int i = 0; i < MAXF && fs[i].kind; i++) {
		char json[2048], t[32];
		snprintf(t, sizeof(t), "%lld", (long long)NOW * 1000000);
		const char *at = strstr(fs[i].json, "@T");
		if (at)
			snprintf(json, sizeof(json), "%.*s%s%s", (int)(at - fs[i].json), fs[i].json, t, at + 2);
		else
			snprintf(json, sizeof(json), "%s", fs[i].json);
		fmh_put_fact(f, fs[i].kind, fs[i].id, json);
	}
}

static const cJSON *top(const cJSON *ds, const char *code)
{
	const cJSON *d;
	cJSON_ArrayForEach(d, ds)
	{
		if (!strcmp(cJSON_GetObjectItem(d, "code")->valuestring, code))
			return d;
	}
	return NULL;
}

/* The link of d to a symptom of code, or NULL. */
static const cJSON *link_to(const cJSON *d, const char *code)
{
	const cJSON *l;
	cJSON_ArrayForEach(l, cJSON_GetObjectItem(d, "links"))
	{
		if (!strcmp(cJSON_GetObjectItem(l, "code")->valuestring, code))
			return l;
	}
	return NULL;
}

static char *dump(const cJSON *d)
{
	static char buf[8192];
	char *s = cJSON_Print(d);
	snprintf(buf, sizeof(buf), "%s", s ? s : "?");
	free(s);
	return buf;
}

static void run_case(const struct rcase *rc, bool linked, int *failures)
{
	struct fm_facts *f = fm_facts_new();
	put(f, linked ? rc->yes : rc->no);
	cJSON *d = fm_diagnose(f, NOW);
	assert_non_null(d);
	const cJSON *cause = top(d, rc->cause), *sym = top(d, rc->symptom);
	const cJSON *l = cause ? link_to(cause, rc->symptom) : NULL;
	bool ok;
	if (linked)
		ok = cause && l && !sym && cJSON_IsString(cJSON_GetObjectItem(l, "because")) &&
		     cJSON_GetObjectItem(l, "because")->valuestring[0] &&
		     cJSON_IsString(cJSON_GetObjectItem(l, "component")) &&
		     cJSON_GetObjectItem(l, "component")->valuestring[0];
	else
		ok = cause && sym && !l;
	if (ok) {
		print_message("%-24s %s %-24s%s%s\n", rc->cause, linked ? "explains      " : "does not explain", rc->symptom,
			      linked ? ": " : "", linked ? cJSON_GetObjectItem(l, "because")->valuestring : "");
	} else {
		print_message("FAIL %s -> %s (%s): %s\n", rc->cause, rc->symptom, linked ? "should link" : "should not",
			      dump(d));
		(*failures)++;
	}
	cJSON_Delete(d);
	fm_facts_delete(&f);
}

static void whole_relation(void **state)
{
	(void)state;
	int failures = 0, pairs = 0;
	const char *cause, *symptom;
	for (size_t i = 0; fm_diagnose_pair(i, &cause, &symptom); i++) {
		pairs++;
		const struct rcase *rc = NULL;
		for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++)
			if (!strcmp(cases[k].cause, cause) && !strcmp(cases[k].symptom, symptom))
				rc = &cases[k];
		if (!rc) {
			print_message("FAIL %s -> %s: no case in test_relation.c\n", cause, symptom);
			failures++;
			continue;
		}
		run_case(rc, true, &failures);
		run_case(rc, false, &failures);
	}
	print_message("%d pairs of the relation, %d failures\n", pairs, failures);
	assert_true(pairs >= 30);
	assert_int_equal(failures, 0);
	/* every case is a pair the engine knows (none is stale) */
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		bool known = false;
		for (size_t i = 0; fm_diagnose_pair(i, &cause, &symptom); i++)
			known |= !strcmp(cases[k].cause, cause) && !strcmp(cases[k].symptom, symptom);
		if (!known)
			fail_msg("case %s -> %s is not a pair of the relation", cases[k].cause, cases[k].symptom);
	}
}

/* Every diagnosis names its component (issue 20 item 1). */
static void every_diagnosis_names_its_component(void **state)
{
	(void)state;
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct fm_facts *f = fm_facts_new();
		put(f, cases[k].yes);
		put(f, cases[k].no);
		cJSON *d = fm_diagnose(f, NOW);
		const cJSON *x;
		cJSON_ArrayForEach(x, d)
		{
			const cJSON *c = cJSON_GetObjectItem(x, "component"), *in = cJSON_GetObjectItem(x, "instance");
			if (!cJSON_IsString(c) || !c->valuestring[0] || !strcmp(c->valuestring, "?") || !cJSON_IsString(in))
				fail_msg("no component: %s", dump(x));
		}
		cJSON_Delete(d);
		fm_facts_delete(&f);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(whole_relation),
		cmocka_unit_test(every_diagnosis_names_its_component),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
