/* libFuzzer target for the CRI source's readers (fm_cri.h fm_cri_parse_*):
 * one input is read as each answer the source asks for (Version,
 * ListPodSandbox, ListContainers, ContainerStatus, the CRI's container
 * event and containerd's event envelope: protobuf from the
 * runtime's socket, hostile), then the containers' facts as the source puts
 * them (stale attempts, crash loops), into one fact set, which must print as
 * valid UTF-8 JSON that parses back (fuzz_facts.h). Replayed in ctest over
 * messages shaped like a containerd node's (corpus/cri). */
#include "fm_cri.h"

#include "fuzz_facts.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fm_facts *facts = fm_facts_new();
	struct fm_cri_counts k = {0};
	static struct fm_docker_ctr ctrs[4];
	size_t n = 0;
	if (!facts)
		return 0;
	cJSON *rt = cJSON_CreateObject();
	fm_cri_parse_version(rt, data, size);
	fm_facts_put(facts, "cri.runtime", "unix:///run/containerd/containerd.sock", rt);
	fm_cri_parse_sandboxes(facts, data, size, &k);
	fm_cri_parse_containers(data, size, &k, ctrs, 4, &n);
	if (n > 4 || k.running + k.exited + k.created + k.unknown != k.containers)
		__builtin_trap();
	fm_cri_parse_status(data, size, ctrs, n);
	for (size_t i = 0; i < n; i++)
		if (strlen(ctrs[i].id) > 64)
			__builtin_trap();
	fm_cri_put_containers(facts, ctrs, n, 1733459300, 3, 600, "containerd");
	char id[80];
	uint32_t status;
	if (fm_cri_parse_event(data, size, id, sizeof(id), &status) == 1 && strlen(id) >= sizeof(id))
		__builtin_trap();
	if (fm_cri_parse_container_event(data, size, id, sizeof(id)) >= 0 && strlen(id) >= sizeof(id))
		__builtin_trap();
	fuzz_facts_check(facts);
	fm_facts_delete(&facts);
	return 0;
}
