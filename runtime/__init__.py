"""pyrunc: an OCI runtime in Python. Python decides, C executes."""

__version__ = "0.1.0"
OCI_VERSION = "1.3.0"
