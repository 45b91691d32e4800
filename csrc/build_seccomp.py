"""cffi (API mode) build of runtime._seccomp: the parts of libseccomp that
compile an OCI seccomp profile to classic BPF in the parent.

A module of its own so that only a create or exec with a profile to compile
loads libseccomp; the C init never links it (it loads the finished program).
"""
import pathlib

from cffi import FFI

CSRC = pathlib.Path(__file__).resolve().parent

ffibuilder = FFI()
ffibuilder.cdef("""
    typedef void *scmp_filter_ctx;
    typedef uint64_t scmp_datum_t;
    enum scmp_compare { SCMP_CMP_NE, SCMP_CMP_LT, SCMP_CMP_LE, SCMP_CMP_EQ, SCMP_CMP_GE,
                        SCMP_CMP_GT, SCMP_CMP_MASKED_EQ, ... };
    struct scmp_arg_cmp { unsigned int arg; enum scmp_compare op; scmp_datum_t datum_a;
                          scmp_datum_t datum_b; };
    struct scmp_version { unsigned int major; unsigned int minor; unsigned int micro; };

    #define SCMP_FLTATR_ACT_BADARCH ...
    #define __NR_SCMP_ERROR ...

    const struct scmp_version *seccomp_version(void);
    unsigned int seccomp_api_get(void);
    scmp_filter_ctx seccomp_init(uint32_t def_action);
    void seccomp_release(scmp_filter_ctx ctx);
    uint32_t seccomp_arch_resolve_name(const char *arch_name);
    uint32_t seccomp_arch_native(void);
    int seccomp_arch_add(scmp_filter_ctx ctx, uint32_t arch_token);
    int seccomp_attr_set(scmp_filter_ctx ctx, int attr, uint32_t value);
    int seccomp_syscall_resolve_name(const char *name);
    int seccomp_syscall_resolve_name_arch(uint32_t arch_token, const char *name);
    int seccomp_rule_add_array(scmp_filter_ctx ctx, uint32_t action, int syscall,
                               unsigned int arg_cnt, const struct scmp_arg_cmp *arg_array);
    int seccomp_export_bpf(const scmp_filter_ctx ctx, int fd);

    struct pyrunc_rule { uint32_t action; int syscall; unsigned int nargs;
                         const struct scmp_arg_cmp *args; };
    void pyrunc_resolve_names(uint32_t arch_token, const char *const *names, size_t count,
                              int *numbers);
    int pyrunc_add_and_export(scmp_filter_ctx ctx, const struct pyrunc_rule *rules,
                              size_t count, int fd, long *failed);
""")
ffibuilder.set_source(
    "runtime._seccomp",
    '#include "seccomp_batch.c"',  # whole lists in one call each
    libraries=["seccomp"],
    include_dirs=[str(CSRC)],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
