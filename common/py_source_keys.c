/* py_source_keys.c: Python backy's extra source keys (see py_source_keys.h). */
#include "py_source_keys.h"

#include <stdio.h>
#include <string.h>

void bk_py_source_opts_init(struct bk_py_source_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->cow = true;
}

/* PyYAML's booleans (YAML 1.1): true/false, yes/no, on/off in three spellings each. */
static bool yaml11_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"};
	static const char *const no[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcmp(s, yes[i]) || !strcmp(s, no[i])) {
			*out = !strcmp(s, yes[i]);
			return true;
		}
	}
	return false;
}

int bk_py_source_key(enum bk_source_type type, const char *key, const struct bk_ynode *v,
		     const char *name, const char *job, struct bk_py_source_opts *o,
		     struct bk_err *err)
{
	char w[160] = "";
	const char *s;
	bool *flag;

	if (job)
		snprintf(w, sizeof(w), "job '%s': ", job);
	if (!strcmp(key, "backend")) {
		if (v->type != BK_Y_SCALAR || (strcmp(v->str, "chunked") && strcmp(v->str, "cowfile")))
			return bk_err_set(err, BK_ECONFIG,
					  "%s: line %d: %s'source.backend' must be chunked or cowfile", name,
					  v->line, w);
		snprintf(o->backend, sizeof(o->backend), "%s", v->str);
		return 0;
	}
	if (!strcmp(key, "cow") && type == BK_SOURCE_FILE)
		flag = &o->cow;
	else if (!strcmp(key, "full-always") && type != BK_SOURCE_FILE)
		flag = &o->full_always;
	else
		return 1;
	if (bk_ynode_str(v, name, key, &s, NULL) < 0 || !yaml11_bool(s, flag))
		return bk_err_set(err, BK_ECONFIG, "%s: line %d: %s'source.%s' must be true or false",
				  name, v->line, w, key);
	return 0;
}
