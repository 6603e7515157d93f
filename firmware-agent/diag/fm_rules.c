/* fm_rules: parse the rule files, match lines, aggregate matches. */
#include "fm_rules.h"

#include "fm_json.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Built from the rules/NAME.rules files by CMake (fm_rules_default.c). */
const char *fm_rules_default_text(size_t *len);

static const char *const source_units[FM_RULES_SRC_COUNT] = {
	"kubelet.service", "docker.service", "containerd.service",
	"etcd.service",    "k3s.service",    "kernel",
};
static const char *const source_tokens[FM_RULES_SRC_COUNT] = {
	"kubelet", "docker", "containerd", "etcd", "k3s", "kernel",
};

#define ID_MAX      64
#define LITERAL_MAX 128
#define NAME_MAX_   32

struct rule {
	char id[ID_MAX];
	char signal[ID_MAX];
	char severity[16];
	unsigned sources; /* bit per enum fm_rules_source */
	char literal[LITERAL_MAX];
	size_t literal_len;
	unsigned literal_h4; /* hash4() of its first 4 bytes */
	char *plain; /* the regex as regcomp takes it */
	regex_t re;  /* compiled from plain when the literal is first found */
	bool compiled;
	size_t nfields;
	char field[FM_RULES_MAX_FIELDS][NAME_MAX_];
	int group[FM_RULES_MAX_FIELDS]; /* the regex group of field i */
	int key;                        /* field index of the key, -1: none */
	int decode;                     /* field index decoded as an RPC marker, -1 */
};

struct fm_rules {
	struct rule *rule[FM_RULES_MAX];
	size_t n;
	/* per source, the rules that apply, in order */
	unsigned short by_src[FM_RULES_SRC_COUNT][FM_RULES_MAX];
	size_t n_src[FM_RULES_SRC_COUNT];
	/* A line that passed a literal, NUL-terminated for regexec: journal
	 * data is not terminated, and REG_STARTEND is neither portable nor
	 * understood by the sanitizers' regexec. */
	char *scratch;
	/* Per source, a bit per hash of every literal's first 4 bytes: one pass
	 * over a line finds where a literal may start; only there are the
	 * literals with that hash compared (no memmem per rule). */
	uint8_t first4[FM_RULES_SRC_COUNT][8192];
};

static inline unsigned hash4(const char *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return (v * 2654435761u) >> 16; /* 16 bits */
}

#define SCRATCH_MAX (64 * 1024)

const char *fm_rules_source_name(enum fm_rules_source src)
{
	return (unsigned)src < FM_RULES_SRC_COUNT ? source_units[src] : "?";
}

int fm_rules_source_of_unit(const char *unit, size_t len)
{
	for (int i = 0; i < FM_RULES_SRC_COUNT; i++)
		if (strlen(source_units[i]) == len && memcmp(source_units[i], unit, len) == 0)
			return i;
	return -1;
}

int fm_rules_source_named(const char *name)
{
	size_t n = strlen(name);
	for (int i = 0; i < FM_RULES_SRC_COUNT; i++) {
		const char *u = source_units[i];
		if (strcmp(u, name) == 0 || (strncmp(u, name, n) == 0 && strcmp(u + n, ".service") == 0))
			return i;
	}
	return -1;
}

struct fm_rules *fm_rules_new(void)
{
	struct fm_rules *rs = calloc(1, sizeof(*rs));
	if (rs && !(rs->scratch = malloc(SCRATCH_MAX + 1))) {
		free(rs);
		return NULL;
	}
	return rs;
}

static void rule_free(struct rule *r)
{
	if (!r)
		return;
	if (r->compiled)
		regfree(&r->re);
	free(r->plain);
	free(r);
}

void fm_rules_delete(struct fm_rules **rs)
{
	if (!rs || !*rs)
		return;
	for (size_t i = 0; i < (*rs)->n; i++)
		rule_free((*rs)->rule[i]);
	free((*rs)->scratch);
	free(*rs);
	*rs = NULL;
}

