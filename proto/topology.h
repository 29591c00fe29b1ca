/*
 * topology.h: the names of backy's RabbitMQ exchanges and queues.
 *
 * bk_mq_declare() (mq.h) declares all of them; everything else refers to
 * them through these macros so a rename happens in one place.  The
 * arguments the queues are declared with (quorum type, TTL, DLX) are part
 * of the topology too: RabbitMQ refuses a redeclaration with different
 * arguments (406 PRECONDITION_FAILED), so changing one needs a migration
 * (delete the queue or use a new name), not just a new release.
 *
 *   backy.jobs (direct) --<host>--> backy.jobs.<host>   (quorum, DLX backy.dlx)
 *   backy.results (topic) --#----> backy.coordinator.results (quorum)
 *                                   (+ dashboards bind their own queues)
 *   backy.control (direct) --request--> backy.coordinator.requests (quorum)
 *   backy.workers (topic) --#----> backy.coordinator.heartbeats (quorum,
 *                                   60 s TTL, at most 10000 messages)
 *   backy.dlx (fanout) ----------> backy.dead (durable, classic)
 */
#ifndef BK_TOPOLOGY_H
#define BK_TOPOLOGY_H

/* Exchanges. */
#define BK_EX_JOBS "backy.jobs"       /* direct; routing key = storage host */
#define BK_EX_RESULTS "backy.results" /* topic; <kind>.<outcome>.<host>.<job> */
#define BK_EX_CONTROL "backy.control" /* direct; operator requests */
#define BK_EX_WORKERS "backy.workers" /* topic; worker heartbeats */
#define BK_EX_DLX "backy.dlx"         /* fanout; dead letters */

/* Queues. */
#define BK_Q_DEAD "backy.dead"
#define BK_Q_RESULTS "backy.coordinator.results"
#define BK_Q_REQUESTS "backy.coordinator.requests"
#define BK_Q_HEARTBEATS "backy.coordinator.heartbeats"
#define BK_Q_JOBS_PREFIX "backy.jobs." /* + storage host */

/* Routing keys. */
#define BK_KEY_REQUEST "request" /* backy.control -> coordinator requests */

/* Limits on the heartbeats queue, so a stopped coordinator costs nothing. */
#define BK_HEARTBEAT_TTL_MS 60000
#define BK_HEARTBEAT_MAX_LEN 10000

/* Longest storage host name accepted in a queue name (AMQP short string: 255). */
#define BK_HOST_MAX 200

#include <stddef.h>

/*
 * Write "backy.jobs.<HOST>" to OUT (SIZE bytes).  Returns 0, or BK_EUSAGE
 * when HOST is empty, longer than BK_HOST_MAX, or holds characters other
 * than [A-Za-z0-9.-_] (it becomes part of a queue name and a routing key).
 * Implemented in mq.c.
 */
int bk_topology_jobs_queue(const char *host, char *out, size_t size);

#endif
