/* libFuzzer target for the controller's key store (--keys FILE,
 * fc_keys_load): every bad line is reported and the file refused whole;
 * what loads finds each of its identities' keys within the bounds. */
#include "fc_keys.h"
#include "fm_buf.h"
#include "fuzz_tmpdir.h"

#include <errno.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *dir = fuzz_tmpdir();
	if (size > 65536 || !dir || fuzz_put(dir, "keys", data, size) < 0)
		return 0;
	char path[128];
	snprintf(path, sizeof(path), "%s/keys", dir);
	struct fm_buf errs;
	fm_buf_init(&errs, 4096);
	struct fc_keys *k = NULL;
	int rc = fc_keys_load(path, &k, &errs);
	if (rc == 0) {
		size_t len;
		if (!k || fc_keys_find(k, "", 0, &len))
			__builtin_trap();
		const uint8_t *key = fc_keys_find(k, "rpi4-cp1", 8, &len);
		if (key && (len < FC_KEYS_KEY_MIN || len > FC_KEYS_KEY_MAX))
			__builtin_trap();
	} else if (rc == -EINVAL && !errs.len) {
		__builtin_trap();
	}
	fc_keys_delete(&k);
	fm_buf_free(&errs);
	return 0;
}
