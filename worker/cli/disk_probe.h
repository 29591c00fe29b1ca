/*
 * disk_probe.h: what a disk image holds: a partition table and what each
 * partition holds, or one file system on the whole disk (libblkid, on an
 * open file, in user space: nothing is attached or mounted to find out).
 * Used by `backy mount` to choose the file system to mount.
 */
#ifndef BK_DISK_PROBE_H
#define BK_DISK_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"

/* One partition, or the whole disk (partno 0). */
struct disk_part {
	int partno;      /* number in the partition table (1...), 0: the whole disk */
	uint64_t offset; /* bytes from the start of the disk */
	uint64_t size;   /* bytes */
	char type[32];   /* what libblkid found ("ext4", "xfs", "swap"), "" nothing */
	bool is_fs;      /* it is a file system (libblkid's USAGE=filesystem) */
};

struct disk_layout {
	char pttype[16];         /* "dos", "gpt", ..., "" without a partition table */
	struct disk_part *parts; /* owned: the partitions in table order, or one entry
				    for the whole disk when there is no partition table */
	size_t n;
};

/*
 * Probe the SIZE bytes of the disk image FD (read only, no file position
 * used) into LAYOUT, which the caller releases.  NAME is for messages.
 */
int disk_probe(int fd, uint64_t size, const char *name, struct disk_layout *layout,
	       struct bk_err *err);

void disk_layout_release(struct disk_layout *layout);

/*
 * The file system to mount: partition PARTNO (> 0), or with PARTNO 0 the
 * whole-disk file system or the one partition holding a file system.
 * BK_EUSAGE, with a message naming NAME and listing the partitions with
 * their types (disk_describe), when that is not exactly one: no partition
 * table but PARTNO given, PARTNO not in the table, or no or several file
 * systems without PARTNO.  A chosen partition without a file system is
 * returned too (*OUT->is_fs false): mount options may still make sense of it.
 */
int disk_choose(const struct disk_layout *layout, int partno, const char *name,
		const struct disk_part **out, struct bk_err *err);

/* "partition 1: ext4, partition 2: swap, partition 3: nothing found" into OUT. */
void disk_describe(const struct disk_layout *layout, struct bk_buf *out);

#endif
