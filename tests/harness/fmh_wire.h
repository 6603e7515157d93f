/* fmh_wire: what goes over the wire between an agent and its controller on
 * loopback, captured by a real tcpdump (pcap file) and read back datagram by
 * datagram: time, direction, IP length and the DTLS record's content type.
 * The bytes are encrypted; their sizes, order and timing are what the
 * link's budget (PROTOCOL.md) is about.
 */
#ifndef FMH_WIRE_H
#define FMH_WIRE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* DTLS 1.2 record content types (RFC 6347, RFC 9146: tls12_cid). */
#define FMH_DTLS_CCS	   20
#define FMH_DTLS_ALERT	   21
#define FMH_DTLS_HANDSHAKE 22
#define FMH_DTLS_APP	   23
#define FMH_DTLS_CID	   25

struct fmh_capture {
	pid_t pid;
	int port; /* the controller's UDP port: "up" is towards it */
	char pcap[PATH_MAX];
	char log[PATH_MAX];
};

/* One IPv4 UDP datagram of the capture. */
struct fmh_dgram {
	double t;	 /* seconds since the epoch (the capture's clock) */
	bool up;	 /* agent -> controller */
	unsigned ip_len; /* the IP datagram: IP + UDP headers + payload */
	uint8_t ctype;	 /* the first record's content type (first payload byte) */
};

/* Starts tcpdump on lo for UDP port port into a pcap file in a temporary
 * directory (each packet handed over and written as it comes:
 * --immediate-mode, -U); waits until it listens.
 * 0 or -errno (-ENOENT: no tcpdump; its log is printed on failure). */
int fmh_capture_start(struct fmh_capture *c, int port);
/* Stops tcpdump (SIGTERM: it flushes and closes the file). 0 or -ESRCH. */
int fmh_capture_stop(struct fmh_capture *c);

/* Reads up to max datagrams of the pcap file at path to or from port
 * (Ethernet or Linux cooked link types). Returns how many (a packet cut
 * short at the file's end, as tcpdump is still writing, is not counted), or
 * -errno (-EPROTO: not a pcap file this reads). Borrows everything. */
int fmh_capture_read(const char *path, int port, struct fmh_dgram *d, size_t max);

/* Waits (at most timeout_ms) until the capture holds at least n datagrams
 * for which want(d, arg) is true. 0 or -ETIMEDOUT. */
int fmh_capture_wait(const struct fmh_capture *c, size_t n, bool (*want)(const struct fmh_dgram *d, void *arg),
		     void *arg, int timeout_ms);

#endif
