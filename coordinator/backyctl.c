/*
 * backyctl.c: the operator's CLI for a backy fleet.
 *
 *   backyctl [-c CONFIG] [--url AMQP_URL] [--status-url URL] COMMAND
 *     run JOB [--tags T,...]   ask the coordinator for a manual backup now
 *     expire JOB               ask for an expiry run now
 *     verify JOB               ask for a verify (scrub) of every revision now
 *     status [--json]          per-job table (or the coordinator's JSON), then
 *                              the distrusted revisions the scrubs found
 *     check                    one Nagios line over the whole fleet, codes 0/1/2/3
 *     workers [--json]         storage hosts seen through heartbeats
 *     where JOB                the storage host that holds JOB's repository
 *     watch [--json]           follow the result stream (backyctl_watch.c)
 *
 * Requests travel through the broker (backy.control, publisher confirms),
 * so backyctl works from any host with broker credentials; status, check
 * workers and where read the active coordinator's HTTP endpoint.  The URLs come
 * from the options, then BACKY_AMQP_URL / BACKY_STATUS_URL, then the
 * central config (-c: amqp.url and status.listen).
 *
 * Exit codes: 0 ok, 1 error; check: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
 * The status documents are parsed by their codec (status_doc.h).
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backyctl.h"
#include "buf.h"
#include "clock.h"
#include "config.h"
#include "fs.h"
#include "log.h"
#include "mq.h"
#include "proto.h"
#include "status_doc.h"
#include "topology.h"

struct opts {
	const char *config;
	const char *url;
	const char *status_url;
	const char *status_ca;     /* CA file for an https status URL, or NULL */
	const char *status_user;   /* basic auth, or NULL */
	const char *status_pwfile; /* its password, first line */
	bool status_pinned;        /* URL from the config: trust exactly its certificate */
	const char *tags;
	const char *binding; /* watch: "#" unless given */
	long count;          /* watch: stop after this many results, 0: never */
	bool json;
	struct co_config cfg;
	bool have_cfg;
	char status_buf[128];
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: backyctl [-v] [-c CONFIG] [--url AMQP_URL] [--status-url URL] COMMAND\n"
		"\n"
		"commands:\n"
		"  run JOB [--tags T,...]  manual backup now (tags: schedule or manual: tags)\n"
		"  expire JOB              expiry run now\n"
		"  verify JOB              re-read every revision of JOB now (a scrub)\n"
		"  status [--json]         status of every job\n"
		"  check                   Nagios check over the fleet (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN)\n"
		"  workers [--json]        workers seen through heartbeats\n"
		"  watch [--json] [--binding KEY] [--count N]\n"
		"                          follow the result stream (needs a dashboard's broker user)\n"
		"  where JOB               the storage host that holds JOB's repository\n"
		"\n"
		"URLs default to $BACKY_AMQP_URL / $BACKY_STATUS_URL, then to the config's\n"
		"amqp.url and status.listen (over https with the config's certificate and\n"
		"credentials when it has status.tls-cert and status.auth-user).\n"
		"A status URL of another host: --status-ca FILE, --status-user USER and\n"
		"--status-password-file FILE.\n");
}

static int load_config(struct opts *o)
{
	struct bk_err err = {0};
	int r;

	if (!o->config || o->have_cfg)
		return 0;
	r = co_config_load(o->config, &o->cfg, &err);
	if (r < 0) {
		bk_error("%s", bk_err_msg(&err, r));
		return r;
	}
	o->have_cfg = true;
	return 0;
}

static const char *amqp_url(struct opts *o)
{
	if (o->url)
		return o->url;
	if (getenv("BACKY_AMQP_URL") && *getenv("BACKY_AMQP_URL"))
		return getenv("BACKY_AMQP_URL");
	if (load_config(o) == 0 && o->have_cfg && o->cfg.amqp_url)
		return o->cfg.amqp_url;
	return NULL;
}

