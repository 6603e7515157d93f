/* fm_grpc: a gRPC client on the agent's loop, for the CRI (issue 22): one
 * HTTP/2 connection (h2c, prior knowledge) to a unix socket, as kubelet and
 * crictl talk to containerd, CRI-O and k3s. nghttp2 does HTTP/2 (the only
 * file that includes it); this file does gRPC's framing (a 5-byte prefix
 * per message: a compressed flag and a big-endian length), its headers and
 * trailers, and drives the session from the loop's events. Never blocks
 * and never runs the loop.
 *
 * A call is unary or server-streaming alike: every response message goes
 * to on_msg as it arrives (capped at max_msg bytes), then on_done once with
 * the outcome. Several calls share the connection (HTTP/2 streams). A lost
 * connection fails every call on it; the next call connects again.
 *
 * Messages are bytes here: protobuf is the caller's (protobuf-c). */
#ifndef FM_GRPC_H
#define FM_GRPC_H

#include "fm_buf.h"
#include "fm_loop.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum fm_grpc_fail {
	FM_GRPC_OK = 0,
	FM_GRPC_REFUSED,   /* no socket file, or nothing listens on it */
	FM_GRPC_TIMEOUT,   /* the call's deadline passed */
	FM_GRPC_STATUS,    /* the server answered with a gRPC status other than OK */
	FM_GRPC_PROTOCOL,  /* not gRPC over HTTP/2 (bad frame, status, framing, compression) */
	FM_GRPC_TOO_LARGE, /* a message over max_msg */
	FM_GRPC_CONNECT,   /* another connect or socket error */
	FM_GRPC_CLOSED,    /* the connection or the stream ended before the answer */
	FM_GRPC_CANCELED,  /* fm_grpc_cancel, or fm_grpc_delete with the call running */
};

/* "ok", "refused", "timeout", "grpc-status", "protocol", "too-large",
 * "connect", "closed", "canceled". */
const char *fm_grpc_fail_name(enum fm_grpc_fail f);

struct fm_grpc;
struct fm_grpc_call;

/* One response message (borrowed for the call's length). Returning false
 * ends the call (FM_GRPC_CANCELED). */
typedef bool (*fm_grpc_msg_fn)(struct fm_grpc_call *call, const uint8_t *msg, size_t len, void *ctx);

/* What a call ended with. */
struct fm_grpc_result {
	enum fm_grpc_fail fail;
	int grpc_status;  /* the server's status code (0 OK, 5 NOT_FOUND, 12 UNIMPLEMENTED ...), -1 if none */
	char reason[384]; /* for the person reading the report; grpc-message quoted */
	uint64_t messages; /* how many went to on_msg */
	uint64_t elapsed_ms;
};

/* Called once per call, from the loop (or before fm_grpc_call returns when
 * the call fails at once); the call is freed after it returns. */
typedef void (*fm_grpc_done_fn)(const struct fm_grpc_result *res, void *ctx);

struct fm_grpc_req {
	const char *path;    /* "/runtime.v1.RuntimeService/Version" */
	const uint8_t *msg;  /* the request message (copied) */
	size_t len;
	size_t max_msg;      /* cap on one response message; 0: 4 MiB (gRPC's default) */
	int timeout_ms;      /* the whole call; 0: none (a stream that lives on) */
	fm_grpc_msg_fn on_msg;
	fm_grpc_done_fn on_done;
	void *ctx;
};

/* A client for endpoint "unix:///PATH" (a bare /PATH is taken too). NULL
 * with the reason in err (a malformed endpoint, out of memory). Connects
 * nothing until the first call. Borrows loop. */
struct fm_grpc *fm_grpc_new(struct fm_loop *loop, const char *endpoint, char *err, size_t errlen);
/* Cancels every running call (their on_done runs, FM_GRPC_CANCELED), closes
 * the connection, frees *g and NULLs it. Accepts NULL; not from inside one
 * of g's callbacks. */
void fm_grpc_delete(struct fm_grpc **g);

/* Starts a call: 0 and *out (when out is not NULL: the call, valid until
 * its on_done returns) or -errno when it cannot start (-ENOMEM, -EINVAL);
 * every later failure arrives through on_done. */
int fm_grpc_call(struct fm_grpc *g, const struct fm_grpc_req *req, struct fm_grpc_call **out);
/* Ends a running call: its on_done runs with FM_GRPC_CANCELED. */
void fm_grpc_cancel(struct fm_grpc_call *call);

/* The socket path the client connects to. */
const char *fm_grpc_path(const struct fm_grpc *g);

/* gRPC's message framing, pure, for the client and the fuzz target
 * (tests/fuzz/fuzz_grpc.c): bytes of a stream in any pieces, messages out. */
struct fm_grpc_deframer {
	struct fm_buf buf; /* a message not yet whole */
	size_t max_msg;
};
void fm_grpc_deframer_init(struct fm_grpc_deframer *d, size_t max_msg);
void fm_grpc_deframer_free(struct fm_grpc_deframer *d);
/* Feeds n bytes; each whole message goes to fn (which may return false to
 * stop: then -ECANCELED). 0, -EMSGSIZE (a message over max_msg),
 * -EPROTONOSUPPORT (a compressed message: none was asked for), -ENOMEM or
 * -ECANCELED; the reason in err. */
int fm_grpc_deframe(struct fm_grpc_deframer *d, const uint8_t *p, size_t n,
		    bool (*fn)(void *arg, const uint8_t *msg, size_t len), void *arg, char *err, size_t errlen);
/* Whether bytes of an unfinished message are left (a stream that ended
 * there was cut). */
bool fm_grpc_deframer_partial(const struct fm_grpc_deframer *d);

#endif
