/* libFuzzer target: one input through every Docker JSON handler
 * (fm_docker_json.h): the container list, inspect, /version, the events
 * stream split into lines (each parsed as an event), log frames (both
 * framings), the daemon's error text and the kubelet name parser. Built with
 * -fsanitize=fuzzer by `make fuzz`, replayed over its corpus in ctest. */
#include "fm_docker_json.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_line(void *ctx, const char *line, size_t len)
{
	struct fm_docker_event ev;
	char err[160];
	(void)ctx;
	if (fm_docker_event_parse(line, len, &ev, err, sizeof(err)) == 0)
		(void)strlen(ev.name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	static struct fm_docker_ctr ctrs[8];
	struct fm_docker_counts k;
	struct fm_docker_version v;
	struct fm_docker_name n;
	struct fm_docker_lines l;
	size_t nc, dropped;
	char err[200], msg[300], name[512];

	fm_docker_list_parse(s, size, ctrs, 8, &nc, &dropped, &k, err, sizeof(err));
	fm_docker_inspect_parse(s, size, &ctrs[0], err, sizeof(err));
	fm_docker_version_parse(s, size, &v, err, sizeof(err));
	if (fm_docker_lines_init(&l, 256) == 0) {
		fm_docker_lines_feed(&l, s, size / 2, on_line, NULL);
		fm_docker_lines_feed(&l, s + size / 2, size - size / 2, on_line, NULL);
		fm_docker_lines_free(&l);
	}
	for (int raw = 0; raw < 2; raw++) {
		cJSON *lines = cJSON_CreateArray();
		fm_docker_logs_demux(s, size, raw, lines, 5, err, sizeof(err));
		cJSON_Delete(lines);
	}
	fm_docker_error_text(s, size, msg, sizeof(msg));
	size_t nl = size < sizeof(name) - 1 ? size : sizeof(name) - 1;
	memcpy(name, s, nl);
	name[nl] = '\0';
	if (fm_docker_name_parse(name, &n) == 0)
		(void)fm_docker_name_control_plane(&n);
	return 0;
}
