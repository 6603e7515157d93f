/* fm_kmsg: /dev/kmsg reader. */
#include "fm_kmsg.h"
#include "fm_json.h"

#include "fm_log.h"
#include "fm_state.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define STATE_FILE "kmsg.state"
/* Records handled per wake-up, so a flood cannot hold the loop. */
#define BUDGET 1024

struct fm_kmsg {
	struct fm_event ev;
	struct fm_facts *facts;
	const struct fm_rules *rules;
	struct fm_rules_hits *hits;
	char path[256];
	char state_dir[512];
	char boot_id[40];
	int fd;
	uint64_t skip_to;	/* records with seq <= this were read before */
	bool have_seq;
	uint64_t last_seq;
	uint64_t since_mono_us;
	uint64_t records, matched, overruns, missed;
	bool changed;
	struct fm_saver saver; /* when kmsg.state is written (save_ms: fm_kmsg_opts) */
	char buf[FM_KMSG_RECORD_MAX + 1];
};

/* Parses a decimal number ending at the delimiter delim; advances *p past it. */
static int number(const char **p, const char *end, char delim, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;
	if (s >= end || *s < '0' || *s > '9')
		return -EINVAL;
	for (; s < end && *s >= '0' && *s <= '9'; s++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (s >= end || *s != delim)
		return -EINVAL;
	*p = s + 1;
	*out = v;
	return 0;
}

int fm_kmsg_parse(const char *buf, size_t len, struct fm_kmsg_record *r)
{
	const char *p = buf, *end = buf + len;
	uint64_t pri;
	if (number(&p, end, ',', &pri) < 0 || number(&p, end, ',', &r->seq) < 0)
		return -EINVAL;
	/* TS is followed by ',' FLAGS (and maybe more ','-fields) then ';' */
	const char *semi = memchr(p, ';', (size_t)(end - p));
	if (!semi)
		return -EINVAL;
	const char *comma = memchr(p, ',', (size_t)(semi - p));
	if (!comma || number(&p, comma + 1, ',', &r->ts_us) < 0)
		return -EINVAL;
	r->continued = memchr(p, 'c', (size_t)(semi - p)) != NULL;
	r->level = (unsigned)(pri & 7);
	r->facility = (unsigned)((pri >> 3) & 0xffffff);
	r->msg = semi + 1;
	const char *nl = memchr(r->msg, '\n', (size_t)(end - r->msg));
	r->len = (size_t)((nl ? nl : end) - r->msg);
	return 0;
}

static void read_boot_id(char *out, size_t size)
{
	out[0] = '\0';
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, out, size - 1);
	close(fd);
	if (n < 0)
		n = 0;
	out[n] = '\0';
	out[strcspn(out, "\n")] = '\0';
}

static void put_source(struct fm_kmsg *k, const char *state, const char *reason)
{
	cJSON *f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "state", state);
	if (reason)
		cJSON_AddStringToObject(f, "reason", reason);
	cJSON_AddBoolToObject(f, "persisted", k->state_dir[0] != '\0');
	if (k->have_seq)
		cJSON_AddNumberToObject(f, "last_seq", (double)k->last_seq);
	cJSON_AddNumberToObject(f, "records", (double)k->records);
	cJSON_AddNumberToObject(f, "matched", (double)k->matched);
	cJSON_AddNumberToObject(f, "overruns", (double)k->overruns);
	cJSON_AddNumberToObject(f, "missed", (double)k->missed);
	cJSON_AddNumberToObject(f, "matches_dropped", (double)fm_rules_hits_dropped(k->hits));
	cJSON_AddNumberToObject(f, "state_saves", (double)k->saver.saves);
	fm_facts_put(k->facts, "kmsg.source", k->path, f);
}

static void save_state(struct fm_kmsg *k)
{
	if (!k->state_dir[0] || !k->have_seq)
		return;
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "boot_id", k->boot_id);
	cJSON_AddNumberToObject(o, "seq", (double)k->last_seq);
	cJSON_AddNumberToObject(o, "records", (double)k->records);
	cJSON_AddNumberToObject(o, "matched", (double)k->matched);
	cJSON_AddItemToObject(o, "hits", fm_rules_hits_json(k->hits));
	int rc = fm_state_write_json(k->state_dir, STATE_FILE, o);
	if (rc < 0 && fm_state_failure_is_new())
		fm_warn("kmsg: cannot save state in %s: %s", k->state_dir, strerror(-rc));
	fm_saver_wrote(&k->saver, rc);
}

