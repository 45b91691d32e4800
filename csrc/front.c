/*
 * pyrunc's front door: the `pyrunc` command itself.
 *
 * containerd's shim and Podman call state, start, kill and delete several
 * times per container, and the interpreter's start alone costs more than
 * runc's whole command. For the plain cases of those (and of list, pause,
 * resume and ps --format json) this program carries out what Python decided
 * at create and wrote into the container's front record
 * (runtime/front_record.py says what is in it). Everything else is Python's:
 * runtime/cli.py, started by execv of pyrunc-python next to this binary with
 * the same arguments.
 *
 * The rules:
 *  - It decides nothing Python did not: it derives the status as state.py
 *    does, from the record, /proc and the cgroup files, and does only the
 *    steps the record allows. Any other command, flag, value, state or
 *    failure goes to Python, which reads the command line afresh.
 *  - It goes to Python before it has changed anything, or after steps that
 *    Python then repeats harmlessly: a SIGKILL to the cgroup (kill --all),
 *    removing cgroup dirs (delete, which Python finishes).
 *  - It prints no error: errors are Python's, with their words, --log and
 *    --log-format. It writes stdout once the whole answer is ready.
 *  - PYRUNC_FRONT=off hands every command to Python; PYRUNC_FRONT=trace says
 *    on stderr which side answered and why. --debug and PYRUNC_FAULT (the
 *    fault-injection tests) go to Python.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define RECORD_MAX (1 << 20)
#define MAX_KEYS 48
#define MAX_DIRS 32 /* a container's cgroup dirs, one per hierarchy */
#define TIMEOUT_MS 10000 /* as teardown.KILL_TIMEOUT and freezer.FREEZE_TIMEOUT */
#define INIT_NAME "pyrunc:init" /* the C init's comm until it execs (state.INIT_NAME) */
#define SIGRTMAX_LINUX 64

static char **g_argv;
static int g_trace;

/* -- handing over to Python -- */

static void __attribute__((noreturn)) python(const char *why)
{
    char self[PATH_MAX], script[PATH_MAX + 16];
    ssize_t n;

    if (g_trace)
        fprintf(stderr, "pyrunc-front: python: %s\n", why);
    n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        fprintf(stderr, "pyrunc: /proc/self/exe: %s\n", strerror(errno));
        exit(1);
    }
    self[n] = '\0';
    *strrchr(self, '/') = '\0';
    snprintf(script, sizeof script, "%s/pyrunc-python", self);
    execv(script, g_argv);
    fprintf(stderr, "pyrunc: cannot run %s: %s (reinstall pyrunc: scripts/setup.sh)\n", script,
            strerror(errno));
    exit(1);
}

static int answered(const char *verb)
{
    if (g_trace)
        fprintf(stderr, "pyrunc-front: answered %s\n", verb);
    return 0;
}

/* -- small file reads -- */

/* open(2), close-on-exec, as one system call: musl's open() follows an
 * O_CLOEXEC open with fcntl(FD_SETFD) for kernels before 2.6.23, which list
 * would pay three times per container. */
static int open_at(int dirfd, const char *path, int flags)
{
    return (int)syscall(SYS_openat, dirfd, path, flags | O_CLOEXEC, 0);
}

/* --root's dir, opened once: each container's files are opened relative to
 * it, a shorter path walk (list reads three per container). */
static int root_fd(const char *root)
{
    static int fd = -1;

    if (fd < 0 && (fd = open_at(AT_FDCWD, root, O_PATH | O_DIRECTORY)) < 0)
        python("root unreadable");
    return fd;
}

/* A kernel file of one record (/proc/PID/stat, a cgroup control file):
 * one read, NUL-terminated. Its length, or -1. */
static ssize_t read_small(const char *path, char *buf, size_t size)
{
    int fd = open_at(AT_FDCWD, path, O_RDONLY);
    ssize_t n;

    if (fd < 0)
        return -1;
    n = read(fd, buf, size - 1);
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return n;
}

static int write_file(const char *path, const char *value)
{
    int fd = open_at(AT_FDCWD, path, O_WRONLY);
    ssize_t n;
    int saved;

    if (fd < 0)
        return -1;
    n = write(fd, value, strlen(value));
    saved = errno;
    close(fd);
    errno = saved;
    return n < 0 ? -1 : 0;
}

