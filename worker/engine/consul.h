/*
 * consul.h: the Consul KV protocol that asks a hypervisor to freeze a guest
 * and snapshot its disk (REFERENCE-BEHAVIOUR.md, "Consul-coordinated freeze").
 *
 * backy PUTs snapshot/<uuid4> = {"vm": VM, "snapshot": NAME} (create-only),
 * the hypervisor agent freezes the guest, creates the RBD snapshot and
 * thaws; backy polls for the snapshot itself, then deletes its key and
 * sweeps stale requests of the same VM.  The ACL token travels only in the
 * X-Consul-Token header.  All calls have bounded timeouts.
 */
#ifndef BK_CONSUL_H
#define BK_CONSUL_H

#include <stddef.h>

#include "error.h"

struct bk_consul {
	const char *url;   /* e.g. http://127.0.0.1:8500 */
	const char *token; /* ACL token, may be NULL */
	long timeout_ms;   /* per HTTP request */
};

/* Create the request key for VM and snapshot NAME; KEY gets "snapshot/<uuid>". */
int bk_consul_request_snapshot(const struct bk_consul *c, const char *vm, const char *name,
			       char *key, size_t keysize, struct bk_err *err);

/* Delete KEY (missing keys are fine). */
int bk_consul_delete(const struct bk_consul *c, const char *key, struct bk_err *err);

/*
 * Delete every snapshot/ key whose value names VM and a "backy-" snapshot,
 * and every key whose value is not such JSON at all (garbage is skipped,
 * never fatal).  Returns the number of keys deleted, or a negative error.
 */
int bk_consul_sweep(const struct bk_consul *c, const char *vm, struct bk_err *err);

#endif
