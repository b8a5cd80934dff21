#include "core/sys.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void *mlxc_alloc_aligned(size_t nbytes)
{
    void *p = NULL;
    size_t rounded = (nbytes + 63) & ~(size_t)63;
    if (rounded < nbytes)
        return NULL;
    if (posix_memalign(&p, 64, rounded ? rounded : 64) != 0)
        return NULL;
    return p;
}

void mlxc_free_aligned(void *p) { free(p); }

struct scratch {
    void *p[MLXC_SCRATCH_SLOTS];
    size_t n[MLXC_SCRATCH_SLOTS];
};

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *v)
{
    struct scratch *s = v;
    for (int i = 0; i < MLXC_SCRATCH_SLOTS; i++)
        free(s->p[i]);
    free(s);
}

static void scratch_key_make(void) { (void)pthread_key_create(&scratch_key, scratch_free); }

void *mlxc_thread_scratch(enum mlxc_scratch_slot slot, size_t nbytes)
{
    pthread_once(&scratch_once, scratch_key_make);
    struct scratch *s = pthread_getspecific(scratch_key);
    if (!s) {
        if (!(s = calloc(1, sizeof *s)) || pthread_setspecific(scratch_key, s) != 0) {
            free(s);
            return NULL;
        }
    }
    if (s->n[slot] < nbytes) {
        free(s->p[slot]);
        s->n[slot] = 0;
        if (!(s->p[slot] = mlxc_alloc_aligned(nbytes)))
            return NULL;
        s->n[slot] = nbytes;
    }
    return s->p[slot];
}

int mlxc_mul_size(size_t a, size_t b, size_t *out)
{
    return __builtin_mul_overflow(a, b, out) ? -1 : 0;
}

int mlxc_add_size(size_t a, size_t b, size_t *out)
{
    return __builtin_add_overflow(a, b, out) ? -1 : 0;
}

double mlxc_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

uint64_t mlxc_peak_rss(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (uint64_t)ru.ru_maxrss * 1024u; /* Linux reports KiB */
}

char *mlxc_read_stream(FILE *f, size_t max_bytes, size_t *len, struct mlxc_err *e)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (!buf) {
        mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        return NULL;
    }
    for (;;) {
        if (n + 1 >= cap) {
            if (cap > max_bytes) {
                free(buf);
                mlxc_errf(e, MLXC_ENOMEM, "input is larger than %zu bytes", max_bytes);
                return NULL;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                mlxc_errf(e, MLXC_ENOMEM, "out of memory");
                return NULL;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - 1 - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                free(buf);
                mlxc_errf_sys(e, MLXC_EIO, "read failed");
                return NULL;
            }
            break;
        }
    }
    if (n > max_bytes) {
        free(buf);
        mlxc_errf(e, MLXC_ENOMEM, "input is larger than %zu bytes", max_bytes);
        return NULL;
    }
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

char *mlxc_read_file(const char *path, size_t max_bytes, size_t *len, struct mlxc_err *e)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        mlxc_errf_sys(e, errno == ENOENT ? MLXC_ENOTFOUND : MLXC_EIO, "cannot open '%s'", path);
        return NULL;
    }
    char *buf = mlxc_read_stream(f, max_bytes, len, e);
    fclose(f);
    if (!buf)
        mlxc_err_ctx(e, "reading '%s'", path);
    return buf;
}

int mlxc_path_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

int mlxc_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

char *mlxc_path_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    int slash = a > 0 && dir[a - 1] != '/';
    char *out = malloc(a + b + 2);
    if (!out)
        return NULL;
    memcpy(out, dir, a);
    if (slash)
        out[a++] = '/';
    memcpy(out + a, name, b + 1);
    return out;
}

int mlxc_fsync_dir(const char *dir, struct mlxc_err *e)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return mlxc_errf_sys(e, MLXC_EIO, "cannot open directory '%s'", dir);
    int rc = fsync(fd);
    close(fd);
    if (rc != 0 && errno != EINVAL) /* some filesystems refuse fsync on directories */
        return mlxc_errf_sys(e, MLXC_EIO, "cannot sync directory '%s'", dir);
    return 0;
}

/* dirname and basename of a path, as new strings */
static int split_path(const char *path, char **dir, char **base)
{
    char *copy1 = strdup(path), *copy2 = strdup(path);
    *dir = copy1 ? strdup(dirname(copy1)) : NULL;
    *base = copy2 ? strdup(basename(copy2)) : NULL;
    free(copy1);
    free(copy2);
    if (*dir && *base)
        return 0;
    free(*dir);
    free(*base);
    return -1;
}

char *mlxc_tmp_template(const char *target)
{
    char *dir, *base;
    if (split_path(target, &dir, &base))
        return NULL;
    size_t need = strlen(dir) + strlen(base) + 48;
    char *t = malloc(need);
    if (t)
        snprintf(t, need, "%s/.%s.tmp-%ld-XXXXXX", dir, base, (long)getpid());
    free(dir);
    free(base);
    return t;
}

