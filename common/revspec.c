/*
 * revspec.c: revision specification parser and evaluator (see revspec.h).
 *
 * Two passes over the spec text:
 *
 *  1. A recursive-descent parser turns the text into a tree kept in one
 *     array of nodes.  Nothing is looked up yet, so every syntax error is
 *     reported before any "unknown revision".
 *  2. The evaluator walks the tree and computes bool sets over the history
 *     (index i = hist[i], oldest first).  Sets carry no order, so the result
 *     is always in history order, and union/intersection are plain or/and.
 *
 * Invariants:
 *  - each node consumes at least one token and a token at least one byte,
 *    so a spec of LEN bytes never needs more than LEN nodes;
 *  - parser recursion grows only with parentheses, which are limited to
 *    BK_REVSPEC_MAX_DEPTH; lists ("a,b,c", "a&b&c") are siblings, not a
 *    left-deep chain, so evaluation depth is bounded the same way;
 *  - all state lives in struct parser / struct evaluator owned by the
 *    caller's stack frame: no globals, so the functions can be driven by a
 *    fuzzer directly.
 */
#include "revspec.h"

#include "buf.h"
#include "clock.h"
#include "id.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define DAY_USEC (86400 * BK_USEC)
#define EXCERPT_MAX 48

enum tok_kind { T_END, T_WORD, T_LPAREN, T_RPAREN, T_COMMA, T_AMP, T_RANGE, T_BAD };

struct tok {
	enum tok_kind kind;
	size_t pos; /* offset in the spec */
	size_t end; /* offset just after the token */
};

enum node_kind { N_WORD, N_GROUP, N_UNION, N_INTER, N_RANGE, N_FIRST, N_LAST, N_NOT };

struct node {
	enum node_kind kind;
	size_t pos, end; /* source span, for messages */
	int child;       /* first operand, -1 for N_WORD */
	int next;        /* next sibling in the parent's operand list, -1 at the end */
};

struct parser {
	const char *s;
	size_t len;
	struct tok tok; /* lookahead */
	struct node *nodes;
	int nnodes, cap;
	int depth;
	struct bk_err *err;
};

struct evaluator {
	const char *s;
	const struct bk_rev *hist;
	size_t n;
	const struct node *nodes;
	struct bk_err *err;
};

/* Characters a word (id, number, keyword, tag:NAME, date) may contain. */
static bool is_word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || c == '.' || c == ':' || c == '+';
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/*
 * Copy at most EXCERPT_MAX bytes of S[0..LEN) into OUT for a message:
 * non-printable bytes become '?', a cut is marked with "...".
 */
