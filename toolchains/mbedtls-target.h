/* Appended by toolchains/deps.sh to Mbed TLS's default mbedtls_config.h for
 * the board builds (aarch64-linux-gnu, arm-linux-gnueabihf), so the installed
 * header is the configuration the libraries were built with. The native
 * build keeps the default configuration (the tests rely on it).
 *
 * What stays is what the agent and the controller speak:
 *  - TLS 1.2 and 1.3 clients to etcd and kube-apiserver (Go's crypto/tls):
 *    ECDHE-ECDSA and ECDHE-RSA with AES-GCM or ChaCha20-Poly1305 in 1.2, the
 *    ephemeral key exchange in 1.3; certificates signed with RSA (kubeadm's
 *    default, 2048 bits; PSS for 1.3) or ECDSA P-256/P-384; key shares
 *    X25519, P-256, P-384;
 *  - DTLS 1.2 with PSK (client in the agent, server in the controller):
 *    ECDHE-PSK (forward secrecy), and TLS_PSK_WITH_AES_128_CCM_8 (CoAP's
 *    mandatory suite) for peers without it; Connection ID,
 *    cookies and anti-replay (libcoap);
 *  - X.509 certificate and PEM/DER key parsing (kubeadm's and k3s's PKI).
 * Everything below is what Mbed TLS enables by default beyond that.
 */

/* Cipher modes and paddings: only GCM, CCM and ChaCha20-Poly1305 are used. */
#undef MBEDTLS_CIPHER_MODE_CBC
#undef MBEDTLS_CIPHER_MODE_CFB
#undef MBEDTLS_CIPHER_MODE_CTR
#undef MBEDTLS_CIPHER_MODE_OFB
#undef MBEDTLS_CIPHER_MODE_XTS
#undef MBEDTLS_CIPHER_PADDING_PKCS7
#undef MBEDTLS_CIPHER_PADDING_ONE_AND_ZEROS
#undef MBEDTLS_CIPHER_PADDING_ZEROS_AND_LEN
#undef MBEDTLS_CIPHER_PADDING_ZEROS
#undef MBEDTLS_CAMELLIA_C
#undef MBEDTLS_ARIA_C
#undef MBEDTLS_DES_C
#undef MBEDTLS_CMAC_C
#undef MBEDTLS_NIST_KW_C

/* Curves: P-256, P-384 and X25519 stay. */
#undef MBEDTLS_ECP_DP_SECP192R1_ENABLED
#undef MBEDTLS_ECP_DP_SECP224R1_ENABLED
#undef MBEDTLS_ECP_DP_SECP521R1_ENABLED
#undef MBEDTLS_ECP_DP_SECP192K1_ENABLED
#undef MBEDTLS_ECP_DP_SECP224K1_ENABLED
#undef MBEDTLS_ECP_DP_SECP256K1_ENABLED
#undef MBEDTLS_ECP_DP_BP256R1_ENABLED
#undef MBEDTLS_ECP_DP_BP384R1_ENABLED
#undef MBEDTLS_ECP_DP_BP512R1_ENABLED
#undef MBEDTLS_ECP_DP_CURVE448_ENABLED
#undef MBEDTLS_PK_PARSE_EC_COMPRESSED
#undef MBEDTLS_ECJPAKE_C

/* Key exchanges: PSK and ECDHE-PSK (DTLS), ECDHE-RSA and ECDHE-ECDSA (TLS
 * 1.2). ECDHE-PSK gives the DTLS session forward secrecy: a node's PSK
 * stolen later (it sits on the board's SD card) decrypts no recorded
 * session. With CBC out, its one suite here is
 * TLS-ECDHE-PSK-WITH-CHACHA20-POLY1305-SHA256 (the Pi 4's Cortex-A72 has no
 * AES instructions, so ChaCha20 is also the faster cipher there); the
 * controller prefers it, a plain-PSK peer still gets PSK-WITH-AES-128-CCM-8.
 * Its cost, one X25519 key pair and one shared secret a side per
 * handshake, is measured on the board VM (bench/RESULTS.md, board). */
#undef MBEDTLS_KEY_EXCHANGE_DHE_PSK_ENABLED
#undef MBEDTLS_KEY_EXCHANGE_RSA_PSK_ENABLED
#undef MBEDTLS_KEY_EXCHANGE_RSA_ENABLED
#undef MBEDTLS_KEY_EXCHANGE_DHE_RSA_ENABLED
#undef MBEDTLS_KEY_EXCHANGE_ECDH_ECDSA_ENABLED
#undef MBEDTLS_KEY_EXCHANGE_ECDH_RSA_ENABLED
#undef MBEDTLS_DHM_C
#undef MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_PSK_ENABLED
#undef MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_PSK_EPHEMERAL_ENABLED

/* Hashes: SHA-1 (old certificates), SHA-256, SHA-384/512 stay. */
#undef MBEDTLS_MD5_C
#undef MBEDTLS_RIPEMD160_C
#undef MBEDTLS_SHA224_C
#undef MBEDTLS_SHA3_C

/* Key and certificate handling we never do: generating RSA keys, writing
 * PEM, certificates or requests, CRLs, PKCS#5/#7/#12, LMS. */
#undef MBEDTLS_GENPRIME
#undef MBEDTLS_PK_RSA_ALT_SUPPORT
#undef MBEDTLS_PEM_WRITE_C
#undef MBEDTLS_PKCS5_C
#undef MBEDTLS_PKCS7_C
#undef MBEDTLS_PKCS12_C
#undef MBEDTLS_LMS_C
#undef MBEDTLS_X509_CRL_PARSE_C
#undef MBEDTLS_X509_CSR_PARSE_C
#undef MBEDTLS_X509_CREATE_C
#undef MBEDTLS_X509_CRT_WRITE_C
#undef MBEDTLS_X509_CSR_WRITE_C

/* SSL features nobody here uses: renegotiation, session caches and tickets
 * (each check is one connection), context serialisation, keying-material
 * export, max fragment length. */
#undef MBEDTLS_SSL_RENEGOTIATION
#undef MBEDTLS_SSL_SESSION_TICKETS
#undef MBEDTLS_SSL_TICKET_C
#undef MBEDTLS_SSL_CACHE_C
#undef MBEDTLS_SSL_CONTEXT_SERIALIZATION
#undef MBEDTLS_SSL_KEYING_MATERIAL_EXPORT
#undef MBEDTLS_SSL_MAX_FRAGMENT_LENGTH

/* No persistent PSA keys, no self tests, no x86 accelerators, no feature
 * list in the binary. */
#undef MBEDTLS_PSA_CRYPTO_STORAGE_C
#undef MBEDTLS_PSA_ITS_FILE_C
#undef MBEDTLS_SELF_TEST
#undef MBEDTLS_AESNI_C
#undef MBEDTLS_PADLOCK_C
#undef MBEDTLS_VERSION_FEATURES
