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
 * speaks DTLS-PSK carrying CoAP, and every datagram of it is at most libcoap's
 * COAP_DEFAULT_MTU, 1152 bytes, which libcoap passes to mbedtls_ssl_set_mtu
 * (neither fm_coap, the controller nor the agent sets another MTU):
 *  - out: libcoap builds no PDU larger than the MTU less DTLS's overhead;
 *    the controller's are heartbeat and report answers, GET /me's and triage
 *    requests (a few hundred bytes at most); the handshake messages of
 *    DTLS-PSK (HelloVerifyRequest, ServerHello, ServerKeyExchange with the
 *    hint and an ECDHE share) are well under 200 bytes each;
 *  - in: the agent's records obey its own libcoap's 1152-byte MTU: the
 *    largest is a report of DESIGN.md's whole budget (1024 bytes of
 *    payload, one datagram) or a block of a triage answer (libcoap's
 *    block-wise mode picks 1024-byte blocks to fit the MTU); its
 *    ClientHello offers PSK suites only.
 * A record's plaintext is smaller than its datagram, so 1152 bytes each way
 * holds anything either end's libcoap sends; a peer sending a longer record
 * gets a record_overflow alert and no session. Each buffer is the content
 * length plus Mbed TLS's worst-case record overhead (header, IV, MAC, CBC
 * padding, Connection ID: ~380 bytes on the host, less on the boards
 * without CBC): ~3 kB a session instead of ~33 kB.
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
#define MBEDTLS_SSL_IN_CONTENT_LEN  1152
#define MBEDTLS_SSL_OUT_CONTENT_LEN 1152
