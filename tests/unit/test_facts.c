/* fm_facts: put replaces by (kind, id), drop by prefix, JSON copies, every
 * string valid UTF-8. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fm_facts.h"
#include "fm_kinds.h"

#include <stdio.h>
#include <string.h>

static cJSON *obj_with(const char *key, double v)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, key, v);
	return o;
}

static void put_get_replace(void **state)
{
	(void)state;
	struct fm_facts *f = fm_facts_new();
	assert_non_null(f);
	assert_non_null(fm_facts_put(f, "etcd.status", "https://a", obj_with("db_size", 1)));
	assert_non_null(fm_facts_put(f, "etcd.status", "https://b", obj_with("db_size", 2)));
	assert_int_equal(fm_facts_count(f), 2);

	/* Same kind and id: replaced in place, order kept. */
	assert_non_null(fm_facts_put(f, "etcd.status", "https://a", obj_with("db_size", 3)));
	assert_int_equal(fm_facts_count(f), 2);
	const cJSON *a = fm_facts_get(f, "etcd.status", "https://a");
	assert_non_null(a);
	assert_int_equal((int)cJSON_GetObjectItem(a, "db_size")->valuedouble, 3);
	assert_ptr_equal(fm_facts_at(f, 0), a);
	assert_null(fm_facts_get(f, "etcd.status", "https://c"));
	assert_null(fm_facts_get(f, "etcd.health", "https://a"));
	fm_facts_delete(&f);
	assert_null(f);
	fm_facts_delete(&f); /* NULL is fine */
}

/* kind and id lead the object and cannot be overridden by the fields. */
static void kind_and_id_first(void **state)
{
	(void)state;
	struct fm_facts *f = fm_facts_new();
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "state", "ok");
	cJSON_AddStringToObject(o, "kind", "forged");
	cJSON_AddStringToObject(o, "id", "forged");
	const cJSON *p = fm_facts_put(f, "cert", "/etc/kubernetes/pki/ca.crt", o);
	assert_non_null(p);
	assert_string_equal(p->child->string, "kind");
	assert_string_equal(p->child->valuestring, "cert");
	assert_string_equal(p->child->next->string, "id");
	assert_string_equal(p->child->next->valuestring, "/etc/kubernetes/pki/ca.crt");
	assert_string_equal(p->child->next->next->string, "state");
	assert_null(p->child->next->next->next);
	fm_facts_delete(&f);
}

static void drop_and_json(void **state)
{
	(void)state;
	struct fm_facts *f = fm_facts_new();
	fm_facts_put(f, "etcd.endpoint", "u", cJSON_CreateObject());
	fm_facts_put(f, "cert", "x", cJSON_CreateObject());
	fm_facts_put(f, "etcd.health", "u", cJSON_CreateObject());
	fm_facts_put(f, "etcdx", "u", cJSON_CreateObject());

	cJSON *j = fm_facts_json(f, "etcd.");
	assert_int_equal(cJSON_GetArraySize(j), 2);
	cJSON_Delete(j);
	j = fm_facts_json(f, "");
	assert_int_equal(cJSON_GetArraySize(j), 4);
	cJSON_Delete(j);

	fm_facts_drop(f, "etcd.");
	assert_int_equal(fm_facts_count(f), 2);
	assert_non_null(fm_facts_get(f, "cert", "x"));
	assert_non_null(fm_facts_get(f, "etcdx", "u"));
	fm_facts_delete(&f);
}

/* Not an object: refused, and freed (no leak under LSan). */
static void rejects_non_objects(void **state)
{
	(void)state;
	struct fm_facts *f = fm_facts_new();
	assert_null(fm_facts_put(f, "k", "i", cJSON_CreateString("x")));
	assert_null(fm_facts_put(f, "k", "i", NULL));
	assert_int_equal(fm_facts_count(f), 0);
	fm_facts_delete(&f);
}

struct seen {
	int puts, drops;
	char last[64];
};

