#!/usr/bin/env python3
"""A real SMTP server (aiosmtpd) for the mail tests and the mail benchmark.

Prints "LISTENING <port>" on stdout once it accepts connections. Counts connections and
messages in <spool>/stats.json (rewritten atomically whenever a number changes, unless
--stats-interval is given) and saves each accepted message as <spool>/<n>.eml (unless --no-save).

Options:
  --spool DIR           where messages and stats.json go (required)
  --port N              0 = ephemeral (default)
  --fail-temp N         answer the first N RCPT commands with 451, then accept
  --fail-perm           answer every RCPT with 550 5.1.1 and a text
  --auth USER:PASSWORD  require AUTH PLAIN/LOGIN with these credentials
  --tls-cert/--tls-key  offer STARTTLS with this certificate and require it before MAIL
  --implicit-tls        with --tls-cert/--tls-key: TLS from the first byte (smtps://) instead
  --no-save             count only (benchmark sink)
  --reject-domain D     answer RCPT to addresses at domain D with 550 (repeatable): a
                        permanent fault for one recipient while the others are accepted
  --rcpt-delay S        wait S seconds before answering each RCPT (a slow server: a client is
                        mid-dialogue most of the time, e.g. when a test freezes it)
  --journal             append one JSON line per accepted message to <spool>/journal.jsonl:
                        {"time": epoch seconds, "message_id", "subject", "to"} (end-to-end tests
                        and the system benchmark read receipt times from it)
"""
import argparse
import asyncio
import email.parser
import email.policy
import json
import os
import ssl
import sys
import time

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Stats:
    def __init__(self, spool, eager):
        self.spool = spool
        self.eager = eager
        self.connections = 0
        self.open = 0
        self.messages = 0
        self.rcpt_rejected = 0
        self.ehlo = 0
        self.auth = 0
        self.tls = 0

    def write(self, force=False):
        if not (self.eager or force):
            return
        path = os.path.join(self.spool, "stats.json")
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.__dict__ | {"spool": None, "eager": None}, f)
        os.replace(tmp, path)


class Handler:
    def __init__(self, args, stats):
        self.args = args
        self.stats = stats
        self.temp_failures_left = args.fail_temp

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        self.stats.ehlo += 1
        if session.ssl is not None:
            self.stats.tls += 1
        self.stats.write()
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.args.rcpt_delay > 0:
            await asyncio.sleep(self.args.rcpt_delay)
        domain = address.rsplit("@", 1)[-1].lower()
        if self.args.fail_perm or domain in self.args.reject_domain:
            self.stats.rcpt_rejected += 1
            self.stats.write()
            return "550 5.1.1 Mailbox unavailable: no such user here"
        if self.temp_failures_left > 0:
            self.temp_failures_left -= 1
            self.stats.rcpt_rejected += 1
            self.stats.write()
            return "451 4.3.0 Try again later, greylisted"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.stats.messages += 1
        n = self.stats.messages
        if not self.args.no_save:
            path = os.path.join(self.args.spool, f"{time.time_ns()}-{n:06d}.eml")
            meta = {
                "mail_from": envelope.mail_from,
                "rcpt_tos": envelope.rcpt_tos,
                "tls": session.ssl is not None,
                "authenticated": bool(session.authenticated),
            }
            with open(path + ".tmp", "wb") as f:
                f.write(envelope.original_content)
            with open(path + ".json", "w") as f:
                json.dump(meta, f)
            os.replace(path + ".tmp", path)
        if self.args.journal:
            headers = email.parser.BytesHeaderParser(policy=email.policy.default).parsebytes(envelope.original_content)
            entry = {"time": time.time(), "message_id": str(headers["Message-ID"] or "").strip(),
                     "subject": str(headers["Subject"] or ""), "to": envelope.rcpt_tos}
            with open(os.path.join(self.args.spool, "journal.jsonl"), "a") as f:
                f.write(json.dumps(entry) + "\n")
        self.stats.write()
        return "250 Message accepted for delivery"


def make_protocol_class(stats):
    class CountingSMTP(SMTP):
        def connection_made(self, transport):
            stats.connections += 1
            stats.open += 1
            stats.write()
            super().connection_made(transport)

        def connection_lost(self, error):
            stats.open -= 1
            stats.write()
            super().connection_lost(error)

    return CountingSMTP


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--spool", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--fail-temp", type=int, default=0)
    parser.add_argument("--fail-perm", action="store_true")
    parser.add_argument("--auth")
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--implicit-tls", action="store_true")
    parser.add_argument("--no-save", action="store_true")
    parser.add_argument("--reject-domain", action="append", default=[], type=str.lower)
    parser.add_argument("--journal", action="store_true")
    parser.add_argument("--rcpt-delay", type=float, default=0)
    parser.add_argument("--stats-interval", type=float, default=0)
    args = parser.parse_args()
    os.makedirs(args.spool, exist_ok=True)
    stats = Stats(args.spool, eager=args.stats_interval == 0)
    stats.write(force=True)
    handler = Handler(args, stats)

    kwargs = {"hostname": "smtp.test", "ident": "amtsweg test SMTP"}
    server_ssl = None
    if args.tls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        if args.implicit_tls:
            server_ssl = context
        else:
            kwargs.update(tls_context=context, require_starttls=True)
    if args.auth:
        user, password = args.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user \
                and auth_data.password.decode() == password
            if ok:
                stats.auth += 1
                stats.write()
            return AuthResult(success=ok, handled=False)

        kwargs.update(authenticator=authenticator, auth_required=True,
                      auth_require_tls=bool(args.tls_cert) and not args.implicit_tls)
    protocol = make_protocol_class(stats)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: protocol(handler, **kwargs), host="127.0.0.1", port=args.port, ssl=server_ssl)
    port = server.sockets[0].getsockname()[1]
    print(f"LISTENING {port}", flush=True)
    if args.stats_interval > 0:
        while True:
            await asyncio.sleep(args.stats_interval)
            stats.write(force=True)
    else:
        await asyncio.Event().wait()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
