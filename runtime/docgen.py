"""Man pages (pyrunc(8), pyrunc-COMMAND(8)) and a bash completion script,
rendered from the argparse parser as help.py renders -h: the flags, their help
and their choices have one source, so the documents cannot drift from the CLI.

    python -m runtime.docgen --out DIR    writes DIR/man8/*.8, DIR/bash-completion/pyrunc
    python -m runtime.docgen --install    links the package's into the system's paths

setup.py runs --out at build time into the package (runtime/share/), and
scripts/setup.sh runs --install with the installed package.
"""
import argparse
import os
import re
import sys
import textwrap
import time

from . import __version__
from .cli_parser import build_parser
from .help import TOP_DESCRIPTION, help_text, positional, subcommands, visible_options

# What man pages add beyond the parser's one line.
NOTES = {
    "checkpoint": "pyrunc refuses this command: it has no CRIU support. It exists so that "
                  "callers written for runc get a clear error (exit status 1).",
}
NOTES["restore"] = NOTES["checkpoint"]
# Flags whose value is a directory or a file, for the completion.
DIR_FLAGS = {"--bundle", "--root"}
FILE_FLAGS = {"--log", "--pid-file", "--process", "--console-socket", "--resources"}


# -- the parser, walked --

def commands(parser):
    """[(name, subparser, one-line help)] in the parser's order."""
    sub = subcommands(parser)
    helps = {a.dest: a.help or "" for a in sub._choices_actions}
    return [(name, p, helps.get(name, "")) for name, p in sub.choices.items()]


def options(parser):
    """[(action, help)] of the flags a user may type, as -h shows them."""
    return [(a, help_text(a)) for a in visible_options(parser)]


def positionals(parser):
    return [a for a in parser._actions if not a.option_strings and a.help is not argparse.SUPPRESS]


def choices(action):
    """The values a flag takes from a fixed set: its choices, or a metavar
    such as "true|false|auto"."""
    if action.choices:
        return [str(c) for c in action.choices]
    if action.metavar and re.fullmatch(r"\w+(\|\w+)+", action.metavar):
        return action.metavar.split("|")
    return []


def takes_value(action):
    return action.nargs != 0


def value_name(action):
    return action.metavar or "|".join(choices(action)) or action.dest.upper().replace("_", "-")


# -- roff --

def esc(text):
    """Prose for roff: backslashes printable, and the hyphens of a word that
    starts with one (a flag, a negative number) minus signs, so that they
    copy as "-"; hyphens inside words (drop-in) stay hyphens."""
    text = text.replace("\\", "\\e")
    return re.sub(r"(?<![\w-])-[\w-]*", lambda m: m.group().replace("-", "\\-"), text)


def code(text):
    """A flag, a name or a command line: every hyphen a minus sign."""
    return text.replace("\\", "\\e").replace("-", "\\-")


def lines(text, literal=False):
    """Escaped text as roff input lines: a line must not start with a dot or
    a quote (a request), nor, when filled, with a space (a break)."""
    out = []
    for line in (textwrap.dedent(text) if literal else text).splitlines():
        line = line.rstrip() if literal else line.strip()
        out.append("\\&" + line if line[:1] in (".", "'") else line)
    return out


def paragraphs(text):
    """Blank-line separated paragraphs; an indented one is a literal example."""
    out = []
    for para in re.split(r"\n\s*\n", text.strip()):
        if para.startswith(" "):
            out += [".PP", ".RS 4", ".nf", *lines(code(para), literal=True), ".fi", ".RE"]
        else:
            out += [".PP", *lines(esc(para))]
    return out


def sentence(text):
    """A one-line help as a sentence: "Run a new process ... container." """
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")


def _header(title, date):
    return [f'.TH {code(title.upper())} 8 "{date}" "pyrunc {__version__}" "System Manager\'s Manual"']


def _option_items(parser):
    out = []
    for a, text in options(parser):
        names = sorted(a.option_strings, key=lambda s: s.startswith("--"))
        head = ", ".join(f"\\fB{code(n)}\\fR" for n in names)
        if takes_value(a):  # choices as text|json, each in italics
            head += " " + "|".join(f"\\fI{code(v)}\\fR" for v in value_name(a).split("|"))
        extra = []
        if (takes_value(a) and a.default not in (None, [], argparse.SUPPRESS)
                and "default" not in text):
            extra.append(f"default \\fB{code(str(a.default))}\\fR")
        body = esc(text) + (f" ({'; '.join(extra)})" if extra else "")
        out += [".TP", head, *lines(body.strip() or "\\&")]
    return out


