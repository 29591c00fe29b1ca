/* revision.c: .rev metadata parsing and formatting (see revision.h). */
#include "revision.h"

#include "clock.h"
#include "ydoc.h"

#include <stdio.h>
#include <string.h>

static const char *const trust_names[] = {"trusted", "distrusted", "verified"};

void bk_rev_init(struct bk_rev *rev)
{
	memset(rev, 0, sizeof(*rev));
}

void bk_rev_release(struct bk_rev *rev)
{
	bk_strv_release(&rev->tags);
	bk_rev_init(rev);
}

void bk_rev_copy(struct bk_rev *dst, const struct bk_rev *src)
{
	bk_rev_release(dst);
	*dst = *src;
	dst->tags.v = NULL;
	dst->tags.n = 0;
	bk_strv_merge(&dst->tags, &src->tags);
}

const char *bk_trust_name(enum bk_trust trust)
{
	return trust_names[trust];
}

int bk_trust_parse(const char *s, enum bk_trust *out)
{
	for (size_t i = 0; i < sizeof(trust_names) / sizeof(trust_names[0]); i++) {
		if (strcmp(s, trust_names[i]) == 0) {
			*out = (enum bk_trust)i;
			return 0;
		}
	}
	return BK_EUSAGE;
}

bool bk_tag_valid(const char *tag)
{
	size_t n = strlen(tag);

	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = tag[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.' || c == ':'))
			return false;
	}
	return tag[0] != ':' && tag[n - 1] != ':';
}

static int corrupt(struct bk_err *err, const char *name, const char *what)
{
	return bk_err_set(err, BK_ECORRUPT, "%s: %s", name, what);
}

int bk_rev_parse(const char *buf, size_t len, const char *name, struct bk_rev *rev,
		 struct bk_err *err)
{
	struct bk_ynode *root = NULL;
	const struct bk_ynode *n, *stats;
	const char *s;
	int r;

	bk_rev_init(rev);
	r = bk_yaml_parse(buf, len, name, &root, err);
	if (r < 0) {
		/* report as corrupt metadata, keep the parser's message */
		if (err)
			err->code = BK_ECORRUPT;
		return BK_ECORRUPT;
	}
	if (!root || root->type != BK_Y_MAP) {
		r = corrupt(err, name, "not a YAML map");
		goto out;
	}

	r = bk_ynode_str(bk_ymap_get(root, "uuid"), name, "uuid", &s, err);
	if (r < 0)
		goto bad;
	if (!bk_id_valid(s)) {
		r = corrupt(err, name, "'uuid' is not a valid revision id");
		goto out;
	}
	snprintf(rev->id, sizeof(rev->id), "%s", s);

	r = bk_ynode_str(bk_ymap_get(root, "timestamp"), name, "timestamp", &s, err);
	if (r < 0)
		goto bad;
	if (bk_time_parse(s, &rev->timestamp) < 0) {
		r = corrupt(err, name, "'timestamp' is not an ISO 8601 time");
		goto out;
	}

	n = bk_ymap_get(root, "parent");
	if (!bk_ynode_is_null(n)) {
		r = bk_ynode_str(n, name, "parent", &s, err);
		if (r < 0)
			goto bad;
		if (s[0] && !bk_id_valid(s)) {
			r = corrupt(err, name, "'parent' is not a valid revision id");
			goto out;
		}
		snprintf(rev->parent, sizeof(rev->parent), "%s", s);
	}

	n = bk_ymap_get(root, "tags");
	if (!bk_ynode_is_null(n)) {
		if (n->type != BK_Y_SEQ) {
			r = corrupt(err, name, "'tags' is not a list");
			goto out;
		}
		for (size_t i = 0; i < n->n; i++) {
			if (n->items[i]->type != BK_Y_SCALAR || !bk_tag_valid(n->items[i]->str)) {
				r = corrupt(err, name, "'tags' holds an invalid tag");
				goto out;
			}
			bk_strv_add(&rev->tags, n->items[i]->str);
		}
	}

