#!/usr/bin/python3
"""tcp_listener.py NAME PORT...: accepts TCP connections on every address at each PORT and
answers each with `NAME:PORT`, so a probe knows which process it reached (the instance itself or a
container behind a DNAT rule). Prints `ready` once every port is bound."""

import socket
import sys
import threading


def serve(sock, banner):
    while True:
        conn, _ = sock.accept()
        try:
            conn.sendall(banner)
        finally:
            conn.close()


def main():
    name, ports = sys.argv[1], [int(p) for p in sys.argv[2:]]
    sockets = []
    for port in ports:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("0.0.0.0", port))
        sock.listen(16)
        sockets.append((sock, ("%s:%d\n" % (name, port)).encode()))
    for sock, banner in sockets:
        threading.Thread(target=serve, args=(sock, banner), daemon=True).start()
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
