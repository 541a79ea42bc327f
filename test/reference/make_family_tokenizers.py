#!/usr/bin/env python3
"""Small tokenizer.json files built in the real pipelines of the Llama-family tokenizers, and the ids
Hugging Face's `tokenizers` (Rust) gives for probe strings, for test/unit/family-tokenizers.test.ts.

No real tokenizer can be downloaded here, so each family's pipeline is rebuilt with its own
components and trained on the repository's Korean + English samples with a small vocabulary:

  llama3    byte-level BPE, Split with Llama 3's pattern (transformers' TikTokenConverter), ignore_merges,
            <|begin_of_text|> added by TemplateProcessing
  qwen2     byte-level BPE, NFC, Split with Qwen2's pattern (transformers' tokenization_qwen2.py),
            <|endoftext|> <|im_start|> <|im_end|> special and <tool_call> a plain added token (Qwen2/2.5/3)
  smollm2   byte-level BPE with digits split one by one, <|endoftext|> <|im_start|> <|im_end|> first
  tinyllama SentencePiece-style BPE (Llama 2's, transformers' LlamaConverter, legacy): Prepend("▁") +
            Replace(" ", "▁") normalizer, byte_fallback, fuse_unk, <unk> <s> </s> then <0x00>…<0xFF>
  mistral   the same model with the newer Metaspace pre-tokenizer (prepend_scheme "first") instead

usage: make_family_tokenizers.py  (needs `tokenizers`; writes test/fixtures/tokenizers/)
"""
import json
import os
import sys

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "test", "fixtures", "tokenizers")
CORPORA = [
    "media/samples/constitution-ko.txt",
    "media/samples/shakespeare.txt",
    "test/fixtures/speech-ko.txt",
    "test/fixtures/speech-en.txt",
]
VOCAB_SIZE = 2000
# Typographic quotes and dashes, numbers in words, and the long s of old printings, so that the small
# vocabularies hold merges (" «", "ſt") that reach across the places where the JS library's pieces
# differed from the Rust library's (Digits on " ½", "(?i:'s)" on "'ſt"), as a real 49k–150k vocabulary does.
SUPPLEMENT = (
    "He ſaid “yes” — and ſhe “no” … the beſt, the moſt, I'ſt true? ſ ſt ſtill "
    "« oui » « non » at 36 °C, ± 2 °F; 제1조 ① 제2조 ② ③ "
) * 60

LLAMA3_PATTERN = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
QWEN2_PATTERN = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""

PROBES = [
    "Hello, world! It's a test of the tokenizer.",
    "I'LL SAY IT: they'll, we've, she'd, you're, 'S 'T",
    "대한민국은 민주공화국이다.",
    "모든 국민은 법 앞에 평등하다. 누구든지 성별·종교 또는 사회적 신분에 의하여 차별을 받지 아니한다.",
    "Corpus Lab 대한민국 \n 1.5",
    "Mixed 한국어 and English, 그리고 numbers 2024년 12월 6일.",
    "👋 안녕 😀!",
    "👨\u200d👩\u200d👧\u200d👦 family, 🏳️\u200d🌈 flag, 👍🏽 thumbs, 🇰🇷 Korea",
    "line one\r\nline two\r\n\r\nline four\r\n",
    "\tindented\t\ttext\t",
    "a    b     c  ",
    "   leading spaces",
    "trailing spaces   ",
    " ",
    "\n",
    "\n\n\n",
    "12345 67890 3.14159 1,000,000",
    "제1조 ① 대한민국은 민주공화국이다. ② 제10조",
    "½ Ⅻ ٣٤ ①②",
    "漢字 ℃ Ω ∑ ქართული 🦄 ﬁ",
    "e\u0301 \u212b \u1100\u1161\u11a8 caf\u00e9",
    "<|begin_of_text|>Hello<|eot_id|>",
    "<|im_start|>user\n안녕하세요<|im_end|>\n<|im_start|>assistant\n",
    "text<|endoftext|>more text",
    "<s>Hi</s> <unk> <s> </s>",
    "<tool_call>{\"name\": \"f\"}</tool_call>",
    "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n대한민국<|eot_id|>",
    "▁already▁marked ▁",
    "<0x41> <0xEA>",
    "I'ſt true, the beſt'ſt",
    "at ½ and ¾, ② ٣٤ x²",
    "\ufeffa BOM first, \ufeff and inside",
    "a\u0085b next line, \u00a0 no-break, \u3000 ideographic",
    "it's\u0085'll and 1\ufeff'll, \ufeff'",
]
# Byte runs decoded on their own, as a streaming decode or a token view does: whole characters,
# a BOM, cut characters and a letter before a cut one.
BYTE_RUNS = [[0xEB, 0x8C, 0x80], [0xEF, 0xBB, 0xBF], [0xEA, 0xB0], [0x41, 0xEA, 0xB0], [0xF0, 0x9F, 0x98], [0x80]]


