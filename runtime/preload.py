"""Loading the modules of create, run, exec and update from one file, at the
start of the command: ~3 ms of a ~27 ms create.

A command that imports ~40 modules spends most of that time, ~8 ms here, in
importlib. Each module costs a spec search, a stat of the source, reading
the .pyc, a module object and a lock. Unmarshalling the code and running the
module bodies take less than half of it. The preload file holds the code of
every module a command imports at its top (and the few it imports later on
every call), in the order their imports complete (dependencies first),
recorded by importing them once at install.
preload() makes each module object, puts it in sys.modules and runs its code:
there is no finder, no lock and one read. The `import` statements in those
modules then find everything in sys.modules.

    python3 -m runtime.preload         (runtime/entry.py runs it at install)

Safe by construction:
- The file is used only if it was made for this interpreter (its cache tag)
  and every source it names still has the size and mtime it had. Otherwise
  the command imports as usual.
- A module body that fails takes the whole preload back out of sys.modules,
  and the usual imports report the error.
- Modules a command imports later (the feature imports) are imported the
  usual way.
"""
import marshal
import os
import sys

# The commands worth it: the ones that start the interpreter on the hot paths
# (the front door answers the light ones), and the modules each imports: the
# command's own, and those it imports later on every call (Manager.apply's
# limit modules, deferred for the light commands' sake).
_LIMITS = ("runtime.cgroups.resources", "runtime.cgroups.unset", "runtime.cgroups.v1_resources")
COMMANDS = {"create": ("runtime.commands.create", *_LIMITS),
            "run": ("runtime.commands.run", *_LIMITS),
            "exec": ("runtime.commands.exec",),
            "update": ("runtime.commands.update", *_LIMITS)}
# The global flags with a value: quickargs.GLOBAL_VALUES's names (tested to
# agree), not imported: preload runs before any of the package but itself.
_VALUED = ("--root", "--log", "--log-format", "--rootless")
HERE = os.path.dirname(os.path.abspath(__file__))


def command_of(argv: list[str]) -> str | None:
    """The command word of a pyrunc command line: the first word that is
    neither a flag nor a global flag's value."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in _VALUED:
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


def file_for(command: str, directory: str = HERE) -> str:
    return os.path.join(directory, f"_preload-{command}.bin")


def preload(argv: list[str], directory: str = HERE) -> bool:
    """The modules of argv's command, if it has a preload file that is still
    true. Whether it loaded them."""
    command = command_of(argv)
    if command not in COMMANDS:
        return False
    try:
        with open(file_for(command, directory), "rb") as f:
            tag, entries = marshal.loads(f.read())
        if tag != sys.implementation.cache_tag:
            return False
        for _name, path, size, mtime, _is_package, _code in entries:
            st = os.stat(path)
            if (st.st_size, st.st_mtime_ns) != (size, mtime):
                return False
    except (OSError, ValueError, EOFError, TypeError):
        return False
    module_type = type(sys)
    made = set()
    try:
        # Every module object first, packages before their submodules (a
        # package's body may run after its submodules': they are its
        # imports), then each body in the recorded order.
        for name, path, _size, _mtime, is_package, _code in sorted(
                entries, key=lambda entry: entry[0].count(".")):
            if name in sys.modules:
                continue
            module = module_type(name)
            module.__file__ = path
            parent, _, short = name.rpartition(".")
            module.__package__ = name if is_package else parent
            if is_package:
                module.__path__ = [os.path.dirname(path)]
            sys.modules[name] = module
            made.add(name)
            if parent in sys.modules:
                setattr(sys.modules[parent], short, module)
        for name, _path, _size, _mtime, _is_package, code in entries:
            if name in made:
                exec(code, sys.modules[name].__dict__)
    except BaseException:
        for name in made:
            sys.modules.pop(name, None)
        return False
    return True


# -- at install --

_RECORDER = """
import sys
sys.path.append({site!r})
order = []

class Recorder:
    @staticmethod
    def find_spec(name, path, target=None):
        if name != "runtime" and not name.startswith("runtime."):
            return None
        for finder in sys.meta_path[1:]:
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                run = spec.loader.exec_module
                def exec_module(module, run=run):
                    run(module)
                    order.append(name)
                spec.loader.exec_module = exec_module
                return spec
        return None

sys.meta_path.insert(0, Recorder)
import importlib
import runtime.cli
for module in {modules!r}:
    importlib.import_module(module)
for name in order:
    module = sys.modules[name]
    print(name, module.__file__, hasattr(module, "__path__"), sep="\t")
"""


def build(directory: str = HERE) -> None:
    """The preload file of each command, into directory: its modules recorded
    by importing them in a fresh interpreter of this installation, then
    compiled."""
    import subprocess  # build time only
    site = os.path.dirname(HERE)
    for command, modules in COMMANDS.items():
        out = subprocess.run([sys.executable, "-I", "-S", "-c",
                              _RECORDER.format(site=site, modules=modules)],
                             capture_output=True, text=True, check=True).stdout
        entries = []
        for line in out.splitlines():
            name, path, is_package = line.split("\t")
            if not path.endswith(".py"):
                continue  # compiled modules (cffi) load the usual way
            with open(path, "rb") as f:
                source = f.read()
            st = os.stat(path)
            entries.append((name, path, st.st_size, st.st_mtime_ns, is_package == "True",
                            compile(source, path, "exec", dont_inherit=True)))
        target = file_for(command, directory)
        tmp = f"{target}.tmp-{os.getpid()}"
        with open(tmp, "wb") as f:
            f.write(marshal.dumps((sys.implementation.cache_tag, entries)))
        os.replace(tmp, target)


if __name__ == "__main__":
    build()