static void observe(void *arg, const cJSON *fact, bool dropped)
{
	struct seen *s = arg;
	if (dropped)
		s->drops++;
	else
		s->puts++;
	snprintf(s->last, sizeof(s->last), "%s %s", cJSON_GetObjectItem(fact, "kind")->valuestring,
		 cJSON_GetObjectItem(fact, "id")->valuestring);
}

/* The observer hears of new and changed facts and of drops, not of a put
 * that changes nothing (field order does not make a change). */
static void observer_sees_changes_only(void **state)
{
	(void)state;
	struct seen s = {0};
	struct fm_facts *f = fm_facts_new();
	fm_facts_observe(f, observe, &s);
	fm_facts_put(f, "docker.container", "a", obj_with("exit_code", 0));
	assert_int_equal(s.puts, 1);
	assert_string_equal(s.last, "docker.container a");
	fm_facts_put(f, "docker.container", "a", obj_with("exit_code", 0));
	assert_int_equal(s.puts, 1);
	fm_facts_put(f, "docker.container", "a", obj_with("exit_code", 255));
	assert_int_equal(s.puts, 2);

	cJSON *two = cJSON_CreateObject();
	cJSON_AddStringToObject(two, "x", "1");
	cJSON_AddStringToObject(two, "y", "2");
	fm_facts_put(f, "hal.clock", "b", two);
	assert_int_equal(s.puts, 3);
	cJSON *swapped = cJSON_CreateObject();
	cJSON_AddStringToObject(swapped, "y", "2");
	cJSON_AddStringToObject(swapped, "x", "1");
	fm_facts_put(f, "hal.clock", "b", swapped);
	assert_int_equal(s.puts, 3);

	fm_facts_drop(f, "docker.");
	assert_int_equal(s.drops, 1);
	assert_string_equal(s.last, "docker.container a");
	fm_facts_observe(f, NULL, NULL);
	fm_facts_drop(f, "");
	assert_int_equal(s.drops, 1);
	assert_int_equal(fm_facts_count(f), 0);
	fm_facts_delete(&f);
}

/* A collection's commit (issue 21): what staging says replaces at once the
 * owned kinds' facts; other kinds stay; the observer hears only of real
 * changes, and nothing at all for a commit that restates the same. The
 * set never holds the source half restated: after the removals and before
 * the puts nobody is told anything but those changes themselves. */
static void commit_replaces_at_once(void **state)
{
	(void)state;
	struct seen s = {0};
	struct fm_facts *f = fm_facts_new(), *st = fm_facts_new();
	fm_facts_put(f, "etcd.endpoint", "u", obj_with("state", 1));
	fm_facts_put(f, "etcd.health", "u", obj_with("healthy", 1));
	fm_facts_put(f, "docker.container", "c", obj_with("exit_code", 0));
	fm_facts_observe(f, observe, &s);
	const char *const kinds[] = {"etcd.", NULL};

	/* the same again: nothing told, nothing moved */
	fm_facts_put(st, "etcd.endpoint", "u", obj_with("state", 1));
	fm_facts_put(st, "etcd.health", "u", obj_with("healthy", 1));
	assert_int_equal(fm_facts_commit(f, st, kinds), 0);
	assert_int_equal(s.puts + s.drops, 0);
	assert_int_equal(fm_facts_count(st), 0);
	assert_int_equal(fm_facts_count(f), 3);

	/* health gone, endpoint changed, a new alarm; Docker's fact untouched */
	fm_facts_put(st, "etcd.endpoint", "u", obj_with("state", 2));
	fm_facts_put(st, "etcd.alarm", "u#NOSPACE", obj_with("members", 1));
	assert_int_equal(fm_facts_commit(f, st, kinds), 0);
	assert_int_equal(s.drops, 1);
	assert_int_equal(s.puts, 2);
	assert_null(fm_facts_get(f, "etcd.health", "u"));
	assert_int_equal(cJSON_GetObjectItem(fm_facts_get(f, "etcd.endpoint", "u"), "state")->valueint, 2);
	assert_non_null(fm_facts_get(f, "etcd.alarm", "u#NOSPACE"));
	assert_non_null(fm_facts_get(f, "docker.container", "c"));
	/* the endpoint kept its place (first), the new fact comes last */
	assert_string_equal(cJSON_GetObjectItem(fm_facts_at(f, 0), "kind")->valuestring, "etcd.endpoint");
	assert_string_equal(cJSON_GetObjectItem(fm_facts_at(f, 2), "kind")->valuestring, "etcd.alarm");
	/* a commit of nothing for the kinds empties them */
	assert_int_equal(fm_facts_commit(f, st, kinds), 0);
	assert_int_equal(fm_facts_count(f), 1);
	fm_facts_observe(f, NULL, NULL);
	fm_facts_delete(&st);
	fm_facts_delete(&f);
}

