#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets, fuzz/corpus/<target>/, from inputs the unit
tests use (src/http/request.rs, src/plan). Run from the repository root; each seed's
file name is a hash of its bytes, so rerunning writes the same files.

The committed corpora also hold the fuzzer's finds, minimized against these seeds, from
fuzz/: ./target/x86_64-unknown-linux-gnu/release/TARGET -set_cover_merge=1 -max_len=512
corpus/TARGET work/TARGET"""
import hashlib
import os

HEADS = [
    b"GET / HTTP/1.1\r\nHost: h\r\n\r\n",
    b"GET /reset=6?x=1 HTTP/1.1\r\nHost: example\r\nUser-Agent: t\r\n\r\n",
    b"GET / HTTP/1.0\n\n",
    b"\r\n\nGET / HTTP/1.0\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\n\r\nhello world!",
    b"POST / HTTP/1.1\r\nHost: h\r\ncontent-length: 5, 5\r\n\r\nhello",
    b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n",
    b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: h\r\nConnection: foo, close\r\n\r\nGET / HTTP/1.1\r\n",
    b"GET / HTTP/1.2\r\nHost: h\r\n\r\n",
    b"GET http://h:1/a/b?q HTTP/1.1\r\nHost: h\r\n\r\n",
    b"GET HTTP://h HTTP/1.1\r\nHost: [::1]:80\r\n\r\n",
    b"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: h\r\nX: caf\xc3\xa9\r\n\r\n",
    b"GET / HTTP/1.1\nHost: h\nX:\t a \t\n\n",
    b"GET\r\n\r\n",
    b"GET /\r\n\r\n",
    b"GET  / HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1 x\r\n\r\n",
    b"GET /\x01 HTTP/1.1\r\n\r\n",
    b"GET / FTP/1.1\r\n\r\n",
    b"GET / HTTP/2.0\r\n\r\n",
    b"GET / HTTP/1.1\r\nNo colon\r\n\r\n",
    b"GET / HTTP/1.1\r\nName : v\r\n\r\n",
    b"GET / HTTP/1.1\r\n folded\r\n\r\n",
    b"GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n",
    b"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
    b"GET / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
    b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
    b"GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"GET / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity, chunked\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\x0c\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\x0c5\r\n\r\n",
    b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n",
    b"GET / HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    b"GET reset HTTP/1.1\r\nHost: h\r\n\r\n",
    b"CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n",
    b"connect h:443 HTTP/1.1\r\nHost: h\r\n\r\n",
    b"\rGET / HTTP/1.1\r\nHost: h\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: h\r\n\r",
]

CHUNKED = [
    b"4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\nTrailer: x\r\n\r\nGET /next",
    b"0\r\n\r\n",
    b"4\r\nWiki\r\n",
    b";x\r\n",
    b"4\r\nWikiXX",
    b"ffffffffffffffff\r\n",
    b"fffffffffffffff\r\n",
    b"10000000000000000\r\n",
    b"5 junk\r\nhello\r\n0\r\n\r\n",
    b"5 \r\nhello\r\n0\r\n\r\n",
    b"5\rX\nhello\r\n0\r\n\r\n",
    b"5;a=\"b\"c\r\nhello\r\n0\r\n\r\n",
    b"5;a=b\x0c\r\nhello\r\n0\r\n\r\n",
    b"0\r\n\r\r\n",
    b"0\r\nBad Trailer\r\n\r\n",
    b"0\r\n x: folded\r\n\r\n",
    b"0\r\nX: a\rb\r\n\r\n",
    b"5 ;a\r\nhello\r\n0\r\n\r\n",
    b"5\t; a = b ;c\r\nhello\r\n0\r\n\r\n",
    b"5;a=\"x y\\\"z;\";b=\"\"\r\nhello\r\n0\r\n\r\n",
    b"5;a=\"q\" ;b\r\nhello\r\n0;last\r\n\r\n",
    b"000005\r\nhello\r\n000\r\n\r\n",
    b"5\r\nhello\r\n0\r\nX: a\r\nY:\r\nZ: \tc\xff\t\r\n\r\n",
    b"5\nhello\n0\nX: a\n\n",
    b"A\r\n0123456789\r\n3\r\nabc\r\n0\r\n\r\n",
]

PLANS = [
    "ws-send=5,1k,1s/reset=3msg", "ws-close=1011,bye@2", "ws-close-no-reply/ws-pong=no",
    "ws-ping=1s/ws-frag=3/ws-big=20m", "ws-bad=control-len", "ws-accept=bad/ws-protocol=chat",
    "ws-send=5,,100ms/close=3msg+10", "ws-close=1000,a%40b",
    "up:close=2msg/up:pause=1msg,1s", "up:reset=2msg+3", "up:hang=100", "up:pause=0,1s",
    "", "/", "status=503", "header=Retry-After:1", "body=10m", "text=hi%20there", "echo",
    "length=100", "length=none", "chunked", "chunked=4", "chunked=4/badchunk", "keepalive=no",
    "keepalive=yes", "delay=2s", "pause=6,1s", "pause=6,1s/pause=head:10,250ms", "rate=1",
    "reset", "reset=6", "reset=5m", "close=head:10", "hang=6", "hang=end", "garbage=64",
    "raw=HTTP%2F1.1%20200%0D%0A%0D%0A", "drain=no", "idle=1s", "reuse=reset", "reuse=close",
    "times=2/reset", "chance=0.5/reset", "chance=0.25",
    "status=503/header=X-A:1/header=X-B:%20two/delay=2s",
    "/reset=6/", "status=abc", "status=1000", "header=X:a%0D%0Ab", "chunked=0", "rset",
    "status=200/status=201", "reset/close", "garbage=64/chunked", "delay=1.00000005m",
]

ROUTES = [
    "POST /v1/upload reset", "/v1/upload reset", "M-SEARCH / ok",
    "  \tPOST   /v1/upload\treset=1m*2   status=201 \r",
    "GET /x status=503/header=Retry-After:1 reset=6 ok", "/x reset*2 status=503*3 ok",
    "/x reset*1000000 ok", "/x text=a%2Ab*2", "POST /v1/upload rset", "/a/*/b ok",
    "v1/items ok", "get /y ok", "/x?q ok", "GET /x", "/x ok*0", "/x *2",
    "# routes for the SDK test\n\n  # indented comment\nGET /v1/items ok\r\n"
    "\tPOST /v1/upload reset*2 status=201  \n/health ok\n",
    "# header\nGET /v1/items ok\n\nPOST /v1/upload rset\n",
    "GET /x ok\nget /y ok\n",
]

UNITS = [
    "0", "512", "64k", "10m", "1.5k", "99999999999999999999", "2000000m", "1024K", "1M",
    "250ms", "1.5s", "1m", "0.1s", "1.0000001s", "1.0000000s", "2d", "s", "99999999999999999999s",
    "1441m", "1440m", "1.00000005m", "0.0000015s", "1.5us", "0.001ms", "100us", "86400s",
    "end", "head:1k", "head:10", "head:", "6",
]



def ws(b0, payload, mask=b"\x37\xfa\x21\x3d", masked=True):
    """A client WebSocket frame: first byte b0 (FIN, RSV, opcode), masked payload."""
    n = len(payload)
    m = 0x80 if masked else 0
    if n < 126:
        head = bytes([b0, m | n])
    elif n < 65536:
        head = bytes([b0, m | 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([b0, m | 127]) + n.to_bytes(8, "big")
    if not masked:
        return head + payload
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


# ws_frame: the first byte picks the message limit (< 0x80: 8 x byte, else 1 MiB), then frames
# as a client sends them: the RFC's examples, fragments with a ping between, every violation.
WS_FRAMES = [
    b"\x80" + ws(0x81, b"Hello"),
    b"\x80" + ws(0x01, b"Hel") + ws(0x89, b"p") + ws(0x80, b"lo"),
    b"\x80" + ws(0x82, bytes(range(256)) * 2) + ws(0x8A, b"") + ws(0x88, b"\x03\xe8bye"),
    b"\x80" + ws(0x01, "é€".encode()[:2]) + ws(0x80, "é€".encode()[2:]),
    b"\x80" + ws(0x81, b"hi", masked=False),
    b"\x80" + ws(0xC1, b"hi"),
    b"\x80" + ws(0x83, b""),
    b"\x80" + ws(0x89, bytes(126)),
    b"\x80" + ws(0x09, b""),
    b"\x80" + ws(0x80, b"x"),
    b"\x80" + ws(0x01, b"a") + ws(0x81, b"b"),
    b"\x80" + ws(0x81, b"\xff\xfe"),
    b"\x80" + ws(0x88, b"\x03"),
    b"\x80" + ws(0x88, b"\x03\xed"),
    b"\x80" + ws(0x88, b"\x03\xe8\xff"),
    b"\x02" + ws(0x82, bytes(17)),
    b"\x02" + ws(0x02, bytes(10)) + ws(0x80, bytes(7)),
    b"\x80\x82\xff\x80\x00\x00\x00\x00\x00\x00\x03",
]


def write(target, items):
    d = os.path.join("fuzz", "corpus", target)
    os.makedirs(d, exist_ok=True)
    for item in items:
        data = item if isinstance(item, bytes) else item.encode()
        name = hashlib.sha1(data).hexdigest()
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


write("head", HEADS)
write("chunked", CHUNKED)
write("plan", PLANS)
write("route", ROUTES)
write("units", UNITS)
write("ws_frame", WS_FRAMES)
