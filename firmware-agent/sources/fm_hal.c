#include "fm_hal.h"
#include "fm_certs.h"
#include "fm_discover.h"

#include "hal/hal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A number, or null when it is unknown (never a silent 0). */
static void add_num(cJSON *o, const char *key, double v, bool known)
{
	if (known)
		cJSON_AddNumberToObject(o, key, v);
	else
		cJSON_AddNullToObject(o, key);
}

static void add_tri(cJSON *o, const char *key, enum hal_tri t)
{
	if (t == HAL_UNKNOWN)
		cJSON_AddNullToObject(o, key);
	else
		cJSON_AddBoolToObject(o, key, t == HAL_YES);
}

/* "" is unknown too. */
static void add_str(cJSON *o, const char *key, const char *s)
{
	if (s && s[0])
		cJSON_AddStringToObject(o, key, s);
	else
		cJSON_AddNullToObject(o, key);
}

static void set_state(cJSON *o, bool known, const char *reason)
{
	cJSON_AddStringToObject(o, "state", known ? "ok" : "unknown");
	if (reason && reason[0])
		cJSON_AddStringToObject(o, "reason", reason);
}

static void add_time(cJSON *o, const char *key, int64_t t)
{
	char b[32];
	if (t > 0) {
		fm_certs_rfc3339(b, sizeof(b), (time_t)t);
		cJSON_AddStringToObject(o, key, b);
	} else {
		cJSON_AddNullToObject(o, key);
	}
}

static int put(struct fm_facts *facts, const char *kind, const char *id, cJSON *o)
{
	return fm_facts_put(facts, kind, id, o) ? 0 : -ENOMEM;
}

static int put_board(struct fm_facts *facts, const struct hal_board *b)
{
	static const struct {
		unsigned bit;
		const char *name;
	} sensors[] = {
	    {BOARD_SENSOR_THERMAL, "thermal"},
	    {BOARD_SENSOR_CPUFREQ, "cpufreq"},
	    {BOARD_SENSOR_RPI_THROTTLE, "rpi_throttle"},
	    {BOARD_SENSOR_RPI_VOLT, "rpi_volt"},
	    {BOARD_SENSOR_RTC, "rtc"},
	    {BOARD_SENSOR_MMC_LIFE, "mmc_life"},
	    {BOARD_SENSOR_L4T, "l4t"},
	};
	cJSON *o = cJSON_CreateObject();
	set_state(o, b->model[0] || b->arch[0], b->reason);
	cJSON_AddStringToObject(o, "board_id", b->desc->id);
	cJSON_AddStringToObject(o, "name", b->desc->name);
	add_str(o, "model", b->model);
	add_str(o, "compatible", b->compatible);
	add_str(o, "soc", b->soc);
	add_str(o, "arch", b->arch);
	add_str(o, "revision", b->revision);
	add_str(o, "l4t_release", b->l4t_release);
	add_str(o, "l4t_board", b->l4t_board);
	add_str(o, "triplet", b->desc->triplet);
	add_str(o, "matched_by", b->matched_by);
	cJSON *arr = cJSON_AddArrayToObject(o, "sensors");
	for (size_t i = 0; arr && i < sizeof(sensors) / sizeof(sensors[0]); i++)
		if (b->desc->sensors & sensors[i].bit)
			cJSON_AddItemToArray(arr, cJSON_CreateString(sensors[i].name));
	return put(facts, "hal.board", "board", o);
}

