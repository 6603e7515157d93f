/* fc_alert: the fleet's raised diagnoses as Alertmanager alerts (issue 24),
 * posted to each --alertmanager URL's v2 API (POST /api/v2/alerts).
 *
 * Once a second the store says what stands (fc_store_each_alert): every
 * raised critical or warning diagnosis of a reachable node is an alert
 * labelled alertname="fleetmedic", node, code, severity, annotated with
 * its summary and remedy; an unreachable node has one alert, code
 * "node-unreachable", instead of its diagnoses'. What is new or changed
 * goes at once; what stands is sent again every resend interval, with an
 * endsAt four intervals ahead (so Alertmanager resolves it by itself if the
 * controller stops); what is gone is sent with endsAt now.
 *
 * Each Alertmanager has its own record of what it was told: one that does
 * not answer gets everything it missed, resolutions included, once it is
 * back, tried again with back-off (1 s doubling to 60 s); it is logged once
 * when it fails and once when it is back, counted, and never holds up the
 * agents' reports (it reads the store; it is not in ingest's path).
 */
#ifndef FC_ALERT_H
#define FC_ALERT_H

#include <stddef.h>
#include <stdint.h>

#define FC_ALERT_URLS_MAX 8
#define FC_ALERT_RESEND_MS 60000
#define FC_ALERT_MAX 10000 /* alerts kept per Alertmanager: 1,000 nodes x 10 codes */

struct fm_loop;
struct fc_store;
struct fc_alerts;

struct fc_alerts_conf {
	const char *const *urls; /* http://HOST:PORT[/], n of them */
	size_t n;
	struct fc_store *store;
	uint64_t resend_ms; /* 0: FC_ALERT_RESEND_MS */
	uint64_t tick_ms;   /* how often the store is read; 0: 1000 */
};

struct fc_alerts_counters {
	uint64_t posts, post_failures, alerts_sent;
};

/* NULL with why filled (a URL that is not http://HOST[:PORT]). */
struct fc_alerts *fc_alerts_new(struct fm_loop *loop, const struct fc_alerts_conf *conf, char *why, size_t why_size);
void fc_alerts_delete(struct fc_alerts **a);
void fc_alerts_counters(const struct fc_alerts *a, struct fc_alerts_counters *out);

#endif
