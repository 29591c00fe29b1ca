/* disk_probe.c: partitions and file systems of a disk image, by libblkid (see disk_probe.h). */
#include "disk_probe.h"

#include <blkid/blkid.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A partition table larger than this is not a disk we mount from. */
#define MAX_PARTS 256

/* TYPE and USAGE of the superblock in [OFFSET, OFFSET + SIZE) of FD into P. */
static int probe_fs(int fd, struct disk_part *p, const char *name, struct bk_err *err)
{
	blkid_probe pr = blkid_new_probe();
	const char *v = NULL;
	int r;

	if (!pr)
		return bk_err_set(err, -ENOMEM, "unable to probe '%s'", name);
	if (blkid_probe_set_device(pr, fd, (blkid_loff_t)p->offset, (blkid_loff_t)p->size) < 0) {
		blkid_free_probe(pr);
		return bk_err_set(err, -EIO, "unable to probe '%s'", name);
	}
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_USAGE);
	blkid_probe_enable_partitions(pr, 0);
	/* 0 found, 1 nothing, -2 ambivalent (two signatures: we mount neither) */
	r = blkid_do_safeprobe(pr);
	if (r == 0 && blkid_probe_lookup_value(pr, "TYPE", &v, NULL) == 0)
		snprintf(p->type, sizeof(p->type), "%s", v);
	if (r == 0 && blkid_probe_lookup_value(pr, "USAGE", &v, NULL) == 0)
		p->is_fs = strcmp(v, "filesystem") == 0;
	if (r == -2)
		snprintf(p->type, sizeof(p->type), "ambivalent");
	blkid_free_probe(pr);
	if (r == -1)
		return bk_err_set(err, -EIO, "unable to probe '%s'", name);
	return 0;
}

/* The partition table of FD, if any, into LAYOUT (offsets and sizes only). */
static int probe_table(int fd, uint64_t size, const char *name, struct disk_layout *layout,
		       struct bk_err *err)
{
	blkid_probe pr = blkid_new_probe();
	blkid_partlist list;
	blkid_parttable tab;
	int n, r = 0;

	if (!pr)
		return bk_err_set(err, -ENOMEM, "unable to probe '%s'", name);
	if (blkid_probe_set_device(pr, fd, 0, (blkid_loff_t)size) < 0) {
		r = bk_err_set(err, -EIO, "unable to probe '%s'", name);
		goto out;
	}
	blkid_probe_set_sectorsize(pr, 512);
	list = blkid_probe_get_partitions(pr);
	tab = list ? blkid_partlist_get_table(list) : NULL;
	n = list ? blkid_partlist_numof_partitions(list) : 0;
	if (!tab || n <= 0)
		goto out; /* no table (or an empty one): the whole disk is looked at */
	if (n > MAX_PARTS) {
		r = bk_err_set(err, BK_EUSAGE, "'%s' has %d partitions: more than %d", name, n,
			       MAX_PARTS);
		goto out;
	}
	snprintf(layout->pttype, sizeof(layout->pttype), "%s", blkid_parttable_get_type(tab));
	layout->parts = bk_calloc((size_t)n, sizeof(*layout->parts));
	for (int i = 0; i < n; i++) {
		blkid_partition par = blkid_partlist_get_partition(list, i);
		struct disk_part *p = &layout->parts[layout->n];

		if (!par || blkid_partition_get_start(par) < 0 ||
		    blkid_partition_get_size(par) <= 0)
			continue;
		p->partno = blkid_partition_get_partno(par);
		p->offset = (uint64_t)blkid_partition_get_start(par) * 512;
		p->size = (uint64_t)blkid_partition_get_size(par) * 512;
		if (p->offset >= size || p->size > size - p->offset)
			continue; /* beyond the image: not a partition of it */
		layout->n++;
	}
out:
	blkid_free_probe(pr);
	return r;
}

int disk_probe(int fd, uint64_t size, const char *name, struct disk_layout *layout,
	       struct bk_err *err)
{
	int r;

	memset(layout, 0, sizeof(*layout));
	r = probe_table(fd, size, name, layout, err);
	if (r == 0 && !layout->n) {
		layout->pttype[0] = '\0';
		free(layout->parts);
		layout->parts = bk_calloc(1, sizeof(*layout->parts));
		layout->parts[0].size = size;
		layout->n = 1;
	}
	for (size_t i = 0; r == 0 && i < layout->n; i++)
		r = probe_fs(fd, &layout->parts[i], name, err);
	if (r < 0)
		disk_layout_release(layout);
	return r;
}

void disk_layout_release(struct disk_layout *layout)
{
	free(layout->parts);
	memset(layout, 0, sizeof(*layout));
}

void disk_describe(const struct disk_layout *layout, struct bk_buf *out)
{
	for (size_t i = 0; i < layout->n; i++) {
		const struct disk_part *p = &layout->parts[i];

		if (p->partno)
			bk_buf_addf(out, "%spartition %d: ", i ? ", " : "", p->partno);
		else
			bk_buf_adds(out, "whole disk: ");
		bk_buf_adds(out, p->type[0] ? p->type : "nothing found");
	}
}

int disk_choose(const struct disk_layout *layout, int partno, const char *name,
		const struct disk_part **out, struct bk_err *err)
{
	const struct disk_part *found = NULL;
	size_t nfs = 0;
	struct bk_buf list;
	int r = 0;

	*out = NULL;
	for (size_t i = 0; i < layout->n; i++) {
		const struct disk_part *p = &layout->parts[i];

		if (partno ? p->partno == partno : p->is_fs) {
			found = p;
			nfs++;
		}
	}
	bk_buf_init(&list);
	disk_describe(layout, &list);
	if (partno && !layout->pttype[0])
		r = bk_err_set(err, BK_EUSAGE,
			       "%s has no partition table (%s): mount it without --partition", name,
			       list.p);
	else if (partno && !found)
		r = bk_err_set(err, BK_EUSAGE, "%s has no partition %d (%s partition table: %s)",
			       name, partno, layout->pttype, list.p);
	else if (!partno && nfs == 0 && !layout->pttype[0])
		r = bk_err_set(err, BK_EUSAGE, "%s has no partition table and no file system (%s)",
			       name, list.p);
	else if (!partno && nfs == 0)
		r = bk_err_set(err, BK_EUSAGE, "%s has no partition holding a file system (%s)",
			       name, list.p);
	else if (!partno && nfs > 1)
		r = bk_err_set(err, BK_EUSAGE,
			       "%s has %zu file systems (%s): choose one with --partition N", name,
			       nfs, list.p);
	bk_buf_release(&list);
	if (r == 0)
		*out = found;
	return r;
}
