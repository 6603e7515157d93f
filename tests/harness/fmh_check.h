/* fmh_check: what the cmocka tests ask of the agent's JSON and facts, in one
 * place. Every lookup that does not find what it is asked for fails the
 * running test with a message naming the key, rather than handing a NULL to
 * the next assertion.
 */
#ifndef FMH_CHECK_H
#define FMH_CHECK_H

#include "fm_facts.h"

#include <cjson/cJSON.h>
#include <stdbool.h>

/* The member key of o (fails the test when o is NULL or has none). */
const cJSON *fmh_field(const cJSON *o, const char *key);
/* The string / number / boolean member key of o (fails the test otherwise). */
const char *fmh_jstr(const cJSON *o, const char *key);
double fmh_jnum(const cJSON *o, const char *key);
/* The string member key of o, or NULL when o has none (an optional field). */
const char *fmh_jstr_opt(const cJSON *o, const char *key);
bool fmh_jbool(const cJSON *o, const char *key);

/* The first fact in the JSON array facts of that kind (and id, unless NULL),
 * or NULL. */
const cJSON *fmh_find(const cJSON *facts, const char *kind, const char *id);
/* How many facts of that kind the JSON array facts / the fact set holds. */
int fmh_count_kind(const cJSON *facts, const char *kind);
int fmh_count_kind_set(const struct fm_facts *facts, const char *kind);
/* Prints the whole fact set to stderr (cmocka's print_message cuts it). */
void fmh_dump(const struct fm_facts *facts);

/* The agent binary the tests run: $FM_AGENT, set by ctest. */
const char *fmh_agent(void);

/* The diagnosis with this code in check --json's output, or NULL. */
const cJSON *fmh_diagnosis(const cJSON *check_json, const char *code);
/* Whether the JSON array of strings holds s. */
bool fmh_lists(const cJSON *arr, const char *s);

struct fmh_agent_run {
	int status;	 /* exit status, 128+signal when killed */
	char out[65536]; /* stdout */
	char err[4096];	 /* stderr */
	cJSON *json;	 /* stdout parsed, NULL when it is not JSON; caller frees */
};

/* Runs the agent with the arguments after r (NULL-terminated, at most 38)
 * within 30 s; fails the test if it cannot be run or does not end. */
void fmh_run_agent(struct fmh_agent_run *r, ...);
/* The same with the arguments as a NULL-terminated array. */
void fmh_run_agentv(struct fmh_agent_run *r, const char *const args[]);

/* line with every quote, escaped or not, written at klog quoting depth
 * depth (0: ", 1: \", 2: \\\", 3: \\\\\\\"), as kubelet would nest it
 * depth times, into out. 0, or -E2BIG when out is too small. */
int fmh_requote(char *out, size_t size, const char *line, int depth);

#endif
