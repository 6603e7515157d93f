#include "hal/hal_storage.h"
#include "hal/hal_path.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>

static const char *const fs_paths[HAL_FS_PATHS] = {
    "/", "/var/lib/docker", "/var/lib/containerd", "/var/lib/etcd", "/var/lib/kubelet",
};

/* Copies the next space-separated mountinfo field, undoing \ooo escapes.
 * Returns the position after it, or NULL at the end of the line. */
static const char *field(const char *s, char *out, size_t size)
{
	while (*s == ' ')
		s++;
	if (!*s)
		return NULL;
	size_t o = 0;
	while (*s && *s != ' ') {
		char c = *s++;
		if (c == '\\' && s[0] >= '0' && s[0] <= '3' && s[1] >= '0' && s[1] <= '7' &&
		    s[2] >= '0' && s[2] <= '7') {
			c = (char)((s[0] - '0') * 64 + (s[1] - '0') * 8 + (s[2] - '0'));
			s += 3;
		}
		if (o + 1 < size)
			out[o++] = c;
	}
	if (size)
		out[o] = '\0';
	return s;
}

/* true when the comma list opts holds the option want exactly. */
static bool has_opt(const char *opts, const char *want)
{
	size_t wl = strlen(want);
	for (const char *o = opts; *o;) {
		size_t n = strcspn(o, ",");
		if (n == wl && !strncmp(o, want, wl))
			return true;
		o += n;
		if (*o)
			o++;
	}
	return false;
}

int hal_storage_parse_mountinfo(const char *line, struct hal_mount *m)
{
	char f[256], opts[256];
	memset(m, 0, sizeof(*m));
	const char *s = line;
	/* id, parent */
	if (!(s = field(s, f, sizeof(f))) || !(s = field(s, f, sizeof(f))))
		return -EINVAL;
	if (!(s = field(s, f, sizeof(f))) || sscanf(f, "%u:%u", &m->major, &m->minor) != 2)
		return -EINVAL;
	if (!(s = field(s, f, sizeof(f)))) /* root within the filesystem */
		return -EINVAL;
	if (!(s = field(s, m->mount_point, sizeof(m->mount_point))) || m->mount_point[0] != '/')
		return -EINVAL;
	if (!(s = field(s, opts, sizeof(opts))))
		return -EINVAL;
	m->mount_ro = has_opt(opts, "ro");
	/* optional fields up to the lone "-" */
	for (;;) {
		if (!(s = field(s, f, sizeof(f))))
			return -EINVAL;
		if (!strcmp(f, "-"))
			break;
	}
	if (!(s = field(s, m->fstype, sizeof(m->fstype))) ||
	    !(s = field(s, m->source, sizeof(m->source))))
		return -EINVAL;
	if (field(s, opts, sizeof(opts))) {
		/* ext4 since Linux 6.5 marks an error remount "emergency_ro" and
		 * leaves "rw" in place; older kernels set the superblock "ro". */
		m->emergency_ro = has_opt(opts, "emergency_ro");
		m->super_ro = has_opt(opts, "ro") || m->emergency_ro;
		const char *e = strstr(opts, "errors=");
		if (e && (e == opts || e[-1] == ',')) {
			e += strlen("errors=");
			hal_fmt(m->errors, sizeof(m->errors), "%.*s", (int)strcspn(e, ","), e);
		}
	}
	return 0;
}

/* true when mount point mp holds path (component-wise prefix). */
static bool holds(const char *mp, const char *path)
{
	size_t n = strlen(mp);
	if (n == 1)
		return true; /* "/" */
	return !strncmp(mp, path, n) && (path[n] == '\0' || path[n] == '/');
}

#define EXT4_MOUNTS 16

struct scan {
	struct hal_storage *s;
	bool want[HAL_FS_PATHS];
	size_t best[HAL_FS_PATHS];
	/* Block-device mounts by major:minor, to name ext4 devices' mounts. */
	int n_dev;
	struct hal_mount dev[EXT4_MOUNTS]; /* each device's first mount */
	int bad;
	bool ro_imposed; /* a read-only mount over a read-write superblock */
};