size_t fm_rules_count(const struct fm_rules *rs)
{
	return rs->n;
}
const char *fm_rules_id(const struct fm_rules *rs, size_t i)
{
	return rs->rule[i]->id;
}
const char *fm_rules_signal(const struct fm_rules *rs, size_t i)
{
	return rs->rule[i]->signal;
}
const char *fm_rules_severity(const struct fm_rules *rs, size_t i)
{
	return rs->rule[i]->severity;
}

int fm_rules_find(const struct fm_rules *rs, const char *id)
{
	for (size_t i = 0; i < rs->n; i++)
		if (strcmp(rs->rule[i]->id, id) == 0)
			return (int)i;
	return -1;
}

/* Parsing -------------------------------------------------------------------- */

struct parse {
	const char *origin;
	unsigned line;
	char *err;
	size_t err_size;
};

static int fail(struct parse *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct parse *p, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(p->err, p->err_size, "%s:%u: %s", p->origin, p->line, msg);
	return -EINVAL;
}

static bool id_ok(const char *s)
{
	if (!*s || strlen(s) >= ID_MAX)
		return false;
	for (; *s; s++)
		if (!islower(*s) && !isdigit(*s) && *s != '-' && *s != '.' && *s != '_')
			return false;
	return true;
}

/* Turns an ERE with named groups "(?<name>...)" into the plain ERE regcomp
 * takes (out, same size or shorter), recording which group each name is.
 * Groups are counted by their "(" outside bracket expressions, as regcomp
 * numbers them. */
static int strip_names(struct parse *p, struct rule *r, const char *in, char *out)
{
	int group = 0;
	bool bracket = false, quantified = false, interval = false;
	size_t o = 0;
	for (size_t i = 0; in[i]; i++) {
		char c = in[i];
		if (bracket) {
			out[o++] = c;
			if (c == '[' && (in[i + 1] == ':' || in[i + 1] == '.' || in[i + 1] == '=')) {
				/* [:class:] inside a bracket expression */
				char end = in[i + 1];
				const char *close = in + i + 2;
				while (*close && !(close[0] == end && close[1] == ']'))
					close++;
				if (!*close)
					return fail(p, "unterminated [%c in a bracket expression", end);
				size_t n = (size_t)(close + 2 - (in + i + 1));
				memcpy(out + o, in + i + 1, n);
				o += n;
				i += n;
			} else if (c == ']') {
				bracket = false;
			}
			continue;
		}
		if (c == '\\') {
			quantified = false; /* an escaped atom */
			out[o++] = c;
			if (in[i + 1])
				out[o++] = in[++i];
			continue;
		}
		if (c == '[') {
			bracket = true;
			quantified = false; /* a bracket expression is an atom */
			out[o++] = c;
			/* a leading ] (or ^]) is a literal ] */
			if (in[i + 1] == '^')
				out[o++] = in[++i];
			if (in[i + 1] == ']')
				out[o++] = in[++i];
			continue;
		}
		/* A quantifier right after a quantifier ("c++", "a*{2}") is
		 * undefined in POSIX ERE, and glibc's regcomp duplicates the
		 * tree for each: a run of them costs memory exponential in its
		 * length (fuzz_rules: 130 '+' took 2 GB). Refused. */
		if (interval) {
			interval = c != '}';
			quantified = c == '}';
			out[o++] = c;
			continue;
		}
		bool quant = c == '*' || c == '+' || c == '?' || c == '{';
		if (quant && quantified)
			return fail(p, "a quantifier right after another (offset %zu): undefined in POSIX ERE", i);
		quantified = quant;
		interval = c == '{';
		out[o++] = c;
		if (c != '(')
			continue;
		group++;
		if (in[i + 1] != '?')
			continue;
		if (in[i + 2] != '<')
			return fail(p, "only (?<name>...) groups are known");
		const char *name = in + i + 3;
		size_t n = strcspn(name, ">");
		if (!name[n] || n == 0 || n >= NAME_MAX_)
			return fail(p, "bad group name");
		if (r->nfields == FM_RULES_MAX_FIELDS)
			return fail(p, "more than %d named groups", FM_RULES_MAX_FIELDS);
		for (size_t k = 0; k < n; k++)
			if (!islower(name[k]) && !isdigit(name[k]) && name[k] != '_')
				return fail(p, "group names are snake_case");
		memcpy(r->field[r->nfields], name, n);
		r->field[r->nfields][n] = '\0';
		r->group[r->nfields++] = group;
		i += 2 + n + 1; /* "?<" name ">" */
	}
	if (bracket)
		return fail(p, "unterminated bracket expression");
	out[o] = '\0';
	if (group > 9)
		return fail(p, "more than 9 groups");
	return 0;
}

