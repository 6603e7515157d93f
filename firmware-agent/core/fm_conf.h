/* fm_conf: configuration values as people write them. */
#ifndef FM_CONF_H
#define FM_CONF_H

#include <stdint.h>

/* Parses a duration: a number with a unit, ms, s, m, h or d ("500ms", "2s",
 * "30m", "2h"); a bare number is seconds. 0 with *ms set, or -EINVAL. */
int fm_conf_duration_ms(const char *s, uint64_t *ms);

#endif
