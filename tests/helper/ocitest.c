/*
 * ocitest - a small static helper run INSIDE containers by the pyrunc
 * integration tests to report what the container looks like from inside.
 *
 * Build: gcc -static -O2 -Wall -Wextra -o ocitest ocitest.c
 *
 * Usage: ocitest SUBCOMMAND [args]
 *   info                 one JSON object describing the process/container
 *   cat FILE...          print files to stdout
 *   write FILE TEXT      O_WRONLY|O_CREAT|O_TRUNC + write; "ok" / "error: ..."
 *   open-write FILE      open O_WRONLY (no create/trunc); "ok" / "error: ..."
 *   sleep SECONDS        sleep ("inf" sleeps forever); exits 0 on SIGTERM
 *   exit CODE            exit with CODE
 *   mknod PATH           mknod(PATH, S_IFCHR|0666, makedev(1,3)); "ok" / "error: ..."
 *   ls DIR               entries (without . and ..) one per line, sorted
 *   stat PATH            lstat() as JSON
 *   readlink PATH        print the link target
 *   kill-self SIGNAL     raise signal number SIGNAL
 *   fds                  JSON array of open fds [{"fd":0,"target":"/dev/null"}]
 *   sigmask              JSON {"blocked": SigBlk, "ignored": SigIgn}
 *   sh-exec PATH ARGS... execv(PATH, [PATH, ARGS...])
 *   open-read FILE       open O_RDONLY; "ok" / "error: ..."
 *   ioprio               JSON {"class": C, "level": L} of ioprio_get(self)
 *   sched                JSON of sched_getattr(self)
 *   clocks               JSON {"monotonic": S, "boottime": S, "realtime": S}
 *   mempolicy            JSON {"mode": M, "flags": F, "nodes": HEXMASK}
 *   winsize              "ROWS COLS" of the terminal on fd 0
 *   uname                JSON of uname(2) (machine: personality tests)
 *   netif                JSON array of interfaces: name, flags, addresses
 *   sigwait              block every signal, print "signal N" for the first
 *   multi CMD... [--- CMD...]...  run each subcommand in a forked child
 *                        (same credentials, caps, limits) between
 *                        "@@ocitest-begin I" and "@@ocitest-end I exit|signal N"
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <limits.h>
#include <math.h>
#include <net/if.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static const char *prog = "ocitest";

/* ------------------------------------------------------------------ */
/* misc helpers                                                        */
/* ------------------------------------------------------------------ */

static void die_exit(int code)
{
    fflush(stdout);
    fflush(stderr);
    exit(code);
}

static void errmsg(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
}

static void *xrealloc(void *p, size_t n)
{
    void *r = realloc(p, n ? n : 1);
    if (!r) {
        errmsg("out of memory");
        die_exit(1);
    }
    return r;
}

/* Read a whole file (works for procfs files reporting size 0).
 * Returns a NUL-terminated malloc'd buffer or NULL (errno set). */