static int mount_line(char *line, void *ctx)
{
	struct scan *sc = ctx;
	struct hal_storage *s = sc->s;
	struct hal_mount m;
	if (hal_storage_parse_mountinfo(line, &m) < 0) {
		sc->bad++;
		return 0;
	}
	if (m.mount_ro && !m.super_ro)
		sc->ro_imposed = true;
	for (int i = 0; i < HAL_FS_PATHS; i++) {
		size_t l = strlen(m.mount_point);
		/* Later mounts on the same point shadow earlier ones: >=. */
		if (sc->want[i] && holds(m.mount_point, fs_paths[i]) &&
		    (l >= sc->best[i] || !s->fs[i].mount_known)) {
			s->fs[i].m = m;
			s->fs[i].mount_known = true;
			sc->best[i] = l;
		}
	}
	if (!strncmp(m.source, "/dev/", 5) && m.major != 0) {
		if ((m.mount_ro || m.super_ro)) {
			s->ro_seen++;
			if (s->n_ro < HAL_RO_MAX)
				s->ro[s->n_ro++] = m;
		}
		int k;
		for (k = 0; k < sc->n_dev; k++)
			if (sc->dev[k].major == m.major && sc->dev[k].minor == m.minor)
				break;
		if (k == sc->n_dev && k < EXT4_MOUNTS)
			sc->dev[sc->n_dev++] = m;
	}
	return 0;
}

static void usage(const char *root, struct hal_fs *f)
{
	char p[HAL_PATH_MAX];
	struct statvfs st;
	f->used_pct = -1;
	if (hal_path(p, sizeof(p), root, f->path) < 0 || statvfs(p, &st) < 0) {
		if (!f->reason[0])
			hal_fmt(f->reason, sizeof(f->reason), "statvfs %s: %s", f->path,
				strerror(errno));
		return;
	}
	uint64_t frsize = st.f_frsize ? st.f_frsize : st.f_bsize;
	f->size_bytes = (uint64_t)st.f_blocks * frsize;
	f->avail_bytes = (uint64_t)st.f_bavail * frsize;
	f->inodes_total = st.f_files;
	f->inodes_free = st.f_ffree;
	/* As df(1): used / (used + available to non-root). */
	uint64_t used = (uint64_t)(st.f_blocks - st.f_bfree);
	uint64_t denom = used + st.f_bavail;
	f->used_pct = denom ? (int)((used * 100 + denom - 1) / denom) : 0;
}

static void ext4_err(const char *root, const char *dev, const char *which, struct hal_ext4_error *e)
{
	char p[128];
	e->line = e->ino = e->block = e->errcode = -1;
	hal_fmt(p, sizeof(p), "/sys/fs/ext4/%s/%s_error_time", dev, which);
	if (hal_read_s64(root, p, &e->time) < 0)
		e->time = -1;
	hal_fmt(p, sizeof(p), "/sys/fs/ext4/%s/%s_error_func", dev, which);
	if (hal_read_line(root, p, e->func, sizeof(e->func)) < 0)
		e->func[0] = '\0';
	static const char *const num[] = {"line", "ino", "block", "errcode"};
	int64_t *dst[] = {&e->line, &e->ino, &e->block, &e->errcode};
	for (int i = 0; i < 4; i++) {
		hal_fmt(p, sizeof(p), "/sys/fs/ext4/%s/%s_error_%s", dev, which, num[i]);
		if (hal_read_s64(root, p, dst[i]) < 0)
			*dst[i] = -1;
	}
}

struct ext4_scan {
	const char *root;
	struct hal_storage *s;
	const struct scan *mounts;
};

static int ext4_dev(const char *name, void *ctx)
{
	struct ext4_scan *es = ctx;
	struct hal_storage *s = es->s;
	if (!strcmp(name, "features") || s->n_ext4 >= HAL_EXT4_MAX)
		return 0;
	struct hal_ext4 *x = &s->ext4[s->n_ext4++];
	memset(x, 0, sizeof(*x));
	hal_copy(x->dev, sizeof(x->dev), name);
	char p[128];
	hal_fmt(p, sizeof(p), "/sys/fs/ext4/%s/errors_count", name);
	int rc = hal_read_s64(es->root, p, &x->errors_count);
	if (rc < 0 || x->errors_count < 0) {
		x->errors_count = -1;
		hal_reason(x->reason, sizeof(x->reason), rc < 0 ? rc : -EINVAL, p);
	}
	hal_fmt(p, sizeof(p), "/sys/fs/ext4/%s/warning_count", name);
	if (hal_read_s64(es->root, p, &x->warning_count) < 0)
		x->warning_count = -1;
	hal_fmt(p, sizeof(p), "/sys/fs/ext4/%s/msg_count", name);
	if (hal_read_s64(es->root, p, &x->msg_count) < 0)
		x->msg_count = -1;
	ext4_err(es->root, name, "first", &x->first);
	ext4_err(es->root, name, "last", &x->last);

	char dev[32];
	unsigned maj, min;
	hal_fmt(p, sizeof(p), "/sys/class/block/%s/dev", name);
	if (hal_read_line(es->root, p, dev, sizeof(dev)) >= 0 &&
	    sscanf(dev, "%u:%u", &maj, &min) == 2) {
		x->major = maj;
		x->minor = min;
		x->dev_known = true;
		for (int k = 0; k < es->mounts->n_dev; k++)
			if (es->mounts->dev[k].major == maj && es->mounts->dev[k].minor == min)
				hal_copy(x->mount_point, sizeof(x->mount_point),
					 es->mounts->dev[k].mount_point);
	}
	return 0;
}