def byte_level_symbols():
    """GPT-2's table from bytes to the printable characters byte-level vocabularies are written in."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    others = [b for b in range(256) if b not in printable]
    table = {b: chr(b) for b in printable}
    table.update({b: chr(256 + i) for i, b in enumerate(others)})
    return table


def byte_token(tok, byte):
    piece = f"<0x{byte:02X}>" if json.loads(tok.to_str())["model"]["byte_fallback"] else byte_level_symbols()[byte]
    return tok.token_to_id(piece)


def training_text():
    parts = []
    for path in CORPORA:
        with open(os.path.join(ROOT, path), encoding="utf-8") as f:
            parts.append(f.read())
    return "\n".join(parts + [SUPPLEMENT])


def byte_level_bpe(pre_tokenizer, normalizer=None, ignore_merges=False, specials_first=()):
    tok = Tokenizer(models.BPE(ignore_merges=ignore_merges))
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizer
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=list(specials_first),
        show_progress=False,
    )
    tok.train_from_iterator([training_text()], trainer)
    return tok


def split_then_bytes(pattern):
    return pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )


def llama3():
    tok = byte_level_bpe(split_then_bytes(LLAMA3_PATTERN), ignore_merges=True)
    specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
    tok.add_special_tokens(specials)
    bos = tok.token_to_id("<|begin_of_text|>")
    tok.post_processor = processors.Sequence(
        [
            processors.ByteLevel(trim_offsets=False),
            processors.TemplateProcessing(
                single="<|begin_of_text|> $A",
                pair="<|begin_of_text|> $A <|begin_of_text|>:1 $B:1",
                special_tokens=[("<|begin_of_text|>", bos)],
            ),
        ]
    )
    return tok


def qwen2():
    tok = byte_level_bpe(split_then_bytes(QWEN2_PATTERN), normalizer=normalizers.NFC())
    tok.add_special_tokens(["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
    tok.add_tokens(["<tool_call>", "</tool_call>"])
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok


def smollm2():
    pre = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    tok = byte_level_bpe(pre, specials_first=["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok


SPM_SPECIALS = ["<unk>", "<s>", "</s>"]
BYTE_PIECES = [f"<0x{b:02X}>" for b in range(256)]


def sentencepiece_bpe(metaspace):
    """Llama 2's layout: <unk> <s> </s>, the 256 byte pieces, then the learned pieces; fuse_unk, byte_fallback."""
    if metaspace:
        normalizer = None
        pre = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)
    else:
        normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
        pre = None
    learner = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=True, byte_fallback=True))
    # Learned as SentencePiece does, within words that start with "▁"; the family's own normalizer or
    # pre-tokenizer, which keep a text whole, are set on the tokenizer below.
    learner.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    # A few rare characters stay out of the alphabet, so byte fallback has work to do.
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE, special_tokens=SPM_SPECIALS + BYTE_PIECES, limit_alphabet=600, show_progress=False
    )
    learner.train_from_iterator([training_text()], trainer)
    learned = json.loads(learner.to_str())["model"]
    tok = Tokenizer(
        models.BPE(
            vocab=learned["vocab"],
            merges=[tuple(m) for m in learned["merges"]],
            unk_token="<unk>",
            fuse_unk=True,
            byte_fallback=True,
        )
    )
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre
    tok.decoder = decoders.Sequence(
        [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(content=" ", left=1)]
    )
    tok.add_special_tokens(SPM_SPECIALS)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s>:1 $B:1", special_tokens=[("<s>", tok.token_to_id("<s>"))]
    )
    return tok


FAMILIES = {
    "llama3": llama3,
    "qwen2": qwen2,
    "smollm2": smollm2,
    "tinyllama": lambda: sentencepiece_bpe(metaspace=False),
    "mistral": lambda: sentencepiece_bpe(metaspace=True),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    expected = {}
    for name, build in FAMILIES.items():
        tok = build()
        text = tok.to_str()
        with open(os.path.join(OUT, f"{name}.json"), "w", encoding="utf-8") as f:
            f.write(text)
        tok = Tokenizer.from_str(text)
        rows = []
        for probe in PROBES:
            plain = tok.encode(probe, add_special_tokens=False).ids
            rows.append(
                {
                    "text": probe,
                    "ids": plain,
                    "idsWithSpecial": tok.encode(probe, add_special_tokens=True).ids,
                    "decoded": tok.decode(plain, skip_special_tokens=False),
                }
            )
        for run in BYTE_RUNS:
            ids = [byte_token(tok, b) for b in run]
            rows.append({"bytes": run, "ids": ids, "decoded": tok.decode(ids, skip_special_tokens=False)})
        expected[name] = rows
        print(f"{name}: {len(text)} bytes, {tok.get_vocab_size()} tokens", file=sys.stderr)
    with open(os.path.join(OUT, "expected-ids.json"), "w", encoding="utf-8") as f:
        f.write("{\n")
        for i, (name, rows) in enumerate(expected.items()):
            lines = ",\n".join("  " + json.dumps(row, ensure_ascii=False) for row in rows)
            f.write(f" {json.dumps(name)}: [\n{lines}\n ]{',' if i < len(expected) - 1 else ''}\n")
        f.write("}\n")


if __name__ == "__main__":
    main()