static char *read_whole(const char *path, size_t *len_out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = xrealloc(NULL, cap);
    for (;;) {
        if (len + 1 >= cap) {
            cap *= 2;
            buf = xrealloc(buf, cap);
        }
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            free(buf);
            close(fd);
            errno = e;
            return NULL;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    if (len_out)
        *len_out = len;
    return buf;
}

/* readlink into a malloc'd NUL-terminated buffer, or NULL. */
static char *xreadlink(const char *path)
{
    size_t cap = 256;
    for (;;) {
        char *buf = xrealloc(NULL, cap);
        ssize_t n = readlink(path, buf, cap);
        if (n < 0) {
            int e = errno;
            free(buf);
            errno = e;
            return NULL;
        }
        if ((size_t)n < cap) {
            buf[n] = '\0';
            return buf;
        }
        free(buf);
        cap *= 2;
    }
}

/* Find "Key:" in a /proc/self/status buffer; returns malloc'd trimmed
 * value or NULL when absent. */
static char *status_field(const char *status, const char *key)
{
    if (!status)
        return NULL;
    size_t klen = strlen(key);
    const char *p = status;
    while (*p) {
        const char *eol = strchr(p, '\n');
        size_t llen = eol ? (size_t)(eol - p) : strlen(p);
        if (llen > klen && strncmp(p, key, klen) == 0 && p[klen] == ':') {
            const char *v = p + klen + 1;
            const char *end = p + llen;
            while (v < end && isspace((unsigned char)*v))
                v++;
            while (end > v && isspace((unsigned char)end[-1]))
                end--;
            size_t n = (size_t)(end - v);
            char *r = xrealloc(NULL, n + 1);
            memcpy(r, v, n);
            r[n] = '\0';
            return r;
        }
        if (!eol)
            break;
        p = eol + 1;
    }
    return NULL;
}

static int parse_long(const char *s, long *out)
{
    char *end;
    if (!s || !*s)
        return -1;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s)
        return -1;
    while (*end && isspace((unsigned char)*end))
        end++;
    if (*end)
        return -1;
    *out = v;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* ------------------------------------------------------------------ */
/* minimal JSON writer (stdout)                                        */
/* ------------------------------------------------------------------ */

#define J_MAX_DEPTH 32
static int j_depth;
static int j_need_comma[J_MAX_DEPTH];
static int j_after_key;

static void j_pre_value(void)
{
    if (j_after_key) {
        j_after_key = 0;
        return;
    }
    if (j_depth > 0 && j_need_comma[j_depth - 1])
        fputc(',', stdout);
    if (j_depth > 0)
        j_need_comma[j_depth - 1] = 1;
}

/* Emit a JSON string literal. Valid UTF-8 is copied through; control
 * characters and invalid bytes are escaped (invalid bytes as \u00XX). */
static void j_raw_string(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    fputc('"', stdout);
    while (i < n) {
        unsigned char c = p[i];
        if (c == '"') {
            fputs("\\\"", stdout);
            i++;
        } else if (c == '\\') {
            fputs("\\\\", stdout);
            i++;
        } else if (c == '\n') {
            fputs("\\n", stdout);
            i++;
        } else if (c == '\r') {
            fputs("\\r", stdout);
            i++;
        } else if (c == '\t') {
            fputs("\\t", stdout);
            i++;
        } else if (c == '\b') {
            fputs("\\b", stdout);
            i++;
        } else if (c == '\f') {
            fputs("\\f", stdout);
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            printf("\\u%04x", c);
            i++;
        } else if (c < 0x80) {
            fputc(c, stdout);
            i++;
        } else {
            /* validate a UTF-8 sequence */
            size_t len = 0;
            unsigned int cp = 0, min = 0;
            if (c >= 0xc2 && c <= 0xdf) {
                len = 2; cp = c & 0x1f; min = 0x80;
            } else if (c >= 0xe0 && c <= 0xef) {
                len = 3; cp = c & 0x0f; min = 0x800;
            } else if (c >= 0xf0 && c <= 0xf4) {
                len = 4; cp = c & 0x07; min = 0x10000;
            }
            int ok = len > 0 && i + len <= n;
            for (size_t k = 1; ok && k < len; k++) {
                if ((p[i + k] & 0xc0) != 0x80)
                    ok = 0;
                else
                    cp = (cp << 6) | (p[i + k] & 0x3f);
            }
            if (ok && (cp < min || cp > 0x10ffff ||
                       (cp >= 0xd800 && cp <= 0xdfff)))
                ok = 0;
            if (ok) {
                fwrite(p + i, 1, len, stdout);
                i += len;
            } else {
                printf("\\u%04x", c);
                i++;
            }
        }
    }
    fputc('"', stdout);
}

static void j_str(const char *s)
{
    j_pre_value();
    if (!s)
        fputs("null", stdout);
    else
        j_raw_string(s, strlen(s));
}

static void j_null(void)
{
    j_pre_value();
    fputs("null", stdout);
}

static void j_bool(int b)
{
    j_pre_value();
    fputs(b ? "true" : "false", stdout);
}

static void j_ll(long long v)
{
    j_pre_value();
    printf("%lld", v);
}

static void j_ull(unsigned long long v)
{
    j_pre_value();
    printf("%llu", v);
}

static void j_key(const char *k)
{
    j_pre_value();
    j_raw_string(k, strlen(k));
    fputc(':', stdout);
    j_after_key = 1;
}

static void j_open(char c)
{
    j_pre_value();
    fputc(c, stdout);
    if (j_depth < J_MAX_DEPTH)
        j_need_comma[j_depth] = 0;
    j_depth++;
}

static void j_close(char c)
{
    fputc(c, stdout);
    j_depth--;
}

#define j_obj_begin() j_open('{')
#define j_obj_end() j_close('}')
#define j_arr_begin() j_open('[')
#define j_arr_end() j_close(']')

static void j_finish(void)
{
    fputc('\n', stdout);
    fflush(stdout);
}

/* ------------------------------------------------------------------ */
/* info pieces                                                         */
/* ------------------------------------------------------------------ */

/* Emit array of open fds (excluding the one used for listing), or null. */
static void emit_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d) {
        j_null();
        return;
    }
    int self = dirfd(d);
    int *fds = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        long v;
        if (de->d_name[0] == '.')
            continue;
        if (parse_long(de->d_name, &v) != 0 || v == self)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            fds = xrealloc(fds, cap * sizeof(*fds));
        }
        fds[n++] = (int)v;
    }
    /* read link targets while the directory fd is still open so that its
     * number cannot be reused by anything else meanwhile */
    char **targets = xrealloc(NULL, (n ? n : 1) * sizeof(*targets));
    qsort(fds, n, sizeof(*fds), cmp_int);
    for (size_t i = 0; i < n; i++) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fds[i]);
        targets[i] = xreadlink(path);
    }
    closedir(d);

    j_arr_begin();
    for (size_t i = 0; i < n; i++) {
        j_obj_begin();
        j_key("fd");
        j_ll(fds[i]);
        j_key("target");
        j_str(targets[i]); /* null if unreadable */
        j_obj_end();
        free(targets[i]);
    }
    j_arr_end();
    free(targets);
    free(fds);
}

