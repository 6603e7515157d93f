/* The field corpus (tests/fixtures/field, issue 19): real log lines from
 * public bug reports, each with the URL it came from and the signal it must
 * raise (or none). Every line is
 *   - matched by the agent's own rules (fm_rules, the default set): the
 *     signal it names is among those its matches raise, the fields it
 *     gives come out as given; a `none` line raises nothing;
 *   - matched the same way at every klog quoting depth 0-3;
 *   - written into a real journal file (systemd-journal-remote, the unit or
 *     the kernel transport of its source) and read by `probe journal`:
 *     the journal.match facts count, per signal, what the rules found.
 * A line per signal with its count is printed.
 */
#include "fm_harness.h"
#include "fm_rules.h"
#include "fmh_check.h"
#include "fmh_journal.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#define MAX_ENTRIES 512
#define MAX_FIELDS  6
#define MAX_SIGNALS 64
/* journal.match keeps 64 (rule, key) pairs: the journal is read in chunks
 * that stay under it */
#define JOURNAL_CHUNK 40

struct entry {
	char file[64];
	int lineno;
	char url[512], source[32], signal[64];
	char field[MAX_FIELDS][2][256];
	int nfields;
	char *line;
};

static struct entry entries[MAX_ENTRIES];
static int nentries;
static struct fm_rules *rs;

/* Corpus -------------------------------------------------------------------------- */

static void take(struct entry *e, const char *key, const char *val, const char *file, int lineno)
{
	if (strcmp(key, "url") == 0)
		snprintf(e->url, sizeof(e->url), "%s", val);
	else if (strcmp(key, "source") == 0)
		snprintf(e->source, sizeof(e->source), "%s", val);
	else if (strcmp(key, "signal") == 0)
		snprintf(e->signal, sizeof(e->signal), "%s", val);
	else if (strcmp(key, "line") == 0)
		e->line = strdup(val);
	else if (strcmp(key, "field") == 0) {
		const char *eq = strchr(val, '=');
		if (!eq || e->nfields == MAX_FIELDS)
			fail_msg("%s:%d: field NAME=VALUE expected (at most %d)", file, lineno, MAX_FIELDS);
		snprintf(e->field[e->nfields][0], sizeof(e->field[0][0]), "%.*s", (int)(eq - val), val);
		snprintf(e->field[e->nfields][1], sizeof(e->field[0][1]), "%s", eq + 1);
		e->nfields++;
	} else if (strcmp(key, "note") != 0)
		fail_msg("%s:%d: unknown key %s", file, lineno, key);
}

static void end_entry(struct entry *e)
{
	if (!e->url[0] && !e->line)
		return;
	if (!e->line || strncmp(e->url, "http", 4) != 0 || !e->source[0] || !e->signal[0])
		fail_msg("%s:%d: an entry needs url (http...), source, signal and line", e->file, e->lineno);
	nentries++;
}

static void load_file(const char *path, const char *name)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char *l = NULL;
	size_t cap = 0;
	ssize_t n;
	int lineno = 0;
	struct entry *e = NULL;
	while ((n = getline(&l, &cap, f)) >= 0) {
		lineno++;
		while (n > 0 && (l[n - 1] == '\n' || l[n - 1] == '\r'))
			l[--n] = '\0';
		if (l[0] == '#')
			continue;
		if (n == 0) {
			if (e)
				end_entry(e);
			e = NULL;
			continue;
		}
		if (!e) {
			assert_true(nentries < MAX_ENTRIES);
			e = &entries[nentries];
			memset(e, 0, sizeof(*e));
			snprintf(e->file, sizeof(e->file), "%s", name);
			e->lineno = lineno;
		}
		char *sp = strchr(l, ' ');
		if (!sp)
			fail_msg("%s:%d: 'key value' expected", name, lineno);
		*sp = '\0';
		const char *val = sp + 1;
		while (*val == ' ' && strcmp(l, "line") != 0)
			val++;
		take(e, l, val, name, lineno);
	}
	if (e)
		end_entry(e);
	free(l);
	fclose(f);
}

