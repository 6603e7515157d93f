/* fm_journal: sd-journal follower. */
#include "fm_journal.h"
#include "fm_json.h"

#include "fm_log.h"
#include "fm_state.h"

#include <systemd/sd-journal.h>

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

#define STATE_FILE "journal.state"
/* The catch-up's share of the loop (issue 18): one wake-up handles at most
 * this many entries or this long, then yields; a 1 ms timer brings it back,
 * so every loop pass in between serves whatever else is ready (Docker's
 * events, the etcd watch, the uplink, the controller's triage). A source
 * that needs n passes waits at most n batches longer during a flood: 20 ms
 * keeps one pass well under the loop's 50 ms bound, and is long enough that
 * a batch's fixed cost (the state file written and synced, the facts
 * published, an evaluation) stays small beside its reading. The count cap
 * bounds a batch on a fast machine, where 20 ms would read ~40,000 entries.
 * The clock is read every BATCH_CLOCK_EVERY entries: an entry costs 50-120
 * µs of CPU under ASan (test_fault_flood), so a check every 256 let a batch
 * overrun by 30 ms. */
#define BATCH_ENTRIES	  16384
#define BATCH_US	  20000
#define BATCH_CLOCK_EVERY 32
/* After a catch-up of at least this many entries, reopen at the cursor to
 * let go of sd-journal's mmap cache of the files it scanned. */
#define REOPEN_AFTER 20000
/* sd-journal maps its files in 8 MB windows and keeps up to 64 of them
 * mapped until the journal is closed; every page it touched stays in our
 * VmRSS (a fault maps the neighbouring cached pages too, 64 kB). A catch-up
 * of 100,000 entries left 1.6 MB of journal pages mapped, and the reopen
 * above costs 1 MB by itself on a large file: seeking to the cursor walks
 * the file's chain of entry arrays. So after a catch-up that read
 * RELEASE_AFTER entries, after a reopen, and after any batch once
 * RELEASE_EVERY entries were read since the last time, those pages are
 * dropped from our page tables (release_pages): the mappings stay and
 * sd-journal's pointers into them stay valid; what it reads again is
 * faulted back from the page cache. The heap is trimmed then too. */
#define RELEASE_AFTER 64
#define RELEASE_EVERY 4096
/* One log line (STYLE.md): longer fields are cut by sd-journal. */
#define DATA_THRESHOLD (64 * 1024)
#define CURSOR_MAX 512

/* An entry of ours, as told apart from every other: its realtime stamp
 * and our hash of its source and message. sd-journal's own identity of an
 * entry found in two files adds the boot id, the monotonic stamp and a hash
 * of all fields; the realtime stamp alone already differs between two
 * entries journald writes (it stamps each as it takes it, one at a time),
 * and asking for the monotonic stamp too cost 5 % of reading a journal
 * (callgrind, bench/b_journal.sh's journal). */
struct entry_id {
	uint64_t realtime, content;
	bool set;
};

struct fm_journal {
	struct fm_loop *loop;
	struct fm_facts *facts;
	const struct fm_rules *rules;
	struct fm_rules_hits *hits;
	sd_journal *j;
	struct fm_event ev;
	struct fm_timer timeout; /* sd_journal_get_timeout */
	struct fm_timer more;	 /* the rest of a batch that ran out of budget */
	char id[PATH_MAX];	 /* the directory, or "system" */
	char dir[PATH_MAX];	 /* "" for the system journal */
	char state_dir[PATH_MAX];
	uint64_t since_us;
	char cursor[CURSOR_MAX]; /* the last entry handled, "" before any */
	struct fm_journal_pos pos;
	bool resuming; /* skip entries up to and including cursor */
	bool resumed;  /* started from saved state */
	struct fm_saver saver; /* when journal.state is written (save_ms: fm_journal_opts) */
	bool save_now;	       /* files were rotated or removed: write at the next batch's end */
	/* The last entry of ours handled: a writer's second copy of it is
	 * not counted again (see is_rewrite). Kept across reopens and, in the
	 * state file, across restarts. */
	struct entry_id last;
	uint64_t seen, matched, since_open, rewrites, reopens;
	uint64_t since_release; /* entries read since release_pages() */
	char error[256];
};

/* Cursors ---------------------------------------------------------------------- */