/* Decode mountinfo octal escapes (\040 etc.) in place. */
static void unescape_octal(char *s)
{
    char *w = s;
    for (char *r = s; *r;) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '7' && r[2] >= '0' &&
            r[2] <= '7' && r[3] >= '0' && r[3] <= '7') {
            *w++ = (char)(((r[1] - '0') << 6) | ((r[2] - '0') << 3) |
                          (r[3] - '0'));
            r += 4;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
}

static void emit_mounts(void)
{
    char *buf = read_whole("/proc/self/mountinfo", NULL);
    if (!buf) {
        j_null();
        return;
    }
    j_arr_begin();
    char *save_line = NULL;
    for (char *line = strtok_r(buf, "\n", &save_line); line;
         line = strtok_r(NULL, "\n", &save_line)) {
        /* id parent maj:min root mount_point options [optional...] -
         * fstype source super_options */
        char *fields[64];
        int nf = 0;
        char *save_f = NULL;
        for (char *f = strtok_r(line, " ", &save_f); f && nf < 64;
             f = strtok_r(NULL, " ", &save_f))
            fields[nf++] = f;
        if (nf < 7)
            continue;
        int sep = -1;
        for (int i = 6; i < nf; i++) {
            if (strcmp(fields[i], "-") == 0) {
                sep = i;
                break;
            }
        }
        if (sep < 0)
            continue;

        /* join optional fields */
        size_t olen = 1;
        for (int i = 6; i < sep; i++)
            olen += strlen(fields[i]) + 1;
        char *optional = xrealloc(NULL, olen);
        optional[0] = '\0';
        for (int i = 6; i < sep; i++) {
            if (i > 6)
                strcat(optional, " ");
            strcat(optional, fields[i]);
        }
        for (int i = 0; i < nf; i++)
            unescape_octal(fields[i]);

        long id = 0, parent = 0;
        j_obj_begin();
        j_key("mount_id");
        if (parse_long(fields[0], &id) == 0)
            j_ll(id);
        else
            j_null();
        j_key("parent_id");
        if (parse_long(fields[1], &parent) == 0)
            j_ll(parent);
        else
            j_null();
        j_key("root");
        j_str(fields[3]);
        j_key("mount_point");
        j_str(fields[4]);
        j_key("options");
        j_str(fields[5]);
        j_key("optional");
        j_str(optional);
        j_key("fs_type");
        j_str(sep + 1 < nf ? fields[sep + 1] : NULL);
        j_key("source");
        j_str(sep + 2 < nf ? fields[sep + 2] : NULL);
        j_key("super_options");
        j_str(sep + 3 < nf ? fields[sep + 3] : NULL);
        j_obj_end();
        free(optional);
    }
    j_arr_end();
    free(buf);
}

static void emit_lines_file(const char *path)
{
    char *buf = read_whole(path, NULL);
    if (!buf) {
        j_null();
        return;
    }
    j_arr_begin();
    char *p = buf;
    while (*p) {
        char *eol = strchr(p, '\n');
        if (eol)
            *eol = '\0';
        j_str(p);
        if (!eol)
            break;
        p = eol + 1;
    }
    j_arr_end();
    free(buf);
}

