/*
 * heartbeat.c: the backy-worker's heartbeat (worker_priv.h): who it is, its
 * slots, the free space of its base directory, and per running job the
 * progress its child reports (progress_doc.h), published on the workers
 * exchange under the host's name, every heartbeat-interval seconds from
 * the main loop.  The coordinator shows it (`backyctl workers`, /metrics:
 * backy_worker_heartbeat_age_seconds tells alerting a host went quiet).
 */
#include "worker_priv.h"

#include "buf.h"
#include "fs.h"
#include "log.h"
#include "child.h"
#include "progress_doc.h"
#include "topology.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/statvfs.h>

/* The progress a running job's child reports (progress_doc.h), into P: whether there is one. */
static bool read_progress(struct worker *w, const struct bk_job *j, struct bk_msg_progress *p)
{
	struct bk_progress_doc doc;
	char name[BK_ID_MAX + 16];
	char *text = NULL;
	size_t len = 0;
	bool ok;

	bk_child_progress_name(j->msg.job_id, name, sizeof(name));
	if (bk_fs_read_all(w->journal.dirfd, name, BK_PROGRESS_DOC_MAX_BYTES, &text, &len) < 0)
		return false;
	ok = bk_progress_doc_decode(text, len, &doc, NULL) == 0;
	free(text);
	if (!ok)
		return false; /* a child's garbage is no progress */
	snprintf(p->job, sizeof(p->job), "%s", j->msg.job);
	snprintf(p->phase, sizeof(p->phase), "%s", doc.phase);
	p->done = doc.done;
	p->total = doc.total;
	return true;
}

void worker_heartbeat(struct worker *w)
{
	struct bk_msg_heartbeat hb;
	struct bk_err err = {0};
	struct statvfs sv;
	struct bk_buf b;
	int r;

	bk_msg_heartbeat_init(&hb);
	bk_msg_head_new(&hb.head);
	snprintf(hb.host, sizeof(hb.host), "%s", w->cfg.host);
	snprintf(hb.version, sizeof(hb.version), "%s", BACKY_VERSION);
	hb.slots = w->cfg.slots;
	hb.busy = w->jobs.nrunning < w->cfg.slots ? (unsigned)w->jobs.nrunning : w->cfg.slots;
	if (statvfs(w->cfg.base_dir, &sv) == 0)
		hb.free_bytes = (uint64_t)sv.f_bavail * sv.f_frsize;
	hb.progress = bk_calloc(w->cfg.slots + 1, sizeof(*hb.progress));
	for (size_t i = 0; i < w->jobs.nrunning && i < w->cfg.slots; i++) {
		bk_strv_add(&hb.running, w->jobs.running[i]->msg.job);
		if (read_progress(w, w->jobs.running[i], &hb.progress[hb.nprogress]))
			hb.nprogress++;
	}
	bk_buf_init(&b);
	r = bk_msg_encode_heartbeat(&hb, &b, &err);
	if (r == 0)
		r = bk_mq_publish(w->mq, BK_EX_WORKERS, w->cfg.host, b.p, b.len, hb.head.id, &err);
	if (r < 0 && !w->hb_warned) {
		bk_warn("unable to publish a heartbeat: %s", err.msg);
		w->hb_warned = r != BK_EMQ;
	} else if (r == 0) {
		w->hb_warned = false;
	}
	worker_mq_check(w, r, &err);
	bk_buf_release(&b);
	bk_msg_heartbeat_release(&hb);
}