static int field_index(const struct rule *r, const char *name)
{
	for (size_t i = 0; i < r->nfields; i++)
		if (strcmp(r->field[i], name) == 0)
			return (int)i;
	return -1;
}

/* Checks a finished rule and its regex. The regex is compiled here to
 * check it, then freed: glibc's compiled regexes take 10-60 KB of heap each
 * (the 36 default rules about 700 KB, all of it dirty pages), and most
 * rules never see their literal; fm_rules_match() compiles it again on the
 * first line that holds the literal. One at a time, so the heap given back
 * is reused by the next. */
static int finish_rule(struct parse *p, struct rule *r, const char *regex, const char *key,
		       const char *decode)
{
	if (!r->signal[0] || !r->sources || !r->literal_len || !regex[0] || !r->severity[0])
		return fail(p, "rule %s needs signal, sources, severity, literal and regex", r->id);
	size_t n = strlen(regex);
	if (!(r->plain = malloc(n + 1)))
		return -ENOMEM;
	int rc = strip_names(p, r, regex, r->plain);
	size_t nsub = 0;
	if (rc == 0) {
		int e = regcomp(&r->re, r->plain, REG_EXTENDED);
		if (e) {
			char msg[128];
			regerror(e, &r->re, msg, sizeof(msg));
			rc = fail(p, "rule %s: regex: %s", r->id, msg);
		} else {
			nsub = r->re.re_nsub;
			regfree(&r->re);
		}
	}
	if (rc < 0)
		return rc;
	if (nsub > 9)
		return fail(p, "rule %s: more than 9 groups", r->id);
	r->key = -1;
	r->decode = -1;
	if (key[0] && (r->key = field_index(r, key)) < 0)
		return fail(p, "rule %s: key %s is not a named group", r->id, key);
	if (decode[0]) {
		char field[NAME_MAX_ + 1], how[32];
		if (sscanf(decode, "%32s %31s", field, how) != 2 || strcmp(how, "rpc-marker") != 0)
			return fail(p, "rule %s: decode FIELD rpc-marker", r->id);
		if ((r->decode = field_index(r, field)) < 0)
			return fail(p, "rule %s: decode: %s is not a named group", r->id, field);
	}
	return 0;
}

