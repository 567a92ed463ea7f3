"""The smallest honest evaluation client, for benches/runner-at-scale.

Reads a JSONL dataset, sends one chat request per row to an OpenAI-compatible
endpoint with N requests in flight (threads, one keep-alive connection each),
scores exact match, and appends one JSON line per answer to a journal with an
fsync after each line, as evalkit does. Standard library only.

    python3 benches/minimal_client.py DATASET.jsonl http://127.0.0.1:PORT/v1 OUT.jsonl [CONCURRENCY]
"""

import http.client
import json
import os
import sys
import threading
import urllib.parse
from concurrent.futures import ThreadPoolExecutor


def main():
    dataset, base_url, out_path = sys.argv[1:4]
    concurrency = int(sys.argv[4]) if len(sys.argv) > 4 else 8
    url = urllib.parse.urlparse(base_url)
    path = url.path.rstrip("/") + "/chat/completions"
    local = threading.local()
    lock = threading.Lock()
    out = open(out_path, "a")

    def ask(row):
        connection = getattr(local, "connection", None)
        if connection is None:
            connection = local.connection = http.client.HTTPConnection(url.hostname, url.port)
        body = json.dumps({
            "model": "bench-model",
            "messages": [{"role": "user", "content": f"Answer in one word. {row['question']}"}],
            "temperature": 0.0,
            "max_tokens": 16,
        })
        connection.request("POST", path, body, {"Content-Type": "application/json"})
        answer = json.loads(connection.getresponse().read())
        text = answer["choices"][0]["message"]["content"]
        record = {
            "sample": row["id"],
            "prompt": row["question"],
            "text": text,
            "usage": answer.get("usage"),
            "exact_match": float(text.strip().lower() == str(row["answer"]).strip().lower()),
        }
        line = json.dumps(record) + "\n"
        with lock:
            out.write(line)
            out.flush()
            os.fsync(out.fileno())

    with open(dataset) as f, ThreadPoolExecutor(concurrency) as pool:
        for _ in pool.map(ask, (json.loads(line) for line in f)):
            pass
    out.close()


if __name__ == "__main__":
    main()
