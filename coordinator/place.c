/*
 * place.c: which storage host a job without `host` goes to (state.h).
 *
 * Rendezvous hashing with bounded loads: a job goes to the host with the
 * highest hash of (job, host) among the hosts that hold fewer than their
 * share, ceil(jobs / hosts), of the jobs on `hosts`.  Plain rendezvous
 * hashing spreads like a random draw (about +-22 % at 20 jobs a host); the
 * bound keeps every host within one job of the mean, and a job still goes
 * to its first choice unless that host is full.
 *
 * Placements are kept in the state: only jobs that have none (new ones, or
 * those of a host that left `hosts`) are placed, in name order, after
 * counting the ones that stay.  So a job never moves by itself; after a
 * lost state the placement is recomputed for all jobs at once, which for
 * a fleet that grew job by job may differ for some jobs (pin those with
 * `host`).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "state.h"
#include "state_priv.h"

size_t co_place_bounded(const char *name, char *const *hosts, size_t n, const uint32_t *loads,
			uint32_t cap)
{
	size_t best = SIZE_MAX;
	uint64_t best_w = 0;
	char key[2 * (BK_MSG_NAME_MAX + 1) + 1];

	for (size_t i = 0; i < n; i++) {
		int len = snprintf(key, sizeof(key), "%s\n%s", name, hosts[i]);
		uint64_t w = bk_hash64(key, (size_t)len);

		if (loads && loads[i] >= cap)
			continue;
		if (best == SIZE_MAX || w > best_w || (w == best_w && strcmp(hosts[i], hosts[best]) < 0)) {
			best = i;
			best_w = w;
		}
	}
	return best == SIZE_MAX ? 0 : best;
}

size_t co_place(const char *name, char *const *hosts, size_t n)
{
	return co_place_bounded(name, hosts, n, NULL, 0);
}

/* The index of HOST in CFG's hosts, or SIZE_MAX. */
static size_t host_index(const struct co_config *cfg, const char *host)
{
	for (size_t i = 0; i < cfg->nhosts; i++)
		if (strcmp(cfg->hosts[i], host) == 0)
			return i;
	return SIZE_MAX;
}

void co_place_jobs(struct co_state *st, const struct co_config *cfg, struct co_job *jobs,
		   size_t n)
{
	uint32_t *loads, cap;
	size_t total = 0;

	if (!cfg->nhosts)
		return;
	loads = bk_calloc(cfg->nhosts, sizeof(*loads));
	for (size_t k = 0; k < n; k++) {
		size_t i = jobs[k].host < st->nhosts ? host_index(cfg, st->hosts[jobs[k].host])
						     : SIZE_MAX;

		if (i != SIZE_MAX)
			loads[i]++;
		total += i != SIZE_MAX || jobs[k].host == UINT32_MAX;
	}
	cap = (uint32_t)((total + cfg->nhosts - 1) / cfg->nhosts);
	for (size_t k = 0; k < n; k++) {
		size_t i;

		if (jobs[k].host != UINT32_MAX)
			continue;
		i = co_place_bounded(jobs[k].name, cfg->hosts, cfg->nhosts, loads, cap);
		loads[i]++;
		jobs[k].host = co_host_intern(st, cfg->hosts[i]);
	}
	free(loads);
}