static char *strip(char *s)
{
    char *end = s + strlen(s);

    while (*s == ' ' || *s == '\t' || *s == '\n')
        s++;
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n'))
        *--end = '\0';
    return s;
}

static int is_dir(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void sleep_ms(double ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)((ms - (time_t)(ms / 1000) * 1000) * 1e6)};

    nanosleep(&ts, NULL);
}

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* -- the front record -- */

struct container {
    char *dir;         /* --root/id (set_dir); pointers, not arrays: list keeps 500 */
    const char *id;    /* the state dir's name under --root */
    int root_fd;       /* --root's dir (root_fd) */
    char *keys[MAX_KEYS], *values[MAX_KEYS];
    size_t lengths[MAX_KEYS];
    int count;
    char *dirs[MAX_DIRS]; /* the record's `dirs`, one per line */
    int ndirs;
    long pid;
    unsigned long long start;
};

static void set_dir(struct container *c, const char *root, const char *id)
{
    size_t size = strlen(root) + strlen(id) + 2;

    if (size > PATH_MAX)
        python("path too long");
    if (!(c->dir = malloc(size)))
        python("out of memory");
    snprintf(c->dir, size, "%s/%s", root, id);
    c->id = id;
}

static int find(const struct container *c, const char *key)
{
    for (int i = 0; i < c->count; i++)
        if (strcmp(c->keys[i], key) == 0)
            return i;
    python("front record without its fields");
}

static const char *get(const struct container *c, const char *key)
{
    return c->values[find(c, key)];
}

static size_t length(const struct container *c, const char *key)
{
    return c->lengths[find(c, key)];
}

static int flag(const struct container *c, const char *key)
{
    return strcmp(get(c, key), "1") == 0;
}

/* `KEY LENGTH\n` + LENGTH bytes + `\n`, each value NUL-terminated in place. */
static int parse(struct container *c, char *buf, size_t size)
{
    size_t i = 0;

    while (i < size) {
        char *line = buf + i, *nl = memchr(line, '\n', size - i), *sp, *end;
        unsigned long len;
        size_t start;

        if (!nl || !(sp = memchr(line, ' ', (size_t)(nl - line))) || c->count == MAX_KEYS)
            return -1;
        *sp = '\0';
        len = strtoul(sp + 1, &end, 10);
        start = (size_t)(nl + 1 - buf);
        if (end != nl || len >= size - start || buf[start + len] != '\n')
            return -1;
        buf[start + len] = '\0';
        c->keys[c->count] = line;
        c->values[c->count] = buf + start;
        c->lengths[c->count++] = len;
        i = start + len + 1;
    }
    return 0;
}

static int number(const char *text, unsigned long long *out)
{
    char *end;

    if (*text < '0' || *text > '9')
        return -1;
    errno = 0;
    *out = strtoull(text, &end, 10);
    return *end || errno ? -1 : 0;
}