static const struct {
    const char *name;
    int res;
} rlimits[] = {
    {"RLIMIT_CPU", RLIMIT_CPU},
    {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_DATA", RLIMIT_DATA},
    {"RLIMIT_STACK", RLIMIT_STACK},
    {"RLIMIT_CORE", RLIMIT_CORE},
    {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_NPROC", RLIMIT_NPROC},
    {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
    {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
    {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
    {"RLIMIT_RTTIME", RLIMIT_RTTIME},
};

static void j_rlim(rlim_t v)
{
    if (v == RLIM_INFINITY)
        j_ll(-1);
    else
        j_ull((unsigned long long)v);
}

static void emit_rlimits(void)
{
    j_obj_begin();
    for (size_t i = 0; i < sizeof(rlimits) / sizeof(rlimits[0]); i++) {
        struct rlimit rl;
        j_key(rlimits[i].name);
        if (getrlimit((__rlimit_resource_t)rlimits[i].res, &rl) != 0) {
            j_null();
            continue;
        }
        j_obj_begin();
        j_key("soft");
        j_rlim(rl.rlim_cur);
        j_key("hard");
        j_rlim(rl.rlim_max);
        j_obj_end();
    }
    j_obj_end();
}

static void emit_status_number(const char *status, const char *key, int base)
{
    char *v = status_field(status, key);
    if (!v) {
        j_null();
        return;
    }
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, base);
    if (errno || end == v)
        j_null();
    else
        j_ll(n);
    free(v);
}

static void emit_status_string(const char *status, const char *key)
{
    char *v = status_field(status, key);
    j_str(v); /* null if absent */
    free(v);
}

static int loopback_up(void)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return 0;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    int up = 0;
    if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0)
        up = (ifr.ifr_flags & IFF_UP) ? 1 : 0;
    close(s);
    return up;
}

static int cmd_info(int argc, char **argv)
{
    char *status = read_whole("/proc/self/status", NULL);
    uid_t ruid, euid, suid;
    gid_t rgid, egid, sgid;

    j_obj_begin();

    j_key("pid");
    j_ll(getpid());
    j_key("ppid");
    j_ll(getppid());

    if (getresuid(&ruid, &euid, &suid) == 0) {
        j_key("uid");
        j_ull(ruid);
        j_key("euid");
        j_ull(euid);
        j_key("suid");
        j_ull(suid);
    } else {
        j_key("uid");
        j_null();
        j_key("euid");
        j_null();
        j_key("suid");
        j_null();
    }
    if (getresgid(&rgid, &egid, &sgid) == 0) {
        j_key("gid");
        j_ull(rgid);
        j_key("egid");
        j_ull(egid);
        j_key("sgid");
        j_ull(sgid);
    } else {
        j_key("gid");
        j_null();
        j_key("egid");
        j_null();
        j_key("sgid");
        j_null();
    }

    j_key("groups");
    {
        int n = getgroups(0, NULL);
        gid_t *g = n > 0 ? xrealloc(NULL, (size_t)n * sizeof(gid_t)) : NULL;
        if (n > 0)
            n = getgroups(n, g);
        if (n < 0) {
            j_null();
        } else {
            j_arr_begin();
            for (int i = 0; i < n; i++)
                j_ull(g[i]);
            j_arr_end();
        }
        free(g);
    }

    j_key("umask");
    {
        char *v = status_field(status, "Umask");
        if (v) {
            char *end;
            long m = strtol(v, &end, 8);
            if (end == v)
                j_null();
            else
                j_ll(m);
            free(v);
        } else {
            mode_t m = umask(0);
            umask(m);
            j_ll((long long)m);
        }
    }

    {
        struct utsname u;
        if (uname(&u) == 0) {
            j_key("hostname");
            j_str(u.nodename);
            j_key("domainname");
            j_str(u.domainname);
        } else {
            j_key("hostname");
            j_null();
            j_key("domainname");
            j_null();
        }
    }

    j_key("cwd");
    {
        char *cwd = getcwd(NULL, 0);
        j_str(cwd);
        free(cwd);
    }

    j_key("env");
    j_arr_begin();
    for (char **e = environ; e && *e; e++)
        j_str(*e);
    j_arr_end();

    j_key("argv");
    j_arr_begin();
    for (int i = 0; i < argc; i++)
        j_str(argv[i]);
    j_arr_end();

    j_key("caps");
    if (status) {
        j_obj_begin();
        j_key("bounding");
        emit_status_string(status, "CapBnd");
        j_key("effective");
        emit_status_string(status, "CapEff");
        j_key("permitted");
        emit_status_string(status, "CapPrm");
        j_key("inheritable");
        emit_status_string(status, "CapInh");
        j_key("ambient");
        emit_status_string(status, "CapAmb");
        j_obj_end();
    } else {
        j_null();
    }

    j_key("no_new_privs");
    emit_status_number(status, "NoNewPrivs", 10);
    j_key("seccomp");
    emit_status_number(status, "Seccomp", 10);

    j_key("rlimits");
    emit_rlimits();

    j_key("fds");
    emit_fds();

    j_key("mounts");
    emit_mounts();

    j_key("oom_score_adj");
    {
        char *v = read_whole("/proc/self/oom_score_adj", NULL);
        long n;
        if (v && parse_long(v, &n) == 0)
            j_ll(n);
        else
            j_null();
        free(v);
    }

    j_key("namespaces");
    {
        static const char *const ns[] = {"cgroup", "ipc",  "mnt",  "net",
                                         "pid",    "time", "user", "uts"};
        j_obj_begin();
        for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
            char path[64];
            snprintf(path, sizeof(path), "/proc/self/ns/%s", ns[i]);
            char *t = xreadlink(path);
            if (t) {
                j_key(ns[i]);
                j_str(t);
                free(t);
            }
        }
        j_obj_end();
    }

    j_key("cgroup");
    emit_lines_file("/proc/self/cgroup");

    j_key("loopback_up");
    j_bool(loopback_up());

    j_obj_end();
    j_finish();
    free(status);
    return 0;
}

/* ------------------------------------------------------------------ */
/* other subcommands                                                   */
/* ------------------------------------------------------------------ */

static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static int report(int rc)
{
    if (rc == 0) {
        printf("ok\n");
        fflush(stdout);
        return 0;
    }
    printf("error: %s\n", strerror(errno));
    fflush(stdout);
    return 1;
}

static int cmd_cat(int argc, char **argv)
{
    for (int i = 2; i < argc; i++) {
        int fd = open(argv[i], O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
            errmsg("cat: %s: %s", argv[i], strerror(errno));
            return 1;
        }
        char buf[65536];
        for (;;) {
            ssize_t n = read(fd, buf, sizeof(buf));
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                errmsg("cat: %s: %s", argv[i], strerror(errno));
                close(fd);
                return 1;
            }
            if (n == 0)
                break;
            if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n) {
                errmsg("cat: write error: %s", strerror(errno));
                close(fd);
                return 1;
            }
        }
        close(fd);
    }
    fflush(stdout);
    return 0;
}