/* The pid in ".<base>.tmp-<pid>-XXXXXX", or -1 when name is not exactly that. */
static long stale_pid(const char *name, const char *base)
{
    size_t nb = strlen(base);
    if (name[0] != '.' || strncmp(name + 1, base, nb) != 0 || strncmp(name + 1 + nb, ".tmp-", 5) != 0)
        return -1;
    const char *p = name + 1 + nb + 5;
    if (*p < '1' || *p > '9')
        return -1;
    char *end;
    errno = 0;
    long pid = strtol(p, &end, 10);
    if (errno || pid <= 0 || (long)(pid_t)pid != pid || *end != '-' || strlen(end + 1) != 6)
        return -1;
    for (const char *x = end + 1; *x; x++)
        if (!((*x >= 'a' && *x <= 'z') || (*x >= 'A' && *x <= 'Z') || (*x >= '0' && *x <= '9')))
            return -1;
    return pid;
}

/* Removes the files of folder `name` (inside dfd) and then the folder; a folder holding anything but
 * files stays (rmdir fails). */
static int remove_flat_dir(int dfd, const char *name)
{
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -1;
    }
    struct dirent *ent;
    while ((ent = readdir(d)))
        if (strcmp(ent->d_name, ".") != 0 && strcmp(ent->d_name, "..") != 0)
            unlinkat(fd, ent->d_name, 0); /* a subfolder fails here, and then so does the rmdir */
    closedir(d);
    return unlinkat(dfd, name, AT_REMOVEDIR);
}

int mlxc_remove_stale_tmps(const char *target)
{
    char *dir, *base;
    if (split_path(target, &dir, &base))
        return 0;
    int removed = 0, dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d && dfd >= 0)
        close(dfd);
    struct dirent *ent;
    while (d && (ent = readdir(d))) {
        long pid = stale_pid(ent->d_name, base);
        struct stat st;
        if (pid < 0 || pid == (long)getpid() || fstatat(dfd, ent->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
            st.st_uid != geteuid())
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) /* alive (or not ours to ask about) */
            continue;
        if (S_ISREG(st.st_mode) ? unlinkat(dfd, ent->d_name, 0) == 0
                                : S_ISDIR(st.st_mode) && remove_flat_dir(dfd, ent->d_name) == 0)
            removed++;
    }
    if (d)
        closedir(d);
    free(dir);
    free(base);
    return removed;
}

int mlxc_atomic_open(struct mlxc_atomic_file *af, const char *final_path, struct mlxc_err *e)
{
    memset(af, 0, sizeof *af);
    char *copy1 = strdup(final_path);
    af->final_path = strdup(final_path);
    if (!copy1 || !af->final_path)
        goto oom;
    const char *dir = dirname(copy1);
    mlxc_remove_stale_tmps(final_path);
    if (!(af->tmp_path = mlxc_tmp_template(final_path)))
        goto oom;
    int fd = mkstemp(af->tmp_path);
    if (fd < 0) {
        mlxc_errf_sys(e, MLXC_EIO, "cannot create a file in '%s'", dir);
        goto fail;
    }
    fchmod(fd, 0644);
    af->f = fdopen(fd, "wb");
    if (!af->f) {
        close(fd);
        unlink(af->tmp_path);
        mlxc_errf_sys(e, MLXC_EIO, "cannot open '%s'", af->tmp_path);
        goto fail;
    }
    free(copy1);
    return 0;
oom:
    mlxc_errf(e, MLXC_ENOMEM, "out of memory");
fail:
    free(copy1);
    free(af->final_path);
    free(af->tmp_path);
    memset(af, 0, sizeof *af);
    return e ? e->code : MLXC_EIO;
}

int mlxc_atomic_commit(struct mlxc_atomic_file *af, struct mlxc_err *e)
{
    int rc = 0;
    if (!af->f)
        return mlxc_errf(e, MLXC_EINVAL, "atomic file is not open");
    if (fflush(af->f) != 0 || ferror(af->f))
        rc = mlxc_errf_sys(e, MLXC_EIO, "cannot write '%s'", af->final_path);
    else if (fsync(fileno(af->f)) != 0)
        rc = mlxc_errf_sys(e, MLXC_EIO, "cannot sync '%s'", af->final_path);
    if (fclose(af->f) != 0 && rc == 0)
        rc = mlxc_errf_sys(e, MLXC_EIO, "cannot close '%s'", af->final_path);
    af->f = NULL;
    if (rc == 0 && rename(af->tmp_path, af->final_path) != 0)
        rc = mlxc_errf_sys(e, MLXC_EIO, "cannot rename '%s' to '%s'", af->tmp_path, af->final_path);
    if (rc == 0) {
        char *copy = strdup(af->final_path);
        if (copy) {
            rc = mlxc_fsync_dir(dirname(copy), e);
            free(copy);
        }
    }
    if (rc != 0)
        unlink(af->tmp_path);
    free(af->tmp_path);
    free(af->final_path);
    af->tmp_path = af->final_path = NULL;
    return rc;
}

void mlxc_atomic_abort(struct mlxc_atomic_file *af)
{
    if (af->f) {
        fclose(af->f);
        af->f = NULL;
    }
    if (af->tmp_path)
        unlink(af->tmp_path);
    free(af->tmp_path);
    free(af->final_path);
    af->tmp_path = af->final_path = NULL;
}