static void load(struct container *c, const char *root, const char *id)
{
    char path[PATH_MAX + 16], saved[48], *buf;
    struct stat st;
    unsigned long long pid;
    ssize_t got = 0, n;
    int fd;

    set_dir(c, root, id);
    snprintf(path, sizeof path, "%s/front", id);
    fd = open_at(root_fd(root), path, O_RDONLY);
    if (fd < 0)
        python("no front record (a create under way or dead, or no container)");
    if (fstat(fd, &st) < 0 || st.st_size > RECORD_MAX || !(buf = malloc((size_t)st.st_size + 1)))
        python("front record unreadable");
    while (got < st.st_size && (n = read(fd, buf + got, (size_t)(st.st_size - got))) > 0)
        got += n;
    close(fd);
    c->count = 0;
    if (got != st.st_size || parse(c, buf, (size_t)got) < 0)
        python("front record corrupt");
    if (strcmp(get(c, "version"), "1") != 0)
        python("front record of another version");
    if (number(get(c, "pid"), &pid) < 0 || pid == 0 || pid > INT_MAX
        || number(get(c, "init_start"), &c->start) < 0)
        python("front record without the init");
    snprintf(path, sizeof path, "%s/state.json", id);
    if (fstatat(root_fd(root), path, &st, 0) < 0)
        python("state.json is missing");
    c->root_fd = root_fd(root);
    snprintf(saved, sizeof saved, "%lld %lld", (long long)st.st_size,
             (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec);
    if (strcmp(saved, get(c, "state_json")) != 0)
        python("state.json changed since create wrote the front record");
    c->pid = (long)pid;
    c->ndirs = 0;
    for (char *d = c->values[find(c, "dirs")], *save; (d = strtok_r(d, "\n", &save)); d = NULL) {
        if (c->ndirs == MAX_DIRS)
            python("too many cgroup dirs");
        c->dirs[c->ndirs++] = d;
    }
}

/* -- the status, derived as state.ContainerDir.status does -- */

enum status { CREATED, RUNNING, PAUSED, STOPPED };
static const char *const STATUS[] = {"created", "running", "paused", "stopped"};

/* The process's start time and comm, or -1 if it is gone or a zombie. */
static int start_and_name(long pid, unsigned long long *start, char *name, size_t size)
{
    char path[32], stat[1024], *open_paren, *close_paren, *field;
    int i;

    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    if (read_small(path, stat, sizeof stat) < 0 || !(open_paren = strchr(stat, '('))
        || !(close_paren = strrchr(stat, ')')) || close_paren[1] != ' ')
        return -1;
    field = close_paren + 2; /* field 3, the state */
    if (*field == 'Z' || *field == 'X')
        return -1;
    for (i = 3; i < 22; i++) { /* to field 22, the start time */
        field = strchr(field, ' ');
        if (!field)
            return -1;
        field++;
    }
    *start = strtoull(field, NULL, 10);
    snprintf(name, size, "%.*s", (int)(close_paren - open_paren - 1), open_paren + 1);
    return 0;
}

static int frozen(const struct container *c)
{
    const char *file = get(c, "freeze_file");
    char value[64], when[128], *word, *save;

    if (!*file || read_small(file, value, sizeof value) < 0)
        return 0;
    snprintf(when, sizeof when, "%s", get(c, "frozen_when"));
    for (word = strtok_r(when, " ", &save); word; word = strtok_r(NULL, " ", &save))
        if (strcmp(strip(value), word) == 0)
            return 1;
    return 0;
}

static enum status status_of(const struct container *c)
{
    unsigned long long start;
    char name[32], fifo[PATH_MAX + 16];
    struct stat st;

    if (start_and_name(c->pid, &start, name, sizeof name) < 0 || start != c->start)
        return STOPPED;
    if (frozen(c)) /* a frozen created container is paused too (runc) */
        return PAUSED;
    snprintf(fifo, sizeof fifo, "%s/exec.fifo", c->id);
    if (strcmp(name, INIT_NAME) == 0 && fstatat(c->root_fd, fifo, &st, 0) == 0)
        return CREATED;
    return RUNNING;
}

/* A pidfd of the init, if it is still the process the record names. */
static int init_pidfd(const struct container *c)
{
    unsigned long long start;
    char name[32];
    int fd = (int)syscall(SYS_pidfd_open, (pid_t)c->pid, 0);

    if (fd < 0)
        return -1;
    if (start_and_name(c->pid, &start, name, sizeof name) < 0 || start != c->start) {
        close(fd);
        return -1;
    }
    return fd;
}

/* -- output -- */

struct out {
    char *data;
    size_t len, cap;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->len + n > o->cap) {
        o->cap = (o->len + n) * 2 + 4096;
        if (!(o->data = realloc(o->data, o->cap)))
            python("out of memory");
    }
    memcpy(o->data + o->len, s, n);
    o->len += n;
}

