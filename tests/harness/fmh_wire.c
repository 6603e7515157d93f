/* fmh_wire: tcpdump on loopback, and its pcap file read back (fmh_wire.h). */
#include "fmh_wire.h"

#include "fm_harness.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PCAP_MAGIC_US 0xa1b2c3d4u
#define PCAP_MAGIC_NS 0xa1b23c4du
#define LINK_EN10MB   1
#define LINK_SLL      113
#define SNAP	      65535

int fmh_capture_start(struct fmh_capture *c, int port)
{
	char dir[PATH_MAX], filter[32];
	int rc;
	memset(c, 0, sizeof(*c));
	c->port = port;
	if ((rc = fmh_tmpdir(dir, sizeof(dir))) < 0)
		return rc;
	snprintf(c->pcap, sizeof(c->pcap), "%s/wire.pcap", dir);
	snprintf(c->log, sizeof(c->log), "%s/tcpdump.log", dir);
	snprintf(filter, sizeof(filter), "udp port %d", port);
	const char *argv[] = {"tcpdump", "-i", "lo", "-n", "-U", "--immediate-mode", "-s", "65535", "-w", c->pcap, filter, NULL};
	c->pid = fmh_spawn(argv, c->log);
	if (c->pid < 0)
		return c->pid;
	/* tcpdump says so on stderr once the capture is open */
	if (fmh_wait_log_pid(c->log, "listening on", c->pid, 10000) < 0) {
		char cmd[PATH_MAX + 32];
		snprintf(cmd, sizeof(cmd), "cat '%s' >&2", c->log);
		if (system(cmd) != 0)
			fprintf(stderr, "fmh_wire: tcpdump did not start (no log)\n");
		fmh_stop(c->pid);
		return -ESRCH;
	}
	return 0;
}

int fmh_capture_stop(struct fmh_capture *c)
{
	int rc = fmh_stop(c->pid);
	c->pid = 0;
	return rc;
}

static uint32_t get32(const uint8_t *p, bool swap)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return swap ? __builtin_bswap32(v) : v;
}

static unsigned be16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

int fmh_capture_read(const char *path, int port, struct fmh_dgram *d, size_t max)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -errno;
	uint8_t gh[24], rh[16];
	static uint8_t pkt[SNAP];
	int n = 0;
	if (fread(gh, 1, sizeof(gh), f) != sizeof(gh)) {
		fclose(f);
		return 0; /* not written yet */
	}
	uint32_t magic;
	memcpy(&magic, gh, 4);
	bool swap = magic == __builtin_bswap32(PCAP_MAGIC_US) || magic == __builtin_bswap32(PCAP_MAGIC_NS);
	bool ns = get32(gh, swap) == PCAP_MAGIC_NS;
	uint32_t link = get32(gh + 20, swap);
	size_t l2 = link == LINK_EN10MB ? 14 : link == LINK_SLL ? 16 : 0;
	if ((get32(gh, swap) != PCAP_MAGIC_US && !ns) || !l2) {
		fclose(f);
		return -EPROTO;
	}
	while ((size_t)n < max && fread(rh, 1, sizeof(rh), f) == sizeof(rh)) {
		uint32_t incl = get32(rh + 8, swap);
		if (incl > sizeof(pkt) || fread(pkt, 1, incl, f) != incl)
			break; /* cut short: still being written */
		const uint8_t *ip = pkt + l2;
		size_t left = incl > l2 ? incl - l2 : 0;
		if (left < 20 || (ip[0] >> 4) != 4 || ip[9] != 17)
			continue; /* IPv4 UDP only (the tests use 127.0.0.1) */
		size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
		if (ihl < 20 || left < ihl + 9)
			continue;
		const uint8_t *udp = ip + ihl;
		unsigned sport = be16(udp), dport = be16(udp + 2);
		if ((int)sport != port && (int)dport != port)
			continue;
		d[n].t = get32(rh, swap) + get32(rh + 4, swap) / (ns ? 1e9 : 1e6);
		d[n].up = (int)dport == port;
		d[n].ip_len = be16(ip + 2);
		d[n].ctype = udp[8];
		n++;
	}
	fclose(f);
	return n;
}

int fmh_capture_wait(const struct fmh_capture *c, size_t n, bool (*want)(const struct fmh_dgram *d, void *arg),
		     void *arg, int timeout_ms)
{
	size_t max = n * 4 + 256;
	struct fmh_dgram *d = calloc(max, sizeof(*d));
	struct timespec t0, now, tick = {0, 50 * 1000 * 1000};
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = -ETIMEDOUT;
	if (!d)
		return -ENOMEM;
	for (;;) {
		int got = fmh_capture_read(c->pcap, c->port, d, max);
		size_t count = 0;
		for (int i = 0; i < got; i++)
			count += want(&d[i], arg);
		if (count >= n) {
			rc = 0;
			break;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000 > timeout_ms)
			break;
		/* tcpdump writes the file; there is no event to wait on but the
		 * file growing: look again shortly (fmh_wait_log's backstop) */
		nanosleep(&tick, NULL);
	}
	free(d);
	return rc;
}
