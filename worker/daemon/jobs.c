/* jobs.c: backy-worker's model of pending, running and confirming jobs (see jobs.h). */
#include "jobs.h"

#include "buf.h"
#include "fleet_policy.h"

#include <stdlib.h>
#include <string.h>

struct bk_job *bk_job_new(struct bk_msg_job *msg, int64_t received)
{
	struct bk_job *j = bk_calloc(1, sizeof(*j));

	j->msg = *msg; /* takes over what msg owns */
	memset(msg, 0, sizeof(*msg));
	j->received = received;
	bk_journal_entry_init(&j->done);
	bk_fleet_job_digest(&j->msg, j->digest);
	return j;
}

void bk_job_free(struct bk_job *j)
{
	if (!j)
		return;
	bk_msg_job_release(&j->msg);
	bk_journal_entry_release(&j->done);
	free(j->summary);
	free(j->tags);
	free(j);
}

static void list_add(struct bk_job ***list, size_t *n, struct bk_job *j)
{
	*list = bk_realloc(*list, (*n + 1) * sizeof(**list));
	(*list)[(*n)++] = j;
}

static struct bk_job *list_take(struct bk_job **list, size_t *n, size_t i)
{
	struct bk_job *j = list[i];

	memmove(&list[i], &list[i + 1], (*n - i - 1) * sizeof(*list));
	(*n)--;
	return j;
}

static void list_free(struct bk_job ***list, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		bk_job_free((*list)[i]);
	free(*list);
	*list = NULL;
	*n = 0;
}

void bk_jobs_init(struct bk_jobs *js, unsigned slots)
{
	memset(js, 0, sizeof(*js));
	js->slots = slots;
}

void bk_jobs_release(struct bk_jobs *js)
{
	list_free(&js->pending, &js->npending);
	list_free(&js->running, &js->nrunning);
	list_free(&js->confirming, &js->nconfirming);
}

bool bk_jobs_idle(const struct bk_jobs *js)
{
	return !js->npending && !js->nrunning && !js->nconfirming;
}

static struct bk_job *find_id(struct bk_job **list, size_t n, const char *job_id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i]->msg.job_id, job_id) == 0)
			return list[i];
	return NULL;
}

static struct bk_job *find_repo(struct bk_job **list, size_t n, const char *job)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i]->msg.job, job) == 0)
			return list[i];
	return NULL;
}

enum bk_jobs_verdict bk_jobs_classify(const struct bk_jobs *js, const struct bk_job *j,
				      struct bk_job **other)
{
	struct bk_job *same = find_id(js->running, js->nrunning, j->msg.job_id);

	if (!same)
		same = find_id(js->pending, js->npending, j->msg.job_id);
	*other = same;
	if (same)
		return strcmp(same->digest, j->digest) ? BK_JOBS_CHANGED : BK_JOBS_REDELIVERED;
	*other = find_repo(js->running, js->nrunning, j->msg.job);
	return *other ? BK_JOBS_BUSY : BK_JOBS_NEW;
}

void bk_jobs_attach(struct bk_jobs *js, struct bk_job *j, uint64_t tag)
{
	j->tags = bk_realloc(j->tags, (j->ntags + 1) * sizeof(*j->tags));
	j->tags[j->ntags].tag = tag;
	j->tags[j->ntags].gen = js->gen;
	j->ntags++;
}

void bk_jobs_enqueue(struct bk_jobs *js, struct bk_job *j, uint64_t tag)
{
	bk_jobs_attach(js, j, tag);
	list_add(&js->pending, &js->npending, j);
}

enum bk_jobs_verdict bk_jobs_next(struct bk_jobs *js, int64_t now, bool check_deadline,
				  struct bk_job **j, struct bk_job **other)
{
	*j = NULL;
	*other = NULL;
	if (js->stopping || !js->npending || js->nrunning >= js->slots)
		return BK_JOBS_NONE;
	*j = list_take(js->pending, &js->npending, 0);
	if (check_deadline && (*j)->msg.deadline < now)
		return BK_JOBS_EXPIRED;
	*other = find_repo(js->running, js->nrunning, (*j)->msg.job);
	return *other ? BK_JOBS_BUSY : BK_JOBS_START;
}

void bk_jobs_add_running(struct bk_jobs *js, struct bk_job *j, pid_t pid)
{
	j->pid = pid;
	list_add(&js->running, &js->nrunning, j);
}

struct bk_job *bk_jobs_take_running(struct bk_jobs *js, pid_t pid)
{
	for (size_t i = 0; i < js->nrunning; i++)
		if (js->running[i]->pid == pid)
			return list_take(js->running, &js->nrunning, i);
	return NULL;
}

void bk_jobs_add_confirming(struct bk_jobs *js, struct bk_job *j, uint64_t seq)
{
	j->seq = seq;
	list_add(&js->confirming, &js->nconfirming, j);
}

struct bk_job *bk_jobs_take_confirmed(struct bk_jobs *js, uint64_t seq)
{
	for (size_t i = 0; i < js->nconfirming; i++)
		if (js->confirming[i]->seq == seq)
			return list_take(js->confirming, &js->nconfirming, i);
	return NULL;
}

size_t bk_jobs_settle_tags(const struct bk_jobs *js, struct bk_job *j, uint64_t **tags)
{
	size_t n = 0;

	*tags = NULL;
	for (size_t i = 0; i < j->ntags; i++) {
		if (j->tags[i].gen != js->gen)
			continue; /* never acknowledged on a newer connection (note 1) */
		*tags = bk_realloc(*tags, (n + 1) * sizeof(**tags));
		(*tags)[n++] = j->tags[i].tag;
	}
	j->ntags = 0;
	return n;
}

void bk_jobs_connected(struct bk_jobs *js)
{
	js->gen++;
}

void bk_jobs_connection_lost(struct bk_jobs *js)
{
	js->gen++;
	list_free(&js->pending, &js->npending);
	list_free(&js->confirming, &js->nconfirming);
}

void bk_jobs_stop(struct bk_jobs *js, int64_t now, int64_t grace)
{
	if (js->stopping) {
		js->stop_deadline = now;
		return;
	}
	js->stopping = true;
	js->stop_deadline = now + grace;
}

struct bk_job *bk_jobs_pop_pending(struct bk_jobs *js)
{
	return js->npending ? list_take(js->pending, &js->npending, 0) : NULL;
}

enum bk_jobs_signal bk_jobs_stop_step(struct bk_jobs *js, int64_t now)
{
	if (!js->stopping || !js->nrunning || now < js->stop_deadline)
		return BK_JOBS_SIGNAL_NONE;
	if (!js->kill_deadline) {
		for (size_t i = 0; i < js->nrunning; i++)
			js->running[i]->interrupted = true;
		js->kill_deadline = now + BK_JOBS_KILL_WAIT;
		return BK_JOBS_SIGNAL_TERM;
	}
	if (now >= js->kill_deadline) {
		js->kill_deadline = now + BK_JOBS_KILL_WAIT;
		return BK_JOBS_SIGNAL_KILL;
	}
	return BK_JOBS_SIGNAL_NONE;
}
