"""Hugging Face tokenizers (Rust) encoding a corpus with a tokenizer.json, the peer of
scripts/bench-tokenize.mjs: the file read a chunk at a time, cut into pieces of ~16 K characters just before a
space that follows a non-space (where encoding the pieces gives the ids of the whole text), and
encoded with encode_batch, 64 pieces a call. Prints one JSON line: seconds (reading, decoding and
encoding; the checksum excluded), cpuSeconds (of all its threads), ids, checksum (the same sum as ours), peak RSS in MB.

usage: python hf_tokenize.py <corpus> <tokenizer.json>
"""
import codecs
import json
import re
import resource
import sys
import time

import numpy as np
from tokenizers import Tokenizer

CHUNK_BYTES = 4 << 20
PIECE_CHARS = 1 << 14
BATCH = 64
# A space after a character that is neither Python's whitespace nor U+0085/U+FEFF-like: cut there.
CUT = re.compile(r"(?<=[^\s\u0085\ufeff]) ")


def pieces(text):
    """text cut into pieces of about PIECE_CHARS; the last one (maybe unfinished) is returned apart."""
    out, start = [], 0
    while len(text) - start > PIECE_CHARS:
        m = CUT.search(text, start + PIECE_CHARS)
        if not m:
            break
        out.append(text[start : m.start()])
        start = m.start()
    return out, text[start:]


def main():
    path, tokenizer_json = sys.argv[1], sys.argv[2]
    tok = Tokenizer.from_file(tokenizer_json)
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    ids = 0
    checksum = np.uint64(0)
    checksum_s = 0.0
    checksum_cpu = 0.0
    t0 = time.perf_counter()
    cpu0 = time.process_time()

    def take(batch):
        nonlocal ids, checksum, checksum_s, checksum_cpu
        for enc in tok.encode_batch(batch, add_special_tokens=False):
            c0, p0 = time.perf_counter(), time.process_time()
            a = np.asarray(enc.ids, dtype=np.uint64) + 1
            w = (np.arange(ids, ids + len(a), dtype=np.uint64) % 1000003) + 1
            checksum = (checksum + np.sum((a * w) % (1 << 32), dtype=np.uint64)) % (1 << 32)
            ids += len(a)
            checksum_s += time.perf_counter() - c0
            checksum_cpu += time.process_time() - p0

    rest, batch = "", []
    with open(path, "rb") as f:
        while True:
            chunk = f.read(CHUNK_BYTES)
            if not chunk:
                break
            done, rest = pieces(rest + decoder.decode(chunk))
            batch.extend(done)
            if len(batch) >= BATCH:
                take(batch)
                batch = []
    batch.append(rest + decoder.decode(b"", final=True))
    take(batch)
    seconds = time.perf_counter() - t0 - checksum_s
    cpu_seconds = time.process_time() - cpu0 - checksum_cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(json.dumps({"seconds": seconds, "cpuSeconds": cpu_seconds, "ids": ids, "checksum": int(checksum), "peakMB": peak}))


if __name__ == "__main__":
    main()
