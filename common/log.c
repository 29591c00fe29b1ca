/* log.c: stderr and log file diagnostics (see log.h). */
#include "log.h"

#include "clock.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <errno.h>

static const char *log_prog = "backy";
static int log_verbosity;
static int log_fd = -1;
static bool log_journal; /* stderr is the journal: sd-daemon prefixes, no program name */

static const char *const level_names[] = {"error", "warning", "info", "debug"};

/* sd-daemon(3) priorities: LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG; notices LOG_NOTICE */
static const int level_prio[] = {3, 4, 6, 7};
#define PRIO_NOTICE 5

/*
 * Is stderr the journal?  systemd sets JOURNAL_STREAM to "DEV:INO" of the
 * stream it connected to stdout/stderr; a program whose stderr was
 * redirected since (or a child with another stderr) sees other numbers.
 */
static bool stderr_is_journal(void)
{
	const char *v = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char *end;

	if (!v || !*v)
		return false;
	errno = 0;
	dev = strtoull(v, &end, 10);
	if (errno || end == v || *end != ':')
		return false;
	v = end + 1;
	ino = strtoull(v, &end, 10);
	if (errno || end == v || *end)
		return false;
	if (fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void bk_log_init(const char *prog, int verbosity)
{
	log_prog = prog;
	log_verbosity = verbosity;
	log_journal = stderr_is_journal();
}

int bk_log_open(const char *path)
{
	struct stat st;
	int fd, r = 0;

	/*
	 * The log usually lives in a repository, which we run in as root: a
	 * link planted there as the log file must not make us append to
	 * /etc/passwd or the like, and a FIFO must not block us.
	 */
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		r = -errno;
	else if (!S_ISREG(st.st_mode))
		r = -EINVAL;
	else if (st.st_nlink > 1)
		r = -EMLINK;
	if (r < 0) {
		close(fd);
		return r;
	}
	bk_log_close();
	log_fd = fd;
	return 0;
}

void bk_log_close(void)
{
	if (log_fd >= 0)
		close(log_fd);
	log_fd = -1;
}

__attribute__((format(printf, 3, 0))) static void log_v(enum bk_log_level level, bool force,
						       const char *fmt, va_list ap)
{
	char msg[2048];
	char line[2200];
	char when[40];
	int n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_journal && (force || (int)level <= BK_LOG_WARN + log_verbosity)) {
		int prio = force && level == BK_LOG_INFO ? PRIO_NOTICE : level_prio[level];

		if (level <= BK_LOG_WARN)
			fprintf(stderr, "<%d>%s: %s\n", prio, level_names[level], msg);
		else
			fprintf(stderr, "<%d>%s\n", prio, msg);
	} else if (force || (int)level <= BK_LOG_WARN + log_verbosity) {
		if (level <= BK_LOG_WARN)
			fprintf(stderr, "%s: %s: %s\n", log_prog, level_names[level], msg);
		else
			fprintf(stderr, "%s: %s\n", log_prog, msg);
	}
	if (log_fd >= 0) {
		bk_time_format(bk_now(), when, sizeof(when), BK_TIME_ISO);
		n = snprintf(line, sizeof(line), "%s %s[%d] %s: %s\n", when, log_prog,
			     (int)getpid(), level_names[level], msg);
		if (n > 0 && write(log_fd, line, strnlen(line, sizeof(line))) < 0) {
			/* a failing log file must not fail the operation */
		}
	}
}

void bk_log(enum bk_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_v(level, false, fmt, ap);
	va_end(ap);
}

void bk_notice(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_v(BK_LOG_INFO, true, fmt, ap);
	va_end(ap);
}
