/* Appended by toolchains/deps.sh (after mbedtls-target.h on the boards) to a
 * second copy of Mbed TLS's configuration, from which only the SSL library
 * is built again: $prefix/lib/dtls-server/libmbedtls.a. The controller
 * (fleetmedic-controller, FM_DTLS_SERVER in CMake) links it in place of
 * $prefix/lib/libmbedtls.a; everything else, the agent above all (TLS 1.2/1.3
 * to etcd and kube-apiserver, whose records are up to 16 kB), keeps the full
 * buffers.
 *
 * Why: every DTLS session holds an input and an output record buffer of
 * MBEDTLS_SSL_{IN,OUT}_CONTENT_LEN plus the record overhead, 16384 each by
 * default: ~33 kB of the ~40 kB each connected node cost the controller
 * (issue 27, bench/RESULTS.md "Controller ingest"). The controller only
 * speaks DTLS-PSK carrying CoAP, whose records are far smaller:
 *  - out: libcoap never builds a PDU larger than the session's MTU
 *    (COAP_DEFAULT_MTU 1152; neither fm_coap nor the controller sets
 *    another) less DTLS's overhead, and passes that MTU to
 *    mbedtls_ssl_set_mtu; long answers go block-wise (libcoap's
 *    COAP_BLOCK_USE_LIBCOAP, blocks of at most 1024 bytes); the handshake
 *    messages of DTLS-PSK (ServerHello, ServerKeyExchange with the PSK hint
 *    and an ECDHE share, HelloVerifyRequest) are a few hundred bytes;
 *  - in: the agent's records obey the same MTU (its libcoap is the same and
 *    sets the same 1152), and libcoap reads a datagram into a buffer of
 *    COAP_RXBUFFER_SIZE (1472) bytes anyway, so no record it hands Mbed TLS
 *    carries more than 1472 - 13 (header) bytes.
 * 1472 bytes each way thus holds anything libcoap can send or receive; a
 * peer sending a longer record gets a record_overflow alert (as it would for
 * a datagram libcoap truncated).
 *
 * Why this and not the alternatives:
 *  - MBEDTLS_SSL_VARIABLE_BUFFER_LENGTH shrinks the buffers after the
 *    handshake only to a negotiated maximum fragment length, which libcoap
 *    never asks for (and the agent's library would need it too); every
 *    handshake would still take 2 x 16.5 kB.
 *  - max_fragment_length / record_size_limit are negotiated by the client
 *    and the buffers are allocated before; record_size_limit is TLS 1.3 only
 *    in Mbed TLS 3.6.
 * What it does not change: the two macros appear in no installed header but
 * as the defaults ssl.h gives them (deps.sh checks this), so no structure
 * layout differs and the libcoap, fm_coap and fm_tls objects compiled
 * against the installed headers link against either libmbedtls.a. */
#define MBEDTLS_SSL_IN_CONTENT_LEN  1472
#define MBEDTLS_SSL_OUT_CONTENT_LEN 1472