static int setup(void **state)
{
	(void)state;
	char err[256];
	rs = fm_rules_new();
	if (!rs || fm_rules_load_default(rs, err, sizeof(err)) < 0)
		return -1;
	DIR *d = opendir(FM_FIELD_FIXTURES);
	if (!d)
		return -1;
	struct dirent *de;
	char names[16][64];
	int nn = 0;
	while ((de = readdir(d)) && nn < 16) {
		size_t l = strlen(de->d_name);
		if (l > 6 && strcmp(de->d_name + l - 6, ".field") == 0)
			snprintf(names[nn++], sizeof(names[0]), "%s", de->d_name);
	}
	closedir(d);
	qsort(names, (size_t)nn, sizeof(names[0]), (int (*)(const void *, const void *))strcmp);
	for (int i = 0; i < nn; i++) {
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/%s", FM_FIELD_FIXTURES, names[i]);
		load_file(path, names[i]);
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < nentries; i++)
		free(entries[i].line);
	fm_rules_delete(&rs);
	return 0;
}

static enum fm_rules_source source_of(const struct entry *e)
{
	int s = fm_rules_source_named(e->source);
	if (s < 0)
		fail_msg("%s:%d: source %s is not one the agent follows", e->file, e->lineno, e->source);
	return (enum fm_rules_source)s;
}

/* Matching ------------------------------------------------------------------------- */

/* What the rules make of text from e's source: the signals raised (a
 * space-separated list in raised) and whether e's own signal's match has
 * e's fields; a reason in why when not. */
static bool judge(const struct entry *e, const char *text, char *raised, size_t rsize, char *why, size_t wsize)
{
	struct fm_rules_match m;
	enum fm_rules_source src = source_of(e);
	bool ok_signal = strcmp(e->signal, "none") == 0, ok_fields = true;
	size_t len = strlen(text);
	raised[0] = why[0] = '\0';
	for (int i = fm_rules_match(rs, 0, src, text, len, &m); i >= 0;
	     i = fm_rules_match(rs, (size_t)i + 1, src, text, len, &m)) {
		const char *sig = fm_rules_signal(rs, (size_t)i);
		size_t o = strlen(raised);
		snprintf(raised + o, rsize - o, "%s%s", o ? " " : "", sig);
		if (strcmp(e->signal, "none") == 0) {
			ok_signal = false;
			continue;
		}
		if (strcmp(sig, e->signal) != 0)
			continue;
		ok_signal = true;
		for (int f = 0; f < e->nfields; f++) {
			bool found = false;
			for (size_t k = 0; k < m.nfields; k++) {
				if (strcmp(m.name[k], e->field[f][0]) != 0)
					continue;
				found = true;
				if (m.len[k] != strlen(e->field[f][1]) ||
				    memcmp(m.text + m.off[k], e->field[f][1], m.len[k]) != 0) {
					snprintf(why, wsize, "%s = '%.*s', expected '%s'", e->field[f][0], (int)m.len[k],
						 m.text + m.off[k], e->field[f][1]);
					ok_fields = false;
				}
			}
			if (!found) {
				snprintf(why, wsize, "rule %s has no field %s", fm_rules_id(rs, (size_t)i), e->field[f][0]);
				ok_fields = false;
			}
		}
	}
	if (!ok_signal)
		snprintf(why, wsize, "raised [%s], expected %s", raised, e->signal);
	return ok_signal && ok_fields;
}

static void corpus_rules(void **state)
{
	(void)state;
	int bad = 0, urls = 0;
	char raised[512], why[600];
	for (int i = 0; i < nentries; i++) {
		const struct entry *e = &entries[i];
		urls += strncmp(e->url, "http", 4) == 0;
		if (!judge(e, e->line, raised, sizeof(raised), why, sizeof(why))) {
			print_error("%s:%d (%s): %s\n", e->file, e->lineno, e->url, why);
			bad++;
		}
	}
	print_message("field corpus: %d lines, %d with a source URL, %d wrong\n", nentries, urls, bad);
	assert_true(nentries >= 80);
	assert_int_equal(urls, nentries);
	assert_int_equal(bad, 0);
}

/* The same lines at every klog quoting depth: the same verdict. */
static void corpus_requoted(void **state)
{
	(void)state;
	static char text[70000];
	char raised[512], why[600];
	int bad = 0;
	for (int i = 0; i < nentries; i++) {
		const struct entry *e = &entries[i];
		for (int d = 0; d <= 3; d++) {
			assert_int_equal(fmh_requote(text, sizeof(text), e->line, d), 0);
			if (!judge(e, text, raised, sizeof(raised), why, sizeof(why))) {
				print_error("%s:%d at depth %d: %s\n", e->file, e->lineno, d, why);
				bad++;
			}
		}
	}
	assert_int_equal(bad, 0);
}

/* Through a real journal ------------------------------------------------------------ */

struct tally {
	char signal[MAX_SIGNALS][64];
	long long count[MAX_SIGNALS];
	int n;
};

