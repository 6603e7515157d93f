/* Appended by toolchains/deps.sh to Mbed TLS's default mbedtls_config.h for
 * the board builds (aarch64-linux-gnu, arm-linux-gnueabihf): what the agent
 * does not use is taken out here. The native build keeps the default
 * configuration (the tests rely on it).
 */