static int put_thermal(struct fm_facts *facts, const struct hal_snapshot *s)
{
	const struct hal_thermal *t = &s->thermal;
	if (t->n == 0) {
		cJSON *o = cJSON_CreateObject();
		set_state(o, false, t->reason);
		return put(facts, "hal.thermal", "none", o);
	}
	for (int i = 0; i < t->n; i++) {
		const struct hal_thermal_zone *z = &t->zone[i];
		char id[32];
		snprintf(id, sizeof(id), "thermal_zone%d", z->index);
		cJSON *o = cJSON_CreateObject();
		set_state(o, z->known, z->reason);
		cJSON_AddNumberToObject(o, "zone", z->index);
		add_str(o, "type", z->type);
		add_num(o, "temp_c", (double)z->temp_mc / 1000.0, z->known);
		if (put(facts, "hal.thermal", id, o) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int put_cpufreq(struct fm_facts *facts, const struct hal_cpu *c)
{
	if (c->n == 0) {
		cJSON *o = cJSON_CreateObject();
		set_state(o, false, c->reason);
		return put(facts, "hal.cpufreq", "none", o);
	}
	for (int i = 0; i < c->n; i++) {
		const struct hal_cpufreq *f = &c->policy[i];
		cJSON *o = cJSON_CreateObject();
		set_state(o, f->cur_khz > 0 && f->max_khz > 0 && f->hw_max_khz > 0, f->reason);
		add_num(o, "cur_mhz", (double)(f->cur_khz / 1000), f->cur_khz > 0);
		add_num(o, "max_mhz", (double)(f->max_khz / 1000), f->max_khz > 0);
		add_num(o, "hw_max_mhz", (double)(f->hw_max_khz / 1000), f->hw_max_khz > 0);
		add_str(o, "governor", f->governor);
		add_tri(o, "freq_limited",
			f->max_khz > 0 && f->hw_max_khz > 0
			    ? (f->max_khz < f->hw_max_khz ? HAL_YES : HAL_NO)
			    : HAL_UNKNOWN);
		if (put(facts, "hal.cpufreq", f->policy, o) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int put_throttle(struct fm_facts *facts, const struct hal_throttle *t)
{
	cJSON *o = cJSON_CreateObject();
	if (t->not_on_board) {
		cJSON_AddStringToObject(o, "state", "absent");
		cJSON_AddStringToObject(o, "reason", t->reason);
	} else {
		set_state(o, t->raw_known, t->reason);
	}
	add_tri(o, "undervoltage_now", t->undervoltage_now);
	add_tri(o, "freq_capped_now", t->freq_capped_now);
	add_tri(o, "throttled_now", t->throttled_now);
	add_tri(o, "soft_temp_limit_now", t->soft_temp_limit_now);
	add_tri(o, "undervoltage_since_boot", t->undervoltage_since_boot);
	add_tri(o, "freq_capped_since_boot", t->freq_capped_since_boot);
	add_tri(o, "throttled_since_boot", t->throttled_since_boot);
	add_tri(o, "soft_temp_limit_since_boot", t->soft_temp_limit_since_boot);
	char raw[16];
	snprintf(raw, sizeof(raw), "0x%x", t->raw);
	add_str(o, "raw", t->raw_known ? raw : NULL);
	add_str(o, "source", t->source);
	add_str(o, "path", t->path);
	return put(facts, "hal.throttle", "firmware", o);
}

static int put_memory(struct fm_facts *facts, const struct hal_memory *m)
{
	cJSON *o = cJSON_CreateObject();
	bool mem_known = m->total_kb >= 0 && m->available_kb >= 0;
	bool swap_known = m->swap_total_kb >= 0 && m->swap_free_kb >= 0;
	char why[2 * HAL_REASON_MAX + 4];
	snprintf(why, sizeof(why), "%s%s%s", m->reason,
		 m->reason[0] && m->memcg_enabled == HAL_UNKNOWN ? "; " : "",
		 m->memcg_enabled == HAL_UNKNOWN ? m->memcg_reason : "");
	set_state(o, mem_known && swap_known && m->memcg_enabled != HAL_UNKNOWN, why);
	add_num(o, "total_bytes", (double)m->total_kb * 1024, m->total_kb >= 0);
	add_num(o, "available_bytes", (double)m->available_kb * 1024, m->available_kb >= 0);
	add_num(o, "swap_total_bytes", (double)m->swap_total_kb * 1024, m->swap_total_kb >= 0);
	add_num(o, "swap_used_bytes", (double)(m->swap_total_kb - m->swap_free_kb) * 1024,
		swap_known);
	add_tri(o, "swap_enabled",
		!swap_known	       ? HAL_UNKNOWN
		: m->swap_total_kb > 0 ? HAL_YES
				       : HAL_NO);
	add_tri(o, "memory_cgroup_enabled", m->memcg_enabled);
	add_str(o, "memory_cgroup_reason", m->memcg_reason);
	cJSON_AddBoolToObject(o, "cmdline_cgroup_disable_memory", m->cmdline_disable_memory);
	cJSON_AddBoolToObject(o, "cmdline_cgroup_enable_memory", m->cmdline_enable_memory);
	return put(facts, "hal.memory", "memory", o);
}

static void add_mount(cJSON *o, const struct hal_mount *m, bool known)
{
	add_str(o, "mount_point", known ? m->mount_point : NULL);
	add_str(o, "device", known ? m->source : NULL);
	add_str(o, "fstype", known ? m->fstype : NULL);
	add_str(o, "errors_behavior", known ? m->errors : NULL);
}

static int put_storage(struct fm_facts *facts, const struct hal_storage *st)
{
	for (int i = 0; i < st->n_fs; i++) {
		const struct hal_fs *f = &st->fs[i];
		cJSON *o = cJSON_CreateObject();
		set_state(o, f->used_pct >= 0 && f->mount_known,
			  f->reason[0] ? f->reason : st->reason);
		cJSON_AddStringToObject(o, "path", f->path);
		add_mount(o, &f->m, f->mount_known);
		bool u = f->used_pct >= 0;
		add_num(o, "size_bytes", (double)f->size_bytes, u);
		add_num(o, "avail_bytes", (double)f->avail_bytes, u);
		add_num(o, "used_pct", f->used_pct, u);
		add_num(o, "inodes_used_pct",
			f->inodes_total
			    ? (double)((f->inodes_total - f->inodes_free) * 100 / f->inodes_total)
			    : 0,
			u && f->inodes_total > 0);
		add_tri(o, "read_only",
			!f->mount_known			   ? HAL_UNKNOWN
			: (f->m.mount_ro || f->m.super_ro) ? HAL_YES
							   : HAL_NO);
		if (put(facts, "hal.fs", f->path, o) < 0)
			return -ENOMEM;
	}
	for (int i = 0; i < st->n_ro; i++) {
		const struct hal_mount *m = &st->ro[i];
		cJSON *o = cJSON_CreateObject();
		add_mount(o, m, true);
		cJSON_AddBoolToObject(o, "mount_ro", m->mount_ro);
		cJSON_AddBoolToObject(o, "superblock_ro", m->super_ro);
		cJSON_AddBoolToObject(o, "emergency_ro", m->emergency_ro);
		cJSON_AddBoolToObject(o, "fs_errors", m->fs_errors);
		cJSON_AddBoolToObject(o, "error_this_boot", m->error_this_boot);
		cJSON_AddBoolToObject(o, "mount_ro_imposed", st->ro_imposed);
		cJSON_AddBoolToObject(o, "remounted_ro", hal_mount_remounted_ro(m, st->ro_imposed));
		if (put(facts, "hal.readonly", m->mount_point, o) < 0)
			return -ENOMEM;
	}
	for (int i = 0; i < st->n_ext4; i++) {
		const struct hal_ext4 *x = &st->ext4[i];
		cJSON *o = cJSON_CreateObject();
		set_state(o, x->errors_count >= 0, x->reason);
		cJSON_AddStringToObject(o, "device", x->dev);
		add_str(o, "mount_point", x->mount_point);
		add_num(o, "errors_count", (double)x->errors_count, x->errors_count >= 0);
		add_tri(o, "has_errors",
			x->errors_count < 0   ? HAL_UNKNOWN
			: x->errors_count > 0 ? HAL_YES
					      : HAL_NO);
		add_num(o, "warning_count", (double)x->warning_count, x->warning_count >= 0);
		add_num(o, "msg_count", (double)x->msg_count, x->msg_count >= 0);
		const struct hal_ext4_error *e[2] = {&x->first, &x->last};
		static const char *const pre[2] = {"first_error", "last_error"};
		for (int k = 0; k < 2; k++) {
			char key[40];
			/* The kernel prints zeros when there was no error. */
			bool had = e[k]->time > 0 || e[k]->func[0];
			snprintf(key, sizeof(key), "%s_time", pre[k]);
			add_time(o, key, e[k]->time);
			snprintf(key, sizeof(key), "%s_func", pre[k]);
			add_str(o, key, e[k]->func);
			snprintf(key, sizeof(key), "%s_line", pre[k]);
			add_num(o, key, (double)e[k]->line, had && e[k]->line >= 0);
			snprintf(key, sizeof(key), "%s_ino", pre[k]);
			add_num(o, key, (double)e[k]->ino, had && e[k]->ino >= 0);
			snprintf(key, sizeof(key), "%s_block", pre[k]);
			add_num(o, key, (double)e[k]->block, had && e[k]->block >= 0);
			snprintf(key, sizeof(key), "%s_errcode", pre[k]);
			add_num(o, key, (double)e[k]->errcode, had && e[k]->errcode >= 0);
			snprintf(key, sizeof(key), "%s_errcode_name", pre[k]);
			add_str(o, key, had ? hal_ext4_errcode_name(e[k]->errcode) : NULL);
		}
		if (put(facts, "hal.ext4", x->dev, o) < 0)
			return -ENOMEM;
	}
	for (int i = 0; i < st->n_block; i++) {
		const struct hal_blockdev *b = &st->block[i];
		cJSON *o = cJSON_CreateObject();
		set_state(o, b->ioerr_cnt >= 0 || b->life_time_a >= 0, b->reason);
		add_str(o, "type", b->type);
		add_num(o, "io_errors", (double)b->ioerr_cnt, b->ioerr_cnt >= 0);
		add_num(o, "life_time_a", b->life_time_a, b->life_time_a >= 0);
		add_num(o, "life_time_b", b->life_time_b, b->life_time_b >= 0);
		int worst = b->life_time_a > b->life_time_b ? b->life_time_a : b->life_time_b;
		/* 0x01: 0-10 % of the life used ... 0x0A: 90-100 %, 0x0B: past it. */
		add_num(o, "life_used_pct_max", worst >= 11 ? 110 : worst * 10, worst > 0);
		static const char *const eol[] = {NULL, "normal", "warning", "urgent"};
		add_str(o, "pre_eol", b->pre_eol >= 1 && b->pre_eol <= 3 ? eol[b->pre_eol] : NULL);
		if (put(facts, "hal.blockdev", b->name, o) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int put_clock(struct fm_facts *facts, const struct hal_clock *c)
{
	cJSON *o = cJSON_CreateObject();
	set_state(o, c->synchronised != HAL_UNKNOWN, c->reason);
	add_time(o, "now", c->now);
	add_tri(o, "synchronised", c->synchronised);
	add_num(o, "time_state", c->time_state, c->time_state >= 0);
	add_num(o, "maxerror_us", (double)c->maxerror_us, c->maxerror_us >= 0);
	add_num(o, "esterror_us", (double)c->esterror_us, c->esterror_us >= 0);
	cJSON_AddBoolToObject(o, "rtc_present", c->rtc_present);
	add_str(o, "rtc_name", c->rtc_name);
	add_time(o, "rtc_time", c->rtc_time);
	add_tri(o, "rtc_hctosys", c->rtc_hctosys);
	return put(facts, "hal.clock", "clock", o);
}

int fm_hal_put(struct fm_facts *facts, const struct hal_snapshot *s)
{
	if (put_board(facts, &s->board) < 0 || put_thermal(facts, s) < 0 ||
	    put_cpufreq(facts, &s->cpu) < 0 || put_throttle(facts, &s->throttle) < 0 ||
	    put_memory(facts, &s->memory) < 0 || put_storage(facts, &s->storage) < 0 ||
	    put_clock(facts, &s->clock) < 0)
		return -ENOMEM;
	return 0;
}

/* Whether facts already hold the node's certificates (fm_certs_put_node,
 * as the apiserver source puts them in check): then they are not read and
 * parsed a second time. */
static bool have_node_certs(const struct fm_facts *facts)
{
	for (size_t i = 0; i < fm_facts_count(facts); i++) {
		const cJSON *kind = cJSON_GetObjectItemCaseSensitive(fm_facts_at(facts, i), "kind");
		if (cJSON_IsString(kind) && strcmp(kind->valuestring, "cert") == 0)
			return true;
	}
	return false;
}

int fm_hal_put_cert_clock(struct fm_facts *facts, const struct fm_discovery *d, time_t now)
{
	cJSON *clock = (cJSON *)fm_facts_get(facts, "hal.clock", "clock");
	if (!clock)
		return -ENOENT;
	char newest[32] = "", file[512] = "";
	int n = 0;
	if (d) {
		struct fm_facts *scratch = NULL;
		const struct fm_facts *certs = facts;
		if (!have_node_certs(facts)) {
			if (!(scratch = fm_facts_new()))
				return -ENOMEM;
			fm_certs_put_node(scratch, d, now);
			certs = scratch;
		}
		for (size_t i = 0; i < fm_facts_count(certs); i++) {
			const cJSON *f = fm_facts_at(certs, i);
			const cJSON *kind = cJSON_GetObjectItemCaseSensitive(f, "kind");
			const cJSON *nb = cJSON_GetObjectItemCaseSensitive(f, "not_before");
			const cJSON *id = cJSON_GetObjectItemCaseSensitive(f, "id");
			/* The node's files only, not what a server presented. */
			if (!cJSON_IsString(kind) || strcmp(kind->valuestring, "cert") != 0 ||
			    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(f, "served")) ||
			    !cJSON_IsString(nb) || !cJSON_IsString(id))
				continue;
			n++;
			/* RFC 3339 UTC strings of one width compare in time order. */
			if (strcmp(nb->valuestring, newest) > 0) {
				snprintf(newest, sizeof(newest), "%s", nb->valuestring);
				snprintf(file, sizeof(file), "%s", id->valuestring);
			}
		}
		fm_facts_delete(&scratch);
	}
	cJSON_AddNumberToObject(clock, "certs_checked", n);
	add_str(clock, "newest_cert_not_before", newest);
	add_str(clock, "newest_cert", file);
	char now_s[32];
	fm_certs_rfc3339(now_s, sizeof(now_s), now);
	add_tri(clock, "clock_before_newest_cert",
		newest[0] ? (strcmp(now_s, newest) < 0 ? HAL_YES : HAL_NO) : HAL_UNKNOWN);
	if (!newest[0])
		cJSON_AddStringToObject(clock, "cert_reason",
					d ? "no certificates found on the node" : "no discovery");
	return 0;
}

int fm_hal_collect(const char *root, const struct fm_discovery *d, time_t now,
		   struct fm_facts *facts)
{
	struct hal_snapshot *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	hal_board_identify(root, &s->board);
	hal_read_all(root, s);
	int rc = fm_hal_put(facts, s);
	free(s);
	if (rc == 0)
		rc = fm_hal_put_cert_clock(facts, d, now);
	return rc;
}
