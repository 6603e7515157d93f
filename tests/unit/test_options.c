/* fm_options: run's list of controllers (issue 28, item 4). --controller
 * given several times keeps the order; one value may hold a list (commas
 * or blanks), which is how the config file gives several (it takes a key
 * once); more than FM_CONTROLLERS_MAX, one given twice or one that is not
 * a CoAP URI are refused with a line saying which; the command line's list
 * wins over the file's whole, the file's still checked; the list is held
 * by value, so a copy of the options outlives the file's text (SIGHUP). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fm_harness.h"
#include "fm_options.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[PATH_MAX], conf[PATH_MAX + 16], errlog[PATH_MAX + 16];
static char said[4096]; /* what the last parse wrote on stderr */

static int setup(void **st)
{
	(void)st;
	if (fmh_init() < 0 || fmh_tmpdir(dir, sizeof(dir)) < 0)
		return -1;
	snprintf(conf, sizeof(conf), "%s/agent.conf", dir);
	snprintf(errlog, sizeof(errlog), "%s/stderr", dir);
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	fmh_cleanup();
	return 0;
}

/* stderr into errlog while the parser speaks; said gets it after. */
static int saved_fd = -1;

static void capture(void)
{
	fflush(stderr);
	saved_fd = dup(STDERR_FILENO);
	int fd = open(errlog, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(saved_fd >= 0 && fd >= 0);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	close(fd);
}

static void release(void)
{
	fflush(stderr);
	assert_int_equal(dup2(saved_fd, STDERR_FILENO), STDERR_FILENO);
	close(saved_fd);
	FILE *f = fopen(errlog, "r");
	assert_non_null(f);
	size_t n = fread(said, 1, sizeof(said) - 1, f);
	said[n] = '\0';
	fclose(f);
}

/* `run` with the NULL-ended arguments into o; the parser's return. */
static int parse(struct fm_opts *o, ...)
{
	char *argv[32] = {"run"};
	int argc = 1;
	va_list ap;
	va_start(ap, o);
	const char *a;
	while ((a = va_arg(ap, const char *)) && argc < 31)
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	memset(o, 0, sizeof(*o));
	capture();
	int rc = fm_parse_opts(argc, argv, o);
	release();
	return rc;
}

static void write_conf(const char *text)
{
	FILE *f = fopen(conf, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* The file over o; its text freed at once (the list must not point into
 * it). 0 or -1, why in err. */
static int read_conf(struct fm_opts *o, const char *text, char *err, size_t size)
{
	struct fm_config_text cf = {0};
	write_conf(text);
	err[0] = '\0';
	capture();
	int rc = fm_read_config(conf, o, &cf, err, size);
	release();
	if (cf.text) {
		memset(cf.text, 'x', strlen(cf.text));
		free(cf.text);
	}
	return rc;
}

static void want_said(const char *needle)
{
	if (!strstr(said, needle))
		fail_msg("want '%s' on stderr, got: %s", needle, said);
}

static void repeated(void **st)
{
	(void)st;
	struct fm_opts o;
	assert_int_equal(parse(&o, "--controller", "coaps://10.0.0.1", "--heartbeat", "5s", "--controller",
			       "coaps://ctl-b.example:5700", "--controller", "coap://[::1]:5683", NULL),
			 0);
	assert_int_equal(o.n_controllers, 3);
	assert_string_equal(o.controllers[0], "coaps://10.0.0.1");
	assert_string_equal(o.controllers[1], "coaps://ctl-b.example:5700");
	assert_string_equal(o.controllers[2], "coap://[::1]:5683"); /* --insecure is run's to check */
	assert_int_equal(o.heartbeat_ms, 5000);

	/* A list in one value, on the command line too; added to the others. */
	assert_int_equal(parse(&o, "--controller", "coaps://a:1, coaps://b:2\tcoaps://c:3,coaps://d:4",
			       "--controller", "coaps://e:5", NULL),
			 0);
	assert_int_equal(o.n_controllers, 5);
	const char *want[] = {"coaps://a:1", "coaps://b:2", "coaps://c:3", "coaps://d:4", "coaps://e:5"};
	for (size_t i = 0; i < 5; i++)
		assert_string_equal(o.controllers[i], want[i]);
}

static void refused(void **st)
{
	(void)st;
	struct fm_opts o;
	/* Eight are taken, the ninth is named. */
	assert_int_equal(parse(&o, "--controller", "coaps://h1,coaps://h2,coaps://h3,coaps://h4", "--controller",
			       "coaps://h5 coaps://h6 coaps://h7 coaps://h8", NULL),
			 0);
	assert_int_equal(o.n_controllers, FM_CONTROLLERS_MAX);
	assert_int_equal(parse(&o, "--controller", "coaps://h1,coaps://h2,coaps://h3,coaps://h4", "--controller",
			       "coaps://h5 coaps://h6 coaps://h7 coaps://h8", "--controller", "coaps://h9", NULL),
			 EXIT_USAGE);
	want_said("fleetmedic-agent: --controller coaps://h9: more than 8 controllers");

	/* A bad one among good ones: which, and why. */
	assert_int_equal(parse(&o, "--controller", "coaps://good:5684", "--controller", "http://bad:80", NULL),
			 EXIT_USAGE);
	want_said("--controller http://bad:80: give coaps://HOST[:PORT]");
	assert_int_equal(parse(&o, "--controller", "coaps://good:5684,coaps://bad:70000", NULL), EXIT_USAGE);
	want_said("the port must be 1..65535");
	assert_int_equal(parse(&o, "--controller", "coaps://good/path", NULL), EXIT_USAGE);
	want_said("without a path");
	/* One twice; a value with no address. */
	assert_int_equal(parse(&o, "--controller", "coaps://a:1", "--controller", "coaps://b:1,coaps://a:1", NULL),
			 EXIT_USAGE);
	want_said("--controller coaps://a:1: given twice");
	assert_int_equal(parse(&o, "--controller", " , ", NULL), EXIT_USAGE);
	want_said("no address");
	/* Longer than an address can be. */
	char longer[FM_CONTROLLER_URL_MAX + 16] = "coaps://";
	memset(longer + 8, 'h', sizeof(longer) - 9);
	longer[sizeof(longer) - 1] = '\0';
	assert_int_equal(parse(&o, "--controller", longer, NULL), EXIT_USAGE);
	want_said("longer than 299 bytes");
}

static void config_file(void **st)
{
	(void)st;
	struct fm_opts o;
	char err[1024];

	/* One line, a list: kept in order after the text is gone. */
	memset(&o, 0, sizeof(o));
	assert_int_equal(read_conf(&o, "# two controllers, the first preferred\n"
				       "controller = coaps://ctl-a.lan:5684, coaps://ctl-b.lan:5684 coaps://10.1.1.1\n"
				       "heartbeat = 30s\n",
				   err, sizeof(err)),
			 0);
	assert_int_equal(o.n_controllers, 3);
	assert_string_equal(o.controllers[0], "coaps://ctl-a.lan:5684");
	assert_string_equal(o.controllers[1], "coaps://ctl-b.lan:5684");
	assert_string_equal(o.controllers[2], "coaps://10.1.1.1");
	/* A copy (SIGHUP's fresh read over the command line's) stands alone. */
	struct fm_opts copy = o;
	memset(&o, 0, sizeof(o));
	assert_string_equal(copy.controllers[1], "coaps://ctl-b.lan:5684");

	/* The key twice: the syntax's rule, the line said. */
	memset(&o, 0, sizeof(o));
	assert_int_equal(read_conf(&o, "controller = coaps://a\ncontroller = coaps://b\n", err, sizeof(err)), -1);
	if (!strstr(err, ":2: controller: given twice"))
		fail_msg("%s", err);

	/* Too many; a bad one among them. */
	memset(&o, 0, sizeof(o));
	assert_int_equal(read_conf(&o, "controller = coaps://h1 coaps://h2 coaps://h3 coaps://h4 coaps://h5 "
				       "coaps://h6 coaps://h7 coaps://h8 coaps://h9\n",
				   err, sizeof(err)),
			 -1);
	if (!strstr(err, ":1: controller: --controller coaps://h9: more than 8"))
		fail_msg("%s", err);
	memset(&o, 0, sizeof(o));
	assert_int_equal(read_conf(&o, "heartbeat = 30s\ncontroller = coaps://a:1, coapz://b:2\n", err, sizeof(err)),
			 -1);
	if (!strstr(err, ":2: controller: --controller coapz://b:2: give coaps://HOST[:PORT]"))
		fail_msg("%s", err);
	assert_non_null(strstr(said, err)); /* and the same line on stderr */

	/* The command line's list wins whole: the file's is checked, not
	 * added (seven and two would be nine: no error for that). */
	assert_int_equal(parse(&o, "--controller", "coaps://c1,coaps://c2,coaps://c3,coaps://c4,coaps://c5,coaps://c6",
			       "--controller", "coaps://c7", NULL),
			 0);
	assert_int_equal(read_conf(&o, "controller = coaps://f1, coaps://f2\n", err, sizeof(err)), 0);
	assert_int_equal(o.n_controllers, 7);
	assert_string_equal(o.controllers[0], "coaps://c1");
	assert_string_equal(o.controllers[6], "coaps://c7");
	assert_int_equal(read_conf(&o, "controller = coaps://f1, http://f2\n", err, sizeof(err)), -1);
	if (!strstr(err, "controller: --controller http://f2"))
		fail_msg("%s", err);
	assert_int_equal(o.n_controllers, 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(repeated),
		cmocka_unit_test(refused),
		cmocka_unit_test(config_file),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