/* Records were read: kmsg.state is written at once when it matters
 * (fm_saver_due: none of this boot there yet, save_ms 0, no loop, a
 * failed write), else within save_ms
 * and at exit (issue 27: a kernel that logs a line a minute must not cost
 * the card two fsyncs a minute). After SIGKILL the restart reads again
 * from the last sequence number written, with the counts written with it:
 * counted once still, unless the ring overwrote those records meanwhile
 * (then counted as missed). */
static void save_soon(struct fm_kmsg *k)
{
	if (k->state_dir[0] && k->have_seq && fm_saver_due(&k->saver, false))
		save_state(k);
}

static void on_save(struct fm_timer *t)
{
	struct fm_kmsg *k = container_of(t, struct fm_kmsg, saver.timer);
	if (k->saver.dirty)
		save_state(k);
}

/* The saved sequence number, when it is of this boot. */
static void load_state(struct fm_kmsg *k)
{
	int rc;
	cJSON *o = fm_state_load_json(k->state_dir, STATE_FILE, &rc);
	if (!o)
		return; /* none, or put aside: as on a first start */
	const cJSON *boot = cJSON_GetObjectItemCaseSensitive(o, "boot_id");
	const cJSON *seq = cJSON_GetObjectItemCaseSensitive(o, "seq");
	uint64_t sq;
	if (!cJSON_IsString(boot) || !fm_json_u64(seq, &sq)) {
		(void)fm_state_quarantine(k->state_dir, STATE_FILE, "holds no boot id and sequence number (truncated or damaged)");
	} else if (strcmp(boot->valuestring, k->boot_id) == 0) {
		k->have_seq = true;
		k->saver.saved_once = true;
		k->last_seq = k->skip_to = sq;
		if (!fm_json_u64(cJSON_GetObjectItemCaseSensitive(o, "records"), &k->records))
			k->records = 0;
		if (!fm_json_u64(cJSON_GetObjectItemCaseSensitive(o, "matched"), &k->matched))
			k->matched = 0;
		fm_rules_hits_restore(k->hits, cJSON_GetObjectItemCaseSensitive(o, "hits"));
	}
	cJSON_Delete(o);
}

/* CLOCK_MONOTONIC microseconds of a record, as CLOCK_REALTIME. */
static uint64_t realtime_of(uint64_t ts_us)
{
	struct timespec rt, mono;
	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mono);
	uint64_t now_rt = (uint64_t)rt.tv_sec * 1000000u + (uint64_t)rt.tv_nsec / 1000u;
	uint64_t now_mono = (uint64_t)mono.tv_sec * 1000000u + (uint64_t)mono.tv_nsec / 1000u;
	return ts_us <= now_mono && now_mono - ts_us <= now_rt ? now_rt - (now_mono - ts_us) : now_rt;
}

static void handle(struct fm_kmsg *k, const struct fm_kmsg_record *r)
{
	if (k->have_seq && r->seq <= k->skip_to)
		return; /* read before the restart */
	if (k->have_seq && r->seq > k->last_seq + 1)
		k->missed += r->seq - k->last_seq - 1;
	k->have_seq = true;
	k->last_seq = k->skip_to = r->seq;
	k->records++;
	k->changed = true;
	if (r->ts_us < k->since_mono_us)
		return;
	struct fm_rules_match m;
	for (int i = fm_rules_match(k->rules, 0, FM_RULES_SRC_KERNEL, r->msg, r->len, &m); i >= 0;
	     i = fm_rules_match(k->rules, (size_t)i + 1, FM_RULES_SRC_KERNEL, r->msg, r->len, &m)) {
		k->matched++;
		fm_rules_hits_add(k->hits, i, &m, "kernel", realtime_of(r->ts_us), r->msg, r->len);
	}
}

/* Reads up to budget records (0: until there are none). 0 when the log is
 * drained or the budget is spent, -errno when it failed. */