def _synopsis(command=None, parser=None):
    out = [".SH SYNOPSIS", ".B pyrunc", "[\\fIglobal options\\fR]"]
    if command is None:
        return out + ["\\fIcommand\\fR [\\fIcommand options\\fR] [\\fIarguments\\fR...]"]
    out += [f".B {code(command)}", "[\\fIoptions\\fR]"]
    for a in positionals(parser):
        # help.py's form, <name> set in italics: [<COMMAND>...]
        out.append(re.sub(r"<([^>]+)>", r"\\fI\1\\fR", code(positional(a))))
    return out


def man_top(parser, date):
    out = _header("pyrunc", date)
    out += [".SH NAME", f"pyrunc \\- {esc(parser.description or '')}"]
    out += _synopsis()
    out += [".SH DESCRIPTION", *paragraphs(TOP_DESCRIPTION)]
    out += [".SH \"GLOBAL OPTIONS\"", *_option_items(parser)]
    out += [".SH COMMANDS"]
    for name, _p, text in commands(parser):
        out += [".TP", f"\\fB{code(name)}\\fR", *lines(esc(text)),
                f"See \\fBpyrunc\\-{code(name)}\\fR(8)."]
    names = sorted(f"pyrunc\\-{code(name)}" for name, _p, _t in commands(parser))
    out += [".SH \"SEE ALSO\"", *[f".BR {n} (8)," for n in names], ".BR runc (8)"]
    return "\n".join(out) + "\n"


def man_command(name, parser, date):
    out = _header(f"pyrunc-{name}", date)
    out += [".SH NAME", f"pyrunc\\-{code(name)} \\- {esc(parser.description or '')}"]
    out += _synopsis(name, parser)
    out += [".SH DESCRIPTION", *paragraphs(sentence(parser.description or name))]
    if parser.epilog:
        out += paragraphs(parser.epilog)
    if name in NOTES:
        out += paragraphs(NOTES[name])
    args = positionals(parser)
    if args:
        out += [".SH ARGUMENTS"]
        for a in args:
            meta = a.metavar or a.dest
            text = help_text(a)
            if isinstance(a.default, str) and a.nargs == "?" and "default" not in text:
                text += f" (default {a.default})"
            out += [".TP", f"\\fI{code(meta)}\\fR", *lines(esc(text.strip()) or "\\&")]
    out += [".SH OPTIONS", *_option_items(parser)]
    out += [".SH \"SEE ALSO\"", ".BR pyrunc (8)"]
    return "\n".join(out) + "\n"


def man_pages(parser, date):
    """{file name: text}: pyrunc.8 and one pyrunc-COMMAND.8 per command."""
    pages = {"pyrunc.8": man_top(parser, date)}
    for name, p, _t in commands(parser):
        pages[f"pyrunc-{name}.8"] = man_command(name, p, date)
    return pages


# -- bash completion --