static const char *status_url(struct opts *o)
{
	if (o->status_url)
		return o->status_url;
	if (getenv("BACKY_STATUS_URL") && *getenv("BACKY_STATUS_URL"))
		return getenv("BACKY_STATUS_URL");
	if (load_config(o) == 0 && o->have_cfg && o->cfg.listen_host[0]) {
		const char *h = o->cfg.listen_host;
		const struct co_status_auth *a = &o->cfg.status_auth;
		bool v6 = strchr(h, ':') != NULL;

		/* a wildcard listener is reached on loopback */
		if (strcmp(h, "0.0.0.0") == 0)
			h = "127.0.0.1";
		else if (strcmp(h, "::") == 0)
			h = "::1";
		snprintf(o->status_buf, sizeof(o->status_buf), "http%s://%s%s%s:%u",
			 a->cert_pem ? "s" : "", v6 ? "[" : "", h, v6 ? "]" : "", o->cfg.listen_port);
		o->status_pinned = a->cert_pem != NULL;
		return o->status_buf;
	}
	return NULL;
}

/* --- requests through the broker ------------------------------------------ */

/* How to reach the broker at URL (TLS settings from the config, if loaded). */
static void broker_config(const struct opts *o, const char *url, struct bk_mq_config *mc)
{
	memset(mc, 0, sizeof(*mc));
	mc->url = url;
	mc->name = "backyctl";
	mc->timeout_ms = 10000;
	if (o->have_cfg) {
		mc->ca_cert = o->cfg.amqp_ca_cert;
		mc->tls_verify = o->cfg.amqp_tls_verify;
	}
}

/* `backyctl watch` (backyctl_watch.c). */
static int cmd_watch(struct opts *o)
{
	struct bk_mq_config mc;
	const char *url = amqp_url(o);

	if (!url) {
		bk_error("no broker: give --url (a dashboard's broker user), set BACKY_AMQP_URL or -c CONFIG");
		return 1;
	}
	broker_config(o, url, &mc);
	return backyctl_watch(&mc, o->binding ? o->binding : "#", o->json, o->count);
}

static int send_request(struct opts *o, enum bk_msg_request_action action, const char *job)
{
	struct bk_msg_request q;
	struct bk_mq_config mc;
	struct bk_mq *mq = NULL;
	struct bk_buf body;
	struct bk_err err = {0};
	struct passwd *pw = getpwuid(getuid());
	const char *url = amqp_url(o);
	int r;

	if (!bk_msg_name_valid(job)) {
		bk_error("invalid job name '%s'", job);
		return BK_EUSAGE;
	}
	if (!url) {
		bk_error("no broker: give --url, set BACKY_AMQP_URL or -c CONFIG with amqp.url");
		return BK_EUSAGE;
	}
	bk_msg_request_init(&q);
	bk_buf_init(&body);
	bk_msg_head_new(&q.head);
	q.action = action;
	snprintf(q.job, sizeof(q.job), "%s", job);
	if (pw && bk_msg_name_valid(pw->pw_name))
		snprintf(q.user, sizeof(q.user), "%s", pw->pw_name);
	if (o->tags)
		bk_strv_split(&q.tags, o->tags);
	for (size_t i = 0; i < q.tags.n; i++) {
		if (!bk_tag_valid(q.tags.v[i])) {
			bk_error("invalid tag '%s'", q.tags.v[i]);
			r = BK_ETAG;
			goto out;
		}
	}
	if (o->have_cfg || (o->config && load_config(o) == 0)) {
		const struct co_jobcfg *jc = co_config_job(&o->cfg, job);

		if (!jc) {
			bk_error("unknown job '%s' in '%s'", job, o->config);
			r = BK_EUSAGE;
			goto out;
		}
		for (size_t i = 0; i < q.tags.n; i++)
			if (strncmp(q.tags.v[i], "manual:", 7) &&
			    !bk_schedule_find(&o->cfg.scheds[jc->sched].s, q.tags.v[i])) {
				bk_error("tag '%s' is neither a tag of schedule '%s' nor a 'manual:' tag",
					 q.tags.v[i], o->cfg.scheds[jc->sched].name);
				r = BK_ETAG;
				goto out;
			}
	}
	r = bk_msg_encode_request(&q, &body, &err);
	if (r < 0) {
		bk_error("%s", bk_err_msg(&err, r));
		goto out;
	}
	broker_config(o, url, &mc);
	/*
	 * No declare: backyctl's broker user may only publish to backy.control
	 * (docs/operations.md, "Broker users and permissions"); the coordinator
	 * declares it.  A missing exchange (404) or queue (unroutable) means no
	 * coordinator ever ran on this broker and vhost.
	 */
	r = bk_mq_connect(&mq, &mc, &err);
	if (r == 0)
		r = bk_mq_publish(mq, BK_EX_CONTROL, BK_KEY_REQUEST, body.p, body.len, q.head.id, &err);
	if (r < 0) {
		bk_error("%s", bk_err_msg(&err, r));
		goto out;
	}
	if (action == BK_REQUEST_RUN) {
		struct bk_buf t;

		bk_buf_init(&t);
		bk_strv_join(&q.tags, ",", &t);
		printf("requested a backup of '%s'%s%s (request %s)\n", job, t.len ? " with tags " : "",
		       t.p, q.head.id);
		bk_buf_release(&t);
	} else {
		printf("requested %s of '%s' (request %s)\n",
		       action == BK_REQUEST_VERIFY ? "a verify" : "an expiry", job, q.head.id);
	}
out:
	bk_mq_close(mq);
	bk_msg_request_release(&q);
	bk_buf_release(&body);
	return r;
}

