/*
 * replay_main.c: run a fuzz target's LLVMFuzzerTestOneInput over files, for
 * builds without libFuzzer.  Arguments are files or directories (whose
 * regular files are replayed in name order).  Exit 0 when every input ran;
 * a violated property aborts inside the target.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
	struct bk_buf data;
	char chunk[65536];
	ssize_t n;
	int fd = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		perror(path);
		return -1;
	}
	bk_buf_init(&data);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		bk_buf_add(&data, chunk, (size_t)n);
	close(fd);
	if (n < 0) {
		perror(path);
		bk_buf_release(&data);
		return -1;
	}
	LLVMFuzzerTestOneInput((const uint8_t *)data.p, data.len);
	bk_buf_release(&data);
	return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int replay(const char *path, int *count)
{
	struct dirent **ents = NULL;
	struct stat st;
	int n, r = 0;

	if (stat(path, &st) < 0) {
		perror(path);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		(*count)++;
		return replay_file(path);
	}
	n = scandir(path, &ents, NULL, by_name);
	if (n < 0) {
		perror(path);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		struct bk_buf child;

		if (ents[i]->d_name[0] != '.') {
			bk_buf_init(&child);
			bk_buf_addf(&child, "%s/%s", path, ents[i]->d_name);
			if (replay(child.p, count) < 0)
				r = -1;
			bk_buf_release(&child);
		}
		free(ents[i]);
	}
	free(ents);
	return r;
}

int main(int argc, char **argv)
{
	int count = 0, r = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 1;
	}
	for (int i = 1; i < argc; i++)
		if (replay(argv[i], &count) < 0)
			r = 1;
	printf("%d inputs replayed\n", count);
	if (count == 0)
		r = 1;
	return r;
}
