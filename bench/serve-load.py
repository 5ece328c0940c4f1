# Bounded loopback load for `hunch serve`: python3 bench/serve-load.py URL DRAFTER STREAMS REQUESTS TOKENS
import ipaddress, json, socket, sys, threading, time, urllib.parse, urllib.request
url, drafter, conc, n, toks = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
if not ipaddress.ip_address(socket.gethostbyname(urllib.parse.urlparse(url).hostname)).is_loopback:
    sys.exit("serve-load.py only targets loopback addresses")
prompts = ["import os\n", "def main():\n", "class Parser:\n", "import sys\nimport re\n", "for i in range(10):\n", "def __init__(self, name):\n", "if __name__ == '__main__':\n", "from collections import"]
res = []; lock = threading.Lock(); nxt = [0]
def worker():
    while True:
        with lock:
            i = nxt[0]; nxt[0] += 1
        if i >= n: return
        body = json.dumps({"prompt": prompts[i % len(prompts)], "max_tokens": toks, "temperature": 0, "ignore_eos": True, "speculation": {"drafter": drafter}}).encode()
        r = json.load(urllib.request.urlopen(urllib.request.Request(url + "/v1/completions", body, {"Content-Type": "application/json"})))
        with lock: res.append((r["usage"]["completion_tokens"], r["speculation"]["drafted"], r["speculation"]["accepted"]))
t = time.time(); th = [threading.Thread(target=worker) for _ in range(conc)]
[x.start() for x in th]; [x.join() for x in th]; dt = time.time() - t
tok = sum(r[0] for r in res); print(f"{drafter} c={conc}: {tok/dt:.1f} tok/s drafted {sum(r[1] for r in res)} accepted {sum(r[2] for r in res)}")
