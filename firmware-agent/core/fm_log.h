/* fm_log: the agent's log lines, on stderr (journald adds the timestamp when
 * the agent runs under systemd; the priority prefix "<N>" lets it keep the
 * level, see sd-daemon(3)).
 */
#ifndef FM_LOG_H
#define FM_LOG_H

enum fm_log_level { FM_LOG_ERR = 3, FM_LOG_WARNING = 4, FM_LOG_NOTICE = 5, FM_LOG_INFO = 6, FM_LOG_DEBUG = 7 };

/* Lines above this level are dropped. Default FM_LOG_NOTICE. */
void fm_log_set_level(enum fm_log_level level);
/* Prefix lines with "<N>" for journald (set when the agent runs under systemd). */
void fm_log_set_journal_prefix(int on);

void fm_log(enum fm_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define fm_err(...)    fm_log(FM_LOG_ERR, __VA_ARGS__)
#define fm_warn(...)   fm_log(FM_LOG_WARNING, __VA_ARGS__)
#define fm_notice(...) fm_log(FM_LOG_NOTICE, __VA_ARGS__)
#define fm_info(...)   fm_log(FM_LOG_INFO, __VA_ARGS__)
#define fm_debug(...)  fm_log(FM_LOG_DEBUG, __VA_ARGS__)

#endif
