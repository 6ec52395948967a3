/*
 * marker.c - plant marker pages at known physical frames for swsusp-inspect samples.
 *
 * Build (host): gcc -static -O2 -o marker marker.c
 * Usage (guest, as root): marker OUTFILE [NPAGES]
 *
 * Maps NPAGES anonymous pages, fills page i with the 16-byte ASCII string
 * "SWSUSPMARK%04d__" (formatted with i) repeated to fill the page (the kernel's page
 * size: 256 times in a 4096-byte page, 1024 in a 16 KiB one), mlock()s
 * them, reads each page's PFN from /proc/self/pagemap (bits 0-54, bit 63 = present)
 * and writes one line "MARK <index> <pfn> <present>" per page to OUTFILE (written to
 * OUTFILE.tmp, then renamed, so the file appears complete).  It then stays alive so the
 * pages are resident when the kernel takes its snapshot.  On SIGUSR1 (sent after a
 * resume) it re-checks the content and PFNs and prints one summary line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAXPAGE 65536
#define MAXPAGES 256

static long PAGE;  /* the kernel's page size, sysconf(_SC_PAGESIZE) */

static volatile sig_atomic_t check_requested;
static void on_usr1(int sig) { (void)sig; check_requested = 1; }

static void fill_page(unsigned char *p, int i)
{
	char pat[17];
	snprintf(pat, sizeof(pat), "SWSUSPMARK%04d__", i);
	for (int off = 0; off < PAGE; off += 16)
		memcpy(p + off, pat, 16);
}

static int read_pfn(int fd, void *addr, uint64_t *pfn, int *present)
{
	uint64_t e;
	off_t off = (off_t)((uintptr_t)addr / PAGE) * 8;
	if (pread(fd, &e, 8, off) != 8)
		return -1;
	*present = (int)(e >> 63);
	*pfn = e & ((1ULL << 55) - 1);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s OUTFILE [NPAGES]\n", argv[0]);
		return 2;
	}
	int n = argc > 2 ? atoi(argv[2]) : 16;
	PAGE = sysconf(_SC_PAGESIZE);
	if (n < 1 || n > MAXPAGES || PAGE < 4096 || PAGE > MAXPAGE || PAGE % 16) {
		fprintf(stderr, "marker: bad page count or page size\n");
		return 2;
	}
	unsigned char *buf = mmap(NULL, (size_t)n * PAGE, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED) { perror("mmap"); return 1; }
	madvise(buf, (size_t)n * PAGE, MADV_NOHUGEPAGE);
	for (int i = 0; i < n; i++)
		fill_page(buf + (size_t)i * PAGE, i);
	if (mlock(buf, (size_t)n * PAGE) != 0) { perror("mlock"); return 1; }

	int fd = open("/proc/self/pagemap", O_RDONLY);
	if (fd < 0) { perror("pagemap"); return 1; }
	uint64_t pfns[MAXPAGES];
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", argv[1]);
	FILE *f = fopen(tmp, "w");
	if (!f) { perror("fopen"); return 1; }
	for (int i = 0; i < n; i++) {
		int present;
		if (read_pfn(fd, buf + (size_t)i * PAGE, &pfns[i], &present) != 0) {
			perror("pread pagemap");
			return 1;
		}
		fprintf(f, "MARK %d %llu %d\n", i, (unsigned long long)pfns[i], present);
	}
	fclose(f);
	if (rename(tmp, argv[1]) != 0) { perror("rename"); return 1; }
	printf("SWSUSP-SAMPLE: marker: %d pages planted, first pfn %llu\n", n,
	       (unsigned long long)pfns[0]);
	fflush(stdout);

	signal(SIGUSR1, on_usr1);
	for (;;) {
		pause();
		if (!check_requested)
			continue;
		check_requested = 0;
		int intact = 0, same = 0;
		static unsigned char ref[MAXPAGE];
		for (int i = 0; i < n; i++) {
			uint64_t pfn;
			int present;
			fill_page(ref, i);
			if (memcmp(ref, buf + (size_t)i * PAGE, (size_t)PAGE) == 0)
				intact++;
			if (read_pfn(fd, buf + (size_t)i * PAGE, &pfn, &present) == 0 &&
			    present && pfn == pfns[i])
				same++;
		}
		printf("SWSUSP-SAMPLE: marker: %d/%d pages intact, %d/%d at the same pfn\n",
		       intact, n, same, n);
		fflush(stdout);
	}
}