static int drain(struct fm_kmsg *k, size_t budget)
{
	int rc = 0;
	for (size_t n = 0; budget == 0 || n < budget; n++) {
		ssize_t got = read(k->fd, k->buf, FM_KMSG_RECORD_MAX);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			if (errno == EPIPE) {
				/* overrun: the reader moved on to the oldest record */
				k->overruns++;
				k->changed = true;
				continue;
			}
			rc = -errno;
			break;
		}
		if (got == 0)
			break;
		struct fm_kmsg_record r;
		if (fm_kmsg_parse(k->buf, (size_t)got, &r) == 0)
			handle(k, &r);
	}
	if (k->changed) {
		save_soon(k);
		fm_rules_hits_publish(k->hits, "kmsg.match", k->facts);
		put_source(k, rc < 0 ? "failed" : "ok", rc < 0 ? strerror(-rc) : NULL);
		k->changed = false;
	}
	return rc;
}

static void on_readable(struct fm_event *ev, uint32_t events)
{
	struct fm_kmsg *k = container_of(ev, struct fm_kmsg, ev);
	(void)events;
	int rc = drain(k, BUDGET);
	if (rc < 0) {
		fm_err("kmsg: reading %s: %s; no longer following it", k->path, strerror(-rc));
		put_source(k, "failed", strerror(-rc));
		fm_loop_del(&k->ev);
	}
}

void fm_kmsg_delete(struct fm_kmsg **kp)
{
	if (!kp || !*kp)
		return;
	struct fm_kmsg *k = *kp;
	fm_loop_del(&k->ev);
	fm_saver_close(&k->saver);
	save_state(k);
	if (k->fd >= 0)
		close(k->fd);
	fm_rules_hits_delete(&k->hits);
	free(k);
	*kp = NULL;
}

struct fm_kmsg *fm_kmsg_new(struct fm_loop *loop, const struct fm_kmsg_opts *o, struct fm_facts *facts,
			    char *err, size_t err_size)
{
	struct fm_kmsg *k = calloc(1, sizeof(*k));
	int rc;
	if (!k) {
		snprintf(err, err_size, "out of memory");
		return NULL;
	}
	k->ev.fd = -1;
	fm_saver_prepare(&k->saver, o->save_ms);
	k->fd = -1;
	k->facts = facts;
	k->rules = o->rules;
	k->since_mono_us = o->from_start ? o->since_mono_us : 0;
	snprintf(k->path, sizeof(k->path), "%s", o->path);
	if (o->state_dir)
		snprintf(k->state_dir, sizeof(k->state_dir), "%s", o->state_dir);
	read_boot_id(k->boot_id, sizeof(k->boot_id));
	if (!(k->hits = fm_rules_hits_new(o->rules))) {
		snprintf(err, err_size, "out of memory");
		goto out_delete;
	}
	k->fd = open(k->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (k->fd < 0) {
		snprintf(err, err_size, "kernel log %s: %s", k->path, strerror(errno));
		put_source(k, "unavailable", err);
		goto out_delete;
	}
	if (k->state_dir[0])
		load_state(k);
	if (loop && (rc = fm_saver_init(&k->saver, loop, on_save)) < 0) {
		snprintf(err, err_size, "kernel log %s: %s", k->path, strerror(-rc));
		goto out_delete;
	}
	/* Resuming reads the ring from its start and skips what was read. */
	if (!k->have_seq && !o->from_start && lseek(k->fd, 0, SEEK_END) < 0) {
		snprintf(err, err_size, "kernel log %s: seek: %s", k->path, strerror(errno));
		put_source(k, "unavailable", err);
		goto out_delete;
	}
	k->changed = true;
	rc = drain(k, 0);
	if (rc < 0) {
		snprintf(err, err_size, "kernel log %s: %s", k->path, strerror(-rc));
		goto out_delete;
	}
	if (loop && (rc = fm_loop_add(loop, &k->ev, k->fd, EPOLLIN, on_readable)) < 0) {
		snprintf(err, err_size, "kernel log %s: %s", k->path, strerror(-rc));
		goto out_delete;
	}
	return k;

out_delete:
	fm_kmsg_delete(&k);
	return NULL;
}

int fm_kmsg_collect(const struct fm_kmsg_opts *o, struct fm_facts *facts)
{
	char err[256];
	struct fm_kmsg *k = fm_kmsg_new(NULL, o, facts, err, sizeof(err));
	if (!k)
		return -EIO;
	fm_kmsg_delete(&k);
	return 0;
}
