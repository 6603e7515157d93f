/* fm_diagnose: from the fact set to root causes and their fixes.
 *
 * fm_diagnose() is a pure function: it reads facts (diag/fm_facts.h) and the
 * clock it is given, does no I/O and keeps no state, so every rule is tested
 * with hand-made facts. Each rule looks for one diagnosis code of DESIGN.md.
 *
 * Codes are causes or symptoms, and every diagnosis is about a component
 * (etcd, kube-apiserver, a container's, kubelet, the runtime, a filesystem,
 * a certificate, the clock, the board). A symptom ("6443 refuses", "etcd
 * times out") is only listed on its own when no cause present explains it
 * ON THIS NODE: the cause concerns the symptom's component (its container
 * is blocked or crash-looping, its data or image layers lie on the damaged
 * filesystem, it uses the expired certificate, it is a static pod of the
 * down runtime or kubelet, it depends on the etcd that is down). Then the
 * symptom is named in that cause's "explains" and "links" (with why) and
 * its evidence joins the cause's; a symptom joins one cause only, the one
 * with the strongest link. Independent faults stay separate diagnoses.
 * The codes and the pairs they may link are in fm_diagnose.c (codes[]);
 * link() there decides each pair.
 *
 * fm_diag_track gives a run of evaluations stability: a diagnosis is raised
 * the first time it is seen and resolved only after it has been absent for a
 * hold time, so a flapping fact does not make it appear and vanish; each
 * raise and each resolve is reported once.
 */
#ifndef FM_DIAGNOSE_H
#define FM_DIAGNOSE_H

#include "fm_facts.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

/* Days before notAfter from which a certificate is "expiring" (kubeadm's
 * own `certs check-expiration` warns at 30 days too). */
#define FM_DIAG_CERT_EXPIRING_DAYS 30

/* The diagnoses the facts support, as a new JSON array, causes first and
 * critical before warning before info. Each element:
 *   {"code":"container-name-conflict", "severity":"critical"|"warning"|"info",
 *    "key":"what it is about (a container id, a file, a URL)",
 *    "component":"kube-apiserver", "instance":"(the key: which one)",
 *    "summary":"one line a person understands",
 *    "evidence":[{"kind":…,"id":…, the fields that matter}, …],
 *    "remedy":["exact command", …],
 *    "explains":["apiserver-unreachable", …],        (absent when empty)
 *    "links":[{"code":"apiserver-unreachable","key":URL,"component":
 *              "kube-apiserver","via":"the code it was folded into",
 *              "because":"kube-apiserver's container cannot be created"}]}
 * (code, key) is unique in the array. now: seconds since the epoch (the
 * injected clock: certificate days are counted from it). Caller owns the
 * result; NULL on allocation failure. */
cJSON *fm_diagnose(const struct fm_facts *facts, int64_t now);

/* The relation's bound, pair by pair: the i-th (cause, symptom) pair of
 * codes the engine may link (whether it does depends on the components and
 * the facts, see fm_diagnose()). false past the last. For the test that
 * covers every pair. */
bool fm_diagnose_pair(size_t i, const char **cause, const char **symptom);

/* True when any diagnosis in the array is critical (check's exit status 1). */
bool fm_diagnose_critical(const cJSON *diagnoses);

/* The severity order of a code's string ("critical" 2, "warning" 1, "info"
 * 0, anything else -1). */
int fm_diagnose_severity_rank(const char *severity);

/* --- stability over a run ------------------------------------------------ */

struct fm_diag_track;

/* hold_ms: how long a diagnosis must be absent before it is resolved.
 * NULL on allocation failure. */
struct fm_diag_track *fm_diag_track_new(uint64_t hold_ms);
/* Frees and NULLs *t; accepts NULL. */
void fm_diag_track_delete(struct fm_diag_track **t);
/* A new hold time (SIGHUP), for the diagnoses absent from now on too. */
void fm_diag_track_set_hold(struct fm_diag_track *t, uint64_t hold_ms);

/* Feeds one evaluation (borrows diagnoses, the array fm_diagnose returned)
 * at now_ms (monotonic). Returns the changes as a new JSON array (caller
 * frees), each a copy of the diagnosis with "change":"raised" (new) or
 * "changed" (still raised, but its severity, summary, remedy or what it
 * explains differ from the last evaluation's: container-name-conflict
 * dropping to info once the fix is applied, or explaining the apiserver's
 * refusal once that is known), or {"code","key","summary","change":"resolved"} for one
 * that has been absent for the hold time, or at once when a diagnosis of
 * this evaluation explains it (its code and key in the links: a symptom
 * folded into its cause is not a flap). A diagnosis still present with the
 * same severity, summary, remedy and explains, or absent for less than the hold time,
 * is no change. NULL on allocation failure (the state is then
 * unchanged). */
cJSON *fm_diag_track_update(struct fm_diag_track *t, const cJSON *diagnoses, uint64_t now_ms);

/* Starts from what an earlier run had raised (the uplink's persisted
 * "last reported set": code, key, severity, summary, remedy at least), as if
 * each was last seen at now_ms: after a restart a diagnosis still present is
 * no change, one gone is resolved after the hold. Replaces the current set;
 * borrows active. 0 or -ENOMEM. */
int fm_diag_track_seed(struct fm_diag_track *t, const cJSON *active, uint64_t now_ms);

/* When (now_ms's clock) the earliest diagnosis absent from the last
 * evaluation will have been absent for the hold time, so the caller can
 * evaluate again then even when no fact changes; 0 when none is pending. */
uint64_t fm_diag_track_due_ms(const struct fm_diag_track *t);

/* The diagnoses currently raised (the latest copy of each, including those
 * absent for less than the hold time), as a new array; caller frees. */
cJSON *fm_diag_track_active(const struct fm_diag_track *t);

#endif
