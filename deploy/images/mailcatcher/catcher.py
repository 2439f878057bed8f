"""An SMTP catcher for evaluation: every message sent to port 1025 is kept in memory (the last
MAX_MESSAGES) and shown over HTTP on port 8025:
  GET /messages      JSON list: index, from, to, subject, received (UTC, ISO 8601)
  GET /messages/N    message N as sent (message/rfc822)
  GET /healthz       200
`mailcatcher --healthcheck` asks /healthz and exits 0 or 1 (a health check command without spaces in
its arguments: podman 4.3's Docker API splits such arguments apart).
"""
import collections
import datetime
import email
import email.policy
import http.server
import json
import os
import signal
import sys
import threading
import urllib.request

from aiosmtpd.controller import Controller

MAX_MESSAGES = 1000
messages = collections.deque(maxlen=MAX_MESSAGES)
lock = threading.Lock()
counter = 0


class Catch:
    async def handle_DATA(self, server, session, envelope):
        global counter
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with lock:
            counter += 1
            messages.append({
                "index": counter,
                "from": envelope.mail_from,
                "to": list(envelope.rcpt_tos),
                "subject": str(parsed.get("Subject", "")),
                "received": datetime.datetime.now(datetime.timezone.utc).isoformat(),
                "raw": envelope.content,
            })
        return "250 OK"


class Web(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        with lock:
            snapshot = list(messages)
        if self.path == "/healthz":
            return self.send(200, "text/plain", b"ok\n")
        if self.path in ("/", "/messages"):
            listing = [{k: v for k, v in m.items() if k != "raw"} for m in snapshot]
            return self.send(200, "application/json", json.dumps(listing, ensure_ascii=False).encode())
        if self.path.startswith("/messages/"):
            for m in snapshot:
                if self.path == f"/messages/{m['index']}":
                    return self.send(200, "message/rfc822", m["raw"])
        self.send(404, "text/plain", b"not found\n")

    def send(self, status, content_type, body):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    if sys.argv[1:] == ["--healthcheck"]:
        try:
            urllib.request.urlopen("http://127.0.0.1:8025/healthz", timeout=2)
        except Exception as error:
            print(error, file=sys.stderr)
            sys.exit(1)
        sys.exit(0)
    # As PID 1 nothing stops the process on SIGTERM unless it says so (compose would wait 10 s).
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    smtp = Controller(Catch(), hostname="0.0.0.0", port=1025)
    smtp.start()
    print("mailcatcher: SMTP on :1025, messages on http://0.0.0.0:8025/messages", flush=True)
    http.server.ThreadingHTTPServer(("0.0.0.0", 8025), Web).serve_forever()
