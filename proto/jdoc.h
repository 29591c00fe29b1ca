/*
 * jdoc.h: strict JSON reading and writing shared by every codec of proto/:
 * the messages (proto.c, proto_decode.c) and the documents (report.c,
 * status_doc.c, journal_entry.c, consul_kv.c, rev_list.c).
 *
 * Internal to proto/: this is the one header that hands out json_t, and
 * nothing above proto/ includes it (STYLE.md: jansson errors become
 * BK_EPROTO with a message here, callers see plain structs).
 *
 * Reading: jd_load() applies the limits every document has (size, nesting,
 * duplicate keys, "\u0000", invalid UTF-8), jd_walk_limits() the limits on
 * every value of a tree, known field or not, and the jd_get_* functions
 * check one field each, recording the first failure in the struct jd as
 * "invalid WHAT: field 'x' ...".  The codec passes WHAT and every limit;
 * nothing here knows a document.  Writing: je_put_* set members, remember
 * the first value jansson refused, and je_dump() turns the tree into text.
 *
 * Ownership: json_t references follow jansson's rules (the _new ones are
 * consumed); strings from jd_get_str() are borrowed from the tree and live
 * as long as it; jd_show*() and jd_field() write into the caller's buffer.
 */
#ifndef BK_JDOC_H
#define BK_JDOC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "id.h"          /* BK_ID_MAX */
#include "source_spec.h" /* BK_NAME_MAX */
#include "strv.h"

#define JD_CODE_MAX 64 /* bytes of an error code (jd_code_valid) */

/* A decoding in progress: where errors go and how they are worded. */
struct jd {
	struct bk_err *err; /* may be NULL: the error is only returned */
	const char *what;   /* "job report", "job message" ...: never NULL */
	bool strict;        /* unknown fields are errors */
	/*
	 * 0: jd_get_word, jd_get_enum and jd_get_time refuse a value longer than
	 * their own limit by length ("is longer than 64 bytes").  N: they read up
	 * to N bytes and judge anything shorter by its content ("is not a valid
	 * name"), as the messages do (proto.h: BK_MSG_MAX_STRING).
	 */
	size_t word_max;
};

/* Record "invalid WHAT: " and the formatted text in d->err; returns BK_EPROTO. */
__attribute__((format(printf, 2, 3))) int jd_fail(struct jd *d, const char *fmt, ...);

/*
 * Parse LEN bytes of TEXT: at most MAX_BYTES, nested at most MAX_DEPTH, the
 * root of type ROOT (JSON_OBJECT or JSON_ARRAY).  The new reference or NULL.
 */
json_t *jd_load(struct jd *d, const void *text, size_t len, size_t max_bytes, int max_depth,
		json_type root);

/* The limits on every value of a tree, known field or not (jd_walk_limits). */
struct jd_limits {
	int depth;     /* nesting of objects and arrays, the root is 1 */
	size_t items;  /* members of an object, items of an array */
	size_t key;    /* bytes of a key */
	size_t string; /* bytes of a string value */
};

/*
 * Check every value of the tree ROOT against LIM, so that fields a newer
 * version adds (and this one ignores) are bounded too.  The first failure
 * is recorded as "nested deeper than N levels", "an object has more than N
 * members", "a key is longer than N bytes", "field 'k' has more than N
 * items" or "field 'k' holds a string longer than N bytes" (K: the key of
 * the nearest member).
 */
int jd_walk_limits(struct jd *d, json_t *root, const struct jd_limits *lim);

/*
 * jd_load() TEXT and run DEC over the root with ARG (the codec's output
 * struct); the tree is freed afterwards, so DEC copies what it keeps.
 * CLEAR (may be NULL) empties ARG first and again after a failure, so the
 * caller never sees half a decoding.  Returns DEC's result, or BK_EPROTO
 * when the text does not load.
 */
int jd_decode(struct jd *d, const void *text, size_t len, size_t max_bytes, int max_depth,
	      json_type root, int (*dec)(struct jd *d, json_t *root, void *arg),
	      void (*clear)(void *arg), void *arg);

/* In strict mode, every key of OBJ must be in the NULL-terminated ALLOWED. */
int jd_check_keys(struct jd *d, json_t *obj, const char *prefix, const char *const *allowed);

/*
 * Field KEY of OBJ (PREFIX names the enclosing object in messages, may be
 * NULL) of type T into *OUT, NULL when absent and not REQUIRED.  JSON_REAL
 * accepts any number, JSON_TRUE any boolean.  NULLABLE also accepts null
 * (then *OUT is NULL too).
 */
int jd_get(struct jd *d, json_t *obj, const char *prefix, const char *key, bool required,
	   bool nullable, json_type t, json_t **out);

/* A string of MIN to MAX bytes (*OUT NULL when absent or null). */
int jd_get_str(struct jd *d, json_t *obj, const char *prefix, const char *key, bool required,
	       bool nullable, size_t min, size_t max, const char **out);

/*
 * A string passing VALID (WHAT describes it: "a valid pool name") copied
 * into OUT of SIZE bytes ("" when absent).  Too long for OUT: see word_max.
 */
int jd_get_word(struct jd *d, json_t *obj, const char *prefix, const char *key, bool required,
		bool (*valid)(const char *), const char *what, char *out, size_t size);

/* Free text of 1 to MAX bytes without control characters but tab and newline (jd_text_valid). */
int jd_get_text(struct jd *d, json_t *obj, const char *prefix, const char *key, bool required,
		size_t max, const char **out);