static bool hex_u64(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	if (n == 0 || n > 16)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (d < 0)
			return false;
		v = v << 4 | (uint64_t)d;
	}
	*out = v;
	return true;
}

bool fm_journal_parse_cursor(const char *cursor, struct fm_journal_pos *p)
{
	memset(p, 0, sizeof(*p));
	bool any = false;
	for (const char *s = cursor; s && *s;) {
		const char *e = strchr(s, ';');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		if (n > 2 && s[1] == '=') {
			const char *v = s + 2;
			size_t vn = n - 2;
			switch (s[0]) {
			case 's':
				if (vn == 32) {
					memcpy(p->seqnum_id, v, 32);
					any = true;
				}
				break;
			case 'b':
				if (vn == 32) {
					memcpy(p->boot_id, v, 32);
					any = true;
				}
				break;
			case 'i': any |= p->has_seqnum = hex_u64(v, vn, &p->seqnum); break;
			case 'm': any |= p->has_monotonic = hex_u64(v, vn, &p->monotonic); break;
			case 't': any |= p->has_realtime = hex_u64(v, vn, &p->realtime); break;
			default: break;
			}
		}
		s = e ? e + 1 : NULL;
	}
	return any;
}

bool fm_journal_pos_after(const struct fm_journal_pos *a, const struct fm_journal_pos *b)
{
	if (a->seqnum_id[0] && strcmp(a->seqnum_id, b->seqnum_id) == 0 && a->has_seqnum &&
	    b->has_seqnum)
		return a->seqnum > b->seqnum;
	if (a->boot_id[0] && strcmp(a->boot_id, b->boot_id) == 0 && a->has_monotonic &&
	    b->has_monotonic && a->monotonic != b->monotonic)
		return a->monotonic > b->monotonic;
	return a->realtime > b->realtime;
}

/* Facts and state ---------------------------------------------------------------- */

static void put_source(struct fm_journal *jr, const char *state, const char *reason)
{
	cJSON *f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "state", state);
	if (reason)
		cJSON_AddStringToObject(f, "reason", reason);
	cJSON_AddStringToObject(f, "journal", jr->dir[0] ? jr->dir : "system");
	cJSON_AddBoolToObject(f, "persisted", jr->state_dir[0] != '\0');
	cJSON_AddBoolToObject(f, "resumed", jr->resumed);
	cJSON_AddNumberToObject(f, "entries_seen", (double)jr->seen);
	cJSON_AddNumberToObject(f, "entries_matched", (double)jr->matched);
	cJSON_AddNumberToObject(f, "matches_dropped", (double)fm_rules_hits_dropped(jr->hits));
	cJSON_AddNumberToObject(f, "entries_rewritten", (double)jr->rewrites);
	cJSON_AddNumberToObject(f, "reopens", (double)jr->reopens);
	cJSON_AddNumberToObject(f, "state_saves", (double)jr->saver.saves);
	fm_facts_put(jr->facts, "journal.source", jr->id, f);
}

static void save_state(struct fm_journal *jr)
{
	if (!jr->state_dir[0] || !jr->cursor[0])
		return;
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "cursor", jr->cursor);
	cJSON_AddNumberToObject(o, "seen", (double)jr->seen);
	cJSON_AddNumberToObject(o, "matched", (double)jr->matched);
	cJSON_AddItemToObject(o, "hits", fm_rules_hits_json(jr->hits));
	if (jr->last.set) {
		char content[17];
		cJSON *l = cJSON_AddObjectToObject(o, "last");
		snprintf(content, sizeof(content), "%016llx", (unsigned long long)jr->last.content);
		cJSON_AddNumberToObject(l, "realtime", (double)jr->last.realtime);
		cJSON_AddStringToObject(l, "content", content);
	}
	int rc = fm_state_write_json(jr->state_dir, STATE_FILE, o);
	if (rc < 0 && fm_state_failure_is_new())
		fm_warn("journal: cannot save state in %s: %s", jr->state_dir, strerror(-rc));
	fm_saver_wrote(&jr->saver, rc);
	jr->save_now = false;
}

