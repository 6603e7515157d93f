/* fc_store: reports stored once, in one transaction (or a batch's
 * savepoint: group commit); gaps, resolves,
 * heartbeats, unreachable after missed intervals (injected clock); the
 * nodes/show views; the schema version; retention (prune, forget, and
 * fc_retain's timer on a real loop).
 *
 * Built twice from this file (issue 28: the same tests against both
 * stores): test_fc_store on a real SQLite file in a temp dir, and
 * test_fc_store_pg (FC_TEST_PG) on a real PostgreSQL (tests/harness/fmh_pg:
 * one cluster for the run, a fresh database a test). What another
 * connection sees is read through a second fc_db connection. The tests of
 * SQLite's file and its older schema versions are SQLite's alone; the
 * PostgreSQL build has its own of opening. */
#include "fc_db.h"
#include "fc_retain.h"
#include "fc_store.h"
#include "fc_wire.h"
#include "fm_loop.h"

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef FC_TEST_PG
#include "fmh_pg.h"
#else
#include <sqlite3.h>
#endif
#include <time.h>

#include <cmocka.h>

/* What --db is given: the file, or the PostgreSQL connection string. */
static char db[PATH_MAX + 128];

#ifdef FC_TEST_PG
static struct fmh_pg pg;

static int group_setup(void **state)
{
	(void)state;
	return fmh_pg_start(&pg) == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	fmh_pg_stop(&pg);
	return 0;
}

/* a fresh database a test */
static int setup(void **state)
{
	(void)state;
	static int n;
	char name[32];
	snprintf(name, sizeof(name), "fleet%d", ++n);
	return fmh_pg_createdb(&pg, name, db, sizeof(db)) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return 0;
}
#else
static char dir[64];

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/fc_store.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(db, sizeof(db), "%s/sub/fleet.db", dir); /* its directory is made */
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}
#endif

/* One integer a statement gives on a connection of its own (committed
 * data only), text bound to ?1 when arg is given; -1: no row. */
static int64_t peek(const char *sql, const char *arg)
{
	struct fc_db *h = NULL;
	char why[256];
	if (fc_db_open(db, false, &h, why, sizeof(why)) < 0)
		fail_msg("%s", why);
	struct fc_db_stmt *q = fc_db_prepare(h, sql, false);
	assert_non_null(q);
	if (arg)
		fc_db_bind_text(q, 1, arg);
	int rc = fc_db_step(q);
	assert_true(rc >= 0);
	int64_t v = rc == 1 ? fc_db_col_int(q, 0) : -1;
	fc_db_finalize(q);
	fc_db_close(&h);
	return v;
}

/* Counts rows of one table of the store with a where clause (read on a
 * connection of its own: fc_store has no count of history). */
static int count_rows(const char *sql_where)
{
	char sql[256];
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", sql_where);
	return (int)peek(sql, NULL);
}

static void decode(const char *json, struct fc_report *r)
{
	char why[160];
	if (fc_wire_report(json, strlen(json), r, why, sizeof(why)) < 0)
		fail_msg("%s: %s", json, why);
}

static void store(struct fc_store *s, const char *node, const char *json, int64_t now,
		  enum fc_store_outcome want, uint32_t gap_from)
{
	struct fc_report r;
	enum fc_store_outcome out;
	uint32_t from, to;
	decode(json, &r);
	assert_int_equal(fc_store_report(s, node, &r, false, now, &out, &from, &to), 0);
	assert_int_equal(out, want);
	assert_int_equal(from, gap_from);
	fc_wire_report_free(&r);
}

static const cJSON *field(const cJSON *o, const char *k)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, k);
	if (!j)
		fail_msg("no \"%s\"", k);
	return j;
}

static int count_events(const cJSON *show, const char *event)
{
	int n = 0;
	const cJSON *h;
	cJSON_ArrayForEach(h, field(show, "history"))
		n += strcmp(field(h, "event")->valuestring, event) == 0;
	return n;
}

#define RAISE_A "{\"c\":\"etcd-unreachable\",\"s\":3,\"k\":\"https://127.0.0.1:2379\",\"m\":\"refused\",\"f\":[\"systemctl start etcd\"],\"p\":\"etcd\",\"x\":[\"apiserver-unreachable\"],\"y\":[\"kube-apiserver\"]}"
#define RAISE_B "{\"c\":\"clock-unsynced\",\"s\":2,\"k\":\"\",\"m\":\"no NTP\"}"