static int set_sources(struct parse *p, struct rule *r, char *v)
{
	for (char *save = NULL, *t = strtok_r(v, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
		int found = -1;
		for (int i = 0; i < FM_RULES_SRC_COUNT; i++)
			if (strcmp(t, source_tokens[i]) == 0 || strcmp(t, source_units[i]) == 0)
				found = i;
		if (strcmp(t, "*") == 0)
			r->sources = (1u << FM_RULES_SRC_COUNT) - 1;
		else if (found < 0)
			return fail(p, "unknown source %s (kubelet docker containerd etcd k3s kernel *)", t);
		else
			r->sources |= 1u << found;
	}
	return 0;
}

static int copy_value(struct parse *p, char *dst, size_t size, const char *v, const char *what)
{
	if (strlen(v) >= size)
		return fail(p, "%s longer than %zu", what, size - 1);
	strcpy(dst, v);
	return 0;
}

/* The rules parsed from one text, added to rs only when all are good. */
struct pending {
	struct rule *r[FM_RULES_MAX];
	size_t n;
	char regex[1024], key[NAME_MAX_], decode[64];
};

static int close_rule(struct parse *p, struct pending *pd)
{
	if (!pd->n || !pd->r[pd->n - 1])
		return 0;
	int rc = finish_rule(p, pd->r[pd->n - 1], pd->regex, pd->key, pd->decode);
	pd->regex[0] = pd->key[0] = pd->decode[0] = '\0';
	return rc;
}

static int parse_line(struct parse *p, struct fm_rules *rs, struct pending *pd, char *line)
{
	char *k = line;
	while (*k == ' ' || *k == '\t')
		k++;
	if (!*k || *k == '#')
		return 0;
	char *v = k + strcspn(k, " \t");
	if (*v)
		*v++ = '\0';
	while (*v == ' ' || *v == '\t')
		v++;
	size_t vl = strlen(v);
	while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t' || v[vl - 1] == '\r'))
		v[--vl] = '\0';

	if (strcmp(k, "rule") == 0) {
		int rc = close_rule(p, pd);
		if (rc < 0)
			return rc;
		if (!id_ok(v))
			return fail(p, "rule ids are lower-case [a-z0-9.-_], at most %d", ID_MAX - 1);
		if (fm_rules_find(rs, v) >= 0)
			return fail(p, "rule %s defined twice", v);
		for (size_t i = 0; i < pd->n; i++)
			if (strcmp(pd->r[i]->id, v) == 0)
				return fail(p, "rule %s defined twice", v);
		if (rs->n + pd->n >= FM_RULES_MAX)
			return -E2BIG;
		struct rule *r = calloc(1, sizeof(*r));
		if (!r)
			return -ENOMEM;
		strcpy(r->id, v);
		pd->r[pd->n++] = r;
		return 0;
	}
	if (!pd->n)
		return fail(p, "%s before the first rule", k);
	struct rule *r = pd->r[pd->n - 1];
	if (strcmp(k, "signal") == 0) {
		if (!id_ok(v))
			return fail(p, "signal names are lower-case [a-z0-9.-_]");
		strcpy(r->signal, v);
	} else if (strcmp(k, "severity") == 0) {
		if (strcmp(v, "info") && strcmp(v, "warning") && strcmp(v, "critical"))
			return fail(p, "severity is info, warning or critical");
		strcpy(r->severity, v);
	} else if (strcmp(k, "sources") == 0) {
		return set_sources(p, r, v);
	} else if (strcmp(k, "literal") == 0) {
		if (strlen(v) < 4)
			return fail(p, "literal shorter than 4 bytes");
		int rc = copy_value(p, r->literal, sizeof(r->literal), v, "literal");
		r->literal_len = strlen(r->literal);
		return rc;
	} else if (strcmp(k, "regex") == 0) {
		return copy_value(p, pd->regex, sizeof(pd->regex), v, "regex");
	} else if (strcmp(k, "key") == 0) {
		return copy_value(p, pd->key, sizeof(pd->key), v, "key");
	} else if (strcmp(k, "decode") == 0) {
		return copy_value(p, pd->decode, sizeof(pd->decode), v, "decode");
	} else {
		return fail(p, "unknown key %s", k);
	}
	return 0;
}

int fm_rules_load(struct fm_rules *rs, const char *text, size_t len, const char *origin, char *err,
		  size_t err_size)
{
	struct parse p = {.origin = origin, .err = err, .err_size = err_size};
	struct pending *pd = calloc(1, sizeof(*pd));
	char line[2048];
	int rc = 0;

	if (!pd)
		return -ENOMEM;
	if (len > FM_RULES_MAX_TEXT) {
		snprintf(err, err_size, "%s: larger than %d bytes", origin, FM_RULES_MAX_TEXT);
		rc = -E2BIG;
		goto out;
	}
	for (size_t i = 0; i < len && rc == 0;) {
		size_t e = i;
		while (e < len && text[e] != '\n')
			e++;
		p.line++;
		if (e - i >= sizeof(line)) {
			rc = fail(&p, "line longer than %zu", sizeof(line) - 1);
			break;
		}
		memcpy(line, text + i, e - i);
		line[e - i] = '\0';
		if (memchr(line, '\0', e - i))
			rc = fail(&p, "NUL byte");
		else
			rc = parse_line(&p, rs, pd, line);
		i = e + 1;
	}
	if (rc == 0)
		rc = close_rule(&p, pd);
	if (rc == -E2BIG)
		snprintf(err, err_size, "%s: more than %d rules", origin, FM_RULES_MAX);
	if (rc == 0) {
		for (size_t i = 0; i < pd->n; i++) {
			size_t idx = rs->n++;
			rs->rule[idx] = pd->r[i];
			for (int s = 0; s < FM_RULES_SRC_COUNT; s++)
				if (pd->r[i]->sources & (1u << s)) {
					rs->by_src[s][rs->n_src[s]++] = (unsigned short)idx;
					unsigned h = pd->r[i]->literal_h4 = hash4(pd->r[i]->literal);
					rs->first4[s][h >> 3] |= (uint8_t)(1u << (h & 7));
				}
		}
		pd->n = 0;
	}
out:
	for (size_t i = 0; i < pd->n; i++)
		rule_free(pd->r[i]);
	free(pd);
	return rc;
}

int fm_rules_load_default(struct fm_rules *rs, char *err, size_t err_size)
{
	size_t len;
	const char *text = fm_rules_default_text(&len);
	return fm_rules_load(rs, text, len, "default.rules", err, err_size);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_file(struct fm_rules *rs, const char *path, const char *name, char *err,
		     size_t err_size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, err_size, "%s: %s", path, strerror(errno));
		return -errno;
	}
	char *buf = malloc(FM_RULES_MAX_TEXT + 1);
	size_t got = 0;
	int rc = 0;
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		ssize_t n = read(fd, buf + got, FM_RULES_MAX_TEXT + 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			snprintf(err, err_size, "%s: %s", path, strerror(errno));
			break;
		}
		if (n == 0 || (got += (size_t)n) > FM_RULES_MAX_TEXT)
			break;
	}
	close(fd);
	if (rc == 0)
		rc = fm_rules_load(rs, buf, got, name, err, err_size);
	free(buf);
	return rc;
}

