/*
 * bench_coord.c: how the coordinator scales (run by bench/coordinator.sh).
 *
 * For 10k, 100k and 1M jobs: memory per job (RSS delta), cost per due job
 * (pop from the heap, start the run, apply its result, plan the next time
 * with bk_sched_next and push it back), cost of an idle tick, the time to
 * write the whole state file (a snapshot) and what making a dispatch batch
 * durable costs with the journal (state_journal.h: append + fdatasync).  With
 * BACKY_AMQP_URL: throughput of the dispatch path with 100,000 jobs in the
 * state (start runs, make them durable, encode, publish with confirms,
 * record the confirms), once with the journal and once rewriting the state
 * file before every batch as the coordinator did before the journal.
 * Prints numbers, asserts nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "state_journal.h"
#include "mq.h"
#include "state.h"
#include "topology.h"

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/statm", "re");
	long size = 0, res = 0;

	if (!f)
		return 0;
	if (fscanf(f, "%ld %ld", &size, &res) != 2) /* NOLINT: bench only */
		res = 0;
	fclose(f);
	return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static void make_config(struct co_config *c, size_t n)
{
	co_config_init(c);
	c->nscheds = 1;
	c->scheds = bk_calloc(1, sizeof(*c->scheds));
	c->scheds[0].name = bk_strdup("default");
	bk_schedule_parse_spec(BK_DEFAULT_SCHEDULE, &c->scheds[0].s, NULL);
	c->nhosts = 8;
	c->hosts = bk_calloc(8, sizeof(*c->hosts));
	for (int i = 0; i < 8; i++) {
		char h[16];

		snprintf(h, sizeof(h), "backy%02d", i);
		c->hosts[i] = bk_strdup(h);
	}
	c->njobs = n;
	c->jobs = bk_calloc(n, sizeof(*c->jobs));
	for (size_t i = 0; i < n; i++) {
		char name[32];

		snprintf(name, sizeof(name), "vm%07zu", i);
		c->jobs[i].name = bk_strdup(name);
		c->jobs[i].source.type = BK_SOURCE_RBD;
		snprintf(c->jobs[i].source.pool, sizeof(c->jobs[i].source.pool), "rbd");
		snprintf(c->jobs[i].source.image, sizeof(c->jobs[i].source.image), "%s", name);
	}
	c->state_file = bk_strdup("/tmp/bench-coord-state");
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Median of N samples (sorts them). */
static int64_t median(int64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_i64);
	return v[n / 2];
}

/* Durability cost of dispatch batches of 1, 10, 100 and 1000 jobs: journal commit vs snapshot. */
static void bench_journal(struct co_state *st, size_t n, int64_t now)
{
	static const size_t sizes[] = {1, 10, 100, 1000};
	const char *path = "/tmp/bench-coord-state";
	struct co_journal jn;
	struct bk_msg_job m;
	struct bk_err err = {0};
	int64_t t, lat[16], key = 0;
	uint32_t *ids = bk_calloc(1000, sizeof(*ids)), id = 0;

	co_journal_init(&jn, path);
	jn.compact_bytes = UINT64_MAX; /* measure appends only */
	jn.compact_us = INT64_MAX;
	bk_msg_job_init(&m);
	t = bk_monotonic();
	if (co_journal_commit(&jn, st, now, true, &err) < 0)
		printf("journal: %s\n", err.msg);
	printf("jobs %8zu: compaction (snapshot + new journal) %.1f ms\n", n,
	       (double)(bk_monotonic() - t) / 1000.0);
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		size_t rounds = sizes[s] >= 1000 ? 5 : 15;
		uint64_t bytes = jn.commit_bytes;

		for (size_t k = 0; k < rounds; k++) {
			size_t got;

			co_heap_peek(&st->due, &key, &id);
			got = co_take_due(st, key + 7 * 24 * 3600 * BK_USEC, ids, sizes[s]);
			for (size_t i = 0; i < got; i++)
				co_start(st, ids[i], CO_RUN_BACKUP, key, NULL);
			t = bk_monotonic();
			if (co_journal_commit(&jn, st, now, false, &err) < 0)
				printf("journal: %s\n", err.msg);
			lat[k] = bk_monotonic() - t;
		}
		printf("jobs %8zu: durable dispatch batch of %4zu: journal append + fdatasync median "
		       "%.2f ms (%.0f bytes/job)\n",
		       n, sizes[s], (double)median(lat, rounds) / 1000.0,
		       (double)(jn.commit_bytes - bytes) / (double)(rounds * sizes[s]));
	}
	co_journal_release(&jn);
	unlink(path);
	unlink("/tmp/bench-coord-state.journal");
	bk_msg_job_release(&m);
	free(ids);
}