COMPLETION = r'''# bash completion for pyrunc: its commands, flags, the values of flags with
# a fixed set, files and directories, container ids and signal names.
# Generated by runtime/docgen.py from pyrunc's parser; do not edit.
# Plain bash: it needs nothing of the bash-completion package.

# The container ids under the --root typed before the command, if any
# (cmd_at: _pyrunc's local, the command's index).
_pyrunc_ids() {
    local i root=()
    for ((i = 1; i < cmd_at; i++)); do
        if [[ ${COMP_WORDS[i]} == --root ]]; then
            i=$((i + 1))
            [[ ${COMP_WORDS[i]-} == = ]] && i=$((i + 1))
            root=(--root "${COMP_WORDS[i]-}")
            root[1]=${root[1]/#\~/$HOME}
        fi
    done
    "${COMP_WORDS[0]/#\~/$HOME}" "${root[@]}" list -q 2>/dev/null
}

# Signal names as kill takes them: KILL, TERM, RTMIN+3 (SIG is optional).
_pyrunc_signals() {
    local names
    mapfile -t names < <(compgen -A signal)
    printf '%s\n' "${names[@]#SIG}"
}

_pyrunc() {
    local cur=${COMP_WORDS[COMP_CWORD]-} prev=${COMP_WORDS[COMP_CWORD-1]-}
    local i word cmd="" cmd_at=$COMP_CWORD vflags="" words=() arg=0 rest=""
    # COMP_WORDBREAKS splits --flag=value into "--flag" "=" "value".
    [[ $cur == = ]] && cur=""
    [[ $prev == = && $COMP_CWORD -ge 2 ]] && prev=${COMP_WORDS[COMP_CWORD-2]}
    # The command: the first word that is neither a global flag nor its value.
    for ((i = 1; i < COMP_CWORD; i++)); do
        word=${COMP_WORDS[i]}
        case $word in
            @GLOBAL_VALUE_FLAGS@)
                i=$((i + 1))
                [[ ${COMP_WORDS[i]-} == = ]] && i=$((i + 1)) ;;
            -*) ;;
            *) cmd=$word; cmd_at=$i; break ;;
        esac
    done

    # The value of a flag.
    case $cmd:$prev in
@VALUE_CASES@
    esac

    case $cmd in
@COMMAND_CASES@
    esac
    if [[ -z $cmd ]]; then
        [[ $cur == -* ]] && words=(@GLOBAL_FLAGS@) || words=(@COMMANDS@)
        mapfile -t COMPREPLY < <(compgen -W "${words[*]}" -- "$cur")
        return 0
    fi
    # Which positional argument this is: count the words since the command
    # that are neither flags nor their values.
    for ((i = cmd_at + 1; i < COMP_CWORD; i++)); do
        word=${COMP_WORDS[i]}
        if [[ " $vflags " == *" $word "* ]]; then
            i=$((i + 1))
            [[ ${COMP_WORDS[i]-} == = ]] && i=$((i + 1))
        elif [[ $word != -* && $word != = ]]; then
            arg=$((arg + 1))
        fi
    done
    # After "exec ID" the words are the program's (and after "ps ID" ps's).
    [[ -n $rest ]] && ((arg >= rest)) && return 0
    if [[ $cur == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W "${words[*]}" -- "$cur")
        return 0
    fi
    case $cmd:$arg in
@POSITIONAL_CASES@
    esac
    return 0
}
complete -F _pyrunc pyrunc
'''


def _case(arms):
    """case arms {action: [pattern]}, long pattern lists wrapped."""
    out = []
    for action, patterns in arms.items():
        rows = [patterns[0]]
        for pattern in patterns[1:]:
            if len(rows[-1]) + len(pattern) > 80:
                rows.append(pattern)
            else:
                rows[-1] += "|" + pattern
        out.append("        " + "|\\\n        ".join(rows) + f")\n            {action} ;;")
    return "\n".join(out) or "        *) ;;"


def _words(action):
    return f'mapfile -t COMPREPLY < <(compgen -W "{action}" -- "$cur")'


FILES = 'compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -{} -- "$cur")'


def completion(parser):
    """The bash completion script: the template filled with the parser's
    commands and flags, one case arm per way of completing."""
    values = {}  # action: ["command:flag"] ("" the command for a global flag)
    for ctx, p in [("", parser)] + [(name, p) for name, p, _t in commands(parser)]:
        for a, _text in options(p):
            if not takes_value(a):
                continue
            if choices(a):
                action = _words(" ".join(choices(a)))
            elif set(a.option_strings) & DIR_FLAGS:
                action = FILES.format("d")
            elif set(a.option_strings) & FILE_FLAGS:
                action = FILES.format("f")
            else:
                action = ":"  # a free value (a number, a name): nothing to offer
            values.setdefault(action + "; return 0", []).extend(
                f"{ctx}:{s}" for s in a.option_strings)
    per_command, args = [], {}
    for name, p, _t in commands(parser):
        flags = [s for a, _t in options(p) for s in a.option_strings]
        vflags = [s for a, _t in options(p) if takes_value(a) for s in a.option_strings]
        rest = [i for i, a in enumerate(positionals(p)) if a.nargs == argparse.REMAINDER]
        per_command.append(f'        {name}) words=({" ".join(flags)}); vflags="{" ".join(vflags)}"'
                           + (f"; rest={rest[0]}" if rest else "") + " ;;")
        # A command that reads a bundle makes a new container: its id is new.
        # The others name an existing one.
        has_bundle = any("--bundle" in a.option_strings for a, _t in options(p))
        for index, a in enumerate(positionals(p)):
            if a.metavar == "container-id" and not has_bundle:
                args.setdefault(_words("$(_pyrunc_ids)"), []).append(f"{name}:{index}")
            elif a.dest == "signal":
                args.setdefault(_words("$(_pyrunc_signals)"), []).append(f"{name}:{index}")
    global_flags = [s for a, _t in options(parser) for s in a.option_strings]
    global_vflags = [s for a, _t in options(parser) if takes_value(a) for s in a.option_strings]
    text = COMPLETION
    for key, value in (("@GLOBAL_VALUE_FLAGS@", "|".join(global_vflags)),
                       ("@VALUE_CASES@", _case(values)),
                       ("@COMMAND_CASES@", "\n".join(per_command)),
                       ("@GLOBAL_FLAGS@", " ".join(global_flags)),
                       ("@COMMANDS@", " ".join(name for name, _p, _t in commands(parser))),
                       ("@POSITIONAL_CASES@", _case(args))):
        text = text.replace(key, value)
    return text


