"""A finding is one problem of a bundle: how bad (error or warning), where (a
JSON pointer into config.json, or a path in the rootfs), what, and how to fix
it. A Report collects them in the order the checks run."""
from .. import jsonlite

ERROR, WARNING = "error", "warning"


class Finding:
    __slots__ = ("severity", "pointer", "path", "message", "hint")

    def __init__(self, severity: str, pointer: str | None, message: str, hint: str = "",
                 path: str | None = None):
        self.severity, self.pointer, self.path = severity, pointer, path
        self.message, self.hint = message, hint

    def where(self) -> str:
        if self.pointer is not None:
            return f"config.json: {self.pointer or '/'}"
        return f"rootfs: {self.path}" if self.path else "bundle"

    def as_json(self) -> dict:
        return {"severity": self.severity, "pointer": self.pointer, "path": self.path,
                "message": self.message, "hint": self.hint or None}


class Report:
    def __init__(self):
        self.findings: list[Finding] = []
        self.skipped: list[str] = []  # checks that could not run, and why

    def error(self, pointer: str | None, message: str, hint: str = "", path: str | None = None):
        self.findings.append(Finding(ERROR, pointer, message, hint, path))

    def warning(self, pointer: str | None, message: str, hint: str = "", path: str | None = None):
        self.findings.append(Finding(WARNING, pointer, message, hint, path))

    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == ERROR]

    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == WARNING]

    def exit_status(self) -> int:
        return 1 if self.errors() else 0

    def as_json(self) -> str:
        return jsonlite.dumps([f.as_json() for f in self.findings])

    def as_text(self, bundle: str) -> str:
        """Errors first, then warnings; each with where it is and the fix."""
        lines = []
        for title, group in (("errors", self.errors()), ("warnings", self.warnings())):
            if not group:
                continue
            lines.append(f"{title.upper()} ({len(group)})")
            for f in group:
                lines.append(f"  {f.where()}: {f.message}")
                if f.hint:
                    lines.append(f"      fix: {f.hint}")
            lines.append("")
        for reason in self.skipped:
            lines.append(f"not checked: {reason}")
        n_err, n_warn = len(self.errors()), len(self.warnings())
        verdict = "would not run" if n_err else "looks runnable"
        lines.append(f"{bundle}: {n_err} error(s), {n_warn} warning(s): {verdict}")
        return "\n".join(lines)