static int cmd_write(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY,
                  0644);
    if (fd < 0)
        return report(-1);
    if (write_all(fd, text, strlen(text)) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return report(-1);
    }
    if (close(fd) != 0)
        return report(-1);
    return report(0);
}

static int cmd_open_write(const char *path)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return report(-1);
    close(fd);
    return report(0);
}

static void on_sigterm(int sig)
{
    (void)sig;
    _exit(0);
}

static int cmd_sleep(const char *arg)
{
    char *end;
    errno = 0;
    double secs = strtod(arg, &end);
    if (errno || end == arg || *end || !(secs >= 0)) {
        errmsg("sleep: invalid duration '%s'", arg);
        return 2;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigterm;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    fflush(stdout);

    if (isinf(secs) || secs > 1e15) {
        for (;;)
            pause();
    }
    struct timespec ts;
    ts.tv_sec = (time_t)secs;
    ts.tv_nsec = (long)((secs - (double)ts.tv_sec) * 1e9);
    if (ts.tv_nsec >= 1000000000L)
        ts.tv_nsec = 999999999L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    return 0;
}

static int cmd_mknod(const char *path)
{
    return report(mknod(path, S_IFCHR | 0666, makedev(1, 3)));
}

static int cmd_ls(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        errmsg("ls: %s: %s", dir, strerror(errno));
        return 1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            names = xrealloc(names, cap * sizeof(*names));
        }
        names[n] = strdup(de->d_name);
        if (!names[n]) {
            errmsg("out of memory");
            return 1;
        }
        n++;
    }
    closedir(d);
    qsort(names, n, sizeof(*names), cmp_str);
    for (size_t i = 0; i < n; i++) {
        printf("%s\n", names[i]);
        free(names[i]);
    }
    free(names);
    fflush(stdout);
    return 0;
}

static const char *file_type(mode_t m)
{
    switch (m & S_IFMT) {
    case S_IFCHR:
        return "chr";
    case S_IFBLK:
        return "blk";
    case S_IFDIR:
        return "dir";
    case S_IFREG:
        return "reg";
    case S_IFLNK:
        return "lnk";
    case S_IFIFO:
        return "fifo";
    case S_IFSOCK:
        return "sock";
    default:
        return "unknown";
    }
}

static int cmd_stat(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        errmsg("stat: %s: %s", path, strerror(errno));
        return 1;
    }
    j_obj_begin();
    j_key("mode");
    j_ull(st.st_mode);
    j_key("uid");
    j_ull(st.st_uid);
    j_key("gid");
    j_ull(st.st_gid);
    j_key("rdev_major");
    j_ull(major(st.st_rdev));
    j_key("rdev_minor");
    j_ull(minor(st.st_rdev));
    j_key("type");
    j_str(file_type(st.st_mode));
    j_key("size");
    j_ll((long long)st.st_size);
    j_obj_end();
    j_finish();
    return 0;
}

/* sd_notify: one datagram with MSG to $NOTIFY_SOCKET. */
static int cmd_notify(const char *msg)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un addr;
    if (!path || strlen(path) >= sizeof addr.sun_path) {
        errmsg("notify: NOTIFY_SOCKET is unset or too long");
        return 2;
    }
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    strcpy(addr.sun_path, path);
    int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0 || sendto(s, msg, strlen(msg), 0, (struct sockaddr *)&addr, sizeof addr) < 0) {
        errmsg("notify: send to %s: %s", path, strerror(errno));
        return 1;
    }
    close(s);
    return 0;
}

static int cmd_readlink(const char *path)
{
    char *t = xreadlink(path);
    if (!t) {
        errmsg("readlink: %s: %s", path, strerror(errno));
        return 1;
    }
    printf("%s\n", t);
    free(t);
    fflush(stdout);
    return 0;
}

static int cmd_kill_self(const char *arg)
{
    long sig;
    if (parse_long(arg, &sig) != 0 || sig <= 0 || sig >= NSIG) {
        errmsg("kill-self: invalid signal '%s'", arg);
        return 2;
    }
    fflush(stdout);
    fflush(stderr);
    if (raise((int)sig) != 0) {
        errmsg("kill-self: raise(%ld): %s", sig, strerror(errno));
        return 1;
    }
    /* Still alive: the signal was ignored/handled (e.g. we are PID 1 of a
     * PID namespace, where default-action signals from inside are dropped). */
    errmsg("kill-self: still alive after signal %ld", sig);
    return 1;
}