/* The counts changed: journal.state is written at once when it matters
 * (fm_saver_due; here also when files were rotated or removed since the
 * last write, so a vacuum may take entries counted since), else within
 * save_ms. Between two writes a
 * SIGKILL loses only the position: the restart reads again from the last
 * cursor written, with the counts written with it, so every entry is
 * counted once still; only entries whose file is removed before the
 * restart are not counted again. */
static void save_soon(struct fm_journal *jr)
{
	if (jr->state_dir[0] && fm_saver_due(&jr->saver, jr->save_now))
		save_state(jr);
}

static uint64_t num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	uint64_t n = 0;
	return fm_json_u64(v, &n) ? n : 0;
}

/* The last entry handled, as save_state wrote it; unset when absent or
 * malformed (a rewrite straddling the restart is then counted again, which
 * is all that is lost). */
static void load_last(struct fm_journal *jr, const cJSON *l)
{
	const char *content = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(l, "content"));
	struct entry_id id = {0};
	char *end;
	if (!content || strlen(content) != 16 || !fm_json_u64(cJSON_GetObjectItemCaseSensitive(l, "realtime"), &id.realtime))
		return;
	errno = 0;
	id.content = strtoull(content, &end, 16);
	if (errno || *end)
		return;
	id.set = true;
	jr->last = id;
}

static void load_state(struct fm_journal *jr)
{
	int rc;
	cJSON *o = fm_state_load_json(jr->state_dir, STATE_FILE, &rc);
	if (!o)
		return; /* none, or put aside: as on a first start */
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "cursor");
	if (cJSON_IsString(c) && strlen(c->valuestring) < CURSOR_MAX &&
	    fm_journal_parse_cursor(c->valuestring, &jr->pos)) {
		strcpy(jr->cursor, c->valuestring);
		jr->seen = num(o, "seen");
		jr->matched = num(o, "matched");
		fm_rules_hits_restore(jr->hits, cJSON_GetObjectItemCaseSensitive(o, "hits"));
		load_last(jr, cJSON_GetObjectItemCaseSensitive(o, "last"));
		jr->resumed = true;
		jr->saver.saved_once = true;
	} else {
		(void)fm_state_quarantine(jr->state_dir, STATE_FILE, "holds no journal cursor (truncated or damaged)");
	}
	cJSON_Delete(o);
}

/* Opening and positioning ---------------------------------------------------------- */

static uint64_t boot_realtime_us(void)
{
	struct timespec rt, boot;
	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_BOOTTIME, &boot);
	uint64_t now = (uint64_t)rt.tv_sec * 1000000u + (uint64_t)rt.tv_nsec / 1000u;
	uint64_t up = (uint64_t)boot.tv_sec * 1000000u + (uint64_t)boot.tv_nsec / 1000u;
	return now > up ? now - up : 0;
}

