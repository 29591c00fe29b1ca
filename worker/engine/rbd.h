/*
 * rbd.h: shared Ceph plumbing for the rbd source and restores into RBD.
 */
#ifndef BK_RBD_H
#define BK_RBD_H

#include <rados/librados.h>

#include "error.h"

/*
 * Connect as client CEPH_ID (NULL: admin) using CEPH_CONF (NULL: $CEPH_CONF
 * or the default search path) with bounded timeouts (CEPH_ARGS may override
 * them), and open POOL.  On failure nothing stays allocated.
 */
int bk_rbd_connect(const char *ceph_conf, const char *ceph_id, const char *pool,
		   rados_t *cluster, rados_ioctx_t *io, struct bk_err *err);

void bk_rbd_disconnect(rados_t cluster, rados_ioctx_t io);

#endif
