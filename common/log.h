/*
 * log.h: diagnostics for programs (not for library code, which returns errors).
 *
 * Messages go to stderr (errors and warnings always, info with -v or for
 * progress, debug with -vv) and, when a log file is open, to it with a UTC
 * timestamp whatever the verbosity.  When stderr is the journal
 * (JOURNAL_STREAM names it, as systemd sets it for a service), stderr lines
 * start with the sd-daemon(3) priority ("<3>" error, "<4>" warning, "<5>"
 * notice, "<6>" info, "<7>" debug) instead of the program name, which the
 * journal records by itself.
 */
#ifndef BK_LOG_H
#define BK_LOG_H

enum bk_log_level { BK_LOG_ERROR, BK_LOG_WARN, BK_LOG_INFO, BK_LOG_DEBUG };

/*
 * PROG prefixes stderr lines; VERBOSITY 0 shows errors, warnings and notices.
 * Also decides, once, whether stderr is the journal.
 */
void bk_log_init(const char *prog, int verbosity);

/*
 * Also append to PATH (0600, created if needed); returns 0 or -errno.  PATH
 * must be a regular file without other hard links, and is not followed if
 * it is a symlink (-ELOOP, -EINVAL for other kinds, -EMLINK for hard links).
 */
int bk_log_open(const char *path);
void bk_log_close(void);

void bk_log(enum bk_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define bk_error(...) bk_log(BK_LOG_ERROR, __VA_ARGS__)
#define bk_warn(...) bk_log(BK_LOG_WARN, __VA_ARGS__)
#define bk_info(...) bk_log(BK_LOG_INFO, __VA_ARGS__)
#define bk_debug(...) bk_log(BK_LOG_DEBUG, __VA_ARGS__)

/* Always shown on stderr (progress and notices the operator asked for). */
void bk_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