static int cmd_sigmask(void)
{
    char *status = read_whole("/proc/self/status", NULL);
    j_obj_begin();
    j_key("blocked");
    emit_status_string(status, "SigBlk");
    j_key("ignored");
    emit_status_string(status, "SigIgn");
    j_obj_end();
    j_finish();
    free(status);
    return 0;
}

static int cmd_sh_exec(int argc, char **argv)
{
    /* argv[2] = PATH, argv[3..] = ARGS; new argv = [PATH, ARGS...] */
    char **nargv = xrealloc(NULL, (size_t)(argc - 1) * sizeof(char *));
    int k = 0;
    for (int i = 2; i < argc; i++)
        nargv[k++] = argv[i];
    nargv[k] = NULL;
    fflush(stdout);
    fflush(stderr);
    execv(argv[2], nargv);
    int e = errno;
    errmsg("sh-exec: %s: %s", argv[2], strerror(e));
    free(nargv);
    return e == ENOENT ? 127 : 126;
}

/* ------------------------------------------------------------------ */
/* conformance-suite subcommands (conformance/suite)                   */
/* ------------------------------------------------------------------ */

static int cmd_open_read(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return report(-1);
    close(fd);
    return report(0);
}

/* ioprio_get(IOPRIO_WHO_PROCESS, 0): class in the top bits, level below. */
static int cmd_ioprio(void)
{
    long v = syscall(SYS_ioprio_get, 1, 0);
    if (v < 0) {
        errmsg("ioprio: %s", strerror(errno));
        return 1;
    }
    j_obj_begin();
    j_key("class");
    j_ll(v >> 13);
    j_key("level");
    j_ll(v & 0x1fff);
    j_obj_end();
    j_finish();
    return 0;
}

/* The kernel's struct sched_attr (uapi/linux/sched/types.h). */
struct ocitest_sched_attr {
    unsigned int size;
    unsigned int sched_policy;
    unsigned long long sched_flags;
    int sched_nice;
    unsigned int sched_priority;
    unsigned long long sched_runtime;
    unsigned long long sched_deadline;
    unsigned long long sched_period;
    unsigned int sched_util_min;
    unsigned int sched_util_max;
};

static int cmd_sched(void)
{
    struct ocitest_sched_attr a;
    memset(&a, 0, sizeof(a));
    if (syscall(SYS_sched_getattr, 0, &a, (unsigned int)sizeof(a), 0) != 0) {
        errmsg("sched: sched_getattr: %s", strerror(errno));
        return 1;
    }
    j_obj_begin();
    j_key("policy");
    j_ull(a.sched_policy);
    j_key("flags");
    j_ull(a.sched_flags);
    j_key("nice");
    j_ll(a.sched_nice);
    j_key("priority");
    j_ull(a.sched_priority);
    j_key("runtime");
    j_ull(a.sched_runtime);
    j_key("deadline");
    j_ull(a.sched_deadline);
    j_key("period");
    j_ull(a.sched_period);
    j_obj_end();
    j_finish();
    return 0;
}

static void j_clock(const char *name, clockid_t id)
{
    struct timespec ts;
    j_key(name);
    if (clock_gettime(id, &ts) != 0) {
        j_null();
        return;
    }
    j_pre_value();
    printf("%lld.%09ld", (long long)ts.tv_sec, ts.tv_nsec);
}

static int cmd_clocks(void)
{
    j_obj_begin();
    j_clock("monotonic", CLOCK_MONOTONIC);
    j_clock("boottime", CLOCK_BOOTTIME);
    j_clock("realtime", CLOCK_REALTIME);
    j_obj_end();
    j_finish();
    return 0;
}

/* get_mempolicy(2): the mode word carries the mode flags in its high bits. */
static int cmd_mempolicy(void)
{
    int mode = 0;
    unsigned long mask[16];
    memset(mask, 0, sizeof(mask));
    if (syscall(SYS_get_mempolicy, &mode, mask, (unsigned long)(sizeof(mask) * 8), 0UL, 0UL) != 0) {
        errmsg("mempolicy: get_mempolicy: %s", strerror(errno));
        return 1;
    }
    j_obj_begin();
    j_key("mode");
    j_ll(mode & 0xff);
    j_key("flags");
    j_ll(mode & ~0xff);
    j_key("nodes");
    j_arr_begin();
    for (unsigned int i = 0; i < sizeof(mask) * 8; i++)
        if (mask[i / (8 * sizeof(unsigned long))] & (1UL << (i % (8 * sizeof(unsigned long)))))
            j_ll(i);
    j_arr_end();
    j_obj_end();
    j_finish();
    return 0;
}

static int cmd_winsize(void)
{
    struct winsize ws;
    if (ioctl(0, TIOCGWINSZ, &ws) != 0) {
        errmsg("winsize: %s", strerror(errno));
        return 1;
    }
    printf("%u %u\n", ws.ws_row, ws.ws_col);
    fflush(stdout);
    return 0;
}