static void test_reports(void **state)
{
	(void)state;
	struct fc_store *s = NULL;
	char why[256];
	assert_int_equal(fc_store_open(db, true, &s, why, sizeof(why)), 0);

	store(s, "pi-master1", "{\"q\":1,\"t\":100,\"b\":\"rpi4\",\"d\":[" RAISE_A "," RAISE_B "]}", 1000,
	      FC_STORE_STORED, 0);
	/* the same report again (a retransmission): acknowledged, not stored */
	store(s, "pi-master1", "{\"q\":1,\"t\":100,\"d\":[{\"c\":\"undervoltage\",\"s\":2,\"k\":\"\"}]}", 1001,
	      FC_STORE_DUPLICATE, 0);
	/* 2 and 3 lost: the gap is recorded, the report stored */
	store(s, "pi-master1", "{\"q\":4,\"t\":104,\"d\":[{\"c\":\"etcd-unreachable\",\"s\":3,\"k\":\"https://127.0.0.1:2379\",\"m\":\"timeout\",\"f\":[\"systemctl start etcd\"]}],\"r\":[[\"clock-unsynced\",\"\"]]}",
	      1004, FC_STORE_STORED, 2);
	/* a stale one arriving late is not stored */
	store(s, "pi-master1", "{\"q\":3,\"t\":103,\"r\":[[\"etcd-unreachable\",\"https://127.0.0.1:2379\"]]}", 1005,
	      FC_STORE_DUPLICATE, 0);
	/* another node's sequence is its own */
	store(s, "node-b", "{\"q\":1,\"t\":100,\"d\":[" RAISE_B "]}", 1006, FC_STORE_STORED, 0);

	uint32_t q;
	char hash[9];
	assert_int_equal(fc_store_me(s, "pi-master1", NULL, 1007, &q, hash), 0);
	assert_int_equal(q, 4);
	char want[9];
	snprintf(want, sizeof(want), "%08x",
		 fc_wire_hash_line(FC_WIRE_HASH_INIT, "etcd-unreachable", "https://127.0.0.1:2379", 3));
	assert_string_equal(hash, want);
	assert_int_equal(fc_store_me(s, "nobody", NULL, 1007, &q, hash), 0);
	assert_int_equal(q, 0);
	assert_string_equal(hash, "811c9dc5");

	int rc;
	cJSON *show = fc_store_show(s, "pi-master1", 20, 1010, &rc);
	assert_non_null(show);
	assert_string_equal(field(show, "board")->valuestring, "rpi4");
	assert_string_equal(field(show, "worst")->valuestring, "critical");
	const cJSON *diags = field(show, "diagnoses");
	assert_int_equal(cJSON_GetArraySize(diags), 1);
	const cJSON *d = cJSON_GetArrayItem(diags, 0);
	assert_string_equal(field(d, "summary")->valuestring, "timeout");
	assert_int_equal(field(d, "seq")->valuedouble, 4);
	assert_int_equal(field(d, "raised_at")->valuedouble, 1000);
	assert_string_equal(cJSON_GetArrayItem(field(d, "remedy"), 0)->valuestring, "systemctl start etcd");
	/* q 4 said no component: what was stored with it is what it said */
	assert_string_equal(field(d, "component")->valuestring, "");
	/* raise a, raise b, gap, change a, resolve b */
	assert_int_equal(count_events(show, "raise"), 2);
	assert_int_equal(count_events(show, "gap"), 1);
	assert_int_equal(count_events(show, "change"), 1);
	assert_int_equal(count_events(show, "resolve"), 1);
	assert_int_equal(cJSON_GetArraySize(field(show, "history")), 5);
	cJSON_Delete(show);
	assert_null(fc_store_show(s, "nobody", 20, 1010, &rc));
	assert_int_equal(rc, -ENOENT);

	cJSON *nodes = fc_store_nodes(s, 1010);
	assert_int_equal(cJSON_GetArraySize(nodes), 2);
	const cJSON *b = cJSON_GetArrayItem(nodes, 0); /* ordered by name */
	assert_string_equal(field(b, "node")->valuestring, "node-b");
	assert_string_equal(field(b, "worst")->valuestring, "warning");
	assert_string_equal(cJSON_GetArrayItem(field(b, "codes"), 0)->valuestring, "clock-unsynced");
	assert_int_equal(field(b, "last_seen_ago_s")->valuedouble, 4);
	cJSON_Delete(nodes);
	/* what node-b's first report said of itself: its component, and the
	 * component of what it explains (issue 20) */
	store(s, "node-b", "{\"q\":2,\"t\":101,\"d\":[" RAISE_A "]}", 1007, FC_STORE_STORED, 0);
	cJSON *show2 = fc_store_show(s, "node-b", 20, 1010, &rc);
	assert_non_null(show2);
	d = cJSON_GetArrayItem(field(show2, "diagnoses"), 0);
	assert_string_equal(field(d, "code")->valuestring, "etcd-unreachable");
	assert_string_equal(field(d, "component")->valuestring, "etcd");
	const cJSON *l = cJSON_GetArrayItem(field(d, "links"), 0);
	assert_string_equal(field(l, "code")->valuestring, "apiserver-unreachable");
	assert_string_equal(field(l, "component")->valuestring, "kube-apiserver");
	cJSON_Delete(show2);
	fc_store_delete(&s);
	assert_null(s);

	/* read-only sees the same */
	assert_int_equal(fc_store_open(db, false, &s, why, sizeof(why)), 0);
	nodes = fc_store_nodes(s, 1010);
	assert_int_equal(cJSON_GetArraySize(nodes), 2);
	cJSON_Delete(nodes);
	fc_store_delete(&s);
}

/* node's last_seq as another connection sees it (committed only); -1: no
 * such node. */
static int64_t seen_seq(const char *node)
{
	return peek("SELECT last_seq FROM nodes WHERE name = ?1", node);
}

/* Group commit: the writes of a batch are one transaction, each a
 * savepoint (one failing is undone alone), seen by the batch's own later
 * writes, by nobody else before the commit; closed without a commit, the
 * batch is gone. */
