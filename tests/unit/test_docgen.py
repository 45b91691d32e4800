"""The man pages and the bash completion of runtime/docgen.py: one page per
command, every visible flag documented and completed, pages groff accepts
without a warning, a completion that bash really runs (plain bash, without
the bash-completion package), and the installed files where man and bash
look for them (scripts/setup.sh)."""
import argparse
import json
import os
import re
import shutil
import subprocess

import pytest

from runtime import docgen
from runtime.cli_parser import build_parser

PARSER = build_parser()
COMMANDS = [name for name, _p, _t in docgen.commands(PARSER)]
PAGES = docgen.man_pages(PARSER, "2000-01-01")
SCRIPT = docgen.completion(PARSER)


def visible_flags(parser):
    """What -h lists (help.py's filter), without docgen's own walk."""
    return [s for a in parser._actions if a.option_strings and a.help is not argparse.SUPPRESS
            for s in a.option_strings]


def roff(flag):
    return flag.replace("-", "\\-")


@pytest.fixture(scope="module")
def script_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("completion") / "pyrunc"
    path.write_text(SCRIPT)
    return path


def complete(script_file, line, env=None):
    """COMPREPLY for the command line `line` (the cursor at its end), from a
    plain bash that sources the script alone and calls its function. The
    words as bash splits them: at blanks, and "=" a word of its own (it is
    in COMP_WORDBREAKS); a trailing blank starts an empty word."""
    words = [part for word in line.split(" ") for part in re.findall(r"[^=]+|=", word) or [""]]
    program = f"""
        source {script_file}
        COMP_WORDS=({' '.join(_quote(w) for w in words)})
        COMP_CWORD={len(words) - 1}
        COMP_LINE={_quote(line)}
        COMP_POINT=${{#COMP_LINE}}
        _pyrunc pyrunc {_quote(words[-1])} {_quote(words[-2] if len(words) > 1 else '')}
        printf '%s\\n' "${{COMPREPLY[@]}}"
    """
    result = subprocess.run(["bash", "--norc", "--noprofile", "-c", program], capture_output=True,
                            text=True, timeout=30, env=env)
    assert result.returncode == 0, result.stderr
    return [w for w in result.stdout.splitlines() if w]


def _quote(word):
    return "'" + word.replace("'", "'\\''") + "'"


def test_a_page_per_command():
    assert set(PAGES) == {"pyrunc.8"} | {f"pyrunc-{c}.8" for c in COMMANDS}
    top = PAGES["pyrunc.8"]
    for name in COMMANDS:
        assert f".BR pyrunc\\-{roff(name)} (8)" in top  # SEE ALSO
        assert f"\\fB{roff(name)}\\fR" in top              # COMMANDS
        page = PAGES[f"pyrunc-{name}.8"]
        for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS"):
            assert f".SH {section}\n" in page, (name, section)
        assert '.SH "SEE ALSO"\n.BR pyrunc (8)' in page
    for name in ("checkpoint", "restore"):
        assert "refuses this command: it has no CRIU support" in PAGES[f"pyrunc-{name}.8"]


def test_every_visible_flag_is_documented_and_completed(script_file):
    for name in COMMANDS:
        parser = dict((n, p) for n, p, _t in docgen.commands(PARSER))[name]
        flags = visible_flags(parser)
        assert "-h" in flags
        page = PAGES[f"pyrunc-{name}.8"]
        offered = set(complete(script_file, f"pyrunc {name} -"))
        for flag in flags:
            assert f"\\fB{roff(flag)}\\fR" in page, (name, flag)
            assert flag in offered, (name, flag)
    # A hidden flag stays hidden...
    assert "no\\-new\\-keyring" not in PAGES["pyrunc-create.8"]
    assert "--no-new-keyring" not in SCRIPT
    # ...but --systemd-cgroup is runc's, and documented.
    globals_offered = complete(script_file, "pyrunc -")
    for flag in visible_flags(PARSER) + ["--systemd-cgroup"]:
        assert f"\\fB{roff(flag)}\\fR" in PAGES["pyrunc.8"], flag
        assert flag in globals_offered, flag


def test_choices_metavars_and_defaults_in_pages():
    assert "\\fB\\-\\-log\\-format\\fR \\fItext\\fR|\\fIjson\\fR" in PAGES["pyrunc.8"]
    assert "\\fB\\-\\-rootless\\fR \\fItrue\\fR|\\fIfalse\\fR|\\fIauto\\fR" in PAGES["pyrunc.8"]
    assert "\\fB\\-p\\fR, \\fB\\-\\-process\\fR \\fIFILE\\fR" in PAGES["pyrunc-exec.8"]
    # argparse's %(default)s, expanded as argparse itself would (and -h does).
    assert "output format (default table)" in PAGES["pyrunc-list.8"]
    assert "(default 5s)" in PAGES["pyrunc-events.8"]
    # A default the help does not name is added.
    assert "to the process (default \\fB0\\fR)" in PAGES["pyrunc-exec.8"]


def test_roff_escapes():
    assert docgen.esc("a drop-in, --root -1 and a\\b") == "a drop-in, \\-\\-root \\-1 and a\\eb"
    assert docgen.lines(".dot\n'quote\n  text") == ["\\&.dot", "\\&'quote", "text"]
    assert docgen.code("--log-format") == "\\-\\-log\\-format"


