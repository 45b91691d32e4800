"""pyroute2's own warnings (its netns helper says "no response from the
child" when it is slow under load, then retries) must not add lines to
stderr, where an error is one line: they go to pyrunc's debug log."""
import logging

from runtime import log, netdevices


def test_pyroute2_warning_goes_to_debug_log_not_stderr(tmp_path, capsys):
    logfile = tmp_path / "log.json"
    log.configure(str(logfile), "json", True)
    try:
        netdevices._pyroute2_logs_to_debug()
        netdevices._pyroute2_logs_to_debug()  # twice: still one handler
        logging.getLogger("pyroute2.process").warning("no response from the child")
    finally:
        log.configure(None, "text", False)
    assert capsys.readouterr().err == ""
    lines = logfile.read_text().splitlines()
    assert len(lines) == 1 and '"level":"debug"' in lines[0], lines
    assert "pyroute2: no response from the child" in lines[0]