static void bench_scale(size_t n)
{
	struct co_config c;
	struct co_state st;
	struct bk_msg_job m;
	struct bk_msg_result r;
	struct bk_err err = {0};
	int64_t now, t, key = 0;
	uint32_t id = 0, ids[1];
	char rkey[BK_MSG_ROUTING_KEY_MAX + 1];
	long rss0, rss1;
	size_t rounds = 20000;
	int64_t *lat = bk_calloc(rounds, sizeof(*lat));
	volatile size_t sink = 0;

	bk_time_parse("2026-03-02T00:00:00Z", &now);
	make_config(&c, n);
	rss0 = rss_kib();
	co_state_init(&st);
	t = bk_monotonic();
	co_state_apply(&st, &c, now);
	t = bk_monotonic() - t;
	rss1 = rss_kib();
	printf("jobs %8zu: apply %.2f s, state memory %.0f bytes/job (RSS delta)\n", n,
	       (double)t / 1e6, (double)(rss1 - rss0) * 1024.0 / (double)n);

	/* due jobs in time order: pop, start, ok result, replan (bk_sched_next), push */
	bk_msg_job_init(&m);
	for (size_t i = 0; i < rounds; i++) {
		int64_t t1;

		co_heap_peek(&st.due, &key, &id);
		t1 = bk_monotonic();
		co_take_due(&st, key, ids, 1);
		co_start(&st, ids[0], CO_RUN_BACKUP, key, NULL);
		bk_msg_result_init(&r);
		snprintf(r.job_id, sizeof(r.job_id), "%s", st.jobs[ids[0]].run[0].id);
		snprintf(r.job, sizeof(r.job), "%s", st.jobs[ids[0]].name);
		snprintf(r.host, sizeof(r.host), "%s", st.hosts[st.jobs[ids[0]].run[0].host]);
		r.action = BK_ACTION_BACKUP;
		r.started = key;
		r.finished = key;
		bk_msg_routing_key_result(&r, rkey);
		co_result(&st, &r, rkey, key, &id);
		lat[i] = bk_monotonic() - t1;
		bk_msg_result_release(&r);
		/* expiry runs would pile up in the deadline heap: end them */
		if (st.jobs[ids[0]].run[1].active)
			st.jobs[ids[0]].run[1].active = false;
	}
	qsort(lat, rounds, sizeof(*lat), cmp_i64);
	printf("jobs %8zu: per due job (pop+start+result+bk_sched_next+push): median %lld ns, p99 %lld ns\n",
	       n, (long long)lat[rounds / 2] * 1000, (long long)lat[rounds * 99 / 100] * 1000);

	/* idle tick: nothing due, nothing overdue */
	co_heap_peek(&st.due, &key, &id);
	t = bk_monotonic();
	for (int i = 0; i < 10000000; i++)
		sink += co_take_due(&st, key - 1, ids, 1) + co_take_overdue(&st, key - 1, ids, 1);
	t = bk_monotonic() - t;
	printf("jobs %8zu: idle tick %.1f ns\n", n, (double)t * 1000.0 / 1e7);

	{
		struct bk_buf b;

		bk_buf_init(&b);
		t = bk_monotonic();
		co_state_format(&st, now, &b);
		printf("jobs %8zu: state format %.1f ms (%zu bytes, %.0f bytes/job)\n", n,
		       (double)(bk_monotonic() - t) / 1000.0, b.len, (double)b.len / (double)n);
		bk_buf_release(&b);
	}
	t = bk_monotonic();
	if (co_state_save(&st, "/tmp/bench-coord-state", now, &err) < 0)
		printf("state save failed: %s\n", err.msg);
	printf("jobs %8zu: state file write (atomic, fsync) %.1f ms\n", n,
	       (double)(bk_monotonic() - t) / 1000.0);
	unlink("/tmp/bench-coord-state");
	bench_journal(&st, n, now);
	bk_msg_job_release(&m);
	free(lat);
	co_state_release(&st);
	co_config_release(&c);
	(void)sink;
}

/*
 * The dispatch path against a broker with JOBS jobs in the state: per batch
 * of BATCH, start the runs, make them durable (JOURNAL: commit to the
 * journal; else rewrite the state file), encode, publish with confirms,
 * record the confirms (made durable with the next batch, as in the daemon).
 */
