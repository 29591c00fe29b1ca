/* mq_yaml.c: the shared reader of a config's `amqp:` block (see mq_yaml.h). */
#include "mq_yaml.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "schedule.h"

#define HEARTBEAT_MAX 3600 /* seconds */

void bk_amqp_settings_init(struct bk_amqp_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->tls_verify = true;
}

void bk_amqp_settings_release(struct bk_amqp_settings *s)
{
	free(s->url);
	free(s->ca_cert);
	bk_amqp_settings_init(s);
}

static bool str_equal(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

bool bk_amqp_settings_equal(const struct bk_amqp_settings *a, const struct bk_amqp_settings *b)
{
	return str_equal(a->url, b->url) && a->heartbeat_s == b->heartbeat_s &&
	       str_equal(a->ca_cert, b->ca_cert) && a->tls_verify == b->tls_verify;
}

/* heartbeat: 0, or seconds as a number or a duration (30, 30s, 1m), at most an hour */
static int get_heartbeat(const struct bk_ynode *n, const char *name, int *out,
			 struct bk_err *err)
{
	int64_t secs = 0;

	if (bk_ynode_is_null(n))
		return 0;
	if (n->type != BK_Y_SCALAR ||
	    (strcmp(n->str, "0") != 0 && bk_duration_parse(n->str, &secs) < 0) ||
	    secs > HEARTBEAT_MAX)
		return bk_err_set(err, BK_ECONFIG,
				  "%s: line %d: 'amqp.heartbeat' must be from 0 to %d seconds (30, 30s, 1m)",
				  name, n->line, HEARTBEAT_MAX);
	*out = (int)secs;
	return 0;
}

int bk_mq_config_from_yaml(const struct bk_ynode *amqp, const char *name,
			   struct bk_amqp_settings *out, struct bk_err *err)
{
	static const char *const keys[] = {"url", "heartbeat", "ca-cert", "tls-verify", NULL};
	const struct bk_ynode *n;
	int r;

	bk_amqp_settings_init(out);
	r = bk_ymap_check_keys(amqp, keys, name, "amqp", err);
	if (r == 0)
		r = bk_ymap_str(amqp, "url", name, "amqp.url", &out->url, err);
	if (r == 0 && out->url && strncmp(out->url, "amqp://", 7) != 0 &&
	    strncmp(out->url, "amqps://", 8) != 0)
		r = bk_err_set(err, BK_ECONFIG,
			       "%s: line %d: 'amqp.url' must start with amqp:// or amqps://", name,
			       bk_ymap_get(amqp, "url")->line);
	if (r == 0)
		r = get_heartbeat(bk_ymap_get(amqp, "heartbeat"), name, &out->heartbeat_s, err);
	if (r == 0)
		r = bk_ymap_str(amqp, "ca-cert", name, "amqp.ca-cert", &out->ca_cert, err);
	n = bk_ymap_get(amqp, "tls-verify");
	if (r == 0 && !bk_ynode_is_null(n))
		r = bk_ynode_bool(n, name, "amqp.tls-verify", &out->tls_verify, err);
	return r;
}