static void excerpt(const char *s, size_t len, char out[EXCERPT_MAX + 4])
{
	size_t i;

	for (i = 0; i < len && i < EXCERPT_MAX; i++)
		out[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	if (i < len) {
		memcpy(out + i, "...", 3);
		i += 3;
	}
	out[i] = '\0';
}

/* The token starting at or after POS (whitespace skipped). */
static struct tok lex(const char *s, size_t len, size_t pos)
{
	struct tok t;

	while (pos < len && is_space(s[pos]))
		pos++;
	t.pos = pos;
	t.end = pos + 1;
	if (pos >= len) {
		t.kind = T_END;
		t.end = pos;
		return t;
	}
	switch (s[pos]) {
	case '(':
		t.kind = T_LPAREN;
		return t;
	case ')':
		t.kind = T_RPAREN;
		return t;
	case ',':
		t.kind = T_COMMA;
		return t;
	case '&':
		t.kind = T_AMP;
		return t;
	default:
		break;
	}
	if (s[pos] == '.' && pos + 1 < len && s[pos + 1] == '.') {
		t.kind = T_RANGE;
		t.end = pos + 2;
		return t;
	}
	if (!is_word_char(s[pos])) {
		t.kind = T_BAD;
		return t;
	}
	/* A word ends at a separator; a single '.' belongs to it (dates, tags). */
	t.kind = T_WORD;
	while (t.end < len && is_word_char(s[t.end]) &&
	       !(s[t.end] == '.' && t.end + 1 < len && s[t.end + 1] == '.'))
		t.end++;
	return t;
}

static void advance(struct parser *p)
{
	p->tok = lex(p->s, p->len, p->tok.end);
}

/* A syntax error located at the current token. */
static int syntax_error(struct parser *p, const char *what)
{
	char ex[EXCERPT_MAX + 4];

	if (p->tok.kind == T_END)
		return bk_err_set(p->err, BK_ESPEC, "%s at end of revision spec", what);
	excerpt(p->s + p->tok.pos, p->len - p->tok.pos, ex);
	return bk_err_set(p->err, BK_ESPEC, "%s at '%s'", what, ex);
}

static int new_node(struct parser *p, enum node_kind kind, size_t pos)
{
	struct node *nd;

	/* Cannot happen (see the invariants above); fail safe rather than overflow. */
	if (p->nnodes >= p->cap)
		return bk_err_set(p->err, BK_ESPEC, "revision spec too complex");
	nd = &p->nodes[p->nnodes];
	nd->kind = kind;
	nd->pos = pos;
	nd->end = pos;
	nd->child = -1;
	nd->next = -1;
	return p->nnodes++;
}

static bool word_is(const struct parser *p, const struct tok *t, const char *w)
{
	size_t n = strlen(w);

	return t->end - t->pos == n && memcmp(p->s + t->pos, w, n) == 0;
}

static int parse_spec(struct parser *p);

static int parse_primary(struct parser *p)
{
	struct tok start = p->tok;
	enum node_kind kind = N_GROUP;
	int id, inner;

	if (start.kind == T_WORD) {
		struct tok after = lex(p->s, p->len, start.end);

		if (after.kind != T_LPAREN) {
			id = new_node(p, N_WORD, start.pos);
			if (id < 0)
				return id;
			p->nodes[id].end = start.end;
			advance(p);
			return id;
		}
		if (word_is(p, &start, "first")) {
			kind = N_FIRST;
		} else if (word_is(p, &start, "last")) {
			kind = N_LAST;
		} else if (word_is(p, &start, "not")) {
			kind = N_NOT;
		} else if (word_is(p, &start, "reverse")) {
			kind = N_GROUP; /* sets have no order: reverse(x) is x */
		} else {
			char ex[EXCERPT_MAX + 4];

			excerpt(p->s + start.pos, start.end - start.pos, ex);
			return bk_err_set(p->err, BK_ESPEC, "unknown function '%s'", ex);
		}
		advance(p); /* now at '(' */
	} else if (start.kind == T_BAD) {
		return syntax_error(p, "invalid character");
	} else if (start.kind != T_LPAREN) {
		return syntax_error(p, "expected a revision");
	}

	if (++p->depth > BK_REVSPEC_MAX_DEPTH)
		return syntax_error(p, "revision spec nested too deeply");
	advance(p); /* past '(' */
	inner = parse_spec(p);
	if (inner < 0)
		return inner;
	if (p->tok.kind != T_RPAREN)
		return syntax_error(p, p->tok.kind == T_BAD ? "invalid character" : "expected ')'");
	p->depth--;
	id = new_node(p, kind, start.pos);
	if (id < 0)
		return id;
	p->nodes[id].child = inner;
	p->nodes[id].end = p->tok.end;
	advance(p);
	return id;
}

static int parse_range(struct parser *p)
{
	int a, b, id;

	a = parse_primary(p);
	if (a < 0 || p->tok.kind != T_RANGE)
		return a;
	advance(p);
	b = parse_primary(p);
	if (b < 0)
		return b;
	id = new_node(p, N_RANGE, p->nodes[a].pos);
	if (id < 0)
		return id;
	p->nodes[id].child = a;
	p->nodes[id].end = p->nodes[b].end;
	p->nodes[a].next = b;
	return id;
}

/* One level of "x OP y OP z": OP is T_COMMA or T_AMP. */
static int parse_list(struct parser *p, enum tok_kind op, enum node_kind kind,
		      int (*operand)(struct parser *))
{
	int first, last, id;

	first = operand(p);
	if (first < 0 || p->tok.kind != op)
		return first;
	id = new_node(p, kind, p->nodes[first].pos);
	if (id < 0)
		return id;
	p->nodes[id].child = first;
	last = first;
	while (p->tok.kind == op) {
		int next;

		advance(p);
		next = operand(p);
		if (next < 0)
			return next;
		p->nodes[last].next = next;
		last = next;
	}
	p->nodes[id].end = p->nodes[last].end;
	return id;
}

static int parse_inter(struct parser *p)
{
	return parse_list(p, T_AMP, N_INTER, parse_range);
}

static int parse_spec(struct parser *p)
{
	return parse_list(p, T_COMMA, N_UNION, parse_inter);
}

static void set_fill(bool *set, size_t n, bool v)
{
	for (size_t i = 0; i < n; i++)
		set[i] = v;
}

static size_t set_count(const bool *set, size_t n, size_t *one)
{
	size_t c = 0;

	for (size_t i = 0; i < n; i++) {
		if (set[i]) {
			c++;
			*one = i;
		}
	}
	return c;
}

/* A number word: only digits, optionally after one '-' (rejected later). */
static bool is_number(const char *w)
{
	if (*w == '-')
		w++;
	if (!*w)
		return false;
	for (; *w; w++) {
		if (*w < '0' || *w > '9')
			return false;
	}
	return true;
}

/* Mark revisions whose id is W, or whose short id encodes the full uuid W. */
static bool match_id(const struct evaluator *ev, const char *w, bool *out)
{
	char short_id[BK_ID_SHORT_LEN + 1];
	bool have_short = strlen(w) == 36 && bk_id_from_uuid(w, short_id) == 0;
	bool found = false;

	for (size_t i = 0; i < ev->n; i++) {
		if (strcmp(ev->hist[i].id, w) == 0 ||
		    (have_short && strcmp(ev->hist[i].id, short_id) == 0)) {
			out[i] = true;
			found = true;
		}
	}
	return found;
}

static int eval_number(const struct evaluator *ev, const char *w, bool *out)
{
	unsigned long long v;
	char *end = NULL;

	if (*w == '-')
		return bk_err_set(ev->err, BK_ENOREV, "revision number '%s' is negative", w);
	errno = 0;
	v = strtoull(w, &end, 10);
	if (errno == 0 && *end == '\0' && v < ev->n) {
		out[ev->n - 1 - (size_t)v] = true;
		return 0;
	}
	/* Python backy falls back to an id lookup when the number is out of range. */
	if (match_id(ev, w, out))
		return 0;
	return bk_err_set(ev->err, BK_ENOREV, "revision number '%s' out of range (%zu revisions)",
			  w, ev->n);
}

static int eval_word(const struct evaluator *ev, const char *w, bool *out)
{
	int64_t t;

	set_fill(out, ev->n, false);
	if (is_number(w))
		return eval_number(ev, w, out);
	if (strcmp(w, "last") == 0 || strcmp(w, "latest") == 0) {
		if (ev->n == 0)
			return bk_err_set(ev->err, BK_ENOREV, "no revision matches '%s'", w);
		out[ev->n - 1] = true;
		return 0;
	}
	if (strcmp(w, "all") == 0) {
		set_fill(out, ev->n, true);
		return 0;
	}
	if (strcmp(w, "clean") == 0) {
		for (size_t i = 0; i < ev->n; i++)
			out[i] = ev->hist[i].complete;
		return 0;
	}
	if (strncmp(w, "tag:", 4) == 0) {
		if (!bk_tag_valid(w + 4))
			return bk_err_set(ev->err, BK_ESPEC, "invalid tag '%s' in '%s'", w + 4, w);
		for (size_t i = 0; i < ev->n; i++)
			out[i] = bk_strv_has(&ev->hist[i].tags, w + 4);
		return 0;
	}
	if (strncmp(w, "trust:", 6) == 0) {
		char lower[16];
		size_t n = strlen(w + 6);
		enum bk_trust trust;

		/* Python backy lowercases the value; so do we. */
		for (size_t i = 0; i < n && i < sizeof(lower) - 1; i++) {
			char c = w[6 + i];

			lower[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
		}
		lower[n < sizeof(lower) - 1 ? n : sizeof(lower) - 1] = '\0';
		if (n >= sizeof(lower) || bk_trust_parse(lower, &trust) < 0)
			return bk_err_set(ev->err, BK_ESPEC,
					  "invalid trust '%s', expected trusted, distrusted or verified",
					  w + 6);
		for (size_t i = 0; i < ev->n; i++)
			out[i] = ev->hist[i].trust == trust;
		return 0;
	}
	if (match_id(ev, w, out))
		return 0;
	if (bk_time_parse(w, &t) == 0)
		return bk_err_set(ev->err, BK_ESPEC, "date '%s' is only valid as a side of '..'", w);
	return bk_err_set(ev->err, BK_ENOREV, "unknown revision '%s'", w);
}

static char *node_text(const struct evaluator *ev, const struct node *nd)
{
	return bk_strndup(ev->s + nd->pos, nd->end - nd->pos);
}

/* Set the error "<BEFORE>'<source text of ND>'<AFTER>". */
static int node_error(const struct evaluator *ev, int code, const char *before,
		      const struct node *nd, const char *after)
{
	char ex[EXCERPT_MAX + 4];

	excerpt(ev->s + nd->pos, nd->end - nd->pos, ex);
	return bk_err_set(ev->err, code, "%s'%s'%s", before, ex, after);
}

static int eval(const struct evaluator *ev, int id, bool *out);

/*
 * One side of a range as a time: a date/time word, or a sub-spec matching
 * exactly one revision.  A date-only end covers that whole day.
 */
static int range_side(const struct evaluator *ev, int id, bool is_end, bool *tmp, int64_t *t)
{
	const struct node *nd = &ev->nodes[id];
	size_t idx = 0, count;
	int r;

	if (nd->kind == N_WORD) {
		char *w = node_text(ev, nd);
		bool is_date = bk_time_parse(w, t) == 0;

		free(w);
		if (is_date) {
			/* YYYY-MM-DD, no time part (an offset may follow) */
			bool date_only = nd->end - nd->pos == 10 ||
					 (ev->s[nd->pos + 10] != 'T' && ev->s[nd->pos + 10] != ' ');

			if (is_end && date_only)
				*t += DAY_USEC - 1;
			return 0;
		}
	}
	r = eval(ev, id, tmp);
	if (r < 0)
		return r;
	count = set_count(tmp, ev->n, &idx);
	if (count == 0)
		return node_error(ev, BK_ENOREV, "no revision matches ", nd, "");
	if (count > 1) {
		char ex[EXCERPT_MAX + 4];

		excerpt(ev->s + nd->pos, nd->end - nd->pos, ex);
		return bk_err_set(ev->err, BK_ESPEC,
				  "range side '%s' matches %zu revisions, expected one", ex, count);
	}
	*t = ev->hist[idx].timestamp;
	return 0;
}

static int eval_range(const struct evaluator *ev, const struct node *nd, bool *out)
{
	int a = nd->child, b = ev->nodes[a].next;
	int64_t start, end;
	int r;

	/* OUT doubles as scratch space for the sides. */
	r = range_side(ev, a, false, out, &start);
	if (r < 0)
		return r;
	r = range_side(ev, b, true, out, &end);
	if (r < 0)
		return r;
	if (start > end)
		return node_error(ev, BK_ESPEC, "range ", nd, " starts after it ends");
	for (size_t i = 0; i < ev->n; i++)
		out[i] = ev->hist[i].timestamp >= start && ev->hist[i].timestamp <= end;
	return 0;
}

static int eval_list(const struct evaluator *ev, const struct node *nd, bool *out)
{
	bool *tmp = NULL;
	int r;

	r = eval(ev, nd->child, out);
	if (r < 0)
		return r;
	tmp = bk_calloc(ev->n ? ev->n : 1, sizeof(*tmp));
	for (int c = ev->nodes[nd->child].next; c >= 0; c = ev->nodes[c].next) {
		r = eval(ev, c, tmp);
		if (r < 0)
			goto out;
		for (size_t i = 0; i < ev->n; i++)
			out[i] = nd->kind == N_UNION ? out[i] || tmp[i] : out[i] && tmp[i];
	}
out:
	free(tmp);
	return r;
}

static int eval(const struct evaluator *ev, int id, bool *out)
{
	const struct node *nd = &ev->nodes[id];
	size_t idx = 0;
	char *w = NULL;
	int r;

	switch (nd->kind) {
	case N_WORD:
		w = node_text(ev, nd);
		r = eval_word(ev, w, out);
		free(w);
		return r;
	case N_GROUP:
		return eval(ev, nd->child, out);
	case N_UNION:
	case N_INTER:
		return eval_list(ev, nd, out);
	case N_RANGE:
		return eval_range(ev, nd, out);
	case N_NOT:
		r = eval(ev, nd->child, out);
		if (r < 0)
			return r;
		for (size_t i = 0; i < ev->n; i++)
			out[i] = !out[i];
		return 0;
	case N_FIRST:
	case N_LAST:
		r = eval(ev, nd->child, out);
		if (r < 0)
			return r;
		if (nd->kind == N_LAST) {
			if (set_count(out, ev->n, &idx) == 0)
				return node_error(ev, BK_ENOREV, "no revision matches ",
						  &ev->nodes[nd->child], "");
		} else {
			for (idx = 0; idx < ev->n && !out[idx]; idx++)
				;
			if (idx == ev->n)
				return node_error(ev, BK_ENOREV, "no revision matches ",
						  &ev->nodes[nd->child], "");
		}
		set_fill(out, ev->n, false);
		out[idx] = true;
		return 0;
	}
	return bk_err_set(ev->err, BK_ESPEC, "corrupt revision spec tree");
}

int bk_revspec_eval(const char *spec, const struct bk_rev *hist, size_t n, bool *match,
		    struct bk_err *err)
{
	struct parser p;
	struct evaluator ev;
	size_t len = spec ? strnlen(spec, BK_REVSPEC_MAX_LEN + 1) : 0;
	int root, r;

	if (len > BK_REVSPEC_MAX_LEN)
		return bk_err_set(err, BK_ESPEC, "revision spec longer than %d characters",
				  BK_REVSPEC_MAX_LEN);
	memset(&p, 0, sizeof(p));
	p.s = spec ? spec : "";
	p.len = len;
	p.err = err;
	p.tok = lex(p.s, p.len, 0);
	if (p.tok.kind == T_END)
		return bk_err_set(err, BK_ESPEC, "empty revision spec");
	p.cap = (int)len;
	p.nodes = bk_calloc(len, sizeof(*p.nodes));

	root = parse_spec(&p);
	if (root < 0) {
		r = root;
		goto out;
	}
	if (p.tok.kind != T_END) {
		if (p.tok.kind == T_BAD)
			r = syntax_error(&p, "invalid character");
		else if (p.tok.kind == T_RPAREN)
			r = syntax_error(&p, "unbalanced ')'");
		else
			r = syntax_error(&p, "expected ',' or '&'");
		goto out;
	}

	ev.s = p.s;
	ev.hist = hist;
	ev.n = n;
	ev.nodes = p.nodes;
	ev.err = err;
	r = eval(&ev, root, match);
out:
	free(p.nodes);
	return r;
}

int bk_revspec_one(const char *spec, const struct bk_rev *hist, size_t n, size_t *idx,
		   struct bk_err *err)
{
	bool *match = bk_calloc(n ? n : 1, sizeof(*match));
	char ex[EXCERPT_MAX + 4];
	size_t count, one = 0;
	int r;

	r = bk_revspec_eval(spec, hist, n, match, err);
	if (r < 0)
		goto out;
	count = set_count(match, n, &one);
	if (count == 1) {
		*idx = one;
		goto out;
	}
	excerpt(spec, strlen(spec), ex);
	if (count == 0)
		r = bk_err_set(err, BK_ENOREV, "no revision matches '%s'", ex);
	else
		r = bk_err_set(err, BK_ESPEC, "'%s' matches %zu revisions, expected one", ex, count);
out:
	free(match);
	return r;
}
