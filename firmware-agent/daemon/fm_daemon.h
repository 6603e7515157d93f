/* fm_daemon: `fleetmedic-agent run`: the live sources followed, the others
 * collected on fm_core's schedule, the diagnoses reported over the uplink,
 * the triage GETs served, SIGHUP and the systemd notices (READY,
 * WATCHDOG, STOPPING). The decisions themselves are fm_core's. */
#ifndef FM_DAEMON_H
#define FM_DAEMON_H

#include "fm_options.h"

/* Runs until SIGTERM or SIGINT. o: the options with --config's applied
 * (changed by SIGHUP); cli: the command line alone (SIGHUP reads the file
 * over it again). The exit status. */
int fm_daemon_run(struct fm_opts *o, const struct fm_opts *cli);

#endif