/* "0x01" -> 1; -1 when not a byte. */
static int hexbyte(const char *s)
{
	int64_t v;
	char w[16];
	hal_fmt(w, sizeof(w), "%.*s", (int)strcspn(s, " \t\n"), s);
	if (strncmp(w, "0x", 2) || hal_parse_s64(w, 16, &v) < 0 || v < 0 || v > 255)
		return -1;
	return (int)v;
}

struct block_scan {
	const char *root;
	struct hal_storage *s;
};

static int block_dev(const char *name, void *ctx)
{
	struct block_scan *bs = ctx;
	struct hal_storage *s = bs->s;
	if (!strncmp(name, "loop", 4) || !strncmp(name, "ram", 3) || !strncmp(name, "zram", 4) ||
	    s->n_block >= HAL_BLOCK_MAX)
		return 0;
	struct hal_blockdev *b = &s->block[s->n_block++];
	memset(b, 0, sizeof(*b));
	hal_copy(b->name, sizeof(b->name), name);
	b->ioerr_cnt = -1;
	b->life_time_a = b->life_time_b = b->pre_eol = -1;
	char p[128], v[64];
	hal_fmt(p, sizeof(p), "/sys/block/%s/device/type", name);
	if (hal_read_line(bs->root, p, v, sizeof(v)) >= 0 &&
	    (!strcmp(v, "SD") || !strcmp(v, "MMC")))
		hal_copy(b->type, sizeof(b->type), v);

	uint64_t n;
	hal_fmt(p, sizeof(p), "/sys/block/%s/device/ioerr_cnt", name);
	int rc = hal_read_u64_hex(bs->root, p, &n);
	if (rc == 0 && n <= INT64_MAX)
		b->ioerr_cnt = (int64_t)n;
	char why[HAL_REASON_MAX] = "";
	if (rc == -ENOENT)
		hal_copy(why, sizeof(why), "the driver exposes no I/O error count");
	else if (rc < 0)
		hal_reason(why, sizeof(why), rc, p);

	hal_fmt(p, sizeof(p), "/sys/block/%s/device/life_time", name);
	rc = hal_read_line(bs->root, p, v, sizeof(v));
	if (rc >= 0) {
		const char *second = strchr(v, ' ');
		b->life_time_a = hexbyte(v);
		b->life_time_b = second ? hexbyte(second + 1) : -1;
		if (b->life_time_a < 0 || b->life_time_b < 0)
			hal_fmt(why + strlen(why), sizeof(why) - strlen(why), "%smalformed %s",
				why[0] ? "; " : "", p);
	} else {
		hal_fmt(why + strlen(why), sizeof(why) - strlen(why), "%s%s", why[0] ? "; " : "",
			!strcmp(b->type, "SD") ? "SD cards report no wear"
					       : "no life-time estimate");
	}
	hal_fmt(p, sizeof(p), "/sys/block/%s/device/pre_eol_info", name);
	if (hal_read_line(bs->root, p, v, sizeof(v)) >= 0)
		b->pre_eol = hexbyte(v);
	hal_copy(b->reason, sizeof(b->reason), why);
	return 0;
}

/* /proc/stat's btime: when this boot began, seconds since the epoch; 0
 * unknown. */
static int btime_line(char *line, void *ctx)
{
	long long v;
	if (sscanf(line, "btime %lld", &v) == 1 && v > 0)
		*(int64_t *)ctx = v;
	return 0;
}

/* The ext4 error record beside the mounts: a read-only mount's filesystem
 * with errors (fs_errors), and a mount whose filesystem recorded an error
 * during this boot under errors=remount-ro (error_this_boot), added to ro[]
 * even where its mount and superblock still read "rw": Linux 6.1.y since
 * the backport of "ext4: don't set SB_RDONLY after filesystem errors" (and
 * 6.5 before "emergency_ro" was shown) stops writes without saying so in
 * mountinfo, so the error record is the one sign there. */
