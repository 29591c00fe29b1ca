/*
 * state_priv.h: what state_file.c needs of the model in state.c, and
 * nothing else includes: building a state while loading it.
 */
#ifndef CO_STATE_PRIV_H
#define CO_STATE_PRIV_H

#include "state.h"

/* Free what run R owns and zero it (inactive). */
void co_run_clear(struct co_run *r);

/* Free what job J owns (its runs too) and zero it. */
void co_job_release(struct co_job *j);

/* Append job J (moved: ST owns its strings now) and index it by name. */
void co_job_append(struct co_state *st, struct co_job *j);

/* Index of HOST in st->hosts, added if new. */
uint32_t co_host_intern(struct co_state *st, const char *host);

/* Job I changed (WHAT): the next journal commit must carry it. */
void co_job_mark(struct co_state *st, uint32_t i, enum co_chg what);

/* Remember request id ID in the ring (no change mark: the caller is loading). */
void co_remember_request(struct co_state *st, const char *id);

#endif
