/* fm_daemon: `fleetmedic-agent run`: the live sources followed, the others
 * collected on fm_core's schedule, the diagnoses reported over the uplink,
 * the triage GETs served, SIGHUP and the systemd notices (READY,
 * WATCHDOG, STOPPING). The decisions themselves are fm_core's.
 *
 * Nothing here waits: the servers (etcd, the apiserver) are asked as state
 * machines on the one loop (fm_sources' begin), a round of them ends
 * before the loop next sleeps once each has called back, and the loop
 * refuses to be run from inside a callback (fm_loop_run_once). The one
 * exception is the controller's POST /act/rm (fm_triage), which asks
 * Docker on a private loop for at most 2 s when actions are enabled. */
#ifndef FM_DAEMON_H
#define FM_DAEMON_H

#include "fm_options.h"

/* Runs until SIGTERM or SIGINT. o: the options with --config's applied
 * (changed by SIGHUP); cli: the command line alone (SIGHUP reads the file
 * over it again). The exit status. */
int fm_daemon_run(struct fm_opts *o, const struct fm_opts *cli);

#endif