static void bench_publish(const char *url, size_t jobs, size_t total, bool journal)
{
	const char *path = "/tmp/bench-coord-pub-state";
	struct bk_mq_config mc;
	struct bk_mq *mq = NULL;
	struct bk_err err = {0};
	struct co_config c;
	struct co_state st;
	struct co_journal jn;
	struct bk_msg_job m;
	size_t batch = 5000, done = 0;
	struct bk_mq_msg *msgs = bk_calloc(batch, sizeof(*msgs));
	struct bk_buf *bodies = bk_calloc(batch, sizeof(*bodies));
	char (*ids)[BK_ID_MAX + 1] = bk_calloc(batch, sizeof(*ids));
	int64_t now, t, t1, t_start = 0, t_state = 0, t_enc = 0, t_pub = 0;
	int r;

	memset(&mc, 0, sizeof(mc));
	mc.url = url;
	mc.name = "bench_coordinator";
	r = bk_mq_connect(&mq, &mc, &err);
	if (r == 0)
		r = bk_mq_declare(mq, "benchco", &err);
	if (r < 0) {
		printf("publish: broker unavailable: %s\n", err.msg);
		return;
	}
	bk_time_parse("2026-03-02T00:00:00Z", &now);
	make_config(&c, jobs);
	for (size_t i = 0; i < c.nhosts; i++) {
		free(c.hosts[i]);
		c.hosts[i] = bk_strdup("benchco");
	}
	co_state_init(&st);
	co_state_apply(&st, &c, now);
	co_journal_init(&jn, path);
	if (co_journal_commit(&jn, &st, now, true, &err) < 0)
		printf("state: %s\n", err.msg);
	bk_msg_job_init(&m);
	t = bk_monotonic();
	while (done < total && done + batch <= jobs) {
		t1 = bk_monotonic();
		for (size_t i = 0; i < batch; i++)
			co_start(&st, (uint32_t)(done + i), CO_RUN_BACKUP, now, NULL);
		t_start += bk_monotonic() - t1;
		t1 = bk_monotonic();
		r = journal ? co_journal_commit(&jn, &st, now, false, &err)
			    : co_state_save(&st, path, now, &err);
		if (r < 0)
			printf("state: %s\n", err.msg);
		t_state += bk_monotonic() - t1;
		t1 = bk_monotonic();
		for (size_t i = 0; i < batch; i++) {
			co_run_message(&st, (uint32_t)(done + i), CO_RUN_BACKUP, now, &m);
			bk_buf_init(&bodies[i]);
			bk_msg_encode_job(&m, &bodies[i], NULL);
			snprintf(ids[i], sizeof(ids[i]), "%s", m.head.id);
			msgs[i] = (struct bk_mq_msg){.exchange = BK_EX_JOBS, .key = "benchco",
						     .body = bodies[i].p, .len = bodies[i].len,
						     .message_id = ids[i]};
		}
		t_enc += bk_monotonic() - t1;
		t1 = bk_monotonic();
		r = bk_mq_publish_batch(mq, msgs, batch, &err);
		t_pub += bk_monotonic() - t1;
		for (size_t i = 0; i < batch; i++) {
			bk_buf_release(&bodies[i]);
			if (msgs[i].result == 0)
				co_confirmed(&st, (uint32_t)(done + i), CO_RUN_BACKUP);
		}
		if (r < 0) {
			printf("publish failed: %s\n", err.msg);
			break;
		}
		done += batch;
	}
	t1 = bk_monotonic();
	r = journal ? co_journal_commit(&jn, &st, now, false, &err)
		    : co_state_save(&st, path, now, &err);
	t_state += bk_monotonic() - t1;
	t = bk_monotonic() - t;
	printf("dispatch with confirms, %zu jobs in the state, %s: %zu jobs in %.2f s = %.0f jobs/s "
	       "(per batch of %zu: start runs %.1f ms, state %.1f ms, encode %.1f ms, publish+confirm %.1f ms; %zu "
	       "bytes/message)\n",
	       jobs, journal ? "journal" : "state file rewritten per batch", done, (double)t / 1e6,
	       (double)done * 1e6 / (double)t, batch,
	       (double)t_start / 1000.0 / (double)(done / batch),
	       (double)t_state / 1000.0 / (double)(done / batch + 1),
	       (double)t_enc / 1000.0 / (double)(done / batch),
	       (double)t_pub / 1000.0 / (double)(done / batch), (size_t)msgs[0].len);
	bk_mq_delete_queue(mq, BK_Q_JOBS_PREFIX "benchco", NULL);
	bk_mq_close(mq);
	bk_msg_job_release(&m);
	co_journal_release(&jn);
	co_state_release(&st);
	co_config_release(&c);
	unlink(path);
	unlink("/tmp/bench-coord-pub-state.journal");
	free(msgs);
	free(bodies);
	free(ids);
}

int main(int argc, char **argv)
{
	const char *url = getenv("BACKY_AMQP_URL");

	for (int i = 1; i < argc; i++)
		bench_scale((size_t)strtoul(argv[i], NULL, 10));
	if (argc == 1) {
		bench_scale(10000);
		bench_scale(100000);
		bench_scale(1000000);
	}
	if (url && *url) {
		bench_publish(url, 100000, 50000, true);
		bench_publish(url, 100000, 50000, false);
	} else
		printf("publish: BACKY_AMQP_URL not set, skipped\n");
	return 0;
}
