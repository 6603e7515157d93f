/* fm_journal: the systemd journal, followed with libsystemd's sd-journal
 * (the only file that includes systemd/ headers).
 *
 * Entries of kubelet, docker, containerd, etcd and k3s (_SYSTEMD_UNIT, or
 * UNIT for what systemd says about them) and of the kernel (_TRANSPORT=
 * kernel) are matched against the rules (fm_rules.h); matches are the facts
 * journal.match, the follower itself is journal.source (id: the journal
 * directory, or "system").
 *
 * Following is driven by sd_journal_get_fd() in the agent's loop (inotify),
 * with sd_journal_get_timeout() honoured by a timer; never by polling. Work
 * is done in batches (a time and count budget per wake-up) so a backlog of a
 * million entries does not block the loop. The journal is read unfiltered
 * (sd-journal's matches on the eleven unit/kernel terms cost three times the
 * reading itself) and each entry's source is checked here. The cursor of
 * the last entry read and the match counts are written together,
 * atomically, to journal.state in the state dir: not after every batch
 * (on an SD card each write is a page and two fsyncs, issue 27) but within
 * save_ms of the first entry of ours counted since the last write, at
 * once when files were rotated or removed (a vacuum may take entries
 * counted since) or no cursor was written yet, and at exit. A restart
 * after a clean exit resumes exactly after the last entry counted, none
 * lost, none counted twice, also when the files were rotated or the one
 * holding the cursor was vacuumed meanwhile. After SIGKILL it resumes
 * from the last write, with the counts written with it: the entries since
 * are read again and counted once still (the diagnoses they raise were
 * reported already: the uplink's reported set keeps them from being
 * raised twice); only those whose file is removed before the restart are
 * not counted again. After a catch-up the journal is closed and
 * reopened at the cursor, which drops sd-journal's mmap cache of the files
 * it scanned.
 *
 * Where it starts without saved state: at since_us (realtime), or at the
 * start of the current boot when since_us is 0. A journal.state it cannot
 * take (cut short, not its own: fm_state_load_json) is put aside and it
 * starts the same way; lines read again are counted again, and raise only
 * what falls inside the log rules' window (an hour), as on a first start.
 */
#ifndef FM_JOURNAL_H
#define FM_JOURNAL_H

#include "fm_facts.h"
#include "fm_loop.h"
#include "fm_rules.h"

#include <stdint.h>

struct fm_journal_opts {
	const char *dir;	      /* a directory of journal files; NULL: the system journal */
	const char *state_dir;	      /* NULL: nothing persisted */
	const struct fm_rules *rules; /* borrowed; outlives the follower */
	uint64_t since_us;	      /* CLOCK_REALTIME µs; 0: the current boot */
	uint64_t save_ms;	      /* the longest counted entries stay unsaved; 0: after every batch */
};

struct fm_journal;

/* Opens the journal, catches up and follows it on loop. NULL with err set
 * when the journal cannot be opened (also said by the journal.source fact).
 * facts and o->rules are borrowed. */
struct fm_journal *fm_journal_new(struct fm_loop *loop, const struct fm_journal_opts *o,
				  struct fm_facts *facts, char *err, size_t err_size);
/* Saves the state, closes, frees and NULLs *j; accepts NULL. */
void fm_journal_delete(struct fm_journal **j);

/* Reads the entries since o->since_us up to now into facts and closes the
 * journal (probe's one-shot; state_dir is not used). 0, or -errno with the
 * journal.source fact saying why. */
int fm_journal_collect(const struct fm_journal_opts *o, struct fm_facts *facts);

/* Cursor positions (sd-journal's "s=…;i=…;b=…;m=…;t=…" text): fills the
 * fields it finds; false when none is there. */
struct fm_journal_pos {
	char seqnum_id[33], boot_id[33];
	uint64_t seqnum, monotonic, realtime;
	bool has_seqnum, has_monotonic, has_realtime;
};
bool fm_journal_parse_cursor(const char *cursor, struct fm_journal_pos *p);
/* Whether entry a comes after entry b, compared as sd-journal orders them:
 * the same sequence-number id by seqnum, else the same boot by monotonic
 * time, else by realtime. */
bool fm_journal_pos_after(const struct fm_journal_pos *a, const struct fm_journal_pos *b);

/* The last count (1..FM_JOURNAL_TAIL_MAX; 0: the max) entries of unit
 * ("kubelet" or "kubelet.service" ..., "kernel") whose MESSAGE holds the
 * substring pattern (NULL or "": any), oldest first, as a new array of
 * {"t":realtime µs,"u":unit,"m":message (cut to 512 bytes)} (caller owns
 * *out). dir: a directory of journal files, NULL the system journal. The
 * scan backwards is bounded (200000 entries, 150 ms), so fewer lines may
 * come back than asked. 0, -EINVAL (a unit not followed, err says so), or
 * -errno with err set. Triage's GET /journal. */
#define FM_JOURNAL_TAIL_MAX 200
int fm_journal_tail(const char *dir, const char *unit, const char *pattern, unsigned count, cJSON **out,
		    char *err, size_t err_size);

#endif