static int cmd_uname(void)
{
    struct utsname u;
    if (uname(&u) != 0) {
        errmsg("uname: %s", strerror(errno));
        return 1;
    }
    j_obj_begin();
    j_key("sysname");
    j_str(u.sysname);
    j_key("nodename");
    j_str(u.nodename);
    j_key("release");
    j_str(u.release);
    j_key("machine");
    j_str(u.machine);
    j_key("domainname");
    j_str(u.domainname);
    j_obj_end();
    j_finish();
    return 0;
}

/* Prefix length of a netmask. */
static int mask_bits(const struct sockaddr *sa)
{
    int bits = 0;
    const unsigned char *p;
    size_t n;
    if (!sa)
        return -1;
    if (sa->sa_family == AF_INET) {
        p = (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
        n = 4;
    } else if (sa->sa_family == AF_INET6) {
        p = (const unsigned char *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
        n = 16;
    } else {
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        for (int b = 7; b >= 0; b--)
            bits += (p[i] >> b) & 1;
    return bits;
}

/* One object per getifaddrs() entry: interface name, flags, and the
 * address ("family": "inet"/"inet6"/other) with its prefix length. */
static int cmd_netif(void)
{
    struct ifaddrs *ifa = NULL;
    if (getifaddrs(&ifa) != 0) {
        errmsg("netif: getifaddrs: %s", strerror(errno));
        return 1;
    }
    j_arr_begin();
    for (struct ifaddrs *p = ifa; p; p = p->ifa_next) {
        char buf[INET6_ADDRSTRLEN] = "";
        const char *family = "other";
        if (p->ifa_addr && p->ifa_addr->sa_family == AF_INET) {
            family = "inet";
            inet_ntop(AF_INET, &((struct sockaddr_in *)p->ifa_addr)->sin_addr, buf, sizeof(buf));
        } else if (p->ifa_addr && p->ifa_addr->sa_family == AF_INET6) {
            family = "inet6";
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)p->ifa_addr)->sin6_addr, buf, sizeof(buf));
        }
        j_obj_begin();
        j_key("name");
        j_str(p->ifa_name);
        j_key("flags");
        j_ull(p->ifa_flags);
        j_key("family");
        j_str(family);
        j_key("address");
        if (buf[0])
            j_str(buf);
        else
            j_null();
        j_key("prefix");
        j_ll(buf[0] ? mask_bits(p->ifa_netmask) : -1);
        j_obj_end();
    }
    j_arr_end();
    j_finish();
    freeifaddrs(ifa);
    return 0;
}

/* Block every signal, print the number of the first one that arrives. */
static int cmd_sigwait(void)
{
    sigset_t all;
    siginfo_t si;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, NULL);
    printf("ready\n");
    fflush(stdout);
    for (;;) {
        int sig = sigwaitinfo(&all, &si);
        if (sig < 0) {
            if (errno == EINTR)
                continue;
            errmsg("sigwait: %s", strerror(errno));
            return 1;
        }
        printf("signal %d\n", sig);
        fflush(stdout);
        return 0;
    }
}

static int run(int argc, char **argv);

/* multi CMD [ARGS...] [--- CMD [ARGS...]]...: each subcommand runs in a
 * forked child (fork keeps credentials, capabilities, limits, seccomp and
 * namespaces), so one container reports many observations of itself. */
static int cmd_multi(int argc, char **argv)
{
    int idx = 0;
    printf("@@ocitest-multi pid=%ld\n", (long)getpid());
    fflush(stdout);
    for (int start = 2; start < argc; idx++) {
        int end = start;
        while (end < argc && strcmp(argv[end], "---") != 0)
            end++;
        printf("@@ocitest-begin %d\n", idx);
        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork();
        if (pid < 0) {
            printf("@@ocitest-end %d fork-error %d\n", idx, errno);
        } else if (pid == 0) {
            /* the child's argv: [prog, CMD, ARGS...] */
            int n = end - start;
            char **cargv = xrealloc(NULL, (size_t)(n + 2) * sizeof(char *));
            cargv[0] = argv[0];
            for (int i = 0; i < n; i++)
                cargv[i + 1] = argv[start + i];
            cargv[n + 1] = NULL;
            die_exit(run(n + 1, cargv));
        } else {
            int st = 0;
            while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
            fflush(stdout);
            if (WIFSIGNALED(st))
                printf("@@ocitest-end %d signal %d\n", idx, WTERMSIG(st));
            else
                printf("@@ocitest-end %d exit %d\n", idx, WEXITSTATUS(st));
        }
        fflush(stdout);
        start = end + 1;
    }
    return 0;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: %s SUBCOMMAND [args]\n"
            "  info | cat FILE... | write FILE TEXT | open-write FILE |\n"
            "  sleep SECONDS | exit CODE | mknod PATH | ls DIR | stat PATH |\n"
            "  readlink PATH | notify MSG | kill-self SIGNAL | fds | sigmask |\n"
            "  syscall mkdir PATH | syscall personality N | syscall nr N | sh-exec PATH ARGS... |\n"
            "  open-read FILE | ioprio | sched | clocks | mempolicy | winsize |\n"
            "  uname | netif | sigwait | multi CMD... [--- CMD...]...\n",
            prog);
    fflush(stdout);
    fflush(stderr);
}