# -- the files --

def build_date():
    """The date on the pages: SOURCE_DATE_EPOCH's (reproducible builds), else today."""
    return time.strftime("%Y-%m-%d", time.gmtime(int(os.environ.get("SOURCE_DATE_EPOCH") or time.time())))


def write(out_dir, date=None):
    parser = build_parser()
    man_dir = os.path.join(out_dir, "man8")
    comp_dir = os.path.join(out_dir, "bash-completion")
    os.makedirs(man_dir, exist_ok=True)
    os.makedirs(comp_dir, exist_ok=True)
    # Pages of commands the parser no longer has must not survive a rebuild.
    for old in os.listdir(man_dir):
        if old.startswith("pyrunc") and old.endswith(".8"):
            os.unlink(os.path.join(man_dir, old))
    for file_name, text in man_pages(parser, date or build_date()).items():
        with open(os.path.join(man_dir, file_name), "w") as f:
            f.write(text)
    with open(os.path.join(comp_dir, "pyrunc"), "w") as f:
        f.write(completion(parser))


# Where the package's files are, and where install() links them: a man path
# directory man-db searches (/etc/manpath.config) and bash-completion's
# directory of completions loaded on first use.
SHARE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "share")
SYSTEM_MAN8 = "/usr/local/share/man/man8"
SYSTEM_COMPLETION = "/usr/share/bash-completion/completions/pyrunc"


def _link(target, path):
    """path -> target, replacing what is there in one step (idempotent)."""
    tmp = f"{path}.pyrunc-tmp"
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(target, tmp)
    os.replace(tmp, path)


def install(share=SHARE, man8=SYSTEM_MAN8, completion_path=SYSTEM_COMPLETION):
    """Link the installed package's pages and completion into the system's
    paths. Links, not copies: a pip reinstall of pyrunc updates what they
    show, even without this step; only a new or removed command needs it."""
    os.makedirs(man8, exist_ok=True)
    os.makedirs(os.path.dirname(completion_path), exist_ok=True)
    pages = sorted(os.listdir(os.path.join(share, "man8")))
    # Links to the pages of a command that is gone (ours: into a man8 of a
    # runtime/share) would dangle.
    for name in os.listdir(man8):
        path = os.path.join(man8, name)
        if (name.startswith("pyrunc") and name not in pages and os.path.islink(path)
                and os.readlink(path).endswith(f"/runtime/share/man8/{name}")):
            os.unlink(path)
    for name in pages:
        _link(os.path.join(share, "man8", name), os.path.join(man8, name))
    _link(os.path.join(share, "bash-completion", "pyrunc"), completion_path)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m runtime.docgen", description=__doc__.splitlines()[0])
    what = ap.add_mutually_exclusive_group(required=True)
    what.add_argument("--out", help="write OUT/man8/*.8 and OUT/bash-completion/pyrunc")
    what.add_argument("--install", action="store_true",
                      help=f"link this package's files into {SYSTEM_MAN8} and {SYSTEM_COMPLETION}")
    ap.add_argument("--date", help="the pages' date, YYYY-MM-DD (default: SOURCE_DATE_EPOCH or today)")
    args = ap.parse_args(argv)
    install() if args.install else write(args.out, args.date)
    return 0


if __name__ == "__main__":
    sys.exit(main())