int fm_rules_load_dir(struct fm_rules *rs, const char *dir, char *err, size_t err_size)
{
	DIR *d = opendir(dir);
	char *names[128];
	size_t n = 0;
	int rc = 0;

	if (!d) {
		snprintf(err, err_size, "rules directory %s: %s", dir, strerror(errno));
		return -errno;
	}
	for (struct dirent *e; (e = readdir(d));) {
		size_t l = strlen(e->d_name);
		if (e->d_name[0] == '.' || l < 7 || strcmp(e->d_name + l - 6, ".rules") != 0)
			continue;
		if (n == sizeof(names) / sizeof(names[0])) {
			snprintf(err, err_size, "rules directory %s: more than %zu files", dir, n);
			rc = -E2BIG;
			break;
		}
		if (!(names[n] = strdup(e->d_name))) {
			rc = -ENOMEM;
			break;
		}
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), name_cmp);
	for (size_t i = 0; i < n && rc == 0; i++) {
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		rc = load_file(rs, path, names[i], err, err_size);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	return rc;
}

/* Matching ------------------------------------------------------------------- */

/* The plain text of a klog line: a run of backslashes before a quote is the
 * quote (kubelet writes the runtime's error inside err="..." inside its own
 * message, so one '"' arrives as ", \", \\\" or \\\\\\\" by how deep it is
 * nested); a run before anything else is one backslash (\\n, a newline
 * quoted twice, is \n as at depth 1). dst holds len bytes; returns the
 * length written (<= len). */
static size_t unquote(char *dst, const char *src, size_t len)
{
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		if (src[i] != '\\') {
			dst[o++] = src[i++];
			continue;
		}
		size_t j = i;
		while (j < len && src[j] == '\\')
			j++;
		if (j < len && src[j] == '"') {
			dst[o++] = '"';
			i = j + 1;
		} else {
			dst[o++] = '\\';
			i = j;
		}
	}
	return o;
}

