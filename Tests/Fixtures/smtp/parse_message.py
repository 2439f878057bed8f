#!/usr/bin/env python3
"""Parses an .eml file with Python's email package and prints what the tests check, as JSON."""
import email
import email.policy
import json
import sys

raw = open(sys.argv[1], "rb").read()
message = email.message_from_bytes(raw, policy=email.policy.default)
lines = raw.split(b"\r\n")
body_part = message.get_body(preferencelist=("plain",))
print(json.dumps({
    "subject": str(message["Subject"]),
    "raw_headers": raw.split(b"\r\n\r\n", 1)[0].decode("ascii", "replace"),
    "from": str(message["From"]),
    "from_address": message["From"].addresses[0].addr_spec,
    "from_name": message["From"].addresses[0].display_name,
    "to": [a.addr_spec for a in message["To"].addresses],
    "date": str(message["Date"]),
    "date_parsed": message["Date"].datetime is not None,
    "message_id": str(message["Message-ID"]).strip(),
    "auto_submitted": str(message["Auto-Submitted"]),
    "mime_version": str(message["MIME-Version"]),
    "content_type": message.get_content_type(),
    "charset": message.get_content_charset(),
    "cte": str(message["Content-Transfer-Encoding"]),
    "body": body_part.get_content(),
    "defects": [type(d).__name__ for d in message.defects] + [type(d).__name__ for d in message["Subject"].defects],
    "only_crlf": b"\n" not in raw.replace(b"\r\n", b""),
    "max_line": max(len(l) for l in lines),
    "ascii_only": all(b < 128 for b in raw),
}))
