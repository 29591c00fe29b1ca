/*
 * common_fixture.h: what the tests of common/ share: fixed instants and
 * parsing a YAML text that must parse.  Header only (static inline).
 */
#ifndef BK_TEST_COMMON_FIXTURE_H
#define BK_TEST_COMMON_FIXTURE_H

#include <string.h>

#include "error.h"
#include "ydoc.h"

/* 2015-09-01T07:06:47Z and 2015-09-01T00:00:00Z in Unix seconds (from Python's calendar.timegm). */
#define T_20150901_070647 1441091207LL
#define T_20150901 1441065600LL

/* Parse TEXT as "t.yaml", expecting success. */
static inline struct bk_ynode *parse_ok(const char *text)
{
	struct bk_err err = {0};
	struct bk_ynode *root = NULL;
	int r = bk_yaml_parse(text, strlen(text), "t.yaml", &root, &err);

	if (r != 0)
		fail_msg("unexpected parse failure %d: %s", r, err.msg);
	return root;
}

#endif