static void mark_errors(const char *root, struct hal_storage *s, struct scan *sc)
{
	int64_t boot = -1; /* read once, and only when some filesystem has errors */
	for (int k = 0; k < s->n_ext4; k++) {
		const struct hal_ext4 *x = &s->ext4[k];
		if (!x->dev_known || x->errors_count <= 0)
			continue;
		if (boot < 0) {
			boot = 0;
			hal_each_line(root, "/proc/stat", btime_line, &boot);
		}
		bool this_boot = boot > 0 && x->last.time >= boot;
		bool listed = false;
		for (int i = 0; i < s->n_ro; i++)
			if (s->ro[i].major == x->major && s->ro[i].minor == x->minor) {
				s->ro[i].fs_errors = true;
				s->ro[i].error_this_boot = this_boot;
				listed = true;
			}
		if (listed || !this_boot)
			continue;
		for (int d = 0; d < sc->n_dev; d++) {
			struct hal_mount *m = &sc->dev[d];
			if (m->major != x->major || m->minor != x->minor || strcmp(m->errors, "remount-ro") != 0)
				continue;
			s->ro_seen++;
			if (s->n_ro < HAL_RO_MAX) {
				s->ro[s->n_ro] = *m;
				s->ro[s->n_ro].fs_errors = true;
				s->ro[s->n_ro].error_this_boot = true;
				s->n_ro++;
			}
		}
	}
	s->ro_imposed = sc->ro_imposed;
}

int hal_storage_read(const char *root, struct hal_storage *s)
{
	memset(s, 0, sizeof(*s));
	struct scan sc = {.s = s};
	for (int i = 0; i < HAL_FS_PATHS; i++)
		sc.want[i] = i == 0 || hal_exists(root, fs_paths[i]);
	int rc = hal_each_line(root, "/proc/self/mountinfo", mount_line, &sc);
	if (rc < 0)
		hal_reason(s->reason, sizeof(s->reason), rc, "/proc/self/mountinfo");
	else if (sc.bad)
		hal_fmt(s->reason, sizeof(s->reason), "%d malformed lines in /proc/self/mountinfo",
			sc.bad);
	for (int i = 0; i < HAL_FS_PATHS; i++) {
		if (!sc.want[i])
			continue;
		struct hal_fs *f = &s->fs[s->n_fs];
		if (f != &s->fs[i])
			*f = s->fs[i];
		hal_copy(f->path, sizeof(f->path), fs_paths[i]);
		if (!f->mount_known)
			hal_fmt(f->reason, sizeof(f->reason),
				"no mount holding %s in /proc/self/mountinfo", fs_paths[i]);
		usage(root, f);
		s->n_fs++;
	}
	for (int i = s->n_fs; i < HAL_FS_PATHS; i++)
		memset(&s->fs[i], 0, sizeof(s->fs[i]));

	struct ext4_scan es = {.root = root, .s = s, .mounts = &sc};
	hal_dir_each(root, "/sys/fs/ext4", "", ext4_dev, &es);
	mark_errors(root, s, &sc);
	struct block_scan bs = {.root = root, .s = s};
	hal_dir_each(root, "/sys/block", "", block_dev, &bs);
	return rc < 0 ? rc : 0;
}

bool hal_mount_remounted_ro(const struct hal_mount *m, bool ro_imposed)
{
	if (m->emergency_ro)
		return true;
	if (m->fs_errors && m->error_this_boot && strcmp(m->errors, "remount-ro") == 0)
		return true;
	if (!m->super_ro)
		return false;
	if (!m->mount_ro)
		return true;
	return ro_imposed && m->fs_errors && strcmp(m->errors, "continue") != 0 && strcmp(m->errors, "panic") != 0;
}

const char *hal_ext4_errcode_name(int64_t code)
{
	static const char *const names[] = {
	    NULL,	 "UNKNOWN", "EIO",     "ENOMEM",    "EFSBADCRC", "EFSCORRUPTED",
	    "ENOSPC",	 "ENOKEY",  "EROFS",   "EFBIG",	    "EEXIST",	 "ERANGE",
	    "EOVERFLOW", "EBUSY",   "ENOTDIR", "ENOTEMPTY", "ESHUTDOWN", "EFAULT",
	};
	if (code <= 0 || code >= (int64_t)(sizeof(names) / sizeof(names[0])))
		return NULL;
	return names[code];
}
