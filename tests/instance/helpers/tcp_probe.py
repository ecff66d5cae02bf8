#!/usr/bin/python3
"""tcp_probe.py TIMEOUT HOST:PORT...: connects to every target at once and prints one JSON
object mapping each target to the banner it answered with, "refused", "timeout" (no connection
within TIMEOUT seconds: a firewall dropped the SYN) or "error: ...". A connected target gets
BANNER_WAIT seconds to send its banner. Optional --from ADDRESS binds the source."""

import json
import socket
import sys
import threading

BANNER_WAIT = 10.0


def probe(target, timeout, source, results):
    host, port = target.rsplit(":", 1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        if source:
            sock.bind((source, 0))
        sock.connect((host, int(port)))
        sock.settimeout(BANNER_WAIT)
        results[target] = sock.recv(256).decode().strip() or "connected, no banner"
    except socket.timeout:
        results[target] = "timeout" if sock.gettimeout() == timeout else "no banner"
    except ConnectionRefusedError:
        results[target] = "refused"
    except OSError as error:
        results[target] = "error: %s" % error
    finally:
        sock.close()


def main():
    args = sys.argv[1:]
    source = None
    if args[0] == "--from":
        source, args = args[1], args[2:]
    timeout, targets = float(args[0]), args[1:]
    results = {}
    threads = [threading.Thread(target=probe, args=(t, timeout, source, results)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
