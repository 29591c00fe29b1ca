/*
 * id.h: revision ids.
 *
 * New revisions get short uuids: a random uuid4 written in base 57 as 22
 * characters, most significant digit first (the encoding of Python backy
 * 2.0b2 and the shortuuid package).  Older repositories use full uuids as
 * revision ids; both are valid names, and a full uuid given on the command
 * line also matches the revision whose short id encodes it.
 */
#ifndef BK_ID_H
#define BK_ID_H

#include <stdbool.h>

#define BK_ID_SHORT_LEN 22
#define BK_ID_MAX 64 /* longest accepted revision id, excluding the NUL */

/* A fresh short id in OUT (23 bytes). */
void bk_id_new(char out[BK_ID_SHORT_LEN + 1]);

/* Short id of a 36-character uuid string; returns 0 or BK_EUSAGE. */
int bk_id_from_uuid(const char *uuid, char out[BK_ID_SHORT_LEN + 1]);

/*
 * Whether S may name a revision (and so a file in the repository): 1 to
 * BK_ID_MAX characters from [A-Za-z0-9_-], not starting with '-'.
 */
bool bk_id_valid(const char *s);

/* Whether S has the exact shape of a generated id: 22 base-57 digits or a 36-character uuid. */
bool bk_id_generated(const char *s);

#endif