	n = bk_ymap_get(root, "trust");
	rev->trust = BK_TRUST_TRUSTED;
	if (!bk_ynode_is_null(n)) {
		r = bk_ynode_str(n, name, "trust", &s, err);
		if (r < 0)
			goto bad;
		if (bk_trust_parse(s, &rev->trust) < 0) {
			r = corrupt(err, name, "'trust' is not trusted, distrusted or verified");
			goto out;
		}
	}

	stats = bk_ymap_get(root, "stats");
	if (!stats || stats->type != BK_Y_MAP) {
		/* every writer, Python's included, writes stats: its absence is damage */
		r = corrupt(err, name, "'stats' is missing or not a map");
		goto out;
	}
	n = bk_ymap_get(stats, "bytes_written");
	if (n) {
		r = bk_ynode_u64(n, name, "stats.bytes_written", &rev->bytes_written, err);
		if (r < 0)
			goto bad;
	}
	n = bk_ymap_get(stats, "duration");
	if (n) {
		r = bk_ynode_double(n, name, "stats.duration", &rev->duration, err);
		if (r < 0)
			goto bad;
		rev->complete = true;
	}

	n = bk_ymap_get(root, "size");
	if (n) {
		r = bk_ynode_u64(n, name, "size", &rev->size, err);
		if (r < 0)
			goto bad;
	}
	n = bk_ymap_get(root, "consistency");
	if (!bk_ynode_is_null(n)) {
		r = bk_ynode_str(n, name, "consistency", &s, err);
		if (r < 0)
			goto bad;
		if (strlen(s) >= sizeof(rev->consistency)) {
			r = corrupt(err, name, "'consistency' is too long");
			goto out;
		}
		snprintf(rev->consistency, sizeof(rev->consistency), "%s", s);
	}
	n = bk_ymap_get(root, "verified_at");
	if (!bk_ynode_is_null(n)) {
		r = bk_ynode_str(n, name, "verified_at", &s, err);
		if (r < 0)
			goto bad;
		if (bk_time_parse(s, &rev->verified_at) < 0) {
			r = corrupt(err, name, "'verified_at' is not an ISO 8601 time");
			goto out;
		}
	}
	r = 0;
	goto out;
bad:
	if (err)
		err->code = BK_ECORRUPT;
	r = BK_ECORRUPT;
out:
	bk_ynode_free(root);
	if (r < 0)
		bk_rev_release(rev);
	return r;
}

void bk_rev_format(const struct bk_rev *rev, struct bk_buf *out)
{
	char when[64];

	bk_buf_addf(out, "uuid: %s\n", rev->id);
	bk_time_format(rev->timestamp, when, sizeof(when), BK_TIME_ISO);
	bk_buf_addf(out, "timestamp: %s\n", when);
	bk_buf_addf(out, "parent: '%s'\n", rev->parent);
	if (rev->tags.n == 0)
		bk_buf_adds(out, "tags: []\n");
	else
		bk_buf_adds(out, "tags:\n");
	for (size_t i = 0; i < rev->tags.n; i++)
		bk_buf_addf(out, "- '%s'\n", rev->tags.v[i]);
	bk_buf_addf(out, "trust: %s\n", bk_trust_name(rev->trust));
	bk_buf_adds(out, "stats:\n");
	bk_buf_addf(out, "  bytes_written: %llu\n", (unsigned long long)rev->bytes_written);
	if (rev->complete)
		bk_buf_addf(out, "  duration: %.6f\n", rev->duration);
	bk_buf_addf(out, "size: %llu\n", (unsigned long long)rev->size);
	if (rev->consistency[0])
		bk_buf_addf(out, "consistency: %s\n", rev->consistency);
	if (rev->verified_at) {
		bk_time_format(rev->verified_at, when, sizeof(when), BK_TIME_ISO);
		bk_buf_addf(out, "verified_at: %s\n", when);
	}
}
