/* fc_page: the fleet's pages (see fc_page.h). */
#include "fc_page.h"

#include "fm_buf.h"
#include "fm_json.h"
#include "fm_report.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PAGE_MAX (16u << 20)

char *fc_page_esc(const char *s)
{
	size_t n = 1;
	for (const char *p = s; *p; p++)
		n += *p == '&' ? 5 : *p == '<' || *p == '>' ? 4 : *p == '"' || *p == '\'' ? 6 : 1;
	char *out = malloc(n), *o = out;
	if (!out)
		return NULL;
	for (const char *p = s; *p; p++) {
		const char *e = *p == '&'    ? "&amp;"
				: *p == '<'  ? "&lt;"
				: *p == '>'  ? "&gt;"
				: *p == '"'  ? "&quot;"
				: *p == '\'' ? "&#39;"
					     : NULL;
		if (e) {
			memcpy(o, e, strlen(e));
			o += strlen(e);
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	return out;
}

/* What builds a page: a refused append marks b failed (fm_buf), checked
 * once at the end (done). */
static void esc(struct fm_buf *b, const char *s)
{
	char *e = fc_page_esc(s ? s : "");
	if (!e)
		b->failed = true;
	else
		fm_buf_append(b, e, strlen(e));
	free(e);
}

static void raw(struct fm_buf *b, const char *s)
{
	fm_buf_append(b, s, strlen(s));
}

static const char *str(const cJSON *o, const char *k)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(o, k));
	return s ? s : "";
}

static long long inum(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItem(o, k);
	return cJSON_IsNumber(v) ? (long long)v->valuedouble : 0;
}

static void ago(struct fm_buf *b, long long s)
{
	if (s < 0)
		s = 0;
	fm_buf_printf(b, s < 120 ? "%llds ago" : s < 7200 ? "%lldm ago" : s < 172800 ? "%lldh ago" : "%lldd ago",
			  s < 120 ? s : s < 7200 ? s / 60 : s < 172800 ? s / 3600 : s / 86400);
}

static void when(struct fm_buf *b, long long t)
{
	char ts[32];
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S UTC", &tm);
	raw(b, ts);
}