static bool dir_exists(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Opens the journal and puts it where reading continues: after the cursor
 * when there is one, else at since_us. */
static int open_journal(struct fm_journal *jr)
{
	int rc;
	if (jr->dir[0]) {
		if (!dir_exists(jr->dir)) {
			snprintf(jr->error, sizeof(jr->error), "journal directory %s does not exist", jr->dir);
			return -ENOENT;
		}
		rc = sd_journal_open_directory(&jr->j, jr->dir, 0);
	} else {
		if (!dir_exists("/run/log/journal") && !dir_exists("/var/log/journal")) {
			snprintf(jr->error, sizeof(jr->error),
				 "no system journal: neither /run/log/journal nor /var/log/journal exists (is systemd-journald running? use --journal-dir for a directory of journal files)");
			return -ENOENT;
		}
		rc = sd_journal_open(&jr->j, SD_JOURNAL_LOCAL_ONLY);
	}
	if (rc < 0) {
		snprintf(jr->error, sizeof(jr->error), "cannot open the journal %s: %s",
			 jr->dir[0] ? jr->dir : "(system)", strerror(-rc));
		return rc;
	}
	/* No sd_journal_add_match(): entry_read() picks our entries. With the
	 * eleven terms (five units, five UNIT=, the kernel) sd_journal_next()
	 * looks each term up in the file for every entry it returns; on a
	 * journal of kubelet lines that cost 2.0 s per million entries against
	 * 0.6 s without matches (bench/b_journal.sh). */
	sd_journal_set_data_threshold(jr->j, DATA_THRESHOLD);
	if (jr->cursor[0]) {
		rc = sd_journal_seek_cursor(jr->j, jr->cursor);
		jr->resuming = true;
	} else {
		rc = sd_journal_seek_realtime_usec(jr->j, jr->since_us ? jr->since_us : boot_realtime_us());
	}
	if (rc < 0)
		goto out_fail;
	jr->since_open = 0;
	return 0;

out_fail:
	snprintf(jr->error, sizeof(jr->error), "journal %s: %s", jr->dir[0] ? jr->dir : "(system)",
		 strerror(-rc));
	sd_journal_close(jr->j);
	jr->j = NULL;
	return rc;
}

/* Reading ------------------------------------------------------------------------------ */

/* The value of field in the current entry (name= stripped), or NULL. */
static const char *field(sd_journal *j, const char *name, size_t name_len, size_t *len)
{
	const void *d;
	size_t l;
	if (sd_journal_get_data(j, name, &d, &l) < 0 || l <= name_len)
		return NULL;
	*len = l - name_len - 1;
	return (const char *)d + name_len + 1;
}

/* The name=value item data points at, when its name is name (name_len
 * bytes); the value and its length, else NULL. */
static const char *item_value(const void *data, size_t l, const char *name, size_t name_len, size_t *len)
{
	const char *d = data;
	if (l <= name_len || d[name_len] != '=' || memcmp(d, name, name_len) != 0)
		return NULL;
	*len = l - name_len - 1;
	return d + name_len + 1;
}

/* The current entry's source (-1: not one of ours) and, for one of ours,
 * its MESSAGE (NULL when it has none), in one walk over its fields: each
 * sd_journal_get_data() walks them from the first, and MESSAGE, a data
 * object of its own for nearly every entry, is written last and comes
 * last (an entry's items are in the order of their objects in the file).
 * The unit decides as sd-journal would have it asked in this order:
 * _SYSTEMD_UNIT when it names one of ours, else UNIT, else the kernel's
 * _TRANSPORT. A value stays valid only until the next field is read, so
 * a MESSAGE met before the source was known is asked for again. */
static int entry_read(sd_journal *j, const char **msg, size_t *msg_len)
{
	int by_unit = -1, by_UNIT = -1;
	bool kernel = false, msg_seen = false;
	const void *d;
	size_t l, len;
	const char *v;
	*msg = NULL;
	sd_journal_restart_data(j);
	while (sd_journal_enumerate_available_data(j, &d, &l) > 0) {
		switch (*(const char *)d) {
		case '_':
			if ((v = item_value(d, l, "_SYSTEMD_UNIT", 13, &len)))
				by_unit = fm_rules_source_of_unit(v, len);
			else if ((v = item_value(d, l, "_TRANSPORT", 10, &len)))
				kernel = len == 6 && memcmp(v, "kernel", 6) == 0;
			break;
		case 'U':
			if ((v = item_value(d, l, "UNIT", 4, &len)))
				by_UNIT = fm_rules_source_of_unit(v, len);
			break;
		case 'M':
			if ((v = item_value(d, l, "MESSAGE", 7, &len))) {
				msg_seen = true;
				if (by_unit >= 0) { /* decided: nothing after it changes that */
					*msg = v;
					*msg_len = len;
					return by_unit;
				}
			}
			break;
		default:
			break;
		}
	}
	int src = by_unit >= 0 ? by_unit : by_UNIT >= 0 ? by_UNIT : kernel ? FM_RULES_SRC_KERNEL : -1;
	if (src >= 0 && msg_seen)
		*msg = field(j, "MESSAGE", 7, msg_len);
	return src;
}

/* Whether the current entry is at or before the saved position (it was
 * handled before the restart or reopen). */
static bool already_handled(struct fm_journal *jr)
{
	if (sd_journal_test_cursor(jr->j, jr->cursor) > 0)
		return true;
	char *c = NULL;
	struct fm_journal_pos p;
	if (sd_journal_get_cursor(jr->j, &c) < 0)
		return false;
	bool parsed = fm_journal_parse_cursor(c, &p);
	free(c);
	return parsed && !fm_journal_pos_after(&p, &jr->pos);
}

/* A hash of an entry's source and message, 8 bytes at a time: it only
 * tells apart entries whose realtime stamps are equal. */
static uint64_t content_hash(int src, const char *msg, size_t len)
{
	uint64_t h = 0x9e3779b97f4a7c15u ^ (uint64_t)src ^ (uint64_t)len << 8;
	uint64_t w;
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		memcpy(&w, msg + i, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdu;
		h ^= h >> 32;
	}
	w = 0;
	memcpy(&w, msg + i, len - i);
	h = (h ^ w) * 0xc4ceb9fe1a85ec53u;
	return h ^ h >> 29;
}

/* Whether the current entry (id) is the last one handled written again.
 * journald and systemd-journal-remote (libsystemd 252) both do that at a
 * file switch: when the file fills up in the middle of linking an entry
 * (-E2BIG on a field's entry array, after the entry itself was linked),
 * the writer rotates and writes the whole entry again at the head of the
 * new file, under the next sequence number of the same sequence-number
 * id. sd-journal skips an entry found in two files only when the
 * sequence numbers agree, so without this both copies are read
 * (journalctl shows it twice too; test_fault_flood counted 1,105,001 for
 * 1,105,000 written). The two copies are next to each other in the
 * reading order, so the comparison is with the last entry of ours. */
static bool is_rewrite(const struct fm_journal *jr, const struct entry_id *id)
{
	return jr->last.set && id->content == jr->last.content && id->realtime == jr->last.realtime;
}

/* Matches the current entry against the rules when it is one of ours and
 * not a rewrite of the last; false when it is not counted. */
static bool handle_entry(struct fm_journal *jr)
{
	size_t len = 0;
	const char *msg;
	int src = entry_read(jr->j, &msg, &len);
	if (src < 0)
		return false;
	struct entry_id id = {.set = true};
	if (sd_journal_get_realtime_usec(jr->j, &id.realtime) < 0)
		id.set = false; /* a corrupt entry: counted, never taken for a rewrite */
	id.content = content_hash(src, msg ? msg : "", msg ? len : 0);
	if (id.set && is_rewrite(jr, &id)) {
		jr->rewrites++;
		return false;
	}
	jr->last = id;
	jr->seen++;
	if (!msg)
		return true;
	struct fm_rules_match m;
	for (int i = fm_rules_match(jr->rules, 0, src, msg, len, &m); i >= 0;
	     i = fm_rules_match(jr->rules, (size_t)i + 1, src, msg, len, &m)) {
		jr->matched++;
		fm_rules_hits_add(jr->hits, i, &m, fm_rules_source_name(src), id.realtime, msg, len);
	}
	return true;
}

static void rearm(struct fm_journal *jr);

/* Handles the entries that are there, within the budget (unbounded for the
 * one-shot). Returns 1 when entries remain, 0 at the end, -errno. */
static int drain(struct fm_journal *jr, bool bounded)
{
	uint64_t t0 = fm_now_us();
	size_t read = 0, handled = 0; /* all entries, ours */
	uint64_t rewrites = jr->rewrites;
	int rc = 1; /* cut by the budget before reading: entries may remain */
	for (;;) {
		if (bounded && read % BATCH_CLOCK_EVERY == BATCH_CLOCK_EVERY - 1 && fm_now_us() - t0 > BATCH_US)
			break;
		if (bounded && read >= BATCH_ENTRIES)
			break;
		rc = sd_journal_next(jr->j);
		if (rc < 0) {
			snprintf(jr->error, sizeof(jr->error), "reading the journal: %s", strerror(-rc));
			return rc;
		}
		if (rc == 0)
			break;
		if (jr->resuming) {
			if (already_handled(jr))
				continue;
			jr->resuming = false;
		}
		read++;
		jr->since_open++;
		jr->since_release++;
		handled += handle_entry(jr);
	}
	if (read) {
		/* only the last entry's cursor: sd_journal_get_cursor() formats a
		 * string on the heap */
		char *c = NULL;
		if (sd_journal_get_cursor(jr->j, &c) >= 0 && strlen(c) < CURSOR_MAX) {
			strcpy(jr->cursor, c);
			fm_journal_parse_cursor(c, &jr->pos);
		}
		free(c);
	}
	/* cursor and counts together (save_soon), then tell; a batch of
	 * other units' entries only moves the cursor in memory (reading them
	 * again after a restart counts nothing); a write that failed is tried
	 * again. Not after every batch: on an SD card each write is a page
	 * and two fsyncs (issue 27). */
	if (handled || jr->rewrites != rewrites || jr->saver.dirty)
		save_soon(jr);
	if (handled || jr->rewrites != rewrites) {
		fm_rules_hits_publish(jr->hits, "journal.match", jr->facts);
		put_source(jr, "ok", NULL);
	}
	return rc == 0 ? 0 : 1;
}

static void on_journal(struct fm_event *ev, uint32_t events);
static void on_timer(struct fm_timer *t);

static int watch(struct fm_journal *jr)
{
	int fd = sd_journal_get_fd(jr->j);
	if (fd < 0)
		return fd;
	int events = sd_journal_get_events(jr->j);
	if (events < 0)
		return events;
	return fm_loop_add(jr->loop, &jr->ev, fd, (uint32_t)events, on_journal);
}

/* Drops the pages of every journal file mapped in this process (the
 * mappings are sd-journal's, read-only and shared: see RELEASE_AFTER) and
 * trims the heap. Our own process's map, so no root prefix. */
static void release_pages(struct fm_journal *jr)
{
	jr->since_release = 0;
	FILE *f = fopen("/proc/self/maps", "re");
	if (!f)
		return;
	char line[PATH_MAX + 128];
	while (fgets(line, sizeof(line), f)) {
		unsigned long start, end;
		int path_at = 0;
		size_t n = strcspn(line, "\n");
		line[n] = '\0';
		if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %n", &start, &end, &path_at) != 2 ||
		    !path_at)
			continue;
		const char *path = line + path_at;
		size_t len = strlen(path);
		if (len > 10 && strcmp(path + len - 10, " (deleted)") == 0)
			len -= 10; /* a vacuumed file sd-journal has not let go of yet */
		line[path_at + len] = '\0';
		bool journal = (len > 8 && strcmp(path + len - 8, ".journal") == 0) ||
			       (len > 9 && strcmp(path + len - 9, ".journal~") == 0);
		if (journal && end > start)
			(void)madvise((void *)start, end - start, MADV_DONTNEED);
	}
	fclose(f);
#ifdef __GLIBC__
	malloc_trim(0);
#endif
}