/* --- status over HTTP --------------------------------------------------------- */

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct bk_buf *b = arg;

	if (b->len + size * n > (size_t)1 << 30)
		return 0;
	bk_buf_add(b, p, size * n);
	return size * n;
}

/* TLS and basic auth of the status request, from the config or the options. */
static int http_auth(const struct opts *o, CURL *c, char **pw, struct bk_err *err)
{
	const struct co_status_auth *a = &o->cfg.status_auth;
	size_t len = 0;
	int r;

	if (o->status_pinned) {
		struct curl_blob ca = {a->cert_pem, strlen(a->cert_pem), CURL_BLOB_COPY};

		/* the certificate is the config's own: the name in it need not be ours */
		curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &ca);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	} else if (o->status_ca) {
		curl_easy_setopt(c, CURLOPT_CAINFO, o->status_ca);
	}
	if (o->status_pinned && a->user) {
		curl_easy_setopt(c, CURLOPT_USERNAME, a->user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, a->password);
	} else if (o->status_user) {
		if (!o->status_pwfile)
			return bk_err_set(err, BK_EUSAGE, "--status-user needs --status-password-file");
		r = bk_fs_read_all(AT_FDCWD, o->status_pwfile, 4096, pw, &len);
		if (r < 0)
			return bk_err_sys(err, r, "unable to read '%s'", o->status_pwfile);
		(*pw)[strcspn(*pw, "\n")] = 0;
		curl_easy_setopt(c, CURLOPT_USERNAME, o->status_user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, *pw);
	}
	return 0;
}

static int http_get(const struct opts *o, const char *base, const char *path, struct bk_buf *out,
		    struct bk_err *err)
{
	CURL *c = curl_easy_init();
	char url[512];
	char *pw = NULL;
	long code = 0;
	CURLcode cr;
	int r;

