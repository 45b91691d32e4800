"""-h/--help in runc's layout (NAME, USAGE, COMMANDS/OPTIONS), which scripts
and runc's own tests read ("NAME:", then "runc kill - ..."), with pyrunc's
words. Rendered from the argparse parsers, so flags and help never disagree."""
import argparse

TOP_DESCRIPTION = """\
pyrunc runs containers packaged as OCI bundles: a directory with a config.json
and a root filesystem. It is a drop-in replacement for runc: containerd (the
runc shim), Podman (conmon) and people call it with runc's commands and flags.
Python reads and checks the config and plans the container; a small static C
init carries the plan out between clone and execve.

To run a container from the bundle in the current directory:

    # pyrunc run [ -b bundle ] <container-id>"""


def render(parser: argparse.ArgumentParser, version: str = "") -> str:
    sub = subcommands(parser)
    name, _, command = parser.prog.partition(" ")
    lines = ["NAME:", f"   {parser.prog} - {parser.description or ''}".rstrip(), ""]
    if sub is not None:  # the top level
        lines += [TOP_DESCRIPTION, "", "USAGE:",
                  f"   {name} [global options] command [command options] [arguments...]", ""]
        if version:
            lines += ["VERSION:", "   " + version, ""]
        lines += ["COMMANDS:"]
        width = max(len(n) for n in sub.choices)
        helps = {a.dest: a.help for a in sub._choices_actions}
        lines += [f"   {n.ljust(width)}  {helps.get(n, '')}" for n in sub.choices]
        lines += ["", "GLOBAL OPTIONS:"]
    else:
        args = " ".join(positional(a) for a in parser._actions
                        if not a.option_strings and a.help is not argparse.SUPPRESS)
        lines += ["USAGE:", f"   {parser.prog} [command options] {args}".rstrip()]
        if parser.epilog:
            import textwrap  # -h only
            lines += ["", textwrap.fill(parser.epilog, 80)]
        lines += ["", "OPTIONS:"]
    options = [(_flags(a), help_text(a)) for a in visible_options(parser)]
    width = max((len(f) for f, _h in options), default=0)
    lines += [f"   {f.ljust(width)}  {h}".rstrip() for f, h in options]
    return "\n".join(lines) + "\n"


def visible_options(parser) -> list:
    return [a for a in parser._actions if a.option_strings and a.help is not argparse.SUPPRESS]


def help_text(action) -> str:
    """The action's help with %(default)s filled in, as argparse's formatter does."""
    text = action.help or ""
    return text % {"default": action.default} if "%(" in text else text


def subcommands(parser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def positional(action) -> str:
    name = f"<{action.metavar or action.dest}>"
    return f"[{name}...]" if action.nargs in (argparse.REMAINDER, "*") else (
        f"[{name}]" if action.nargs == "?" else name)


def _flags(action) -> str:
    # runc lists the long name first: "--bundle value, -b value".
    names = sorted(action.option_strings, key=lambda s: not s.startswith("--"))
    takes_value = action.nargs != 0
    return ", ".join(f"{n} value" if takes_value else n for n in names)
