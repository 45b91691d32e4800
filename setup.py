"""Build glue that setup.cfg cannot express: the cffi module and the C init binary."""
import pathlib
import shutil
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = pathlib.Path(__file__).resolve().parent


class BuildPy(build_py):
    """Also compile csrc/init.c (static) and ship the schemas inside the package."""

    def run(self):
        super().run()
        pkg = pathlib.Path(self.build_lib) / "runtime"
        pkg.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["gcc", "-static", "-s", "-O2", "-Wall", "-Wextra", "-Werror", "-o",
             str(pkg / "pyrunc-init"), str(HERE / "csrc" / "init.c")],
            check=True,
        )
        commit = subprocess.run(["git", "-C", str(HERE), "rev-parse", "--short=12", "HEAD"],
                                capture_output=True, text=True).stdout.strip()
        (pkg / "COMMIT").write_text(commit or "unknown")
        schema_dir = pkg / "schema"
        schema_dir.mkdir(exist_ok=True)
        for schema in (HERE / "spec").glob("*.json"):
            shutil.copy(schema, schema_dir / schema.name)


setup(cffi_modules=["csrc/build_native.py:ffibuilder", "csrc/build_seccomp.py:ffibuilder"], cmdclass={"build_py": BuildPy})