static void tally_add(struct tally *t, const char *signal, long long n)
{
	for (int i = 0; i < t->n; i++)
		if (strcmp(t->signal[i], signal) == 0) {
			t->count[i] += n;
			return;
		}
	assert_true(t->n < MAX_SIGNALS);
	snprintf(t->signal[t->n], sizeof(t->signal[0]), "%s", signal);
	t->count[t->n++] = n;
}

static long long tally_get(const struct tally *t, const char *signal)
{
	for (int i = 0; i < t->n; i++)
		if (strcmp(t->signal[i], signal) == 0)
			return t->count[i];
	return 0;
}

/* entries [from, to) as one journal file; what probe journal counted. */
static void journal_chunk(int from, int to, struct tally *got)
{
	char dir[PATH_MAX], file[PATH_MAX + 32];
	assert_int_equal(fmh_tmpdir(dir, sizeof(dir)), 0);
	snprintf(file, sizeof(file), "%s/field.journal", dir);
	size_t cap = 1024;
	for (int i = from; i < to; i++)
		cap += strlen(entries[i].line) + 128;
	char *text = malloc(cap);
	assert_non_null(text);
	size_t o = 0;
	for (int i = from; i < to; i++) {
		const struct entry *e = &entries[i];
		if (strcmp(e->source, "kernel") == 0)
			o += (size_t)snprintf(text + o, cap - o, "_TRANSPORT=kernel\nSYSLOG_IDENTIFIER=kernel\n");
		else
			o += (size_t)snprintf(text + o, cap - o, "_TRANSPORT=stdout\n_SYSTEMD_UNIT=%s.service\n",
					      e->source);
		o += (size_t)snprintf(text + o, cap - o, "MESSAGE=%s\n\n", e->line);
	}
	assert_int_equal(fmh_journal_append(file, text), 0);
	free(text);
	static struct fmh_agent_run run; /* 70 kB: not on the stack */
	struct fmh_agent_run *r = &run;
	fmh_run_agent(r, "probe", "journal", "--journal-dir", dir, "--kmsg", "none", "--json", NULL);
	assert_int_equal(r->status, 0);
	const cJSON *facts = fmh_field(r->json, "facts"), *f;
	cJSON_ArrayForEach(f, facts)
	{
		const char *kind = fmh_jstr(f, "kind");
		if (strcmp(kind, "journal.source") == 0) {
			assert_int_equal((long long)fmh_jnum(f, "matches_dropped"), 0);
			assert_int_equal((long long)fmh_jnum(f, "entries_seen"), to - from);
		} else if (strcmp(kind, "journal.match") == 0) {
			tally_add(got, fmh_jstr(f, "signal"), (long long)fmh_jnum(f, "count"));
		}
	}
	cJSON_Delete(r->json);
	r->json = NULL;
}

static void corpus_journal(void **state)
{
	(void)state;
	struct tally want = {0}, got = {0};
	for (int i = 0; i < nentries; i++) {
		const struct entry *e = &entries[i];
		struct fm_rules_match m;
		enum fm_rules_source src = source_of(e);
		size_t len = strlen(e->line);
		for (int r = fm_rules_match(rs, 0, src, e->line, len, &m); r >= 0;
		     r = fm_rules_match(rs, (size_t)r + 1, src, e->line, len, &m))
			tally_add(&want, fm_rules_signal(rs, (size_t)r), 1);
	}
	for (int i = 0; i < nentries; i += JOURNAL_CHUNK)
		journal_chunk(i, i + JOURNAL_CHUNK < nentries ? i + JOURNAL_CHUNK : nentries, &got);
	int expected[MAX_SIGNALS] = {0};
	for (int i = 0; i < nentries; i++)
		for (int s = 0; s < want.n; s++)
			expected[s] += strcmp(entries[i].signal, want.signal[s]) == 0;
	for (int s = 0; s < want.n; s++)
		print_message("field corpus: %-26s %3lld lines matched in the journal (%d lines labelled so)\n",
			      want.signal[s], tally_get(&got, want.signal[s]), expected[s]);
	for (int s = 0; s < got.n; s++)
		if (tally_get(&want, got.signal[s]) != got.count[s])
			fail_msg("the journal counted %lld of %s, the rules on the lines %lld", got.count[s],
				 got.signal[s], tally_get(&want, got.signal[s]));
	for (int s = 0; s < want.n; s++)
		assert_int_equal(tally_get(&got, want.signal[s]), want.count[s]);
}

int main(void)
{
	fmh_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(corpus_rules),
		cmocka_unit_test(corpus_requoted),
		cmocka_unit_test(corpus_journal),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
