/* libFuzzer target for the offline queue read back at start (uplink.json
 * in the state dir, fm_queue_open): a file this agent did not write (a
 * corrupted disk, a hand edit) is refused or taken whole, never a crash;
 * what is taken can be sent, acknowledged, floored and added to. */
#include "fm_log.h"
#include "fm_queue.h"
#include "fuzz_tmpdir.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *dir = fuzz_tmpdir();
	if (!dir || fuzz_put(dir, "uplink.json", data, size) < 0)
		return 0;
	fm_log_set_level(FM_LOG_ERR - 1);
	char err[256];
	struct fm_queue *q = fm_queue_open(dir, 2048, err, sizeof(err));
	if (!q) {
		if (!memchr(err, '\0', sizeof(err)))
			__builtin_trap();
		return 0;
	}
	size_t n = fm_queue_count(q);
	uint32_t seq = 0;
	const char *head = fm_queue_head(q, false, 0, &seq);
	if (n && !head)
		__builtin_trap();
	/* A report holds what fits FM_REPORT_MAX; one item read back larger
	 * than that (a hand-edited file: the agent cuts its own) goes alone,
	 * as it is, and the controller refuses it (4.13): bounded by the file,
	 * each byte of which JSON may print as six (a control character read
	 * raw is written "\u0018"). */
	if (head && (strlen(head) > FM_REPORT_MAX + 6 * size || fm_queue_ack(q, seq) < 0))
		__builtin_trap();
	(void)fm_queue_floor(q, seq + 1);
	cJSON *items = cJSON_Parse("[{\"c\":\"etcd-down\",\"s\":3,\"k\":\"etcd\",\"m\":\"etcd is down\"},"
				   "[\"ext4-errors\",\"mmcblk0p2\"]]");
	(void)fm_queue_push(q, items, 1732345678);
	(void)fm_queue_set_reported(q, fm_queue_reported(q));
	while ((head = fm_queue_head(q, true, 0, &seq)) && fm_queue_ack(q, seq) == 0)
		;
	(void)fm_queue_bytes(q);
	fm_queue_delete(&q);
	return 0;
}