static void head(struct fm_buf *b, const char *title)
{
	raw(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
	fm_buf_printf(b, "<meta http-equiv=\"refresh\" content=\"%d\">", FC_PAGE_REFRESH_S);
	raw(b, "<title>");
	esc(b, title);
	raw(b, " - fleetmedic</title><style>"
	       "body{font:15px/1.4 system-ui,sans-serif;margin:0;color:#1b1f24;background:#f6f7f9}"
	       "header{background:#1b2733;color:#fff;padding:.6em 1em}header a{color:#fff;text-decoration:none}"
	       "main{padding:1em;max-width:1100px;margin:auto}"
	       "table{border-collapse:collapse;width:100%;background:#fff}"
	       "th,td{text-align:left;padding:.45em .6em;border-bottom:1px solid #e3e6ea;vertical-align:top}"
	       ".sev{font-weight:600;border-radius:3px;padding:0 .35em;white-space:nowrap}"
	       ".critical{background:#fde2e1;color:#a4161a}.warning{background:#fff1cc;color:#7a5200}"
	       ".info{background:#e6f0ff;color:#1d4f91}.ok{color:#23713b}.unreachable{color:#a4161a;font-weight:600}"
	       ".diag{background:#fff;border:1px solid #e3e6ea;border-radius:4px;padding:.8em 1em;margin:0 0 1em}"
	       "pre{background:#1b2733;color:#e8edf2;padding:.6em .8em;border-radius:3px;overflow-x:auto;"
	       "white-space:pre-wrap;word-break:break-all}"
	       "code{font-family:ui-monospace,monospace}.muted{color:#5c6670}"
	       "form{margin:0 0 1em}select,button{font:inherit}"
	       "@media (max-width:700px){table.fleet thead{display:none}table.fleet tr{display:block;"
	       "border-bottom:2px solid #e3e6ea}table.fleet td{display:block;border:0;padding:.2em .6em}}"
	       "</style></head><body><header><a href=\"/\"><b>fleetmedic</b> fleet</a></header><main>");
}

static void tail(struct fm_buf *b, int64_t now)
{
	raw(b, "<p class=\"muted\">Read from the controller's store at ");
	when(b, now);
	fm_buf_printf(b, "; this page reloads every %d s.</p></main></body></html>\n", FC_PAGE_REFRESH_S);
}

static char *done(struct fm_buf *b)
{
	if (b->failed || !b->data) {
		fm_buf_free(b);
		return NULL;
	}
	return b->data;
}

/* Worst first: unreachable, then by severity, then by name. */
static int node_order(const void *pa, const void *pb)
{
	const cJSON *a = *(const cJSON *const *)pa, *b = *(const cJSON *const *)pb;
	int ua = strcmp(str(a, "state"), "unreachable") == 0, ub = strcmp(str(b, "state"), "unreachable") == 0;
	if (ua != ub)
		return ub - ua;
	int sa = fm_report_severity(str(a, "worst")), sb = fm_report_severity(str(b, "worst"));
	if (sa != sb)
		return sb - sa;
	return strcmp(str(a, "node"), str(b, "node"));
}

static void option(struct fm_buf *b, const char *value, const char *label, const char *selected)
{
	raw(b, "<option value=\"");
	esc(b, value);
	raw(b, selected && strcmp(selected, value) == 0 ? "\" selected>" : "\">");
	esc(b, label);
	raw(b, "</option>");
}

char *fc_page_fleet(const cJSON *nodes, const struct fc_page_filter *f, int64_t now)
{
	struct fm_buf b;
	fm_buf_init(&b, PAGE_MAX);
	size_t n = (size_t)cJSON_GetArraySize(nodes), k = 0;
	const cJSON **v = calloc(n ? n : 1, sizeof(*v)), *node;
	if (!v)
		return NULL;
	/* the codes raised anywhere, for the filter's choices */
	cJSON *codes = cJSON_CreateArray();
	int counts[4] = {0}, unreachable = 0;
	cJSON_ArrayForEach(node, nodes)
	{
		const cJSON *c;
		cJSON_ArrayForEach(c, cJSON_GetObjectItem(node, "codes"))
		{
			if (cJSON_IsString(c) && !fm_json_lists(codes, c->valuestring))
				cJSON_AddItemToArray(codes, cJSON_CreateString(c->valuestring));
		}
		counts[fm_report_severity(str(node, "worst"))]++;
		unreachable += strcmp(str(node, "state"), "unreachable") == 0;
		if (f && f->code && *f->code && !fm_json_lists(cJSON_GetObjectItem(node, "codes"), f->code))
			continue;
		if (f && f->severity && *f->severity && fm_report_severity(str(node, "worst")) < fm_report_severity(f->severity))
			continue;
		v[k++] = node;
	}
	qsort(v, k, sizeof(*v), node_order);
	head(&b, "fleet");
	fm_buf_printf(&b,
			  "<h1>%zu nodes</h1><p><span class=\"sev critical\">%d critical</span> "
			  "<span class=\"sev warning\">%d warning</span> <span class=\"sev info\">%d info</span> "
			  "%d healthy, %d unreachable</p>",
			  n, counts[3], counts[2], counts[1], counts[0], unreachable);
	/* a GET form: filters work without script */
	raw(&b, "<form method=\"get\" action=\"/\"><label>code <select name=\"code\">");
	option(&b, "", "any", f ? f->code : NULL);
	const cJSON *c;
	cJSON_ArrayForEach(c, codes)
	{
		option(&b, c->valuestring, c->valuestring, f ? f->code : NULL);
	}
	raw(&b, "</select></label> <label>at least <select name=\"severity\">");
	option(&b, "", "any", f ? f->severity : NULL);
	option(&b, "critical", "critical", f ? f->severity : NULL);
	option(&b, "warning", "warning", f ? f->severity : NULL);
	option(&b, "info", "info", f ? f->severity : NULL);
	raw(&b, "</select></label> <button type=\"submit\">filter</button></form>");
	cJSON_Delete(codes);
	raw(&b, "<table class=\"fleet\"><thead><tr><th>node</th><th>worst</th><th>diagnoses</th><th>state</th>"
		"<th>last seen</th><th>board</th></tr></thead><tbody>\n");
	for (size_t i = 0; i < k; i++) {
		const cJSON *x = v[i];
		const char *worst = str(x, "worst");
		raw(&b, "<tr><td><a href=\"/nodes/");
		esc(&b, str(x, "node"));
		raw(&b, "\"><b>");
		esc(&b, str(x, "node"));
		raw(&b, "</b></a></td><td>");
		if (fm_report_severity(worst)) {
			raw(&b, "<span class=\"sev ");
			esc(&b, worst);
			raw(&b, "\">");
			esc(&b, worst);
			raw(&b, "</span>");
		} else {
			raw(&b, "<span class=\"ok\">healthy</span>");
		}
		raw(&b, "</td><td>");
		const cJSON *code;
		bool first = true;
		cJSON_ArrayForEach(code, cJSON_GetObjectItem(x, "codes"))
		{
			raw(&b, first ? "<code>" : ", <code>");
			esc(&b, cJSON_GetStringValue(code));
			raw(&b, "</code>");
			first = false;
		}
		raw(&b, "</td><td class=\"");
		esc(&b, str(x, "state"));
		raw(&b, "\">");
		esc(&b, str(x, "state"));
		raw(&b, "</td><td>");
		ago(&b, now - inum(x, "last_seen"));
		raw(&b, "</td><td>");
		esc(&b, cJSON_IsString(cJSON_GetObjectItem(x, "board")) ? str(x, "board") : "?");
		raw(&b, "</td></tr>\n");
	}
	if (k == 0)
		raw(&b, "<tr><td colspan=\"6\" class=\"muted\">no node matches</td></tr>");
	raw(&b, "</tbody></table>");
	free(v);
	tail(&b, now);
	return done(&b);
}

static void list_items(struct fm_buf *b, const cJSON *arr, const char *open, const char *close)
{
	const cJSON *v;
	cJSON_ArrayForEach(v, arr)
	{
		if (!cJSON_IsString(v))
			continue;
		raw(b, open);
		esc(b, v->valuestring);
		raw(b, close);
	}
}

char *fc_page_node(const cJSON *show, int64_t now)
{
	struct fm_buf b;
	fm_buf_init(&b, PAGE_MAX);
	const char *name = str(show, "node");
	head(&b, name);
	raw(&b, "<h1>");
	esc(&b, name);
	raw(&b, "</h1><p>");
	esc(&b, cJSON_IsString(cJSON_GetObjectItem(show, "board")) ? str(show, "board") : "board unknown");
	raw(&b, " &middot; <span class=\"");
	esc(&b, str(show, "state"));
	raw(&b, "\">");
	esc(&b, str(show, "state"));
	raw(&b, "</span> &middot; last seen ");
	ago(&b, now - inum(show, "last_seen"));
	fm_buf_printf(&b, " &middot; report %lld", inum(show, "last_seq"));
	raw(&b, "</p>");
	const cJSON *diags = cJSON_GetObjectItem(show, "diagnoses"), *d;
	if (cJSON_GetArraySize(diags) == 0)
		raw(&b, "<p class=\"ok\">No diagnosis raised: the node is healthy as far as fleetmedic can tell.</p>");
	/* causes (what explains something) first, then by severity: the store's
	 * order is by severity already */
	for (int pass = 0; pass < 2; pass++) {
		cJSON_ArrayForEach(d, diags)
		{
			bool cause = cJSON_GetArraySize(cJSON_GetObjectItem(d, "explains")) > 0;
			if (cause != (pass == 0))
				continue;
			raw(&b, "<section class=\"diag\"><h2><span class=\"sev ");
			esc(&b, str(d, "severity"));
			raw(&b, "\">");
			esc(&b, str(d, "severity"));
			raw(&b, "</span> <code>");
			esc(&b, str(d, "code"));
			raw(&b, "</code>");
			if (*str(d, "component")) {
				raw(&b, " <span class=\"muted\">(");
				esc(&b, str(d, "component"));
				raw(&b, ")</span>");
			}
			raw(&b, "</h2><p>");
			esc(&b, str(d, "summary"));
			raw(&b, "</p>");
			if (cause) {
				raw(&b, "<p>Explains: ");
				list_items(&b, cJSON_GetObjectItem(d, "explains"), "<code>", "</code> ");
				raw(&b, "</p>");
			}
			if (cJSON_GetArraySize(cJSON_GetObjectItem(d, "remedy")) > 0) {
				raw(&b, "<p>Fix:</p><pre><code>");
				list_items(&b, cJSON_GetObjectItem(d, "remedy"), "", "\n");
				raw(&b, "</code></pre>");
			}
			if (cJSON_GetArraySize(cJSON_GetObjectItem(d, "evidence")) > 0) {
				raw(&b, "<p class=\"muted\">Evidence: ");
				list_items(&b, cJSON_GetObjectItem(d, "evidence"), "<code>", "</code> ");
				raw(&b, "</p>");
			}
			raw(&b, "<p class=\"muted\">key <code>");
			esc(&b, str(d, "key"));
			raw(&b, "</code>, raised ");
			when(&b, inum(d, "raised_at"));
			raw(&b, "</p></section>\n");
		}
	}
	raw(&b, "<h2>History</h2><table><thead><tr><th>when</th><th>what</th><th>code</th><th>detail</th></tr>"
		"</thead><tbody>");
	const cJSON *h;
	cJSON_ArrayForEach(h, cJSON_GetObjectItem(show, "history"))
	{
		raw(&b, "<tr><td>");
		when(&b, inum(h, "at"));
		raw(&b, "</td><td>");
		esc(&b, str(h, "event"));
		raw(&b, "</td><td><code>");
		esc(&b, str(h, "code"));
		raw(&b, "</code></td><td>");
		esc(&b, str(h, "detail"));
		raw(&b, "</td></tr>\n");
	}
	raw(&b, "</tbody></table>");
	tail(&b, now);
	return done(&b);
}