static void puts_(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

static int flush_out(const struct out *o)
{
    size_t done = 0;

    while (done < o->len) {
        ssize_t n = write(1, o->data + done, o->len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fprintf(stderr, "pyrunc: write standard output: %s\n", strerror(errno));
            return 1;
        }
        done += (size_t)n;
    }
    return 0;
}

/* The OCI state from its three parts: a + pid + b + status + c. */
static void put_state(struct out *o, const struct container *c, enum status s, const char *part)
{
    char key[8], pid[24];

    snprintf(pid, sizeof pid, "%ld", s == STOPPED ? 0 : c->pid);
    snprintf(key, sizeof key, "%s_a", part);
    put(o, get(c, key), length(c, key));
    puts_(o, pid);
    key[strlen(key) - 1] = 'b';
    put(o, get(c, key), length(c, key));
    puts_(o, STATUS[s]);
    key[strlen(key) - 1] = 'c';
    put(o, get(c, key), length(c, key));
}

/* -- the commands -- */

static int cmd_state(const char *root, const char *id)
{
    struct container c;
    struct out o = {0};

    load(&c, root, id);
    put_state(&o, &c, status_of(&c), "state");
    puts_(&o, "\n");
    return flush_out(&o) || answered("state");
}

/* The container's directory, locked as ContainerDir.lock() does. */
static int lock_dir(const char *root, const char *id, struct container *c)
{
    int fd;

    set_dir(c, root, id);
    fd = open_at(AT_FDCWD, c->dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return -1;
    if (flock(fd, LOCK_EX) < 0)
        python("flock failed");
    if (!is_dir(c->dir)) { /* deleted while we waited for the lock */
        close(fd);
        return -1;
    }
    return fd;
}

static int cmd_start(const char *root, const char *id)
{
    struct container c;
    char fifo[PATH_MAX + 16], byte;
    struct pollfd fds[2];
    const char *notify = getenv("NOTIFY_SOCKET");
    int pidfd;

    if (lock_dir(root, id, &c) < 0)
        python("no such container");
    load(&c, root, id);
    if (!flag(&c, "start"))
        python("start runs hooks");
    if (flag(&c, "notify") && notify && *notify)
        python("start relays NOTIFY_SOCKET");
    if (status_of(&c) != CREATED || (pidfd = init_pidfd(&c)) < 0)
        python("not a created container");
    snprintf(fifo, sizeof fifo, "%s/exec.fifo", c.dir);
    fds[0] = (struct pollfd){.fd = open_at(AT_FDCWD, fifo, O_RDONLY | O_NONBLOCK), .events = POLLIN};
    fds[1] = (struct pollfd){.fd = pidfd, .events = POLLIN};
    if (fds[0].fd < 0)
        python("no exec fifo");
    /* The init opens the fifo for writing, writes one byte and execs; if it
     * dies instead, its pidfd becomes readable (Python then says so). */
    for (;;) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            python("poll failed");
        }
        if (fds[0].revents && read(fds[0].fd, &byte, 1) == 1)
            break;
        if (fds[1].revents)
            python("the init died");
    }
    unlink(fifo);
    return answered("start");
}

/* Freeze or thaw, and wait until the kernel says done (Freezer._set). */
static void set_freezer(const struct container *c, int freeze)
{
    const char *file = get(c, "freeze_file"), *settle = get(c, "settle_file");
    const char *value = get(c, freeze ? "freeze_value" : "thaw_value");
    const char *done = get(c, freeze ? "frozen_line" : "thawed_line");
    char text[256];
    double delay = 0.5;
    long long deadline;

    if (!*file || write_file(file, value) < 0)
        python("no freezer, or it refused");
    deadline = now_ms() + TIMEOUT_MS;
    for (;;) {
        char *line, *save;
        if (read_small(settle, text, sizeof text) < 0)
            python("cannot read the freezer's state");
        for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
            if (strcmp(strip(line), done) == 0)
                return;
        if (now_ms() > deadline)
            python("the freezer did not settle in time");
        sleep_ms(delay);
        delay = delay * 2 > 50 ? 50 : delay * 2;
    }
}

/* SIGKILL to every process of the cgroup at once (Manager.kill's cgroup.kill). */
static int cgroup_kill(const char *dir)
{
    char path[PATH_MAX + 16];

    snprintf(path, sizeof path, "%s/cgroup.kill", dir);
    return write_file(path, "1");
}

/* cgroup.kill of the container, or Python, which kills pid by pid where the
 * kernel has no cgroup.kill (and says why where it refuses). */
static void kill_or_python(const struct container *c)
{
    const char *dir = get(c, "kill_dir");

    if (!*dir || cgroup_kill(dir) < 0)
        python("no cgroup.kill, or it refused");
}

