#!/usr/bin/python3
"""HTTP stand-in for a grid's gateway and node as pygrid-start sees them.

grid_standin.py CONFIG.json, where CONFIG is
  {"state": DIR, "services": [{"name": "gateway", "listen": ["127.0.0.1", 5000],
                               "paths": ["/"], "connected_nodes": true}, ...]}
A service answers its paths with 200 once DIR/open-<name> exists and with 503 before; with
`connected_nodes` it also answers GET /connected-nodes with {"grid-nodes": [...]} listing the lines
of DIR/registered, or of DIR/<"registered" key> for a second gateway (PyGrid's format, shared
reference pygrid.md §6). Other paths get 404.
Every request is appended to DIR/requests.log as `<service> <path> <status>`. Prints `ready` once
every listener is bound, then closes stdout."""

import http.server
import json
import os
import sys
import threading

LOG_LOCK = threading.Lock()


def handler_for(service, state):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            is_open = os.path.exists(os.path.join(state, "open-" + service["name"]))
            body = b"ok\n"
            if service.get("connected_nodes") and self.path == "/connected-nodes":
                status = 200 if is_open else 503
                try:
                    with open(os.path.join(state, service.get("registered", "registered"))) as f:
                        nodes = [line.rstrip("\n") for line in f if line.strip()]
                except FileNotFoundError:
                    nodes = []
                body = json.dumps({"grid-nodes": nodes}).encode()
            elif self.path in service["paths"]:
                status = 200 if is_open else 503
            else:
                status = 404
            with LOG_LOCK, open(os.path.join(state, "requests.log"), "a") as log:
                log.write("%s %s %d\n" % (service["name"], self.path, status))
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    return Handler


def main():
    with open(sys.argv[1]) as f:
        config = json.load(f)
    servers = []
    for service in config["services"]:
        address = (service["listen"][0], int(service["listen"][1]))
        servers.append(http.server.ThreadingHTTPServer(address,
                                                       handler_for(service, config["state"])))
    for server in servers[1:]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print("ready", flush=True)
    sys.stdout.close()
    if servers:
        servers[0].serve_forever()
    threading.Event().wait()


if __name__ == "__main__":
    main()