/* Closes and reopens at the cursor: sd-journal keeps the files it scanned
 * mapped until it is closed. */
static int reopen(struct fm_journal *jr)
{
	fm_loop_del(&jr->ev);
	sd_journal_close(jr->j);
	jr->j = NULL;
	jr->reopens++;
	/* the seek to the cursor touches a page per entry array: released
	 * at the end of the catch-up that follows */
	jr->since_release = RELEASE_AFTER;
	int rc = open_journal(jr);
	if (rc == 0)
		rc = watch(jr);
	if (rc == 0)
		put_source(jr, "ok", NULL);
	return rc;
}

static void fail(struct fm_journal *jr, int rc)
{
	fm_err("journal: %s; no longer following it", jr->error[0] ? jr->error : strerror(-rc));
	put_source(jr, "failed", jr->error[0] ? jr->error : strerror(-rc));
	fm_loop_del(&jr->ev);
	fm_timer_disarm(&jr->timeout);
	fm_timer_disarm(&jr->more);
}

static void work(struct fm_journal *jr)
{
	int rc = drain(jr, true);
	if (jr->since_release >= RELEASE_EVERY || (rc == 0 && jr->since_release >= RELEASE_AFTER))
		release_pages(jr);
	if (rc > 0) {
		fm_timer_arm(&jr->more, 1, 0);
		return;
	}
	if (rc == 0 && jr->since_open >= REOPEN_AFTER) {
		if ((rc = reopen(jr)) == 0) {
			/* Entries appended between the end of that drain and the
			 * new inotify watch raise no event: read on right away, or
			 * they would wait for the next write (at the end of a burst,
			 * forever). */
			fm_timer_arm(&jr->more, 1, 0);
			return;
		}
	}
	if (rc < 0) {
		fail(jr, rc);
		return;
	}
	rearm(jr);
}

