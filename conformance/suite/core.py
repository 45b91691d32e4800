"""Check registry and verdicts.

A check is a function of the suite's Env. It returns (pass), raises Fail
(the runtime does not do what the quoted sentence says) or HostSkip (this
host cannot show the behaviour: never because the runtime lacks something).
"""
from __future__ import annotations

import dataclasses
import re
from typing import Callable

SPEC_FILES = ("runtime.md", "runtime-linux.md", "config.md", "config-linux.md",
              "features.md", "features-linux.md")


class Fail(Exception):
    """The runtime did not behave as the quoted sentence requires."""


class HostSkip(Exception):
    """This host cannot show the behaviour (the reason names what it lacks)."""


@dataclasses.dataclass
class Check:
    id: str
    spec: str          # file of the runtime spec, e.g. "config-linux.md"
    section: str       # its section heading
    quote: str         # the sentence checked, verbatim (markdown links reduced to their text)
    func: Callable
    cgroup: str        # "any": no cgroup files; "cgroup": reads them (runs in the v2 lane too);
                       # "v2": needs a pure cgroup-v2 host
    order: int
    note: str = ""     # what of the quoted text is checked, when the quote is wider
    level_: str = ""   # the requirement level when the quote does not say it (a table row)

    @property
    def level(self) -> str:
        if self.level_:
            return self.level_
        for word in ("MUST NOT", "MUST", "SHOULD NOT", "SHOULD", "MAY"):
            if word in self.quote:
                return word.split()[0]
        return "defines"

    @property
    def where(self) -> str:
        return f"{self.spec} § {self.section}"


REGISTRY: list[Check] = []


def check(id: str, spec: str, section: str, quote: str, cgroup: str = "any", note: str = "",
          level: str = ""):
    """Register the decorated function as check `id`."""
    assert spec in SPEC_FILES, spec
    assert cgroup in ("any", "cgroup", "v2"), cgroup

    def deco(func):
        assert all(c.id != id for c in REGISTRY), f"duplicate check id {id}"
        REGISTRY.append(Check(id, spec, section, " ".join(quote.split()), func, cgroup,
                              len(REGISTRY), note, level))
        return func
    return deco


def expect(cond, message: str) -> None:
    if not cond:
        raise Fail(message)


# -- quotes against the spec text (conformance/run --check-quotes SPECDIR) --

_LINK = re.compile(r"\[((?:[^\[\]]|\[\])*)\]\([^)]*\)|\[((?:[^\[\]]|\[\])*)\]\[[^\]]*\]")


def normalise(text: str) -> str:
    """Markdown to comparable prose: links to their text, no emphasis marks,
    one space between words."""
    text = _LINK.sub(lambda m: m.group(1) if m.group(1) is not None else m.group(2), text)
    text = re.sub(r"<a name=\"[^\"]*\" ?/>", "", text)
    text = text.replace("**", "").replace("`", "").replace("*", "")
    return " ".join(text.split())


def unquoted(spec_dir: str) -> list[str]:
    """Checks whose quote is not verbatim in their spec file, or whose
    section is not one of its headings."""
    import os
    texts, headings = {}, {}
    bad = []
    for c in REGISTRY:
        if c.spec not in texts:
            with open(os.path.join(spec_dir, c.spec), encoding="utf-8") as f:
                raw = f.read()
            texts[c.spec] = normalise(raw)
            headings[c.spec] = {normalise(line.lstrip("#")) for line in raw.splitlines()
                                if line.startswith("#")}
        if normalise(c.quote) not in texts[c.spec]:
            bad.append(f"{c.id}: quote not in {c.spec}: {c.quote}")
        if c.section not in headings[c.spec]:
            bad.append(f"{c.id}: no heading '{c.section}' in {c.spec}")
    return bad
