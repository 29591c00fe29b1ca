/*
 * mq_yaml.h: the `amqp:` block of a daemon's YAML config, read the same way
 * by backy-worker (worker/daemon/worker_config.c) and backy-coordinator and
 * backyctl (coordinator/config.c):
 *
 *   amqp:
 *     url: amqps://user:pass@broker:5671/backy   # amqp:// or amqps://
 *     heartbeat: 30        # seconds (or 1m ...), at most 1h; 0: the adapter's default
 *     ca-cert: /etc/backy/ca.pem
 *     tls-verify: true     # default true
 *
 * Only ydoc types: no rabbitmq-c here, so a config loader does not link the
 * adapter.  The result maps onto struct bk_mq_config (mq.h) field by field.
 */
#ifndef BK_MQ_YAML_H
#define BK_MQ_YAML_H

#include <stdbool.h>

#include "error.h"
#include "ydoc.h"

struct bk_amqp_settings {
	char *url;        /* owned; NULL when the block has none */
	int heartbeat_s;  /* seconds; 0: the adapter's default */
	char *ca_cert;    /* owned; NULL when not set */
	bool tls_verify;  /* default true */
};

/* Empty settings: no URL, default heartbeat, no CA file, tls-verify true. */
void bk_amqp_settings_init(struct bk_amqp_settings *s);
/* Free the strings and re-initialise S. */
void bk_amqp_settings_release(struct bk_amqp_settings *s);
/* Whether A and B would make the same connection. */
bool bk_amqp_settings_equal(const struct bk_amqp_settings *a, const struct bk_amqp_settings *b);

/*
 * Read the `amqp:` map AMQP into OUT (initialised here; release it, also
 * after an error).  NAME is the file name for messages, which carry the
 * line: "worker.yaml: line 4: 'amqp.url' must start with amqp:// or
 * amqps://".  Unknown keys are errors.  Whether the URL is required is the
 * caller's business (OUT->url stays NULL without one).
 */
int bk_mq_config_from_yaml(const struct bk_ynode *amqp, const char *name,
			   struct bk_amqp_settings *out, struct bk_err *err);

#endif