/* kill --all KILL, as kill._signal_all: cgroup.kill, then a thaw (a v1-frozen
 * process dies of SIGKILL only once thawed). Python's freeze before it is
 * left out: cgroup.kill reaches forks too. */
static void kill_all(const struct container *c)
{
    kill_or_python(c);
    if (*get(c, "freeze_file"))
        set_freezer(c, 0);
}

static int parse_signal(const char *text)
{
    static const struct { const char *name; int number; } names[] = {
        {"KILL", SIGKILL}, {"SIGKILL", SIGKILL}, {"TERM", SIGTERM}, {"SIGTERM", SIGTERM},
        {"kill", SIGKILL}, {"sigkill", SIGKILL}, {"term", SIGTERM}, {"sigterm", SIGTERM},
    };
    unsigned long long n;

    if (strlen(text) <= 3 && number(text, &n) == 0 && n <= SIGRTMAX_LINUX)
        return (int)n;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(text, names[i].name) == 0)
            return names[i].number;
    python("a signal name Python reads");
}

static int any_dir(const struct container *c)
{
    for (int i = 0; i < c->ndirs; i++)
        if (is_dir(c->dirs[i]))
            return 1;
    return 0;
}

static int cmd_kill(const char *root, const char *id, const char *signal_text, int all)
{
    struct container c;
    int sig = parse_signal(signal_text), pidfd;
    enum status s;

    load(&c, root, id);
    s = status_of(&c);
    if (all) {
        /* Every process of the cgroup in any state, stopped included (the
         * shim ends what a shared-pid container's dead init left). */
        if (sig != SIGKILL || !c.ndirs)
            python("kill --all of another signal, or without cgroups");
        if (s != STOPPED || any_dir(&c))
            kill_all(&c);
        return answered("kill --all");
    }
    if (s == STOPPED || (pidfd = init_pidfd(&c)) < 0)
        python("not running");
    if (syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0)
        python("pidfd_send_signal failed");
    return answered("kill");
}

/* A cgroup dir, the sub-cgroups in it first (Manager.destroy). 0 or an errno. */
static int remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char sub[PATH_MAX];
    int err = 0;

    if (!d)
        return errno == ENOENT ? 0 : errno;
    while ((e = readdir(d)))
        if (e->d_type == DT_DIR && strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            if ((size_t)snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name) >= sizeof sub)
                err = ENAMETOOLONG;
            else if (!err)
                err = remove_tree(sub);
        }
    closedir(d);
    if (!err && rmdir(dir) < 0 && errno != ENOENT)
        err = errno;
    return err;
}

static int remove_cgroups(const struct container *c)
{
    int err = 0;

    for (int i = 0; i < c->ndirs; i++) {
        int e = remove_tree(c->dirs[i]);
        if (e && !err)
            err = e;
    }
    return err;
}

/* Until the cgroup2 dir holds no process, woken by cgroup.events. */
static int wait_empty(const char *dir)
{
    char path[PATH_MAX + 16], events[256];
    struct pollfd pfd = {.events = POLLPRI};
    long long deadline = now_ms() + TIMEOUT_MS;
    int found = 0;

    snprintf(path, sizeof path, "%s/cgroup.events", dir);
    if ((pfd.fd = open_at(AT_FDCWD, path, O_RDONLY)) < 0)
        return -1;
    for (;;) {
        ssize_t n = pread(pfd.fd, events, sizeof events - 1, 0);
        long long left = deadline - now_ms();
        if (n < 0)
            break;
        events[n] = '\0';
        if (strstr(events, "populated 0")) {
            found = 1;
            break;
        }
        if (left <= 0)
            break;
        poll(&pfd, 1, (int)left);
    }
    close(pfd.fd);
    return found ? 0 : -1;
}

static int remove_state_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[PATH_MAX * 2];

    if (!d)
        return errno == ENOENT ? 0 : -1;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            if (unlink(path) < 0 && errno != ENOENT) {
                closedir(d);
                return -1;
            }
        }
    closedir(d);
    return rmdir(dir) < 0 && errno != ENOENT ? -1 : 0;
}

