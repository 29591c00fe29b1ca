/* id.c: short uuids in base 57 (see id.h). */
#include "id.h"

#include "error.h"

#include <string.h>
#include <uuid/uuid.h>

static const char alphabet[] = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/* Write the 128-bit big-endian number in BYTES as 22 base-57 digits. */
static void encode(const unsigned char bytes[16], char out[BK_ID_SHORT_LEN + 1])
{
	unsigned char n[16];

	memcpy(n, bytes, 16);
	for (int pos = BK_ID_SHORT_LEN - 1; pos >= 0; pos--) {
		unsigned rem = 0;

		/* long division of n by 57, most significant byte first */
		for (int i = 0; i < 16; i++) {
			unsigned cur = (rem << 8) | n[i];

			n[i] = (unsigned char)(cur / 57);
			rem = cur % 57;
		}
		out[pos] = alphabet[rem];
	}
	out[BK_ID_SHORT_LEN] = '\0';
}

void bk_id_new(char out[BK_ID_SHORT_LEN + 1])
{
	uuid_t u;

	uuid_generate_random(u);
	encode(u, out);
}

int bk_id_from_uuid(const char *uuid, char out[BK_ID_SHORT_LEN + 1])
{
	uuid_t u;

	if (strlen(uuid) != 36 || uuid_parse(uuid, u) != 0)
		return BK_EUSAGE;
	encode(u, out);
	return 0;
}

bool bk_id_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > BK_ID_MAX || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return false;
	}
	return true;
}

bool bk_id_generated(const char *s)
{
	char tmp[BK_ID_SHORT_LEN + 1];
	size_t n = strlen(s);

	if (n == 36)
		return bk_id_from_uuid(s, tmp) == 0;
	return n == BK_ID_SHORT_LEN && strspn(s, alphabet) == n;
}
