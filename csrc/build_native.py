"""cffi (API mode) build of runtime._native: the parent's C helpers (csrc/native.c),
the system calls Python's os module lacks. The constants the Python side needs
are not here: csrc/gen_consts.py writes them into runtime/_consts.py, so that
the planner and the launcher load no compiled module for them.
"""
import pathlib

from cffi import FFI

CSRC = pathlib.Path(__file__).resolve().parent

ffibuilder = FFI()
ffibuilder.cdef("""
    int pyrunc_open_in_root(int rootfd, const char *path, int flags);
    int umount2(const char *target, int flags);
    int pyrunc_bpf_dev_load(const void *insns, unsigned int insn_cnt, const char *license,
                            char *log, unsigned int log_size);
    int pyrunc_bpf_dev_attach(int cgroup_fd, int prog_fd);
    int pyrunc_bpf_dev_query(int cgroup_fd, unsigned int *ids, unsigned int capacity);
    int pyrunc_bpf_dev_detach_id(int cgroup_fd, unsigned int prog_id);
    int pyrunc_seccomp_flag_supported(unsigned int flag);
    int pyrunc_userns_holder(int *release_fd);
    int pyrunc_idmapped_tree(const char *source, int whole_tree, int map_submounts, int userns_fd);
    int pyrunc_seccomp_action_available(unsigned int action);
    """
)
ffibuilder.set_source(
    "runtime._native",
    """
    #include "native.c"
    """,
    include_dirs=[str(CSRC)],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