/* Lets sd-journal take in what changed (appends, files added or removed),
 * then reads on unless the batch timer will. After a rotation (the file
 * being written renamed, re-added under its new name, a new one begun:
 * SD_JOURNAL_INVALIDATE) what was handled already is skipped, as after a
 * reopen: test_fault_flood once counted one line twice across
 * journal-remote's rotation in the middle of a flood (libsystemd 252). */
static void process(struct fm_journal *jr)
{
	int rc = sd_journal_process(jr->j);
	if (rc < 0) {
		snprintf(jr->error, sizeof(jr->error), "journal: %s", strerror(-rc));
		fail(jr, rc);
		return;
	}
	if (rc == SD_JOURNAL_INVALIDATE && jr->cursor[0]) {
		jr->resuming = true;
		/* a rotation, and maybe a vacuum: the entries counted since the
		 * last write may be in a file that goes next */
		jr->save_now = true;
	}
	if (!fm_timer_armed(&jr->more))
		work(jr);
}

static void on_journal(struct fm_event *ev, uint32_t events)
{
	(void)events;
	process(container_of(ev, struct fm_journal, ev));
}

static void on_timer(struct fm_timer *t)
{
	work(container_of(t, struct fm_journal, more));
}

static void on_timeout(struct fm_timer *t)
{
	process(container_of(t, struct fm_journal, timeout));
}