/* The kinds are one list (fm_kinds.h): known ones are, a misspelling is not. */
static void kinds_known(void **state)
{
	(void)state;
	assert_true(fm_kind_known("etcd.endpoint"));
	assert_true(fm_kind_known("cert"));
	assert_true(fm_kind_known("kmsg.source"));
	assert_false(fm_kind_known("etcd.endpont"));
	assert_false(fm_kind_known("etcd."));
	assert_false(fm_kind_known(""));
	assert_false(fm_kind_known(NULL));
}

/* Whatever bytes a source read, a fact's strings are valid UTF-8: bytes
 * outside a valid character (a cut sequence, an overlong form, a
 * surrogate, a stray byte) become '?', valid characters stay, and a lookup
 * by the raw id finds the fact. */
static void strings_made_utf8(void **state)
{
	(void)state;
	struct fm_facts *f = fm_facts_new();
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "reason", "cut \xc3");
	cJSON_AddStringToObject(o, "overlong", "\xc0\xaf/");
	cJSON_AddStringToObject(o, "surrogate", "\xed\xa0\x80");
	cJSON_AddStringToObject(o, "fine", "na\xc3\xafve \xe2\x82\xac \xf0\x9f\x98\x80");
	cJSON *arr = cJSON_AddArrayToObject(o, "list");
	cJSON_AddItemToArray(arr, cJSON_CreateString("\xff"));
	assert_non_null(fm_facts_put(f, "pod", "kube-system/x\xfe", o));
	const cJSON *p = fm_facts_get(f, "pod", "kube-system/x\xfe");
	assert_non_null(p);
	assert_ptr_equal(p, fm_facts_get(f, "pod", "kube-system/x?"));
	assert_string_equal(cJSON_GetObjectItem(p, "id")->valuestring, "kube-system/x?");
	assert_string_equal(cJSON_GetObjectItem(p, "reason")->valuestring, "cut ?");
	assert_string_equal(cJSON_GetObjectItem(p, "overlong")->valuestring, "?" "?/");
	assert_string_equal(cJSON_GetObjectItem(p, "surrogate")->valuestring, "???");
	assert_string_equal(cJSON_GetObjectItem(p, "fine")->valuestring,
			    "na\xc3\xafve \xe2\x82\xac \xf0\x9f\x98\x80");
	assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(p, "list"), 0)->valuestring, "?");
	/* Replaced, not added, when put again under the raw id. */
	assert_non_null(fm_facts_put(f, "pod", "kube-system/x\xfe", cJSON_CreateObject()));
	assert_int_equal(fm_facts_count(f), 1);
	fm_facts_remove(f, "pod", "kube-system/x\xfe");
	assert_int_equal(fm_facts_count(f), 0);
	fm_facts_delete(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(put_get_replace),
		cmocka_unit_test(kind_and_id_first),
		cmocka_unit_test(drop_and_json),
		cmocka_unit_test(commit_replaces_at_once),
		cmocka_unit_test(kinds_known),
		cmocka_unit_test(rejects_non_objects),
		cmocka_unit_test(observer_sees_changes_only),
		cmocka_unit_test(strings_made_utf8),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
