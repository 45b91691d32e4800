"""A thin view of a loaded config.json: the questions many modules ask of it
(which namespaces, made or joined; the linux section), answered in one place.
The dict stays the source of truth (`.data`): plan and checks read its fields
by their JSON names."""


class Config:
    __slots__ = ("data", "_namespaces")

    def __init__(self, data: dict):
        self.data = data
        # The checks (spec.py) refuse a namespace type listed twice.
        self._namespaces = {ns["type"]: ns for ns in self.linux.get("namespaces", [])}

    @property
    def process(self) -> dict:
        return self.data["process"]

    @property
    def linux(self) -> dict:
        return self.data.get("linux", {})

    @property
    def resources(self) -> dict:
        return self.linux.get("resources") or {}

    @property
    def mounts(self) -> list[dict]:
        return self.data.get("mounts", [])

    @property
    def hooks(self) -> dict | None:
        return self.data.get("hooks")

    @property
    def annotations(self) -> dict:
        return self.data.get("annotations", {})

    def has(self, ns_type: str) -> bool:
        """The namespace is listed: new, or joined by path."""
        return ns_type in self._namespaces

    def creates(self, ns_type: str) -> bool:
        """A new namespace of this type."""
        return ns_type in self._namespaces and not self._namespaces[ns_type].get("path")

    def joins(self, ns_type: str) -> str | None:
        """The path of a namespace joined, or None."""
        return self._namespaces.get(ns_type, {}).get("path") or None

    def namespace(self, ns_type: str) -> dict | None:
        """The namespace's entry in /linux/namespaces, or None."""
        return self._namespaces.get(ns_type)

    def namespace_entries(self) -> list[dict]:
        return list(self._namespaces.values())