static void on_save(struct fm_timer *t)
{
	struct fm_journal *jr = container_of(t, struct fm_journal, saver.timer);
	if (jr->saver.dirty)
		save_state(jr);
}

/* sd-journal may need a wake-up without an fd event (files on a network
 * file system, or after an inotify queue overflow). */
static void rearm(struct fm_journal *jr)
{
	uint64_t t;
	if (sd_journal_get_timeout(jr->j, &t) < 0 || t == UINT64_MAX) {
		fm_timer_disarm(&jr->timeout);
		return;
	}
	uint64_t now = fm_now_us();
	fm_timer_arm(&jr->timeout, t > now ? (t - now + 999) / 1000 : 1, 0);
}

/* Lifetime ------------------------------------------------------------------------------- */

void fm_journal_delete(struct fm_journal **jp)
{
	if (!jp || !*jp)
		return;
	struct fm_journal *jr = *jp;
	fm_loop_del(&jr->ev);
	fm_timer_close(&jr->timeout);
	fm_timer_close(&jr->more);
	fm_saver_close(&jr->saver);
	save_state(jr);
	if (jr->j)
		sd_journal_close(jr->j);
	fm_rules_hits_delete(&jr->hits);
	free(jr);
	*jp = NULL;
}

static struct fm_journal *make(struct fm_loop *loop, const struct fm_journal_opts *o,
			       struct fm_facts *facts)
{
	struct fm_journal *jr = calloc(1, sizeof(*jr));
	if (!jr)
		return NULL;
	jr->ev.fd = -1;
	jr->timeout.ev.fd = -1;
	jr->more.ev.fd = -1;
	fm_saver_prepare(&jr->saver, o->save_ms);
	jr->loop = loop;
	jr->facts = facts;
	jr->rules = o->rules;
	jr->since_us = o->since_us;
	snprintf(jr->dir, sizeof(jr->dir), "%s", o->dir ? o->dir : "");
	snprintf(jr->id, sizeof(jr->id), "%s", o->dir ? o->dir : "system");
	if (o->state_dir)
		snprintf(jr->state_dir, sizeof(jr->state_dir), "%s", o->state_dir);
	if (!(jr->hits = fm_rules_hits_new(o->rules))) {
		free(jr);
		return NULL;
	}
	return jr;
}

struct fm_journal *fm_journal_new(struct fm_loop *loop, const struct fm_journal_opts *o,
				  struct fm_facts *facts, char *err, size_t err_size)
{
	struct fm_journal *jr = make(loop, o, facts);
	int rc;
	if (!jr) {
		snprintf(err, err_size, "out of memory");
		return NULL;
	}
	if (jr->state_dir[0])
		load_state(jr);
	if ((rc = open_journal(jr)) < 0)
		goto out_fail;
	if ((rc = fm_timer_init(loop, &jr->timeout, on_timeout)) < 0 ||
	    (rc = fm_timer_init(loop, &jr->more, on_timer)) < 0 ||
	    (rc = fm_saver_init(&jr->saver, loop, on_save)) < 0 || (rc = watch(jr)) < 0) {
		snprintf(jr->error, sizeof(jr->error), "journal: %s", strerror(-rc));
		goto out_fail;
	}
	/* what was restored, before the catch-up adds to it */
	fm_rules_hits_publish(jr->hits, "journal.match", facts);
	put_source(jr, "ok", NULL);
	work(jr);
	return jr;

out_fail:
	snprintf(err, err_size, "%s", jr->error);
	put_source(jr, rc == -ENOENT ? "absent" : "failed", jr->error);
	fm_journal_delete(&jr);
	return NULL;
}

