"""runtime/config.py: the questions asked of a config, answered one way."""
from runtime.config import Config


def test_namespaces_made_joined_or_absent():
    view = Config({"process": {}, "linux": {"namespaces": [
        {"type": "pid"}, {"type": "network", "path": "/proc/1/ns/net"}]}})
    assert view.has("pid") and view.creates("pid") and view.joins("pid") is None
    assert view.has("network") and not view.creates("network")
    assert view.joins("network") == "/proc/1/ns/net"
    assert not view.has("user") and not view.creates("user") and view.joins("user") is None
    assert [ns["type"] for ns in view.namespace_entries()] == ["pid", "network"]


def test_sections_default_to_empty():
    view = Config({"process": {"args": ["sh"]}})
    assert view.linux == {} and view.resources == {} and view.mounts == []
    assert view.hooks is None and view.annotations == {}
    assert view.process == {"args": ["sh"]}
    with_resources = Config({"process": {}, "linux": {"resources": None}})
    assert with_resources.resources == {}  # a Go client's null
