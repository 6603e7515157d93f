/* fmh_uplink: what the uplink's tests share: the incident-1 fact set (the
 * same facts test_diagnose's incident-1 case diagnoses), UDP ports, PSK
 * files. */
#ifndef FMH_UPLINK_H
#define FMH_UPLINK_H

#include "fm_facts.h"

#include <stdint.h>

/* Puts incident 1's facts into f as they stand at now (seconds since the
 * epoch): kubelet's name-conflict line 5 s before now, the running holder,
 * the exited attempt 23 and a stale sandbox, 6443 refusing. Fails the test
 * when a fact cannot be put. */
void fmh_incident1_facts(struct fm_facts *f, int64_t now);

/* Puts a fact given as JSON text (fields only); fails the test otherwise. */
void fmh_put_fact(struct fm_facts *f, const char *kind, const char *id, const char *json);

/* A UDP port that was free on 127.0.0.1 a moment ago. */
int fmh_free_udp_port(void);

/* Writes a PSK file (hex, mode 0600) into dir/name; its path into out. */
void fmh_psk_file(const char *dir, const char *name, const char *hex, char *out, size_t size);

#endif