int fm_rules_match(const struct fm_rules *rs, size_t from, enum fm_rules_source src, const char *msg,
		   size_t len, struct fm_rules_match *m)
{
	if ((unsigned)src >= FM_RULES_SRC_COUNT)
		return -1;
	const unsigned short *list = rs->by_src[src];
	size_t n = rs->n_src[src];
	if (len > SCRATCH_MAX)
		len = SCRATCH_MAX; /* one log line (STYLE.md) */
	/* Rules see the plain text. Most lines hold no backslash and are
	 * read where they are; scratch gets a copy only for the regex. */
	bool in_scratch = false;
	if (memchr(msg, '\\', len)) {
		len = unquote(rs->scratch, msg, len);
		msg = rs->scratch;
		in_scratch = true;
	}
	if (len < 4)
		return -1; /* every literal has at least 4 bytes */
	/* One pass over the line: bit k of found says list[k]'s literal is in
	 * it (what memmem per rule would say). */
	uint64_t found[FM_RULES_MAX / 64] = {0};
	bool any = false;
	const uint8_t *bits = rs->first4[src];
	for (size_t at = 0; at + 4 <= len; at++) {
		unsigned h = hash4(msg + at);
		if (!(bits[h >> 3] & (1u << (h & 7))))
			continue;
		for (size_t k = 0; k < n; k++) {
			const struct rule *r = rs->rule[list[k]];
			if (r->literal_h4 == h && r->literal_len <= len - at &&
			    memcmp(msg + at, r->literal, r->literal_len) == 0) {
				found[k / 64] |= 1ull << (k % 64);
				any = true;
			}
		}
	}
	if (!any)
		return -1;
	for (size_t k = 0; k < n; k++) {
		if (list[k] < from || !(found[k / 64] & (1ull << (k % 64))))
			continue;
		struct rule *r = rs->rule[list[k]];
		if (!r->compiled) {
			/* checked at load: only ENOMEM can fail it; the line then
			 * counts as not matched, and the next one tries again */
			if (regcomp(&r->re, r->plain, REG_EXTENDED) != 0)
				continue;
			r->compiled = true;
		}
		if (!in_scratch) {
			memcpy(rs->scratch, msg, len);
			in_scratch = true;
		}
		rs->scratch[len] = '\0';
		regmatch_t pm[10];
		if (regexec(&r->re, rs->scratch, 10, pm, 0) != 0)
			continue;
		m->text = rs->scratch;
		m->nfields = r->nfields;
		for (size_t i = 0; i < r->nfields; i++) {
			const regmatch_t *g = &pm[r->group[i]];
			m->name[i] = r->field[i];
			m->off[i] = g->rm_so >= 0 ? (size_t)g->rm_so : 0;
			m->len[i] = g->rm_so >= 0 ? (size_t)(g->rm_eo - g->rm_so) : 0;
		}
		return list[k];
	}
	return -1;
}

const char *fm_rules_rpc_marker(uint64_t n, char text[5])
{
	static const char *const http[] = {"GET ", "POST", "HEAD", "PUT ", "DELE", "OPTI", "PATC",
					   "HTTP", "CONN", "PRI "};
	unsigned char b[4] = {(unsigned char)((n >> 24) & 0x7f), (unsigned char)(n >> 16),
			      (unsigned char)(n >> 8), (unsigned char)n};
	for (int i = 0; i < 4; i++)
		text[i] = b[i] >= 0x20 && b[i] < 0x7f ? (char)b[i] : '.';
	text[4] = '\0';
	if (n > 0xffffffffu)
		return "unknown";
	if (memcmp(b, "JRMI", 4) == 0)
		return "java-rmi";
	for (size_t i = 0; i < sizeof(http) / sizeof(http[0]); i++)
		if (memcmp(b, http[i], 4) == 0)
			return "http";
	if (b[0] == 0x16 && b[1] == 0x03)
		return "tls";
	if (memcmp(b, "SSH-", 4) == 0)
		return "ssh";
	return "unknown";
}

/* The match table -------------------------------------------------------------- */

/* A key or field holds a whole overlay2 path: "<data-root>/overlay2/<64
 * hex>/lower" is 95 bytes under /var/lib/docker and more under any other
 * data root (incident 2's scenario: a loop mount under /tmp); a cut key
 * would make two layers one fact and hide the file's name. */
