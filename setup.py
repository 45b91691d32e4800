"""Build glue that setup.cfg cannot express: the cffi modules and the static C programs."""
import pathlib
import shutil
import subprocess
import sys
import tempfile

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = pathlib.Path(__file__).resolve().parent


WARNINGS = ["-Wall", "-Wextra", "-Werror"]


def static_compiler(scratch: pathlib.Path) -> list[str]:
    """musl's gcc wrapper where it is installed (scripts/setup.sh installs
    musl-tools), else gcc with glibc. Both programs start on every call, and
    the init is copied into a memfd each time: static glibc makes each ~700
    KB, musl ~60 KB, which saves ~0.8 ms a create (measured A/B). musl's
    wrapper leaves the system headers out, the kernel's with them: they come
    back through an include dir holding only linux/, asm/ and asm-generic/."""
    if not shutil.which("musl-gcc"):
        print("pyrunc: musl-gcc not found (Debian: musl-tools): the init and the front door "
              "are built with static glibc, ~10x larger and slower to start", file=sys.stderr)
        return ["gcc"]
    triplet = subprocess.run(["gcc", "-print-multiarch"], capture_output=True, text=True,
                             check=True).stdout.strip()
    for name, target in (("linux", "/usr/include/linux"), ("asm-generic", "/usr/include/asm-generic"),
                         ("asm", f"/usr/include/{triplet}/asm")):
        (scratch / name).symlink_to(target)
    return ["musl-gcc", "-idirafter", str(scratch)]


class BuildPy(build_py):
    """Also compile csrc/init.c and csrc/front.c (static), generate runtime/_consts.py from the C
    headers and runtime/_config_check.py (the config schema's verdict, compiled)
    from spec/, check csrc/native.c (which the cffi build includes) on its own,
    and ship the schemas inside the package, with the man pages and the bash
    completion rendered from the parser (runtime/docgen.py)."""

    def run(self):
        super().run()
        pkg = pathlib.Path(self.build_lib) / "runtime"
        pkg.mkdir(parents=True, exist_ok=True)
        csrc = HERE / "csrc"
        # The init, and the front door: the `pyrunc` command (runtime/entry.py
        # installs it). Static: both start on every call (no dynamic loader).
        with tempfile.TemporaryDirectory(prefix="pyrunc-cc-") as scratch:
            cc = static_compiler(pathlib.Path(scratch))
            for program in ("init", "front"):
                subprocess.run([*cc, "-static", "-s", "-O2", *WARNINGS,
                                "-o", str(pkg / f"pyrunc-{program}"), str(csrc / f"{program}.c")],
                               check=True)
        # Their functions are used by the cffi modules, not in these units alone.
        for unit in ("native.c", "seccomp_batch.c"):
            subprocess.run(["gcc", *WARNINGS, "-Wno-unused-function", "-fsyntax-only",
                            f"-I{csrc}", str(csrc / unit)], check=True)
        subprocess.run([sys.executable, str(csrc / "gen_consts.py"), str(pkg / "_consts.py")],
                       check=True)
        subprocess.run([sys.executable, str(HERE / "spec" / "schema_compiler.py"),
                        str(HERE / "spec" / "config-schema.json"), str(pkg / "_config_check.py")],
                       check=True)
        commit = subprocess.run(["git", "-C", str(HERE), "rev-parse", "--short=12", "HEAD"],
                                capture_output=True, text=True).stdout.strip()
        (pkg / "COMMIT").write_text(commit or "unknown")
        schema_dir = pkg / "schema"
        schema_dir.mkdir(exist_ok=True)
        for schema in (HERE / "spec").glob("*.json"):
            shutil.copy(schema, schema_dir / schema.name)
        # Inside the package, not wheel data files: they then go wherever the
        # package goes (a venv, --target), docgen --install finds them next to
        # the code, and a rebuild replaces them with the code. Run in the build
        # dir: the pages are those of the code that ships. The commit's date,
        # not today's, keeps two builds of one commit the same.
        date = subprocess.run(["git", "-C", str(HERE), "log", "-1", "--format=%cs"],
                              capture_output=True, text=True).stdout.strip()
        subprocess.run([sys.executable, "-m", "runtime.docgen", "--out", str((pkg / "share").resolve()),
                        *(["--date", date] if date else [])],
                       cwd=pathlib.Path(self.build_lib).resolve(), check=True)


setup(cffi_modules=["csrc/build_native.py:ffibuilder", "csrc/build_seccomp.py:ffibuilder"], cmdclass={"build_py": BuildPy})