int fm_journal_collect(const struct fm_journal_opts *o, struct fm_facts *facts)
{
	struct fm_journal_opts one = *o;
	one.state_dir = NULL;
	struct fm_journal *jr = make(NULL, &one, facts);
	if (!jr)
		return -ENOMEM;
	int rc = open_journal(jr);
	if (rc == 0)
		rc = drain(jr, false);
	if (rc < 0)
		put_source(jr, rc == -ENOENT ? "absent" : "failed", jr->error);
	else
		put_source(jr, "ok", NULL);
	fm_journal_delete(&jr);
	return rc;
}

/* Tail ------------------------------------------------------------------------------- */

/* How much of the journal one tail may read backwards, so a pattern that
 * matches nothing cannot keep the loop: entries and time. */
#define TAIL_SCAN_MAX	  200000
#define TAIL_SCAN_US	  150000
#define TAIL_MESSAGE_MAX  512

int fm_journal_tail(const char *dir, const char *unit, const char *pattern, unsigned count, cJSON **out,
		    char *err, size_t err_size)
{
	int want = fm_rules_source_named(unit);
	if (want < 0) {
		snprintf(err, err_size, "unit %s is not one the agent follows (kubelet, docker, containerd, etcd, k3s, kernel)",
			 unit);
		return -EINVAL;
	}
	if (count == 0 || count > FM_JOURNAL_TAIL_MAX)
		count = FM_JOURNAL_TAIL_MAX;
	sd_journal *j = NULL;
	int rc = dir ? sd_journal_open_directory(&j, dir, 0) : sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY);
	if (rc < 0) {
		snprintf(err, err_size, "cannot open the journal %s: %s", dir ? dir : "(system)", strerror(-rc));
		return rc;
	}
	sd_journal_set_data_threshold(j, DATA_THRESHOLD);
	cJSON *lines = cJSON_CreateArray();
	if (!lines) {
		sd_journal_close(j);
		return -ENOMEM;
	}
	uint64_t t0 = fm_now_us();
	size_t plen = pattern ? strlen(pattern) : 0;
	unsigned found = 0;
	rc = sd_journal_seek_tail(j);
	for (long scanned = 0; rc >= 0 && found < count && scanned < TAIL_SCAN_MAX; scanned++) {
		if ((scanned & 1023) == 1023 && fm_now_us() - t0 > TAIL_SCAN_US)
			break;
		if ((rc = sd_journal_previous(j)) <= 0)
			break;
		size_t mlen = 0;
		const char *msg;
		if (entry_read(j, &msg, &mlen) != want)
			continue;
		if (!msg || (plen && !memmem(msg, mlen, pattern, plen)))
			continue;
		uint64_t usec = 0;
		sd_journal_get_realtime_usec(j, &usec);
		char m[TAIL_MESSAGE_MAX + 1];
		size_t ml = mlen < TAIL_MESSAGE_MAX ? mlen : TAIL_MESSAGE_MAX;
		memcpy(m, msg, ml);
		m[ml] = '\0';
		cJSON *o = cJSON_CreateObject();
		if (!o || !cJSON_AddNumberToObject(o, "t", (double)usec) ||
		    !cJSON_AddStringToObject(o, "u", fm_rules_source_name((enum fm_rules_source)want)) ||
		    !cJSON_AddStringToObject(o, "m", m)) {
			cJSON_Delete(o);
			rc = -ENOMEM;
			break;
		}
		/* Read backwards, answered oldest first. */
		cJSON_InsertItemInArray(lines, 0, o);
		found++;
	}
	sd_journal_close(j);
	if (rc < 0) {
		snprintf(err, err_size, "reading the journal: %s", strerror(-rc));
		cJSON_Delete(lines);
		return rc;
	}
	*out = lines;
	return 0;
}