#define HIT_KEY 160
#define HIT_VAL 160
#define HIT_MSG 512
#define HIT_SRC 32

/* Zero is a free hit: the table is mapped anonymously and its pages stay
 * clean until used (64 hits, 106 KB). Not calloc: below malloc's mmap
 * threshold the table came from the heap and was cleared there, and the
 * two tables (journal, kernel log) were about 220 kB of the static agent's
 * Private_Dirty (bench/b_agent.sh). LeakSanitizer does not see a mapping:
 * fm_rules_hits_delete is the only way out. */
struct hit {
	bool used;
	int rule;
	bool dirty;
	uint64_t count, first_us, last_us;
	char key[HIT_KEY];
	char source[HIT_SRC];
	char val[FM_RULES_MAX_FIELDS][HIT_VAL];
	char message[HIT_MSG];
};

struct fm_rules_hits {
	const struct fm_rules *rs;
	uint64_t dropped, total;
	struct hit hit[FM_RULES_HITS_MAX];
};

struct fm_rules_hits *fm_rules_hits_new(const struct fm_rules *rs)
{
	struct fm_rules_hits *h =
	    mmap(NULL, sizeof(*h), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (h == MAP_FAILED)
		return NULL;
	h->rs = rs;
	return h;
}

void fm_rules_hits_delete(struct fm_rules_hits **h)
{
	if (!h || !*h)
		return;
	munmap(*h, sizeof(**h));
	*h = NULL;
}

uint64_t fm_rules_hits_dropped(const struct fm_rules_hits *h)
{
	return h->dropped;
}
uint64_t fm_rules_hits_total(const struct fm_rules_hits *h)
{
	return h->total;
}

/* Copies at most size-1 bytes of text as printable text: control bytes
 * become spaces, and a cut never splits a UTF-8 sequence. */
static void copy_text(char *dst, size_t size, const char *src, size_t len)
{
	if (len > size - 1) {
		len = size - 1;
		while (len && ((unsigned char)src[len] & 0xc0) == 0x80)
			len--;
	}
	for (size_t i = 0; i < len; i++)
		dst[i] = (unsigned char)src[i] < 0x20 || src[i] == 0x7f ? ' ' : src[i];
	dst[len] = '\0';
}

int fm_rules_hits_add(struct fm_rules_hits *h, int rule, const struct fm_rules_match *m,
		      const char *source, uint64_t realtime_us, const char *msg, size_t len)
{
	const struct rule *r = h->rs->rule[rule];
	char key[HIT_KEY] = "";
	struct hit *free_hit = NULL, *e = NULL;

	h->total++;
	if (r->key >= 0)
		copy_text(key, sizeof(key), m->text + m->off[r->key], m->len[r->key]);
	for (size_t i = 0; i < FM_RULES_HITS_MAX; i++) {
		struct hit *x = &h->hit[i];
		if (x->used && x->rule == rule && strcmp(x->key, key) == 0) {
			e = x;
			break;
		}
		if (!x->used && !free_hit)
			free_hit = x;
	}
	if (!e) {
		if (!free_hit) {
			h->dropped++;
			return -ENOSPC;
		}
		e = free_hit;
		e->used = true;
		e->rule = rule;
		strcpy(e->key, key);
		e->count = 0;
		e->first_us = realtime_us;
	}
	e->count++;
	e->last_us = realtime_us;
	e->dirty = true;
	copy_text(e->source, sizeof(e->source), source, strlen(source));
	for (size_t i = 0; i < r->nfields && i < m->nfields; i++)
		copy_text(e->val[i], HIT_VAL, m->text + m->off[i], m->len[i]);
	copy_text(e->message, sizeof(e->message), msg, len);
	return 0;
}

/* The fact form of a hit, also what the state file keeps. */
static cJSON *hit_json(const struct fm_rules_hits *h, const struct hit *e)
{
	const struct rule *r = h->rs->rule[e->rule];
	cJSON *o = cJSON_CreateObject();
	cJSON *f = cJSON_CreateObject();
	if (!o || !f) {
		cJSON_Delete(o);
		cJSON_Delete(f);
		return NULL;
	}
	cJSON_AddStringToObject(o, "rule", r->id);
	cJSON_AddStringToObject(o, "signal", r->signal);
	cJSON_AddStringToObject(o, "severity", r->severity);
	cJSON_AddStringToObject(o, "source", e->source);
	if (r->key >= 0)
		cJSON_AddStringToObject(o, "key", e->key);
	cJSON_AddNumberToObject(o, "count", (double)e->count);
	cJSON_AddNumberToObject(o, "first_us", (double)e->first_us);
	cJSON_AddNumberToObject(o, "last_us", (double)e->last_us);
	for (size_t i = 0; i < r->nfields; i++)
		cJSON_AddStringToObject(f, r->field[i], e->val[i]);
	if (r->decode >= 0) {
		char text[5];
		uint64_t n = strtoull(e->val[r->decode], NULL, 10);
		const char *proto = fm_rules_rpc_marker(n, text);
		cJSON_AddStringToObject(f, "marker_text", text);
		cJSON_AddStringToObject(f, "protocol", proto);
	}
	cJSON_AddItemToObject(o, "fields", f);
	cJSON_AddStringToObject(o, "message", e->message);
	return o;
}

size_t fm_rules_hits_publish(struct fm_rules_hits *h, const char *kind, struct fm_facts *facts)
{
	size_t n = 0;
	for (size_t i = 0; i < FM_RULES_HITS_MAX; i++) {
		struct hit *e = &h->hit[i];
		if (!e->used || !e->dirty)
			continue;
		char id[ID_MAX + HIT_KEY + 2];
		snprintf(id, sizeof(id), "%s%s%s", h->rs->rule[e->rule]->id, e->key[0] ? "/" : "",
			 e->key);
		if (fm_facts_put(facts, kind, id, hit_json(h, e)))
			n++;
		e->dirty = false;
	}
	return n;
}

cJSON *fm_rules_hits_json(const struct fm_rules_hits *h)
{
	cJSON *arr = cJSON_CreateArray();
	for (size_t i = 0; arr && i < FM_RULES_HITS_MAX; i++)
		if (h->hit[i].used)
			cJSON_AddItemToArray(arr, hit_json(h, &h->hit[i]));
	return arr;
}

static void restore_str(char *dst, size_t size, const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (cJSON_IsString(v))
		copy_text(dst, size, v->valuestring, strlen(v->valuestring));
	else
		dst[0] = '\0';
}

static uint64_t restore_num(const cJSON *o, const char *key)
{
	uint64_t n = 0;
	return fm_json_u64(cJSON_GetObjectItemCaseSensitive(o, key), &n) ? n : 0;
}

int fm_rules_hits_restore(struct fm_rules_hits *h, const cJSON *arr)
{
	if (!cJSON_IsArray(arr))
		return -EINVAL;
	for (size_t i = 0; i < FM_RULES_HITS_MAX; i++)
		if (h->hit[i].used)
			memset(&h->hit[i], 0, sizeof(h->hit[i]));
	size_t n = 0;
	const cJSON *o;
	cJSON_ArrayForEach(o, arr)
	{
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "rule");
		int rule = cJSON_IsString(id) ? fm_rules_find(h->rs, id->valuestring) : -1;
		if (rule < 0 || n == FM_RULES_HITS_MAX)
			continue;
		const struct rule *r = h->rs->rule[rule];
		struct hit *e = &h->hit[n++];
		e->used = true;
		e->rule = rule;
		e->dirty = true;
		restore_str(e->key, sizeof(e->key), o, "key");
		restore_str(e->source, sizeof(e->source), o, "source");
		restore_str(e->message, sizeof(e->message), o, "message");
		e->count = restore_num(o, "count");
		e->first_us = restore_num(o, "first_us");
		e->last_us = restore_num(o, "last_us");
		h->total += e->count;
		const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, "fields");
		for (size_t k = 0; k < r->nfields; k++)
			restore_str(e->val[k], HIT_VAL, f, r->field[k]);
	}
	return 0;
}