@pytest.mark.skipif(not shutil.which("groff"), reason="no groff (Debian: groff-base)")
def test_groff_gives_no_warnings(tmp_path):
    docgen.write(str(tmp_path), "2000-01-01")
    pages = sorted((tmp_path / "man8").iterdir())
    assert len(pages) == len(PAGES)
    for page in pages:
        result = subprocess.run(["groff", "-man", "-ww", "-z", str(page)], capture_output=True,
                                text=True, timeout=30)
        assert result.returncode == 0 and not result.stderr, (page.name, result.stderr)
    assert (tmp_path / "bash-completion" / "pyrunc").read_text() == SCRIPT


def test_completes_commands(script_file):
    assert complete(script_file, "pyrunc cr") == ["create"]
    assert complete(script_file, "pyrunc --root /tmp --debug cr") == ["create"]
    assert sorted(complete(script_file, "pyrunc ")) == sorted(COMMANDS)


def test_completes_choices(script_file):
    assert complete(script_file, "pyrunc list --format ") == ["table", "json"]
    assert complete(script_file, "pyrunc check --format ") == ["text", "json"]
    assert complete(script_file, "pyrunc plan -f j") == ["json"]
    assert complete(script_file, "pyrunc --log-format ") == ["text", "json"]
    # --format=json: bash splits the word at "=".
    assert complete(script_file, "pyrunc list --format=") == ["table", "json"]
    assert complete(script_file, "pyrunc list --format=j") == ["json"]


def test_completes_flags(script_file):
    offered = complete(script_file, "pyrunc create --")
    assert sorted(offered) == sorted(f for f in visible_flags(dict(
        (n, p) for n, p, _t in docgen.commands(PARSER))["create"]) if f.startswith("--"))
    assert "--pid-file" in offered and "--detach" not in offered
    # After exec's container id, the words are the program's.
    assert complete(script_file, "pyrunc exec ctr sh -") == []


def test_completes_paths(script_file, tmp_path):
    (tmp_path / "bundle").mkdir()
    (tmp_path / "bundle.json").write_text("{}")
    prefix = f"{tmp_path}/bun"
    assert complete(script_file, f"pyrunc run -b {prefix}") == [f"{tmp_path}/bundle"]
    assert complete(script_file, f"pyrunc --root {prefix}") == [f"{tmp_path}/bundle"]
    assert sorted(complete(script_file, f"pyrunc exec --process {prefix}")) == [
        f"{tmp_path}/bundle", f"{tmp_path}/bundle.json"]


def test_completes_signals(script_file):
    assert complete(script_file, "pyrunc kill ctr KI") == ["KILL"]
    assert "TERM" in complete(script_file, "pyrunc kill -a ctr T")


@pytest.mark.skipif(not shutil.which("pyrunc"), reason="no pyrunc command on PATH")
def test_completes_container_ids(script_file, tmp_path):
    """`pyrunc list -q` under the --root on the line lists a state dir whose
    init is gone as a stopped container: enough for the ids."""
    root = tmp_path / "root"
    (root / "ctr-one").mkdir(parents=True)
    (root / "ctr-one" / "state.json").write_text(json.dumps({
        "ociVersion": "1.3.0", "id": "ctr-one", "init_pid": 2**22 + 1, "init_start": 1,
        "bundle": str(tmp_path), "rootfs": "", "created": "2000-01-01T00:00:00Z", "owner": "",
        "creating": False}))
    assert complete(script_file, f"pyrunc --root {root} start c") == ["ctr-one"]
    assert complete(script_file, f"pyrunc --root {root} kill -a ") == ["ctr-one"]
    assert complete(script_file, f"pyrunc --root={root} delete -f c") == ["ctr-one"]
    # create names a new container: no existing ids.
    assert complete(script_file, f"pyrunc --root {root} create c") == []
    assert complete(script_file, f"pyrunc --root {tmp_path / 'none'} start c") == []


def test_install_links_idempotently(tmp_path):
    share = tmp_path / "share"
    docgen.write(str(share), "2000-01-01")
    man8, comp = tmp_path / "man" / "man8", tmp_path / "completions" / "pyrunc"
    man8.mkdir(parents=True)
    gone = man8 / "pyrunc-gone.8"  # a page of a command since removed
    gone.symlink_to("/opt/x/runtime/share/man8/pyrunc-gone.8")
    other = man8 / "pyruncx.8"     # not ours: left alone
    other.write_text(".TH X 8\n")
    for _ in range(2):
        docgen.install(str(share), str(man8), str(comp))
    assert sorted(p.name for p in man8.iterdir()) == sorted(list(PAGES) + ["pyruncx.8"])
    assert os.readlink(man8 / "pyrunc.8") == str(share / "man8" / "pyrunc.8")
    assert comp.read_text() == SCRIPT


def test_installed_on_the_system():
    """After scripts/setup.sh: the package's files, linked where man and
    bash-completion look."""
    share = docgen.SHARE
    shipped = sorted(os.listdir(os.path.join(share, "man8")))
    assert shipped == sorted(PAGES)
    for name in shipped:
        assert os.path.realpath(os.path.join(docgen.SYSTEM_MAN8, name)) == \
            os.path.realpath(os.path.join(share, "man8", name))
    where = subprocess.run(["man", "-w", "pyrunc-create"], capture_output=True, text=True,
                           timeout=30)
    assert where.returncode == 0, where.stderr
    assert os.path.realpath(where.stdout.strip()) == os.path.realpath(
        os.path.join(share, "man8", "pyrunc-create.8"))
    with open(docgen.SYSTEM_COMPLETION) as f:
        assert f.read() == SCRIPT
