/* libseccomp in batches (the cffi module runtime._seccomp, csrc/build_seccomp.py).
 *
 * A profile is hundreds of names and rules. One cffi call per name or rule
 * drops and takes Python's GIL each time; when create compiles the profile
 * in a thread beside its own work (runtime/seccomp.py PendingProgram), every
 * take may wait for the other thread's switch interval. These take a whole
 * list in one call, so the compile drops the GIL once per step. Built with
 * -Wall -Wextra -Werror (setup.py checks it on its own). */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <seccomp.h>

/* One rule of the profile, for one syscall, with its conditions ANDed (the
 * Python side splits a rule that names an argument twice into several). */
struct pyrunc_rule {
    uint32_t action;
    int syscall;
    unsigned int nargs;
    const struct scmp_arg_cmp *args;
};

/* numbers[i] = the native number of names[i] (__NR_SCMP_ERROR: unknown);
 * with arch_token, that architecture's (seccomp_syscall_resolve_name_arch). */
static void pyrunc_resolve_names(uint32_t arch_token, const char *const *names, size_t count,
                                 int *numbers)
{
    for (size_t i = 0; i < count; i++)
        numbers[i] = arch_token ? seccomp_syscall_resolve_name_arch(arch_token, names[i])
                                : seccomp_syscall_resolve_name(names[i]);
}

/* Every rule into ctx, then the program to fd. 0, or a negative errno with
 * *failed the index of the rule libseccomp refused (-1: the export). */
static int pyrunc_add_and_export(scmp_filter_ctx ctx, const struct pyrunc_rule *rules,
                                 size_t count, int fd, long *failed)
{
    for (size_t i = 0; i < count; i++) {
        int rc = seccomp_rule_add_array(ctx, rules[i].action, rules[i].syscall, rules[i].nargs,
                                        rules[i].args);
        if (rc < 0) {
            *failed = (long)i;
            return rc;
        }
    }
    *failed = -1;
    return seccomp_export_bpf(ctx, fd);
}
