#!/usr/bin/env python3
"""Record a real HTTP/2 exchange with RFC 8441 WebSockets, made by the `h2` package.

    python3 -m venv /tmp/h2venv && /tmp/h2venv/bin/pip install h2 wsproto
    /tmp/h2venv/bin/python tests/data/h2/make.py tests/data/h2

Two h2 connection objects (client and server) talk without sockets: what one sends is
handed to the other. The WebSocket frames inside the DATA frames are made by wsproto's
frame protocol. Writes:

- exchange.bin: every chunk each side sent, in order: 1 byte side (0 client, 1 server),
  4 bytes big-endian length, the bytes.
- truth.json: what h2 itself reported on the receiving end of each chunk (the server's
  RequestReceived headers, the client's ResponseReceived, DataReceived with the bytes in
  hex and whether the stream ended, StreamReset, ConnectionTerminated, and the remote
  settings each side acknowledged).

Scenario: the server enables extended CONNECT; stream 1 and 3 are WebSockets over
extended CONNECT with interleaved DATA (one padded); stream 5 is a plain GET (no
WebSocket: its headers still go through HPACK); stream 7 is an extended CONNECT the
server refuses with 403; stream 3 ends with RST_STREAM (CANCEL) from the client;
stream 1 exchanges Close frames (1000) and ends with END_STREAM both ways; the server
then sends GOAWAY (last stream 7, NO_ERROR).
"""
import json
import struct
import sys
from pathlib import Path

import h2.config
import h2.errors
import h2.connection
import h2.events
import h2.settings
from wsproto.frame_protocol import FrameProtocol, CloseReason

out_dir = Path(sys.argv[1])
client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
server = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
chunks = []
truth = []


def hexs(b):
    return b.hex()


def record(events, receiver):
    for e in events:
        if isinstance(e, h2.events.RequestReceived):
            truth.append({"at": receiver, "event": "request", "stream": e.stream_id,
                          "headers": [[n.decode(), v.decode()] for n, v in e.headers],
                          "end_stream": e.stream_ended is not None})
        elif isinstance(e, h2.events.ResponseReceived):
            truth.append({"at": receiver, "event": "response", "stream": e.stream_id,
                          "headers": [[n.decode(), v.decode()] for n, v in e.headers],
                          "end_stream": e.stream_ended is not None})
        elif isinstance(e, h2.events.DataReceived):
            truth.append({"at": receiver, "event": "data", "stream": e.stream_id,
                          "data": hexs(e.data), "end_stream": e.stream_ended is not None})
        elif isinstance(e, h2.events.StreamReset):
            truth.append({"at": receiver, "event": "rst_stream", "stream": e.stream_id,
                          "error_code": int(e.error_code)})
        elif isinstance(e, h2.events.ConnectionTerminated):
            truth.append({"at": receiver, "event": "goaway", "last_stream_id": e.last_stream_id,
                          "error_code": int(e.error_code)})
        elif isinstance(e, h2.events.RemoteSettingsChanged):
            truth.append({"at": receiver, "event": "settings",
                          "changed": {int(k): v.new_value for k, v in e.changed_settings.items()}})


def pump():
    """Deliver what each side has to send to the other, until both are quiet."""
    while True:
        moved = False
        for side, sender, receiver, name in ((0, client, server, "server"), (1, server, client, "client")):
            data = sender.data_to_send()
            if data:
                chunks.append((side, data))
                record(receiver.receive_data(data), name)
                moved = True
        if not moved:
            return


client.initiate_connection()
server.local_settings = h2.settings.Settings(
    client=False, initial_values={h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL: 1})
server.initiate_connection()
pump()


def ws_request(stream, path, protocol="chat"):
    client.send_headers(stream, [
        (":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "https"),
        (":path", path), (":authority", "example.com"), ("sec-websocket-version", "13"),
        ("sec-websocket-protocol", protocol), ("origin", "https://example.com"),
        ("user-agent", "h2-fixture/1.0"),
    ])


ws_request(1, "/chat")
pump()
server.send_headers(1, [(":status", "200"), ("sec-websocket-protocol", "chat"), ("server", "h2-fixture")])
pump()
ws_request(3, "/echo?room=2", protocol="superchat")
pump()
server.send_headers(3, [(":status", "200")])
pump()

cws = {1: FrameProtocol(client=True, extensions=[]), 3: FrameProtocol(client=True, extensions=[])}
sws = {1: FrameProtocol(client=False, extensions=[]), 3: FrameProtocol(client=False, extensions=[])}
client.send_data(1, cws[1].send_data("hello on one"))
client.send_data(3, cws[3].send_data("hello on three"), pad_length=7)
pump()
server.send_data(3, sws[3].send_data("echo three"))
server.send_data(1, sws[1].send_data(b"\x00\x01binary"))
pump()

client.send_headers(5, [(":method", "GET"), (":scheme", "https"), (":path", "/index.html"),
                        (":authority", "example.com"), ("user-agent", "h2-fixture/1.0")], end_stream=True)
pump()
server.send_headers(5, [(":status", "200"), ("content-type", "text/html")])
server.send_data(5, b"<html></html>", end_stream=True)
pump()

ws_request(7, "/forbidden")
pump()
server.send_headers(7, [(":status", "403")], end_stream=True)
pump()
client.end_stream(7)
pump()

client.send_data(3, cws[3].send_data("last words on three"))
client.reset_stream(3, error_code=h2.errors.ErrorCodes.CANCEL)
pump()

client.send_data(1, cws[1].close(CloseReason.NORMAL_CLOSURE, "bye"))
pump()
server.send_data(1, sws[1].close(CloseReason.NORMAL_CLOSURE, "bye"), end_stream=True)
pump()
client.end_stream(1)
pump()
server.close_connection(error_code=h2.errors.ErrorCodes.NO_ERROR, last_stream_id=7)
pump()

with open(out_dir / "exchange.bin", "wb") as f:
    for side, data in chunks:
        f.write(struct.pack(">BI", side, len(data)) + data)
(out_dir / "truth.json").write_text("[\n" + ",\n".join(json.dumps(e) for e in truth) + "\n]\n")
print(len(chunks), "chunks,", sum(len(d) for _, d in chunks), "bytes,", len(truth), "events")