#define NEED(n)                                                                \
    do {                                                                       \
        if (argc != (n)) {                                                     \
            usage();                                                           \
            return 2;                                                          \
        }                                                                      \
    } while (0)

/* "syscall mkdir PATH" / "syscall personality N": make the call, print
 * "RESULT ERRNO" (seccomp tests: what a filter did to it). */
static int cmd_syscall(const char *name, const char *arg)
{
    long rc;
    errno = 0;
    if (strcmp(name, "mkdir") == 0) {
        rc = mkdir(arg, 0755);
    } else if (strcmp(name, "personality") == 0) {
        rc = syscall(SYS_personality, strtoul(arg, NULL, 0));
    } else if (strcmp(name, "nr") == 0) { /* a raw system call number, no arguments */
        rc = syscall(strtol(arg, NULL, 0));
    } else {
        errmsg("syscall: unknown call '%s'", name);
        return 2;
    }
    printf("%ld %d\n", rc, rc < 0 ? errno : 0);
    return 0;
}

static int run(int argc, char **argv)
{
    if (argc < 2) {
        usage();
        return 2;
    }
    const char *cmd = argv[1];

    if (strcmp(cmd, "info") == 0)
        return cmd_info(argc, argv);
    if (strcmp(cmd, "cat") == 0) {
        if (argc < 3) {
            usage();
            return 2;
        }
        return cmd_cat(argc, argv);
    }
    if (strcmp(cmd, "write") == 0) {
        NEED(4);
        return cmd_write(argv[2], argv[3]);
    }
    if (strcmp(cmd, "open-write") == 0) {
        NEED(3);
        return cmd_open_write(argv[2]);
    }
    if (strcmp(cmd, "sleep") == 0) {
        NEED(3);
        return cmd_sleep(argv[2]);
    }
    if (strcmp(cmd, "exit") == 0) {
        long code;
        NEED(3);
        if (parse_long(argv[2], &code) != 0) {
            errmsg("exit: invalid code '%s'", argv[2]);
            return 2;
        }
        return (int)code;
    }
    if (strcmp(cmd, "mknod") == 0) {
        NEED(3);
        return cmd_mknod(argv[2]);
    }
    if (strcmp(cmd, "ls") == 0) {
        NEED(3);
        return cmd_ls(argv[2]);
    }
    if (strcmp(cmd, "stat") == 0) {
        NEED(3);
        return cmd_stat(argv[2]);
    }
    if (strcmp(cmd, "notify") == 0) {
        NEED(3);
        return cmd_notify(argv[2]);
    }
    if (strcmp(cmd, "readlink") == 0) {
        NEED(3);
        return cmd_readlink(argv[2]);
    }
    if (strcmp(cmd, "kill-self") == 0) {
        NEED(3);
        return cmd_kill_self(argv[2]);
    }
    if (strcmp(cmd, "fds") == 0) {
        NEED(2);
        emit_fds();
        j_finish();
        return 0;
    }
    if (strcmp(cmd, "sigmask") == 0) {
        NEED(2);
        return cmd_sigmask();
    }
    if (strcmp(cmd, "syscall") == 0) {
        NEED(4);
        return cmd_syscall(argv[2], argv[3]);
    }
    if (strcmp(cmd, "sh-exec") == 0) {
        if (argc < 3) {
            usage();
            return 2;
        }
        return cmd_sh_exec(argc, argv);
    }
    if (strcmp(cmd, "open-read") == 0) {
        NEED(3);
        return cmd_open_read(argv[2]);
    }
    if (strcmp(cmd, "ioprio") == 0) {
        NEED(2);
        return cmd_ioprio();
    }
    if (strcmp(cmd, "sched") == 0) {
        NEED(2);
        return cmd_sched();
    }
    if (strcmp(cmd, "clocks") == 0) {
        NEED(2);
        return cmd_clocks();
    }
    if (strcmp(cmd, "mempolicy") == 0) {
        NEED(2);
        return cmd_mempolicy();
    }
    if (strcmp(cmd, "winsize") == 0) {
        NEED(2);
        return cmd_winsize();
    }
    if (strcmp(cmd, "uname") == 0) {
        NEED(2);
        return cmd_uname();
    }
    if (strcmp(cmd, "netif") == 0) {
        NEED(2);
        return cmd_netif();
    }
    if (strcmp(cmd, "sigwait") == 0) {
        NEED(2);
        return cmd_sigwait();
    }
    if (strcmp(cmd, "multi") == 0)
        return cmd_multi(argc, argv);
    errmsg("unknown subcommand '%s'", cmd);
    usage();
    return 2;
}

int main(int argc, char **argv)
{
    int rc = run(argc, argv);
    die_exit(rc);
    return rc;
}
