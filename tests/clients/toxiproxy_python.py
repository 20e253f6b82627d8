"""Drive `shakeout proxy serve` with Toxiproxy's Python client (PyPI: toxiproxy-python),
unchanged, to prove the API is a drop-in. Usage: toxiproxy_python.py API_PORT UPSTREAM"""

import sys
import time
import urllib.request

from toxiproxy import Toxiproxy
from toxiproxy.api import APIConsumer
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists

APIConsumer.host = "127.0.0.1"
APIConsumer.port = int(sys.argv[1])
upstream = sys.argv[2]

server = Toxiproxy()
assert server.running(), "API not reachable"
assert b"version" in server.version(), server.version()

proxy = server.create(upstream=upstream, name="py", listen="127.0.0.1:0")
assert proxy.name == "py", proxy.name
listen = server.get_proxy("py").listen
url = "http://%s/checkout" % listen


def fetch_ms():
    start = time.monotonic()
    with urllib.request.urlopen(url, timeout=5) as r:
        assert r.status == 200
        r.read()
    return (time.monotonic() - start) * 1000


base = fetch_ms()
proxy.add_toxic(type="latency", attributes={"latency": 150})
assert "latency_downstream" in proxy.toxics(), proxy.toxics()
slow = fetch_ms()
assert slow >= 150, slow

proxy.destroy_toxic("latency_downstream")
assert proxy.toxics() == {}, proxy.toxics()
assert fetch_ms() < 100

for bad, exc in [
    (lambda: server.create(upstream=upstream, name="py"), ProxyExists),
    (lambda: proxy.add_toxic(type="no_such_toxic"), InvalidToxic),
    (lambda: proxy.destroy_toxic("missing"), NotFound),
]:
    try:
        bad()
    except exc:
        pass
    else:
        raise AssertionError("expected %s" % exc.__name__)

proxy.disable()
try:
    urllib.request.urlopen(url, timeout=2)
    raise AssertionError("a disabled proxy answered")
except OSError:
    pass
proxy.enable()
fetch_ms()

server.reset()
proxy.destroy()
assert server.get_proxy("py") is None
print("ok: base %.1f ms, with 150 ms latency %.1f ms" % (base, slow))
