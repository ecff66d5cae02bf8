"""Helpers shared by the Python tests (the C++ ones are testing/*.h): polling a condition with a
deadline, starting a simulator that announces itself by writing a file, and stopping a process.

    sys.path.insert(0, "<tests>/testing"); import process_lib
    proc = process_lib.start_announced([binary, "--url-out", url_file], log, url_file, 20)
    process_lib.wait_until(lambda: ready(), 10, "the grid")
    code = process_lib.stop(proc)
"""
import os
import signal
import subprocess
import time


def wait_until(condition, timeout, what="condition", interval=0.05):
    """Polls condition() until it is truthy (returns its value); fails after `timeout` seconds
    with an AssertionError naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1f s waiting for %s" % (timeout, what))
        time.sleep(interval)


def start_announced(argv, log, announce_path, timeout, interval=0.05):
    """Starts argv with stdout and stderr to the open file `log` and waits until the process
    has written `announce_path`; RuntimeError when it exits first or `timeout` passes."""
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    name = os.path.basename(argv[0])

    def announced():
        if proc.poll() is not None:
            raise RuntimeError("%s exited with %s" % (name, proc.returncode))
        return os.path.exists(announce_path)

    try:
        wait_until(announced, timeout, "%s to write %s" % (name, announce_path), interval)
    except AssertionError as e:
        stop(proc)
        raise RuntimeError(str(e)) from None
    return proc


def stop(proc, timeout=20):
    """SIGTERM, wait up to `timeout` seconds, then SIGKILL; returns the exit code."""
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()