/* delete --force of a live container, as teardown._kill_everything: every
 * process through cgroup.kill, a thaw (a v1-frozen process dies only once
 * thawed), then the init's pidfd until it has gone. */
static void kill_everything(const struct container *c)
{
    struct pollfd pfd = {.fd = init_pidfd(c), .events = POLLIN};

    kill_or_python(c);
    if (frozen(c))
        set_freezer(c, 0);
    if (pfd.fd >= 0) {
        syscall(SYS_pidfd_send_signal, pfd.fd, SIGKILL, NULL, 0);
        while (poll(&pfd, 1, TIMEOUT_MS) < 0 && errno == EINTR)
            ;
        close(pfd.fd);
    }
}

static int cmd_delete(const char *root, const char *id, int force)
{
    struct container c;
    const char *kill_dir;
    double delay = 1;
    long long deadline;
    int err, retried = 0;

    if (lock_dir(root, id, &c) < 0) {
        if (force && (errno == ENOENT || errno == ENOTDIR))
            return answered("delete --force of no container");
        python("no such container");
    }
    load(&c, root, id);
    if (!flag(&c, "delete"))
        python("delete runs hooks, unmounts or stops a unit");
    kill_dir = get(&c, "kill_dir");
    if (status_of(&c) != STOPPED) {
        if (!force)
            python("not stopped");
        kill_everything(&c);
    }
    /* What a stopped container left (a shared-pid container's orphans), or
     * killed processes still exiting, keep a cgroup busy: kill, wait for the
     * kernel to say empty (or, once the cgroup2 dir is gone, back off), retry,
     * as teardown._remove_cgroups does. */
    deadline = now_ms() + TIMEOUT_MS;
    while ((err = remove_cgroups(&c)) == EBUSY && *kill_dir && now_ms() < deadline) {
        cgroup_kill(kill_dir);
        if (wait_empty(kill_dir) < 0 || retried++) { /* no spinning on a busy v1 dir */
            sleep_ms(delay);
            delay = delay * 2 > 50 ? 50 : delay * 2;
        }
    }
    if (err)
        python("cgroups not removable");
    if (remove_state_dir(c.dir) < 0)
        python("state directory not removable");
    return answered("delete");
}

static int cmd_pause(const char *root, const char *id, int pause)
{
    struct container c;
    enum status s;

    if (lock_dir(root, id, &c) < 0)
        python("no such container");
    load(&c, root, id);
    s = status_of(&c);
    if (pause ? s != CREATED && s != RUNNING : s != PAUSED)
        python(pause ? "not running" : "not paused");
    set_freezer(&c, pause);
    return answered(pause ? "pause" : "resume");
}

static int by_number(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;

    return (x > y) - (x < y);
}

struct pids {
    long *pid;
    size_t count, cap;
};

/* Every pid in dir's cgroup.procs and its sub-cgroups' (Manager.pids). */
static void collect_pids(const char *dir, struct pids *p)
{
    char path[PATH_MAX + 16], *text = NULL, *line, *save;
    size_t size = 0;
    DIR *d;
    struct dirent *e;
    FILE *f;

    snprintf(path, sizeof path, "%s/cgroup.procs", dir);
    if ((f = fopen(path, "re"))) {
        while (getline(&text, &size, f) > 0)
            for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                if (p->count == p->cap
                    && !(p->pid = realloc(p->pid, (p->cap = p->cap * 2 + 64) * sizeof *p->pid)))
                    python("out of memory");
                p->pid[p->count++] = strtol(line, NULL, 10);
            }
        fclose(f);
        free(text);
    }
    if (!(d = opendir(dir)))
        return; /* removed meanwhile */
    while ((e = readdir(d)))
        if (e->d_type == DT_DIR && strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            collect_pids(path, p);
        }
    closedir(d);
}

