/* fmh_adjtimex: an LD_PRELOAD shim that gives the agent under test a known
 * clock state, so a scenario's expectation does not depend on whether the
 * test machine runs an NTP client (test_incident1). The kernel's answer is
 * asked for, then its synchronisation state replaced as FMH_ADJTIMEX says:
 *   synced    TIME_OK, STA_UNSYNC clear, maxerror 100 ms (chrony in step)
 *   unsynced  TIME_ERROR, STA_UNSYNC set, maxerror 16 s (no NTP since boot)
 * Any other value, or none, passes the kernel's answer through. Only
 * reads are answered (modes 0); a call that sets anything goes to the
 * kernel as it is. Built without sanitizers: it is preloaded into the
 * ASan-built agent (which then needs verify_asan_link_order=0). */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timex.h>

int adjtimex(struct timex *tx)
{
	static int (*real)(struct timex *);
	if (!real)
		real = (int (*)(struct timex *))dlsym(RTLD_NEXT, "adjtimex");
	if (!real)
		return -1;
	int rc = real(tx);
	const char *want = getenv("FMH_ADJTIMEX");
	if (rc < 0 || tx->modes != 0 || !want)
		return rc;
	if (strcmp(want, "synced") == 0) {
		tx->status &= ~STA_UNSYNC;
		tx->maxerror = 100000;
		tx->esterror = 1000;
		return TIME_OK;
	}
	if (strcmp(want, "unsynced") == 0) {
		tx->status |= STA_UNSYNC;
		tx->maxerror = 16000000;
		return TIME_ERROR;
	}
	return rc;
}
