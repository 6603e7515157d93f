/* fm_cli: the one-shot commands, `probe SOURCE [--follow]` and `check`,
 * and how they print what they found (a person's form or --json). */
#ifndef FM_CLI_H
#define FM_CLI_H

#include "fm_options.h"

/* probe: one source's facts (what: etcd|apiserver|docker|journal|hal),
 * once or, with --follow, every change until SIGINT. The exit status. */
int fm_probe_cmd(const char *what, const struct fm_opts *o);
/* check: every source once, then the diagnosis. The exit status: 0, 1 a
 * critical finding, 2 configuration. */
int fm_check_cmd(const struct fm_opts *o);

#endif