/* ps --format json: the container's host pids, as containerd parses them. */
static int cmd_ps_json(const char *root, const char *id)
{
    struct container c;
    struct pids p = {0};
    struct out o = {0};
    char number_text[24];

    load(&c, root, id);
    if (!c.ndirs)
        python("no cgroups: Python finds the pids");
    if (status_of(&c) != STOPPED)
        for (int i = 0; i < c.ndirs; i++)
            if (is_dir(c.dirs[i])) { /* any one hierarchy holds them all */
                collect_pids(c.dirs[i], &p);
                break;
            }
    if (p.count)
        qsort(p.pid, p.count, sizeof *p.pid, by_number);
    puts_(&o, "[");
    for (size_t i = 0; i < p.count; i++) {
        snprintf(number_text, sizeof number_text, "%s%ld", i ? ", " : "", p.pid[i]);
        puts_(&o, number_text);
    }
    puts_(&o, "]\n");
    return flush_out(&o) || answered("ps");
}

/* -- list -- */

struct row {
    struct container c;
    enum status s;
};

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static size_t chars(const char *s) /* UTF-8 characters, as Python's len() */
{
    size_t n = 0;

    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static int valid_id(const char *id);

static int cmd_list(const char *root, int quiet, int json)
{
    static const char *const header[6] = {"ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"};
    DIR *d = opendir(root);
    struct dirent *e;
    char **names = NULL;
    size_t count = 0, cap = 0, widths[6];
    struct row *rows;
    struct out o = {0};

    if (!d && errno != ENOENT)
        python("root unreadable");
    while (d && (e = readdir(d))) {
        char path[PATH_MAX];
        if (e->d_type != DT_DIR) {
            snprintf(path, sizeof path, "%s/%s", root, e->d_name);
            if (e->d_type != DT_UNKNOWN || !is_dir(path))
                continue;
        }
        if (!valid_id(e->d_name)) /* "." and "..", and what Python skips */
            continue;
        if (count == cap && !(names = realloc(names, (cap = cap * 2 + 64) * sizeof *names)))
            python("out of memory");
        if (!(names[count++] = strdup(e->d_name)))
            python("out of memory");
    }
    if (d)
        closedir(d);
    if (count)
        qsort(names, count, sizeof *names, by_name);
    if (!(rows = calloc(count + 1, sizeof *rows)))
        python("out of memory");
    for (size_t i = 0; i < count; i++) {
        load(&rows[i].c, root, names[i]);
        rows[i].s = status_of(&rows[i].c);
    }
    if (quiet) {
        for (size_t i = 0; i < count; i++) {
            puts_(&o, names[i]);
            puts_(&o, "\n");
        }
    } else if (json) { /* compact, as runc (scripts match it) */
        puts_(&o, "[");
        for (size_t i = 0; i < count; i++) {
            if (i)
                puts_(&o, ",");
            put_state(&o, &rows[i].c, rows[i].s, "list");
        }
        puts_(&o, "]\n");
    } else {
        char pids[count + 1][24];
        const char *cells[count + 1][6];

        for (int k = 0; k < 6; k++)
            cells[0][k] = header[k];
        for (size_t i = 0; i < count; i++) {
            const struct container *c = &rows[i].c;
            snprintf(pids[i], sizeof pids[i], "%ld", rows[i].s == STOPPED ? 0 : c->pid);
            cells[i + 1][0] = get(c, "id");
            cells[i + 1][1] = pids[i];
            cells[i + 1][2] = STATUS[rows[i].s];
            cells[i + 1][3] = get(c, "bundle");
            cells[i + 1][4] = get(c, "created");
            cells[i + 1][5] = get(c, "owner");
        }
        for (int k = 0; k < 6; k++) {
            widths[k] = 9; /* each column at least 9 wide, as the table's ljust */
            for (size_t i = 0; i <= count; i++)
                if (chars(cells[i][k]) > widths[k])
                    widths[k] = chars(cells[i][k]);
        }
        for (size_t i = 0; i <= count; i++) {
            size_t start = o.len;
            for (int k = 0; k < 6; k++) {
                if (k)
                    puts_(&o, "   ");
                puts_(&o, cells[i][k]);
                for (size_t pad = chars(cells[i][k]); pad < widths[k]; pad++)
                    puts_(&o, " ");
            }
            while (o.len > start && (o.data[o.len - 1] == ' ' || o.data[o.len - 1] == '\t'))
                o.len--;
            puts_(&o, "\n");
        }
    }
    return flush_out(&o) || answered("list");
}

/* -- the command line, as quickargs.py reads it -- */

static int valid_id(const char *id)
{
    size_t n = strlen(id);

    if (n == 0 || n > 1024 || strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
        return 0;
    return strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_+.-") == n;
}

/* A flag's value: "--flag=value" or "--flag value" (not one that starts with
 * "-": argparse reads that as a flag). NULL if argv[*i] is not this flag. */
static const char *value_of(char **argv, int argc, int *i, const char *name)
{
    size_t n = strlen(name);

    if (strncmp(argv[*i], name, n) != 0)
        return NULL;
    if (argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (argv[*i][n] != '\0')
        return NULL;
    if (*i + 1 >= argc || argv[*i + 1][0] == '-')
        python("a flag without its value");
    return argv[++*i];
}

int main(int argc, char **argv)
{
    const char *mode = getenv("PYRUNC_FRONT"), *root = NULL, *verb, *v, *words[2] = {0};
    const char *xdg = getenv("XDG_RUNTIME_DIR"), *fault = getenv("PYRUNC_FAULT");
    int i, nwords = 0, all = 0, force = 0, quiet = 0, json = 0, flags_after_word = 0;

    g_argv = argv;
    g_trace = mode && strcmp(mode, "trace") == 0;
    if ((mode && strcmp(mode, "off") == 0) || (fault && *fault))
        python("PYRUNC_FRONT=off or PYRUNC_FAULT");
    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        if ((v = value_of(argv, argc, &i, "--root")))
            root = v;
        else if ((v = value_of(argv, argc, &i, "--log")))
            ; /* Python writes it, and only errors and --debug write there */
        else if ((v = value_of(argv, argc, &i, "--log-format"))) {
            if (strcmp(v, "text") && strcmp(v, "json"))
                python("--log-format of another value");
        } else if (strcmp(argv[i], "--systemd-cgroup") != 0)
            python("a global flag Python reads"); /* --debug, --rootless, -h, ... */
        /* --systemd-cgroup changes nothing for an existing container's light
         * commands (its record says whether a unit is stopped at delete). */
    }
    if (i >= argc)
        python("no command");
    verb = argv[i];
    if (!root) {
        if (geteuid() != 0 || (xdg && *xdg))
            python("the default --root is Python's rule");
        root = "/run/pyrunc";
    }
    for (i++; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] == '-') {
            if (nwords)
                flags_after_word = 1;
            if (!strcmp(verb, "kill") && (!strcmp(a, "-a") || !strcmp(a, "--all")))
                all = 1;
            else if (!strcmp(verb, "delete") && (!strcmp(a, "-f") || !strcmp(a, "--force")))
                force = 1;
            else if (!strcmp(verb, "list") && (!strcmp(a, "-q") || !strcmp(a, "--quiet")))
                quiet = 1;
            else if ((!strcmp(verb, "list") || !strcmp(verb, "ps"))
                     && ((v = value_of(argv, argc, &i, "--format"))
                         || (v = value_of(argv, argc, &i, "-f")))) {
                if (strcmp(v, "json") && strcmp(v, "table"))
                    python("--format of another value");
                json = strcmp(v, "json") == 0;
            } else
                python("a flag Python reads");
        } else {
            if (flags_after_word || nwords == 2)
                python("words and flags mixed, or too many words");
            words[nwords++] = a;
        }
    }
    if (!strcmp(verb, "list") && nwords == 0)
        return cmd_list(root, quiet, json);
    if (nwords == 0 || !valid_id(words[0]))
        python("no container id, or one Python refuses");
    if (!strcmp(verb, "state") && nwords == 1)
        return cmd_state(root, words[0]);
    if (!strcmp(verb, "start") && nwords == 1)
        return cmd_start(root, words[0]);
    if (!strcmp(verb, "delete") && nwords == 1)
        return cmd_delete(root, words[0], force);
    if ((!strcmp(verb, "pause") || !strcmp(verb, "resume")) && nwords == 1)
        return cmd_pause(root, words[0], !strcmp(verb, "pause"));
    if (!strcmp(verb, "ps") && json && nwords == 1)
        return cmd_ps_json(root, words[0]);
    if (!strcmp(verb, "kill"))
        return cmd_kill(root, words[0], nwords == 2 ? words[1] : "TERM", all);
    python("a command Python runs");
}