static void test_batch(void **state)
{
	(void)state;
	struct fc_store *s = NULL;
	char why[256], hash[9];
	bool back;
	assert_int_equal(fc_store_open(db, true, &s, why, sizeof(why)), 0);
	assert_false(fc_store_batch_open(s));
	assert_int_equal(fc_store_batch_commit(s), 0); /* none open: nothing to do */
	assert_int_equal(fc_store_batch_begin(s), 0);
	assert_int_equal(fc_store_batch_begin(s), 0); /* one batch */
	assert_true(fc_store_batch_open(s));
	store(s, "n1", "{\"q\":1,\"d\":[" RAISE_B "]}", 1000, FC_STORE_STORED, 0);
	/* a retransmission in the same pass: the batch's own write is seen */
	store(s, "n1", "{\"q\":1,\"d\":[" RAISE_B "]}", 1000, FC_STORE_DUPLICATE, 0);
	struct fc_hb hb = {.h = "811c9dc5", .i = 120};
	assert_int_equal(fc_store_heartbeat(s, "n2", &hb, false, 1000, &back, hash), 0);
	/* a write that fails (a resync of a node never stored) is undone
	 * alone: the batch goes on */
	unsigned raised, resolved;
	assert_int_equal(fc_store_resync(s, "nobody", NULL, 0, 1000, &raised, &resolved, hash),
			 -EIO);
	store(s, "n1", "{\"q\":2,\"r\":[[\"clock-unsynced\",\"\"]]}", 1001, FC_STORE_STORED, 0);
	/* nothing committed yet: another connection sees no node */
	assert_int_equal(seen_seq("n1"), -1);
	assert_int_equal(seen_seq("n2"), -1);
	assert_int_equal(fc_store_batch_commit(s), 0);
	assert_false(fc_store_batch_open(s));
	assert_int_equal(seen_seq("n1"), 2);
	assert_int_equal(seen_seq("n2"), 0);
	int rc;
	cJSON *show = fc_store_show(s, "n1", 20, 1002, &rc);
	assert_non_null(show);
	assert_int_equal(count_events(show, "raise"), 1);
	assert_int_equal(count_events(show, "resolve"), 1);
	cJSON_Delete(show);
	/* outside a batch, a write is its own transaction again */
	store(s, "n1", "{\"q\":3}", 1003, FC_STORE_STORED, 0);
	assert_int_equal(seen_seq("n1"), 3);
	/* a batch never committed (serve dying) leaves nothing */
	assert_int_equal(fc_store_batch_begin(s), 0);
	store(s, "n1", "{\"q\":4}", 1004, FC_STORE_STORED, 0);
	fc_store_delete(&s);
	assert_int_equal(seen_seq("n1"), 3);
}

static void on_silent(const char *node, int64_t silent, void *arg)
{
	int *calls = arg;
	assert_string_equal(node, "pi-master1");
	assert_int_equal(silent, 7);
	(*calls)++;
}

static void test_unreachable(void **state)
{
	(void)state;
	struct fc_store *s = NULL;
	char why[256], hash[9];
	assert_int_equal(fc_store_open(db, true, &s, why, sizeof(why)), 0);
	struct fc_hb hb = {.q = 0, .n = 0, .w = 0, .h = "811c9dc5", .i = 2};
	bool back = true;
	assert_int_equal(fc_store_heartbeat(s, "pi-master1", &hb, false, 1000, &back, hash), 0);
	assert_false(back);
	assert_string_equal(hash, "811c9dc5");
	int calls = 0;
	/* 3 intervals of 2 s: silent for 6 s is still fine, 7 s is not */
	assert_int_equal(fc_store_sweep(s, 1006, on_silent, &calls), 0);
	assert_int_equal(calls, 0);
	assert_int_equal(fc_store_sweep(s, 1007, on_silent, &calls), 0);
	assert_int_equal(calls, 1);
	/* logged once per transition */
	assert_int_equal(fc_store_sweep(s, 1008, on_silent, &calls), 0);
	assert_int_equal(calls, 1);
	int rc;
	cJSON *show = fc_store_show(s, "pi-master1", 20, 1008, &rc);
	assert_string_equal(field(show, "state")->valuestring, "unreachable");
	assert_int_equal(count_events(show, "unreachable"), 1);
	cJSON_Delete(show);
	assert_int_equal(fc_store_heartbeat(s, "pi-master1", &hb, false, 1009, &back, hash), 0);
	assert_true(back);
	show = fc_store_show(s, "pi-master1", 20, 1009, &rc);
	assert_string_equal(field(show, "state")->valuestring, "ok");
	assert_int_equal(count_events(show, "reachable"), 1);
	cJSON_Delete(show);
	fc_store_delete(&s);
}

/* Two serves on one store (two connections, as two processes would have):
 * each has its row, the node's session is held by the serve it last spoke
 * to, a serve not renewed for FC_STORE_SERVE_DEAD_S holds nothing, one gone
 * cleanly holds nothing at once; both sweeping the same silent node write
 * one "unreachable" line between them and tell it once. */
static void test_serves(void **state)
{
	(void)state;
	struct fc_store *a = NULL, *b = NULL;
	char why[256], id[FC_STORE_SERVE_ID_LEN + 1], hash[9];
	const char *ida = "aaaaaaaaaaaaaaaa", *idb = "bbbbbbbbbbbbbbbb";
	assert_int_equal(fc_store_open(db, true, &a, why, sizeof(why)), 0);
	assert_int_equal(fc_store_open(db, true, &b, why, sizeof(why)), 0);
	assert_int_equal(fc_store_serve_up(a, ida, "host-a", "127.0.0.1:5684", 1000), 0);
	assert_int_equal(fc_store_serve_up(b, idb, "host-b", "127.0.0.1:5685", 1000), 0);
	assert_int_equal(count_rows("serves"), 2);
	assert_int_equal(fc_store_holder(a, "n1", 1000, id), -ENOENT);
	assert_int_equal(fc_store_hold(a, "n1", ida, 1000), 0);
	assert_int_equal(fc_store_holder(b, "n1", 1001, id), 0);
	assert_string_equal(id, ida);
	/* the node fails over to b */
	assert_int_equal(fc_store_hold(b, "n1", idb, 1002), 0);
	assert_int_equal(fc_store_holder(a, "n1", 1002, id), 0);
	assert_string_equal(id, idb);
	assert_int_equal(count_rows("sessions"), 1);
	/* b not renewed: dead after FC_STORE_SERVE_DEAD_S, alive when renewed */
	assert_int_equal(fc_store_holder(a, "n1", 1000 + FC_STORE_SERVE_DEAD_S + 1, id), -ENOENT);
	assert_int_equal(fc_store_serve_alive(b, idb, 1000 + FC_STORE_SERVE_DEAD_S), 0);
	assert_int_equal(fc_store_holder(a, "n1", 1000 + FC_STORE_SERVE_DEAD_S + 1, id), 0);
	/* b stops: its row and sessions go; its renewal says the row is gone */
	assert_int_equal(fc_store_serve_down(b, idb, 1010), 0);
	assert_int_equal(fc_store_holder(a, "n1", 1010, id), -ENOENT);
	assert_int_equal(count_rows("sessions"), 0);
	assert_int_equal(fc_store_serve_alive(b, idb, 1011), -ENOENT);
	assert_int_equal(count_rows("serves"), 1);
	/* the row of a serve dead for a day goes with the next clean stop */
	assert_int_equal(fc_store_serve_up(b, idb, "host-b", "127.0.0.1:5685", 1011), 0);
	assert_int_equal(fc_store_serve_down(a, ida, 1011 + 86401), 0);
	assert_int_equal(count_rows("serves"), 0);

	/* a silent node, swept by both */
	struct fc_hb hb = {.q = 0, .n = 0, .w = 0, .h = "811c9dc5", .i = 2};
	bool back;
	assert_int_equal(fc_store_heartbeat(a, "pi-master1", &hb, false, 2000, &back, hash), 0);
	int calls = 0;
	assert_int_equal(fc_store_sweep(a, 2007, on_silent, &calls), 0);
	assert_int_equal(fc_store_sweep(b, 2007, on_silent, &calls), 0);
	assert_int_equal(calls, 1);
	assert_int_equal(count_rows("history WHERE node = 'pi-master1' AND event = 'unreachable'"), 1);
	/* back through b: one "reachable" line, seen by a's sweep as ok */
	assert_int_equal(fc_store_heartbeat(b, "pi-master1", &hb, false, 2008, &back, hash), 0);
	assert_true(back);
	assert_int_equal(fc_store_sweep(a, 2009, on_silent, &calls), 0);
	assert_int_equal(calls, 1);
	assert_int_equal(count_rows("history WHERE node = 'pi-master1' AND event = 'reachable'"), 1);
	fc_store_delete(&b);
	fc_store_delete(&a);
}

