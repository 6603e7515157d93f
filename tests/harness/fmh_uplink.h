/* fmh_uplink: what the uplink's tests share: the incident-1 fact set (the
 * same facts test_diagnose's incident-1 case diagnoses), PSK files, a
 * controller restarted in place. */
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

/* Writes a PSK file (hex, mode 0600) into dir/name; its path into out. */
void fmh_psk_file(const char *dir, const char *name, const char *hex, char *out, size_t size);

/* text's bytes in hex into out (a PSK file's form of a text key). */
void fmh_hex(const char *text, char *out, size_t size);

/* Starts c's controller again (after fmh_controller_stop) on the same port,
 * key store and database, logging to c->dir/log_name; waits for it to
 * serve. 0 or -errno. */
struct fmh_controller;
int fmh_controller_restart(struct fmh_controller *c, const char *log_name);

#endif
