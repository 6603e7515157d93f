/* fleetmedic-controller: the fleet controller. For now it only identifies
 * itself; serving agents over CoAP/DTLS is the uplink issue's work. */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
	fprintf(out, "usage: fleetmedic-controller --version | --help\n"
		     "\n"
		     "The fleet controller that receives fleetmedic agents' diagnoses.\n"
		     "'serve', 'nodes', 'show' and 'triage' are not implemented yet.\n");
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		printf("fleetmedic-controller %s (SQLite %s)\n", FM_VERSION, sqlite3_libversion());
		return 0;
	}
	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	usage(stderr);
	return 2;
}
