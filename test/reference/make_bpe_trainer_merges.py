#!/usr/bin/env python3
"""The merges Hugging Face's `tokenizers` (Rust) BpeTrainer learns from the repository's Korean +
English samples with GPT-2's byte-level pre-tokenizer, for test/unit/bpe-trainer-parity.test.ts.

usage: make_bpe_trainer_merges.py  (needs `tokenizers`; writes test/fixtures/tokenizers/bpe-trainer-merges.json)
"""
import json
import os

import tokenizers
from tokenizers import Tokenizer, models, pre_tokenizers, trainers

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPORA = ["media/samples/constitution-ko.txt", "media/samples/shakespeare.txt"]
VOCAB_SIZE = 1200


def main():
    # newline="": the text exactly as the test reads it (CRLF kept).
    text = "".join(open(os.path.join(ROOT, p), encoding="utf-8", newline="").read() for p in CORPORA)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    tok.train_from_iterator([text], trainer)
    merges = [" ".join(m) for m in json.loads(tok.to_str())["model"]["merges"]]
    out = os.path.join(ROOT, "test", "fixtures", "tokenizers", "bpe-trainer-merges.json")
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"tokenizers": tokenizers.__version__, "corpora": CORPORA, "vocab_size": VOCAB_SIZE, "merges": merges}, f, ensure_ascii=False, indent=0)
        f.write("\n")


if __name__ == "__main__":
    main()