	if (!c)
		return bk_err_set(err, -ENOMEM, "curl initialisation failed");
	r = http_auth(o, c, &pw, err);
	if (r < 0) {
		curl_easy_cleanup(c);
		return r;
	}
	snprintf(url, sizeof(url), "%s%s", base, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	cr = curl_easy_perform(c);
	if (cr == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	if (pw)
		explicit_bzero(pw, strlen(pw));
	free(pw);
	if (cr != CURLE_OK)
		return bk_err_set(err, BK_EMQ, "coordinator status '%s' unavailable: %s", url,
				  curl_easy_strerror(cr));
	if (code != 200)
		return bk_err_set(err, BK_EPROTO, "coordinator status '%s' answered HTTP %ld", url, code);
	return 0;
}

static void short_time(int64_t t, char *out, size_t size)
{
	/* 2026-01-01T03:36:46.000000+00:00 -> 2026-01-01 03:36:46 */
	char s[64];

	if (!t) {
		snprintf(out, size, "-");
		return;
	}
	bk_time_format(t, s, sizeof(s), BK_TIME_ISO);
	s[10] = ' ';
	s[19] = '\0';
	snprintf(out, size, "%s", s);
}

/* Fetch /v1/status into DOC (initialised): RAW gets the body as served. */
static int load_status(struct opts *o, struct bk_buf *raw, struct bk_status_doc *doc,
		       struct bk_err *err)
{
	const char *base = status_url(o);
	int r;

	if (!base)
		return bk_err_set(err, BK_EUSAGE,
				  "no status endpoint: give --status-url, set BACKY_STATUS_URL or -c CONFIG with status.listen");
	r = http_get(o, base, "/v1/status", raw, err);
	if (r < 0)
		return r;
	return bk_status_decode(raw->p, raw->len, doc, err);
}

static int cmp_job(const void *a, const void *b)
{
	return strcmp(((const struct bk_status_job *)a)->name,
		      ((const struct bk_status_job *)b)->name);
}

/* After the table: the revisions each job's last scrub found distrusted (scrub.h). */
static void print_distrusted(const struct bk_status_job *jobs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct bk_status_job *j = &jobs[i];
		char when[64];

		if (!j->has_scrub || !*j->scrub.distrusted)
			continue;
		short_time(j->scrub.last, when, sizeof(when));
		printf("%s: distrusted revisions (scrub of %s): %s\n", j->name, when,
		       j->scrub.distrusted);
	}
}

static int cmd_status(struct opts *o)
{
	struct bk_status_doc doc;
	struct bk_buf raw;
	struct bk_err err = {0};
	int r;

	bk_buf_init(&raw);
	bk_status_doc_init(&doc);
	r = load_status(o, &raw, &doc, &err);
	if (r < 0) {
		bk_error("%s", bk_err_msg(&err, r));
		goto out;
	}
	if (o->json) {
		fwrite(raw.p, 1, raw.len, stdout);
		goto out;
	}
	qsort(doc.jobs, doc.njobs, sizeof(*doc.jobs), cmp_job);
	printf("%-24s %-12s %-8s %-12s %-19s %-19s %s\n", "JOB", "HOST", "SLA", "STATUS", "LAST",
	       "NEXT", "NEXT TAGS");
	for (size_t i = 0; i < doc.njobs; i++) {
		const struct bk_status_job *j = &doc.jobs[i];
		char last[64], next[64], status[32];

		short_time(j->last_time, last, sizeof(last));
		short_time(j->next_time, next, sizeof(next));
		/* a running backup with progress from its worker: "running 45%" */
		if (j->running && j->run.phase && j->run.phase[0] && j->run.total)
			snprintf(status, sizeof(status), "%s %d%%", j->status,
				 (int)(j->run.done * 100 / j->run.total));
		else
			snprintf(status, sizeof(status), "%s", j->status);
		printf("%-24s %-12s %-8s %-12s %-19s %-19s %s\n", j->name, j->host,
		       j->sla_ok ? "OK" : "TOO OLD", status, last, next,
		       *j->next_tags ? j->next_tags : "-");
	}
	print_distrusted(doc.jobs, doc.njobs);
out:
	bk_status_doc_release(&doc);
	bk_buf_release(&raw);
	return r;
}

static void list_names(const struct bk_status_job *rows, size_t n,
		       bool (*pick)(const struct bk_status_job *), struct bk_buf *out)
{
	size_t shown = 0, total = 0;

	for (size_t i = 0; i < n; i++) {
		if (!pick(&rows[i]))
			continue;
		total++;
		if (shown < 20) {
			bk_buf_addf(out, "%s%s", shown ? ", " : "", rows[i].name);
			shown++;
		}
	}
	if (total > shown)
		bk_buf_addf(out, ", ... (%zu more)", total - shown);
}

static bool pick_sla(const struct bk_status_job *j)
{
	return !j->sla_ok;
}

static bool pick_failed(const struct bk_status_job *j)
{
	return j->sla_ok && strcmp(j->status, "failed") == 0;
}

/* Within SLA, not failing, but its scrub found distrusted revisions. */
static bool pick_distrusted(const struct bk_status_job *j)
{
	return j->sla_ok && !pick_failed(j) && j->has_scrub && *j->scrub.distrusted;
}

static int cmd_check(struct opts *o)
{
	struct bk_status_doc doc;
	struct bk_buf raw, names;
	struct bk_err err = {0};
	size_t n, bad = 0, failed = 0, distrusted = 0;
	int code;

	bk_buf_init(&raw);
	bk_buf_init(&names);
	bk_status_doc_init(&doc);
	if (load_status(o, &raw, &doc, &err) < 0) {
		printf("UNKNOWN: no status available: %s\n", err.msg);
		code = 3;
		goto out;
	}
	n = doc.njobs;
	qsort(doc.jobs, n, sizeof(*doc.jobs), cmp_job);
	for (size_t i = 0; i < n; i++) {
		bad += pick_sla(&doc.jobs[i]);
		failed += pick_failed(&doc.jobs[i]);
		distrusted += pick_distrusted(&doc.jobs[i]);
	}
	if (bad) {
		list_names(doc.jobs, n, pick_sla, &names);
		printf("CRITICAL: %zu jobs not within SLA: %s", bad, names.p);
		code = 2;
	} else if (failed) {
		list_names(doc.jobs, n, pick_failed, &names);
		printf("WARNING: %zu jobs within SLA but failing: %s", failed, names.p);
		code = 1;
	} else if (distrusted) {
		list_names(doc.jobs, n, pick_distrusted, &names);
		printf("WARNING: %zu jobs with distrusted revisions: %s\n", distrusted, names.p);
		code = 1;
	} else {
		printf("OK: %zu jobs within SLA", n);
		code = 0;
	}
	/* Nagios performance data: overdue jobs are critical, failing ones a warning */
	printf(" | jobs=%zu;;;0 overdue=%zu;;0;0 failing=%zu;0;;0 workers=%zu;;;0\n", n, bad, failed,
	       doc.nworkers);
out:
	bk_status_doc_release(&doc);
	bk_buf_release(&raw);
	bk_buf_release(&names);
	return code;
}

static int cmd_workers(struct opts *o)
{
	const char *base = status_url(o);
	struct bk_status_doc doc;
	struct bk_buf raw;
	struct bk_err err = {0};
	int r;

	if (!base) {
		bk_error("no status endpoint: give --status-url, set BACKY_STATUS_URL or -c CONFIG");
		return 1;
	}
	bk_buf_init(&raw);
	bk_status_doc_init(&doc);
	r = http_get(o, base, "/v1/workers", &raw, &err);
	if (r == 0 && o->json) {
		fwrite(raw.p, 1, raw.len, stdout);
		goto out;
	}
	if (r == 0)
		r = bk_workers_decode(raw.p, raw.len, &doc, &err);
	if (r < 0) {
		bk_error("%s", bk_err_msg(&err, r));
		goto out;
	}
	printf("%-16s %-10s %5s %5s %10s %6s %s\n", "HOST", "VERSION", "SLOTS", "BUSY", "FREE",
	       "AGE", "RUNNING");
	for (size_t i = 0; i < doc.nworkers; i++) {
		const struct bk_status_worker *w = &doc.workers[i];
		char size[32];

		bk_size_format(w->free_bytes, size, sizeof(size));
		printf("%-16s %-10s %5u %5u %10s %5llds %s\n", w->host, w->version, w->slots, w->busy,
		       size, (long long)w->age, *w->running ? w->running : "-");
	}
out:
	bk_status_doc_release(&doc);
	bk_buf_release(&raw);
	return r < 0 ? r : 0;
}

/* Print the host JOB is placed on: where its repository is (backy mount, restore). */
static int cmd_where(struct opts *o, const char *job)
{
	struct bk_status_doc doc;
	struct bk_buf raw;
	struct bk_err err = {0};
	int r;

	bk_buf_init(&raw);
	bk_status_doc_init(&doc);
	r = load_status(o, &raw, &doc, &err);
	for (size_t i = 0; r == 0 && i < doc.njobs; i++) {
		if (strcmp(doc.jobs[i].name, job) != 0)
			continue;
		if (!*doc.jobs[i].host)
			r = bk_err_set(&err, BK_EUSAGE, "job '%s' has no host yet", job);
		else
			printf("%s\n", doc.jobs[i].host);
		goto out;
	}
	if (r == 0)
		r = bk_err_set(&err, BK_EUSAGE, "unknown job '%s'", job);
out:
	if (r < 0)
		bk_error("%s", bk_err_msg(&err, r));
	bk_status_doc_release(&doc);
	bk_buf_release(&raw);
	return r;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"url", required_argument, NULL, 'U'},
		{"status-url", required_argument, NULL, 'S'},
		{"status-ca", required_argument, NULL, 'A'},
		{"status-user", required_argument, NULL, 'u'},
		{"status-password-file", required_argument, NULL, 'P'},
		{"tags", required_argument, NULL, 't'},
		{"json", no_argument, NULL, 'j'},
		{"binding", required_argument, NULL, 'B'},
		{"count", required_argument, NULL, 'n'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct opts o;
	struct bk_err err = {0};
	const char *cmd;
	int verbosity = 0, c, r;

	memset(&o, 0, sizeof(o));
	co_config_init(&o.cfg);
	/* options may come before or after the command ("+" is not used on purpose) */
	while ((c = getopt_long(argc, argv, "c:t:vh", lopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o.config = optarg;
			break;
		case 'U':
			o.url = optarg;
			break;
		case 'S':
			o.status_url = optarg;
			break;
		case 'A':
			o.status_ca = optarg;
			break;
		case 'u':
			o.status_user = optarg;
			break;
		case 'P':
			o.status_pwfile = optarg;
			break;
		case 't':
			o.tags = optarg;
			break;
		case 'j':
			o.json = true;
			break;
		case 'B':
			o.binding = optarg;
			break;
		case 'n': {
			char *end = NULL;

			o.count = strtol(optarg, &end, 10);
			if (*end || o.count < 0) {
				bk_error("invalid --count '%s'", optarg);
				return 1;
			}
			break;
		}
		case 'v':
			verbosity++;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	bk_log_init("backyctl", verbosity);
	if (bk_clock_init(&err) < 0) {
		bk_error("%s", err.msg);
		return 1;
	}
	if (optind >= argc) {
		usage(stderr);
		return 1;
	}
	cmd = argv[optind++];
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if ((strcmp(cmd, "run") == 0 || strcmp(cmd, "expire") == 0 ||
	     strcmp(cmd, "verify") == 0) &&
	    argc - optind == 1) {
		enum bk_msg_request_action a = strcmp(cmd, "run") == 0      ? BK_REQUEST_RUN
					       : strcmp(cmd, "expire") == 0 ? BK_REQUEST_EXPIRE
									    : BK_REQUEST_VERIFY;

		if (a != BK_REQUEST_RUN && o.tags) {
			bk_error("%s takes no --tags", cmd);
			r = 1;
		} else {
			r = send_request(&o, a, argv[optind]) < 0;
		}
	} else if (strcmp(cmd, "status") == 0 && argc == optind) {
		r = cmd_status(&o) < 0;
	} else if (strcmp(cmd, "check") == 0 && argc == optind) {
		r = cmd_check(&o);
	} else if (strcmp(cmd, "workers") == 0 && argc == optind) {
		r = cmd_workers(&o) < 0;
	} else if (strcmp(cmd, "watch") == 0 && argc == optind) {
		r = cmd_watch(&o);
	} else if (strcmp(cmd, "where") == 0 && argc - optind == 1) {
		r = cmd_where(&o, argv[optind]) < 0;
	} else {
		usage(stderr);
		r = strcmp(cmd, "check") == 0 ? 3 : 1;
	}
	co_config_release(&o.cfg);
	curl_global_cleanup();
	return r;
}