/* `migrate`: makes the schema of an empty store, then finds nothing to do,
 * and counts the serves that run on it. */
static void test_migrate(void **state)
{
	(void)state;
	char why[256];
	int from, to, serves;
	assert_int_equal(fc_store_migrate(db, &from, &to, &serves, why, sizeof(why)), 0);
	assert_int_equal(from, 0);
	assert_int_equal(to, 4);
	assert_int_equal(serves, 0);
	struct fc_store *s = NULL;
	assert_int_equal(fc_store_open(db, true, &s, why, sizeof(why)), 0);
	assert_int_equal(fc_store_serve_up(s, "cccccccccccccccc", "h", "127.0.0.1:1", (int64_t)time(NULL)), 0);
	assert_int_equal(fc_store_migrate(db, &from, &to, &serves, why, sizeof(why)), 0);
	assert_int_equal(from, 4);
	assert_int_equal(to, 4);
	assert_int_equal(serves, 1);
	fc_store_delete(&s);
}

#ifndef FC_TEST_PG
/* what version 4 added (several serves), dropped to make an older store */
#define DROP_V4 "DROP TABLE serves; DROP TABLE sessions; DROP TABLE relay;"

static void test_open(void **state)
{
	(void)state;
	struct fc_store *s = NULL;
	char why[256];
	assert_int_equal(fc_store_open(db, false, &s, why, sizeof(why)), -ENOENT);
	assert_non_null(strstr(why, db));
	assert_int_equal(fc_store_open(db, true, &s, why, sizeof(why)), 0);
	fc_store_delete(&s);
	/* a version 1 store (before components): read-only says to upgrade
	 * it, serve upgrades it and keeps what it holds */
	struct fc_report r;
	enum fc_store_outcome out;
	uint32_t from, to;
	assert_int_equal(fc_store_open(db, true, &s, why, sizeof(why)), 0);
	decode("{\"q\":1,\"t\":100,\"d\":[" RAISE_B "]}", &r);
	assert_int_equal(fc_store_report(s, "old", &r, false, 1000, &out, &from, &to), 0);
	fc_wire_report_free(&r);
	fc_store_delete(&s);
	sqlite3 *v1;
	assert_int_equal(sqlite3_open(db, &v1), SQLITE_OK);
	assert_int_equal(sqlite3_exec(v1, "ALTER TABLE diagnoses DROP COLUMN component; ALTER TABLE diagnoses DROP COLUMN links;"
				      "DROP TABLE node_keys; ALTER TABLE nodes DROP COLUMN hb_q; ALTER TABLE nodes DROP COLUMN hb_u;"
				      DROP_V4 "PRAGMA user_version = 1", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(v1);
	assert_int_equal(fc_store_open(db, false, &s, why, sizeof(why)), -EPROTO);
	assert_non_null(strstr(why, "run 'serve'"));
	assert_int_equal(fc_store_open(db, true, &s, why, sizeof(why)), 0);
	int rc;
	cJSON *show = fc_store_show(s, "old", 20, 1010, &rc);
	assert_non_null(show);
	const cJSON *d = cJSON_GetArrayItem(field(show, "diagnoses"), 0);
	assert_string_equal(field(d, "code")->valuestring, "clock-unsynced");
	assert_string_equal(field(d, "component")->valuestring, "");
	assert_int_equal(cJSON_GetArraySize(field(d, "links")), 0);
	/* its history came through the rebuild of version 3 */
	assert_int_equal(count_events(show, "raise"), 1);
	cJSON_Delete(show);
	fc_store_delete(&s);
	/* a newer schema is refused, not misread */
	sqlite3 *h;
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
	assert_int_equal(fc_store_open(db, true, &s, why, sizeof(why)), -EPROTO);
	assert_non_null(strstr(why, "schema version 99"));
}

#else
/* PostgreSQL's opening: an empty database holds no fleet (read-only says
 * so), serve makes the schema, two stores on one database at once, and a
 * newer schema is refused, not misread. */
static void test_open_pg(void **state)
{
	(void)state;
	struct fc_store *s = NULL, *t = NULL;
	char why[256];
	assert_int_equal(fc_store_open(db, false, &s, why, sizeof(why)), -ENOENT);
	assert_non_null(strstr(why, "holds no fleet yet"));
	assert_null(strstr(why, "password"));
	assert_int_equal(fc_store_open(db, true, &s, why, sizeof(why)), 0);
	assert_int_equal(fc_store_open(db, true, &t, why, sizeof(why)), 0); /* a second serve */
	store(s, "a", "{\"q\":1,\"d\":[" RAISE_B "]}", 1000, FC_STORE_STORED, 0);
	/* the same report through the other: stored once */
	store(t, "a", "{\"q\":1,\"d\":[" RAISE_B "]}", 1000, FC_STORE_DUPLICATE, 0);
	fc_store_delete(&t);
	fc_store_delete(&s);
	assert_int_equal(fc_store_open(db, false, &s, why, sizeof(why)), 0);
	fc_store_delete(&s);
	assert_int_equal(peek("SELECT version FROM fleetmedic_schema", NULL), 4);
	struct fc_db *h = NULL;
	assert_int_equal(fc_db_open(db, true, &h, why, sizeof(why)), 0);
	assert_int_equal(fc_db_set_version(h, 99), 0);
	fc_db_close(&h);
	assert_int_equal(fc_store_open(db, true, &s, why, sizeof(why)), -EPROTO);
	assert_non_null(strstr(why, "schema version 99"));
	/* a server that is not there: the reason, at once */
	char gone[PATH_MAX + 64];
	snprintf(gone, sizeof(gone), "host=%s port=1 user=postgres dbname=postgres", pg.dir);
	assert_int_equal(fc_store_open(gone, true, &s, why, sizeof(why)), -EIO);
	assert_non_null(strstr(why, "cannot connect"));
}
#endif

/* A diagnosis with z resolves the node's diagnoses of the codes it
 * explains (each with a history line naming it), whatever their keys, and
 * nothing of other codes or nodes; GET /me's board is kept for the node,
 * which it makes known. */
static void test_absorbed_and_board(void **state)
{
	(void)state;
	struct fc_store *s;
	char why[160];
	assert_int_equal(fc_store_open(db, true, &s, why, sizeof(why)), 0);
	uint32_t q;
	char hash[9];
	assert_int_equal(fc_store_me(s, "k1", "rpi4", 900, &q, hash), 0);
	assert_int_equal(q, 0);
	store(s, "k1",
	      "{\"q\":1,\"d\":[{\"c\":\"apiserver-unreachable\",\"s\":3,\"k\":\"https://"
	      "127.0.0.1:6443\"},"
	      "{\"c\":\"apiserver-unreachable\",\"s\":3,\"k\":\"https://10.0.0.1:6443\"},"
	      "{\"c\":\"etcd-unreachable\",\"s\":3,\"k\":\"https://127.0.0.1:2379\"}]}",
	      1000, FC_STORE_STORED, 0);
	store(s, "k2",
	      "{\"q\":1,\"d\":[{\"c\":\"apiserver-unreachable\",\"s\":3,\"k\":\"https://"
	      "127.0.0.1:6443\"}]}",
	      1000, FC_STORE_STORED, 0);
	store(s, "k1",
	      "{\"q\":2,\"d\":[{\"c\":\"container-name-conflict\",\"s\":3,\"k\":\"k8s_kube-"
	      "apiserver_k~97304528\","
	      "\"x\":[\"apiserver-unreachable\"],\"z\":1}]}",
	      1001, FC_STORE_STORED, 0);
	int rc;
	cJSON *show = fc_store_show(s, "k1", 20, 1002, &rc);
	assert_non_null(show);
	assert_string_equal(field(show, "board")->valuestring, "rpi4");
	const cJSON *d;
	int n = 0;
	cJSON_ArrayForEach(d, field(show, "diagnoses"))
	{
		assert_string_not_equal(field(d, "code")->valuestring, "apiserver-unreachable");
		n++;
	}
	assert_int_equal(n, 2); /* the conflict and etcd's */
	int explained = 0;
	const cJSON *h;
	cJSON_ArrayForEach(h, field(show, "history"))
	{
		const cJSON *detail = cJSON_GetObjectItem(h, "detail");
		if (strcmp(field(h, "event")->valuestring, "resolve") == 0 &&
		    cJSON_IsString(detail) &&
		    strcmp(detail->valuestring,
			   "explained by container-name-conflict k8s_kube-apiserver_k~97304528") ==
			0)
			explained++;
	}
	assert_int_equal(explained, 2);
	/* the hash GET /me answers is the set left: the conflict and etcd's */
	assert_int_equal(fc_store_me(s, "k1", NULL, 1003, &q, hash), 0);
	char want[9];
	uint32_t hw = fc_wire_hash_line(FC_WIRE_HASH_INIT, "container-name-conflict",
					"k8s_kube-apiserver_k~97304528", 3);
	snprintf(want, sizeof(want), "%08x",
		 fc_wire_hash_line(hw, "etcd-unreachable", "https://127.0.0.1:2379", 3));
	assert_string_equal(hash, want);
	cJSON_Delete(show);
	/* the other node keeps its own */
	show = fc_store_show(s, "k2", 20, 1002, &rc);
	assert_int_equal(cJSON_GetArraySize(field(show, "diagnoses")), 1);
	cJSON_Delete(show);
	fc_store_delete(&s);
}

/* Resync (issue 25): the node's whole set replaces what the store holds,
 * each difference a "resync:" history line; a heartbeat's hash is the
 * rows', and a bare heartbeat's what the last with a payload said. */
static void test_resync(void **state)
{
	(void)state;
	struct fc_store *s;
	char why[160], hash[9];
	assert_int_equal(fc_store_open(db, true, &s, why, sizeof(why)), 0);
	store(s, "r1", "{\"q\":1,\"d\":[" RAISE_A "," RAISE_B "]}", 1000, FC_STORE_STORED, 0);
	struct fc_hb hb = {.q = 1, .n = 2, .w = 3, .i = 60}, said;
	bool back;
	assert_int_equal(fc_store_heartbeat(s, "r1", &hb, false, 1001, &back, hash), 0);
	snprintf(hb.h, sizeof(hb.h), "%s", hash);
	assert_int_equal(fc_store_heartbeat(s, "r1", &hb, false, 1002, &back, hash), 0);
	assert_int_equal(fc_store_node_said(s, "r1", &said), 0);
	assert_int_equal(said.q, 1);
	assert_string_equal(said.h, hash);
	assert_int_equal(fc_store_node_said(s, "nobody", &said), -ENOENT);
	/* the node now raises B changed and C, not A */
	struct fc_report r;
	decode("{\"q\":9,\"d\":[{\"c\":\"clock-unsynced\",\"s\":3,\"k\":\"\",\"m\":\"no NTP for a day\"},"
	       "{\"c\":\"fs-readonly\",\"s\":3,\"k\":\"/\",\"m\":\"read-only\"}]}",
	       &r);
	unsigned raised, resolved;
	char after[9];
	assert_int_equal(fc_store_resync(s, "r1", r.d, r.nd, 1003, &raised, &resolved, after), 0);
	assert_int_equal(raised, 2);
	assert_int_equal(resolved, 1);
	/* the same set again changes nothing */
	assert_int_equal(fc_store_resync(s, "r1", r.d, r.nd, 1004, &raised, &resolved, hash), 0);
	assert_int_equal(raised, 0);
	assert_int_equal(resolved, 0);
	assert_string_equal(hash, after);
	/* the heartbeat's hash is the rows' */
	assert_int_equal(fc_store_heartbeat(s, "r1", &(struct fc_hb){.bare = true}, false, 1005, &back, hash), 0);
	assert_string_equal(hash, after);
	assert_int_equal(fc_store_resync(s, "unknown", r.d, r.nd, 1006, &raised, &resolved, hash), -EIO);
	fc_wire_report_free(&r);
	int rc;
	cJSON *show = fc_store_show(s, "r1", 50, 1007, &rc);
	assert_non_null(show);
	assert_int_equal(cJSON_GetArraySize(field(show, "diagnoses")), 2);
	int resync_lines = 0;
	const cJSON *h;
	cJSON_ArrayForEach(h, field(show, "history"))
	{
		const cJSON *detail = cJSON_GetObjectItem(h, "detail");
		if (cJSON_IsString(detail) && strncmp(detail->valuestring, "resync: ", 8) == 0)
			resync_lines++;
	}
	assert_int_equal(resync_lines, 3);
	/* the node's seq stays its last report's */
	assert_int_equal((int)field(show, "last_seq")->valuedouble, 1);
	cJSON_Delete(show);
	fc_store_delete(&s);
}


#define DAY 86400
#define HOUR_S 3600

/* A raised and resolved on node cycles times, a second apart from from
 * (reports 1 .. 2 * cycles): 2 * cycles history lines. */
static void flap(struct fc_store *s, const char *node, int cycles, int64_t from)
{
	for (int i = 0; i < cycles; i++) {
		char json[512];
		snprintf(json, sizeof(json), "{\"q\":%d,\"d\":[" RAISE_A "]}", 2 * i + 1);
		store(s, node, json, from + i, FC_STORE_STORED, 0);
		snprintf(json, sizeof(json), "{\"q\":%d,\"r\":[[\"etcd-unreachable\",\"https://127.0.0.1:2379\"]]}",
			 2 * i + 2);
		store(s, node, json, from + i, FC_STORE_STORED, 0);
	}
}

/* Retention: lines older than the limit go, newer stay; a diagnosis still
 * raised (and its raise line) stays whatever its age; a batch deletes at
 * most its limit, and a short one says nothing older is left. */
static void test_prune(void **state)
{
	(void)state;
	struct fc_store *s = NULL;
	char why[256];
	assert_int_equal(fc_store_open(db, true, &s, why, sizeof(why)), 0);
	int64_t t0 = 1000 * DAY;
	/* day 0: B raised on old-1 and stays raised; A raised and resolved */
	store(s, "old-1", "{\"q\":1,\"d\":[" RAISE_B "," RAISE_A "]}", t0, FC_STORE_STORED, 0);
	store(s, "old-1", "{\"q\":2,\"r\":[[\"etcd-unreachable\",\"https://127.0.0.1:2379\"]]}", t0 + 60,
	      FC_STORE_STORED, 0);
	/* 1,200 more old lines: A raised and resolved 600 times on node n */
	flap(s, "n", 600, t0 + 100);
	/* day 100: recent lines */
	store(s, "n", "{\"q\":1201,\"d\":[" RAISE_A "]}", t0 + 100 * DAY, FC_STORE_STORED, 0);
	store(s, "old-1", "{\"q\":3,\"d\":[{\"c\":\"clock-unsynced\",\"s\":3,\"k\":\"\",\"m\":\"worse\"}]}",
	      t0 + 100 * DAY, FC_STORE_STORED, 0);
	assert_int_equal(count_rows("history"), 3 + 1200 + 2);

	/* keep 90 days at day 100: every line of day 0 but B's raise */
	int64_t before = t0 + 10 * DAY;
	assert_int_equal(fc_store_prune(s, before, 500), 500);
	assert_int_equal(count_rows("history"), 1205 - 500);
	assert_int_equal(fc_store_prune(s, before, 500), 500);
	/* 203 old lines were left, one of them kept */
	assert_int_equal(fc_store_prune(s, before, 500), 202);
	assert_int_equal(fc_store_prune(s, before, 500), 0);
	assert_int_equal(count_rows("history"), 3);
	assert_int_equal(count_rows("history WHERE at < 1000 * 86400 + 10 * 86400"), 1);
	assert_int_equal(count_rows("history WHERE event = 'raise' AND code = 'clock-unsynced' AND at = 1000 * 86400"), 1);

	/* the raised set whatever its age: B (day 0, changed on day 100) and A */
	int rc;
	cJSON *show = fc_store_show(s, "old-1", 20, t0 + 100 * DAY, &rc);
	assert_non_null(show);
	assert_int_equal(cJSON_GetArraySize(field(show, "diagnoses")), 1);
	const cJSON *d = cJSON_GetArrayItem(field(show, "diagnoses"), 0);
	assert_string_equal(field(d, "code")->valuestring, "clock-unsynced");
	assert_int_equal(field(d, "raised_at")->valuedouble, (double)t0);
	assert_int_equal(count_events(show, "raise"), 1);
	assert_int_equal(count_events(show, "change"), 1);
	assert_int_equal(cJSON_GetArraySize(field(show, "history")), 2);
	cJSON_Delete(show);
	show = fc_store_show(s, "n", 20, t0 + 100 * DAY, &rc);
	assert_int_equal(cJSON_GetArraySize(field(show, "diagnoses")), 1);
	assert_int_equal(cJSON_GetArraySize(field(show, "history")), 1);
	cJSON_Delete(show);

	/* once B is resolved its old raise line goes too; new lines go on
	 * with ids above the old ones */
	store(s, "old-1", "{\"q\":4,\"r\":[[\"clock-unsynced\",\"\"]]}", t0 + 101 * DAY, FC_STORE_STORED, 0);
	assert_int_equal(fc_store_prune(s, t0 + 11 * DAY, 500), 1);
	assert_int_equal(count_rows("history WHERE at < 1000 * 86400 + 11 * 86400"), 0);
	assert_int_equal(count_rows("history WHERE id > 1205"), 1);
	/* the lines of the last 90 days all stay */
	assert_int_equal(fc_store_prune(s, t0 + 100 * DAY, 500), 0);
	assert_int_equal(count_rows("history"), 3);
	fc_store_delete(&s);
}

static void on_forgotten(const char *node, int64_t silent, void *arg)
{
	int *calls = arg;
	assert_string_equal(node, "gone");
	assert_int_equal(silent, 31 * DAY);
	(*calls)++;
}

/* --forget: a node silent for longer is dropped with its raised set, its
 * history stays with a "forgotten" line; a node heard from is not; one
 * that speaks again starts anew, its old lines still there. */
static void test_forget(void **state)
{
	(void)state;
	struct fc_store *s = NULL;
	char why[256], hash[9];
	assert_int_equal(fc_store_open(db, true, &s, why, sizeof(why)), 0);
	int64_t t0 = 1000 * DAY;
	store(s, "gone", "{\"q\":1,\"d\":[" RAISE_A "," RAISE_B "]}", t0, FC_STORE_STORED, 0);
	store(s, "here", "{\"q\":1,\"d\":[" RAISE_B "]}", t0, FC_STORE_STORED, 0);
	struct fc_hb hb = {.q = 1, .n = 1, .w = 2, .h = "811c9dc5", .i = 120};
	bool back;
	assert_int_equal(fc_store_heartbeat(s, "here", &hb, false, t0 + 29 * DAY, &back, hash), 0);
	int calls = 0;
	int64_t now = t0 + 31 * DAY;
	/* silent for 31 days; --forget 30d */
	assert_int_equal(fc_store_forget(s, now, now - 30 * DAY, 16, on_forgotten, &calls), 1);
	assert_int_equal(calls, 1);
	assert_int_equal(fc_store_forget(s, now, now - 30 * DAY, 16, on_forgotten, &calls), 0);
	assert_int_equal(calls, 1);
	int rc;
	assert_null(fc_store_show(s, "gone", 20, now, &rc));
	assert_int_equal(rc, -ENOENT);
	assert_int_equal(count_rows("diagnoses WHERE node = 'gone'"), 0);
	assert_int_equal(count_rows("history WHERE node = 'gone' AND event = 'forgotten'"
				    " AND detail = 'forgotten after 31 days silent'"),
			 1);
	assert_int_equal(count_rows("history WHERE node = 'gone' AND event = 'raise'"), 2);
	cJSON *nodes = fc_store_nodes(s, now);
	assert_int_equal(cJSON_GetArraySize(nodes), 1);
	assert_string_equal(field(cJSON_GetArrayItem(nodes, 0), "node")->valuestring, "here");
	cJSON_Delete(nodes);
	/* back: a new node, with its old lines and the forgotten one */
	store(s, "gone", "{\"q\":1,\"d\":[" RAISE_B "]}", now + 1, FC_STORE_STORED, 0);
	cJSON *show = fc_store_show(s, "gone", 20, now + 1, &rc);
	assert_non_null(show);
	assert_int_equal(field(show, "first_seen")->valuedouble, (double)(now + 1));
	assert_int_equal(count_events(show, "forgotten"), 1);
	assert_int_equal(count_events(show, "raise"), 3);
	cJSON_Delete(show);
	/* a batch of at most limit nodes, the longest silent first */
	for (int i = 0; i < 5; i++) {
		char node[16];
		snprintf(node, sizeof(node), "x%d", i);
		assert_int_equal(fc_store_heartbeat(s, node, &hb, false, t0 + i, &back, hash), 0);
	}
	assert_int_equal(fc_store_forget(s, now, now - 30 * DAY, 2, NULL, NULL), 2);
	assert_int_equal(count_rows("nodes WHERE name IN ('x0', 'x1')"), 0);
	assert_int_equal(fc_store_forget(s, now, now - 30 * DAY, 16, NULL, NULL), 3);
	assert_int_equal(count_rows("nodes"), 2);
	fc_store_delete(&s);
}

#ifndef FC_TEST_PG
/* A version 2 store (before retention: history's CHECK without
 * "forgotten", no history_at): serve's open rebuilds history, keeping its
 * lines and ids, and a forgotten line can be written after. */
static void test_open_v2(void **state)
{
	(void)state;
	struct fc_store *s = NULL;
	char why[256];
	assert_int_equal(fc_store_open(db, true, &s, why, sizeof(why)), 0);
	store(s, "old", "{\"q\":1,\"d\":[" RAISE_A "," RAISE_B "]}", 1000, FC_STORE_STORED, 0);
	fc_store_delete(&s);
	sqlite3 *h;
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h,
				      "CREATE TABLE v2 (id INTEGER PRIMARY KEY AUTOINCREMENT, node TEXT NOT NULL,"
				      " at INTEGER NOT NULL, seq INTEGER, agent_time INTEGER, event TEXT NOT NULL"
				      " CHECK (event IN ('raise', 'change', 'resolve', 'gap', 'unreachable', 'reachable')),"
				      " code TEXT, key TEXT, severity INTEGER, detail TEXT);"
				      "INSERT INTO v2 SELECT * FROM history; DROP TABLE history;"
				      "ALTER TABLE v2 RENAME TO history; CREATE INDEX history_node ON history (node, id);"
				      "DROP TABLE node_keys; ALTER TABLE nodes DROP COLUMN hb_q; ALTER TABLE nodes DROP COLUMN hb_u;"
				      DROP_V4 "PRAGMA user_version = 2",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	/* the old CHECK refuses the new event */
	assert_int_not_equal(sqlite3_exec(h, "INSERT INTO history (node, at, event) VALUES ('x', 1, 'forgotten')",
					  NULL, NULL, NULL),
			     SQLITE_OK);
	sqlite3_close(h);
	assert_int_equal(count_rows("sqlite_schema WHERE name = 'history_at'"), 0);
	assert_int_equal(fc_store_open(db, true, &s, why, sizeof(why)), 0);
	assert_int_equal(count_rows("sqlite_schema WHERE name = 'history_at'"), 1);
	assert_int_equal(count_rows("sqlite_schema WHERE name IN ('serves', 'sessions', 'relay')"), 3);
	assert_int_equal(count_rows("history WHERE node = 'old' AND event = 'raise' AND id IN (1, 2)"), 2);
	/* new lines go on above the old ids */
	assert_int_equal(fc_store_forget(s, 100 * DAY, 50 * DAY, 16, NULL, NULL), 1);
	assert_int_equal(count_rows("history WHERE event = 'forgotten' AND id = 3"), 1);
	fc_store_delete(&s);
}

#endif

/* fc_retain on a real loop and the real clock: lines 100 days old go
 * with --retain 90d, never more than a batch a tick, the recent ones stay;
 * a node silent for 40 days goes with --forget 30d, one heard from an hour
 * ago stays. */
static void test_retain_timer(void **state)
{
	(void)state;
	struct fc_store *s = NULL;
	char why[256];
	assert_int_equal(fc_store_open(db, true, &s, why, sizeof(why)), 0);
	int64_t now = (int64_t)time(NULL), old = now - 100 * DAY;
	flap(s, "n", 300, old);
	store(s, "n", "{\"q\":601,\"d\":[" RAISE_B "]}", now - HOUR_S, FC_STORE_STORED, 0);
	store(s, "gone", "{\"q\":1,\"d\":[" RAISE_B "]}", now - 40 * DAY, FC_STORE_STORED, 0);
	assert_int_equal(count_rows("history"), 602);
	struct fm_loop *loop = fm_loop_new();
	assert_non_null(loop);
	struct fc_retain_conf conf = {.store = s, .retain_s = 90 * DAY, .forget_s = 30 * DAY, .tick_ms = 5, .batch = 100};
	struct fc_retain *r = fc_retain_new(loop, &conf, why, sizeof(why));
	assert_non_null(r);
	char old_sql[96];
	snprintf(old_sql, sizeof(old_sql), "history WHERE at < %lld", (long long)(now - 90 * DAY));
	int left = count_rows(old_sql), ticks = 0;
	assert_int_equal(left, 600);
	for (uint64_t deadline = fm_now_ms() + 20000; left > 0 && fm_now_ms() < deadline;) {
		int ran = fm_loop_run_once(loop, 100);
		assert_true(ran >= 0);
		int now_left = count_rows(old_sql);
		assert_true(left - now_left <= 100 * ran); /* a batch a tick at most */
		left = now_left;
		ticks += ran;
	}
	assert_int_equal(left, 0);
	assert_true(ticks >= 6);
	assert_int_equal(count_rows("history WHERE event = 'forgotten' AND node = 'gone'"), 1);
	assert_int_equal(count_rows("nodes WHERE name = 'gone'"), 0);
	assert_int_equal(count_rows("nodes WHERE name = 'n'"), 1);
	/* n's recent raise; gone's (40 days old: its history stays) and its
	 * forgotten line */
	assert_int_equal(count_rows("history"), 3);
	fc_retain_delete(&r);
	assert_null(r);
	fm_loop_delete(&loop);
	fc_store_delete(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_reports, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unreachable, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_serves, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_migrate, setup, teardown),
#ifdef FC_TEST_PG
	    cmocka_unit_test_setup_teardown(test_open_pg, setup, teardown),
#else
	    cmocka_unit_test_setup_teardown(test_open, setup, teardown),
#endif
	    cmocka_unit_test_setup_teardown(test_absorbed_and_board, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_resync, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_forget, setup, teardown),
#ifndef FC_TEST_PG
	    cmocka_unit_test_setup_teardown(test_open_v2, setup, teardown),
#endif
	    cmocka_unit_test_setup_teardown(test_retain_timer, setup, teardown),
	};
#ifdef FC_TEST_PG
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
#else
	return cmocka_run_group_tests(tests, NULL, NULL);
#endif
}