/* An error code as bk_error_name() returns it ("EIO", "BK_ESOURCE"): 1 to 64 of [A-Z0-9_], a letter first. */
bool jd_code_valid(const char *s);
int jd_get_code(struct jd *d, json_t *obj, const char *prefix, const char *key, bool required,
		char out[JD_CODE_MAX + 1]);

/*
 * The error object of a failed job (result message, job report): member
 * "code" (jd_get_code) into CODE and "message" (jd_get_text, at most
 * MAX_TEXT bytes) into *MESSAGE, a new string the caller owns.  KEYS are
 * the members allowed in strict mode; PREFIX names the object.
 */
int jd_get_error(struct jd *d, json_t *obj, const char *prefix, const char *const *keys,
		 size_t max_text, char code[JD_CODE_MAX + 1], char **message);

/* A job, host or vm name (bk_name_valid) or an id (bk_id_valid), as jd_get_word. */
int jd_get_name(struct jd *d, json_t *obj, const char *prefix, const char *key, bool required,
		char out[BK_NAME_MAX + 1]);
int jd_get_id(struct jd *d, json_t *obj, const char *prefix, const char *key, bool required,
	      char out[BK_ID_MAX + 1]);

/* An integer in [MIN, MAX] (*OUT unchanged when absent). */
int jd_get_int(struct jd *d, json_t *obj, const char *prefix, const char *key, bool required,
	       int64_t min, int64_t max, int64_t *out);

/* A number in [MIN, MAX] (*OUT unchanged when absent or null). */
int jd_get_num(struct jd *d, json_t *obj, const char *prefix, const char *key, bool required,
	       bool nullable, double min, double max, double *out);

/* A boolean (*OUT unchanged when absent). */
int jd_get_bool(struct jd *d, json_t *obj, const char *prefix, const char *key, bool required,
		bool *out);

/* Index of S in the N NAMES, or -1 (NULL entries never match). */
int jd_index_of(const char *const *names, int n, const char *s);

/*
 * One of the N NAMES (NULL entries skipped): its index into *OUT, unchanged
 * when absent.  An empty string "must not be empty".
 */
int jd_get_enum(struct jd *d, json_t *obj, const char *prefix, const char *key, bool required,
		const char *const *names, int n, int *out);

/*
 * An ISO 8601 time with an explicit zone, after the epoch and before the
 * year 10000, into microseconds UTC; null or absent: 0.
 */
int jd_get_time(struct jd *d, json_t *obj, const char *prefix, const char *key, bool required,
		bool nullable, int64_t *out);

/* An array of at most MAX distinct strings passing VALID, appended to OUT. */
int jd_get_list(struct jd *d, json_t *obj, const char *prefix, const char *key, bool required,
		size_t max, bool (*valid)(const char *), const char *what, struct bk_strv *out);

/* Free text: no control characters but tab and newline. */
bool jd_text_valid(const char *s);

/*
 * S made safe to print in a message: at most MAX bytes (then "..."), control
 * and non-ASCII bytes as '?'.  BUF holds MAX + 4 bytes; returns BUF.
 */
const char *jd_show_n(const char *s, char *buf, size_t max);
const char *jd_show(const char *s, char buf[72]); /* at most 64 bytes */

/* "stats.size" from PREFIX "stats" and KEY "size" (KEY shown with jd_show); just KEY without a prefix. */
const char *jd_field(char buf[128], const char *prefix, const char *key);

/* ---- writing ---- */

struct je {
	const char *bad; /* the first key whose value could not be made */
	/*
	 * false (documents): NULL strings are written as "", bytes outside
	 * ASCII of invalid UTF-8 as '?', a time of 0 as null.  true (messages):
	 * nothing is repaired: such strings are bad fields and 0 is the epoch.
	 */
	bool exact;
};

/* Set KEY of OBJ to V (consumed; NULL records KEY as bad). */
void je_put(struct je *e, json_t *obj, const char *key, json_t *v);

/*
 * A JSON string of S ("" for NULL); invalid UTF-8 is not refused but written
 * with '?' for every byte outside ASCII, so a document is always produced
 * (what je_put_str and je_put_list do unless exact).
 */
json_t *je_string(const char *s);

void je_put_str(struct je *e, json_t *obj, const char *key, const char *s);
/* Only when S is non-empty. */
void je_put_opt(struct je *e, json_t *obj, const char *key, const char *s);
/* S, or null when S is NULL. */
void je_put_str_or_null(struct je *e, json_t *obj, const char *key, const char *s);
void je_put_int(struct je *e, json_t *obj, const char *key, int64_t v);
void je_put_uint(struct je *e, json_t *obj, const char *key, uint64_t v);
/* An ISO 8601 UTC time, or null for 0 (unless exact). */
void je_put_time(struct je *e, json_t *obj, const char *key, int64_t t);
void je_put_list(struct je *e, json_t *obj, const char *key, const struct bk_strv *v);

/* Fewest significant digits (1..17) that read back as V: 569.3, not 569.29999999999995. */
int je_precision(double v);

/* The precision that writes every real in the tree V exactly (je_precision of each, at most 17). */
int je_tree_precision(json_t *v);

/*
 * Dump ROOT (consumed) with jansson FLAGS and append it to OUT.  BK_EPROTO
 * "cannot encode WHAT: ..." when ROOT is NULL, E recorded a bad field or
 * jansson fails; OUT is unchanged then.
 */
int je_dump(struct je *e, const char *what, json_t *root, size_t flags, struct bk_buf *out,
	    struct bk_err *err);

#endif
