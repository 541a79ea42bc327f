#!/usr/bin/env python3
"""Continues a Corpus Lab run in PyTorch, on one GPU, several, or several machines.

This file is copied into every folder `corpus-lab export-torch` writes, next to plan.json, the
starting checkpoint (checkpoints/<name>/), the tokenizer and the token files train.bin/val.bin.
It reproduces Corpus Lab's training exactly: the same GPT-2 (LayerNorm or Dynamic Tanh, with or
without biases, GELU tanh approximation, head tied to the token embedding) or Llama-family blocks
(RMSNorm, rotary positions with Llama 3's scaling, grouped-query attention, SwiGLU, Qwen2's q/k/v
biases, Qwen3's q/k norms, tied or own head), the same data order
(seeded window shuffles per epoch), AdamW with decay on matrices only, warm-up + cosine schedule,
gradient clipping, evaluation on the same held-out windows (with bits per character, and a fine-tune's
loss on its base's own held-out text, whose training part it replays as Corpus Lab does), and
checkpoints in Corpus Lab's format (safetensors + trainer_state.json, written atomically), so RUN_DIR
opens in Corpus Lab.

usage (see README.md next to this file):
  torchrun --nproc_per_node N train.py [--max-steps N] [--epochs N] [--out RUN_DIR]
      [--device cuda|cpu] [--batch N_PER_RANK]
  python3 train.py …   (one process, no torchrun)

Plain PyTorch (1.13 or later) and NumPy. The `safetensors` package is used when installed;
otherwise this file reads and writes the format itself. With Hugging Face's `tokenizers` installed,
each evaluation also logs a sample drawn as Corpus Lab draws it.
"""
import argparse
import datetime
import hashlib
import json
import math
import os
import secrets
import shutil
import socket
import struct
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F

try:
    import safetensors.torch as safetensors_torch
except ImportError:
    safetensors_torch = None

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKPOINT_FILES = ["model.safetensors", "config.json", "tokenizer.json", "optimizer.safetensors", "trainer_state.json"]
# A LoRA run's checkpoint (src/core/checkpoint.ts ADAPTER_CHECKPOINT_FILES), which train_peft.py writes.
ADAPTER_CHECKPOINT_FILES = ["adapter_model.safetensors", "adapter_config.json", "adapter_base.json", "tokenizer.json", "optimizer.safetensors", "trainer_state.json"]
# What Hugging Face's AutoTokenizer and generate() read besides config.json and tokenizer.json: the special
# tokens, the chat template of a fine-tuned base and the generation settings (src/core/hf-export.ts). They
# depend only on the context and the tokenizer, which training keeps, so every checkpoint gets the exported
# checkpoint's as they are (those it has).
HF_SIDE_FILES = ["tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja", "generation_config.json"]
TEMP_MARK = ".tmp-"


class UserError(Exception):
    """A problem with the input: printed as one line, exit code 2."""


# ---------------------------------------------------------------------------------------------
# Corpus Lab's random numbers (src/core/rng.ts): the data order depends on them, bit for bit.

M32 = 0xFFFFFFFF


def imul(a, b):
    return (a * b) & M32


def mix_seed(*parts):
    h = 0x9E3779B9
    for p in parts:
        h = imul(h ^ (p & M32), 0x85EBCA6B)
        h ^= h >> 13
        h = imul(h, 0xC2B2AE35)
        h ^= h >> 16
        h ^= (p // 4294967296) & M32
    return h


class Rng:
    """mulberry32, as Corpus Lab's Rng."""

    def __init__(self, state):
        self.state = state & M32

    def next(self):
        self.state = (self.state + 0x6D2B79F5) & M32
        t = self.state
        t = imul(t ^ (t >> 15), t | 1)
        t ^= (t + imul(t ^ (t >> 7), t | 61)) & M32
        return ((t ^ (t >> 14)) & M32) / 4294967296

    def below(self, n):
        return math.floor(self.next() * n)


def epoch_starts(token_count, context, seed, epoch):
    """The window starts of one epoch in visiting order (src/core/batches.ts, EpochPlan)."""
    max_start = token_count - context - 1
    rng = Rng(mix_seed(seed, epoch, 0xE90C))
    shift = rng.below(min(context, max_start + 1))
    count = (max_start - shift) // context + 1
    starts = [shift + i * context for i in range(count)]
    for i in range(count - 1, 0, -1):
        j = rng.below(i + 1)
        starts[i], starts[j] = starts[j], starts[i]
    return np.array(starts, dtype=np.int64)


def eval_window_starts(token_count, context, max_windows):
    return list(range(0, token_count - context, context))[:max_windows]


# ---------------------------------------------------------------------------------------------
# The plan: Corpus Lab's makeTrainPlan (src/core/train-plan.ts) and learningRateAt (lr-schedule.ts).

DEFAULT_MIN_STEPS = 600


def js_round(x):
    return math.floor(x + 0.5)


def training_window(plan):
    """Tokens per training window: the model's context, or the shorter one the options name (fine-tuning a big base)."""
    return plan["options"].get("context") or plan["model"]["context"]


def steps_per_epoch(token_count, context, batch):
    windows = (token_count - context - 1) // context + 1
    return max(1, -(-max(1, windows) // batch))


def remake_plan(saved, max_steps=None, epochs=None):
    """The saved plan with a new step budget, as `corpus-lab train --resume --max-steps` makes it."""
    options = dict(saved["options"])
    if max_steps is not None:
        options["maxSteps"] = max_steps
    if epochs is not None:
        options["epochs"] = epochs
    if saved.get("examples") is not None:
        per_epoch = max(1, -(-saved["examples"] // options["batch"]))
    else:
        per_epoch = steps_per_epoch(saved["trainTokens"], training_window(dict(saved, options=options)), options["batch"])
    m, e = options.get("maxSteps"), options.get("epochs")
    if m is not None and e is not None:
        total = min(m, e * per_epoch)
    elif m is not None:
        total = m
    elif e is not None:
        total = e * per_epoch
    else:
        total = -(-DEFAULT_MIN_STEPS // per_epoch) * per_epoch
    warmup = options["warmupSteps"] if options.get("warmupSteps") is not None else min(100, total // 10)
    every = options["evalEvery"] if options.get("evalEvery") is not None else max(1, min(250, js_round(total / 20)))
    return dict(saved, options=options, stepsPerEpoch=per_epoch, totalSteps=total, warmupSteps=warmup, evalEvery=every)


def learning_rate_at(plan, step):
    o = plan["options"]
    lr, min_lr, warmup, total = o["lr"], o["minLr"], plan["warmupSteps"], plan["totalSteps"]
    if step < warmup:
        return (lr * (step + 1)) / (warmup + 1)
    if step >= total:
        return min_lr
    progress = (step - warmup) / max(1, total - warmup)
    return min_lr + 0.5 * (1 + math.cos(math.pi * progress)) * (lr - min_lr)


# ---------------------------------------------------------------------------------------------
# The model (src/worker/model/gpt.ts). Parameter names are Hugging Face GPT-2's, as in the
# checkpoint; linear layers keep GPT-2's Conv1D layout, weight [in, out]. Llama-family blocks follow.


class Conv1D(nn.Module):
    def __init__(self, n_in, n_out, bias):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(n_in, n_out))
        self.bias = nn.Parameter(torch.zeros(n_out)) if bias else None

    def forward(self, x):
        y = x @ self.weight
        return y if self.bias is None else y + self.bias


class Norm(nn.Module):
    """LayerNorm (eps 1e-5) or Dynamic Tanh, γ·tanh(α·x) + β (Zhu et al. 2025); values come from the checkpoint."""

    def __init__(self, width, kind, bias):
        super().__init__()
        self.kind = kind
        self.weight = nn.Parameter(torch.ones(width))
        self.bias = nn.Parameter(torch.zeros(width)) if bias else None
        if kind == "dyt":
            self.alpha = nn.Parameter(torch.ones(1))

    def forward(self, x):
        if self.kind == "layernorm":
            return F.layer_norm(x, (x.shape[-1],), self.weight, self.bias, 1e-5)
        y = torch.tanh(self.alpha * x) * self.weight
        return y if self.bias is None else y + self.bias


def gelu_tanh(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * (x * x * x))))


class Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        width, bias = cfg["width"], cfg["bias"]
        self.heads = cfg["heads"]
        self.c_attn = Conv1D(width, 3 * width, bias)
        self.c_proj = Conv1D(width, width, bias)
        self.drop = nn.Dropout(cfg["dropout"])

    def forward(self, x):
        b, t, c = x.shape
        hd = c // self.heads
        q, k, v = (z.view(b, t, self.heads, hd).transpose(1, 2) for z in self.c_attn(x).split(c, dim=2))
        scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hd))
        # Made here, not kept as a buffer: gloo cannot broadcast bool tensors when DDP starts.
        causal = torch.ones(t, t, dtype=torch.bool, device=x.device).tril()
        scores = scores.masked_fill(~causal, float("-inf"))
        y = self.drop(F.softmax(scores, dim=-1)) @ v
        return self.c_proj(y.transpose(1, 2).reshape(b, t, c))


class Mlp(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.c_fc = Conv1D(cfg["width"], 4 * cfg["width"], cfg["bias"])
        self.c_proj = Conv1D(4 * cfg["width"], cfg["width"], cfg["bias"])

    def forward(self, x):
        return self.c_proj(gelu_tanh(self.c_fc(x)))


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.ln_1 = Norm(cfg["width"], cfg["norm"], cfg["bias"])
        self.attn = Attention(cfg)
        self.ln_2 = Norm(cfg["width"], cfg["norm"], cfg["bias"])
        self.mlp = Mlp(cfg)
        self.drop = nn.Dropout(cfg["dropout"])

    def forward(self, x):
        x = x + self.drop(self.attn(self.ln_1(x)))
        return x + self.drop(self.mlp(self.ln_2(x)))


class GPT(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.transformer = nn.ModuleDict(
            dict(
                wte=nn.Embedding(cfg["vocabSize"], cfg["width"]),
                wpe=nn.Embedding(cfg["context"], cfg["width"]),
                drop=nn.Dropout(cfg["dropout"]),
                h=nn.ModuleList([Block(cfg) for _ in range(cfg["layers"])]),
                ln_f=Norm(cfg["width"], cfg["norm"], cfg["bias"]),
            )
        )
        # Dynamic Tanh: a learnable scalar the embeddings are multiplied by (src/core/dyt.ts).
        if cfg["norm"] == "dyt":
            self.transformer.embed_scale = nn.Parameter(torch.ones(1))

    def forward(self, ids, targets, reduction="mean"):
        """Next-token cross-entropy of ids [batch, time] against targets [batch, time] (-100: not trained), mean or sum."""
        return next_token_loss(self.logits(ids), targets, reduction)

    def logits(self, ids):
        tr = self.transformer
        t = ids.shape[1]
        x = tr.wte(ids) + tr.wpe(torch.arange(t, device=ids.device))
        if self.cfg["norm"] == "dyt":
            x = x * tr.embed_scale
        x = tr.drop(x)
        for block in tr.h:
            x = block(x)
        return tr.ln_f(x) @ tr.wte.weight.t()


# Llama-family blocks (src/worker/model/gpt.ts with ModelConfig.llama): Hugging Face's names and
# nn.Linear layout, weight [out, in].


class RmsNorm(nn.Module):
    def __init__(self, width, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(width))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def inverse_frequencies(llama):
    """θ_i = theta^(−2i/headDim), with Llama 3's adjustment (src/core/rope.ts), in float64."""
    hd = llama["headDim"]
    inv = [1.0 / math.pow(llama["ropeTheta"], (2 * i) / hd) for i in range(hd // 2)]
    s = llama.get("ropeScaling")
    if not s:
        return inv
    low, high = s["originalContext"] / s["lowFreqFactor"], s["originalContext"] / s["highFreqFactor"]
    out = []
    for f in inv:
        wavelength = 2 * math.pi / f
        if wavelength > low:
            f = f / s["factor"]
        elif wavelength >= high:
            smooth = (s["originalContext"] / wavelength - s["lowFreqFactor"]) / (s["highFreqFactor"] - s["lowFreqFactor"])
            f = (1 - smooth) * (f / s["factor"]) + smooth * f
        out.append(f)
    return out


def rotate(x, cos, sin):
    """The halves (x1, x2) of each head become (x1·cos − x2·sin, x2·cos + x1·sin)."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1)


class LlamaAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        l, width = cfg["llama"], cfg["width"]
        self.heads, self.kv_heads, self.hd = cfg["heads"], l["kvHeads"], l["headDim"]
        self.q_proj = nn.Linear(width, self.heads * self.hd, bias=l["qkvBias"])
        self.k_proj = nn.Linear(width, self.kv_heads * self.hd, bias=l["qkvBias"])
        self.v_proj = nn.Linear(width, self.kv_heads * self.hd, bias=l["qkvBias"])
        self.o_proj = nn.Linear(self.heads * self.hd, width, bias=False)
        if l["qkNorm"]:
            self.q_norm = RmsNorm(self.hd, l["normEps"])
            self.k_norm = RmsNorm(self.hd, l["normEps"])
        self.qk_norm = l["qkNorm"]
        self.drop = nn.Dropout(cfg["dropout"])

    def forward(self, x, cos, sin):
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.heads, self.hd)
        k = self.k_proj(x).view(b, t, self.kv_heads, self.hd)
        v = self.v_proj(x).view(b, t, self.kv_heads, self.hd).transpose(1, 2)
        if self.qk_norm:
            q, k = self.q_norm(q), self.k_norm(k)
        q, k = rotate(q.transpose(1, 2), cos, sin), rotate(k.transpose(1, 2), cos, sin)
        group = self.heads // self.kv_heads
        k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
        scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(self.hd))
        causal = torch.ones(t, t, dtype=torch.bool, device=x.device).tril()
        scores = scores.masked_fill(~causal, float("-inf"))
        y = self.drop(F.softmax(scores, dim=-1)) @ v
        return self.o_proj(y.transpose(1, 2).reshape(b, t, self.heads * self.hd))


class SwiGlu(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        width, hidden = cfg["width"], cfg["llama"]["mlpWidth"]
        self.gate_proj = nn.Linear(width, hidden, bias=False)
        self.up_proj = nn.Linear(width, hidden, bias=False)
        self.down_proj = nn.Linear(hidden, width, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class LlamaBlock(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        eps = cfg["llama"]["normEps"]
        self.input_layernorm = RmsNorm(cfg["width"], eps)
        self.self_attn = LlamaAttention(cfg)
        self.post_attention_layernorm = RmsNorm(cfg["width"], eps)
        self.mlp = SwiGlu(cfg)
        self.drop = nn.Dropout(cfg["dropout"])

    def forward(self, x, cos, sin):
        x = x + self.drop(self.self_attn(self.input_layernorm(x), cos, sin))
        return x + self.drop(self.mlp(self.post_attention_layernorm(x)))


class Llama(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        l = cfg["llama"]
        self.model = nn.Module()
        self.model.embed_tokens = nn.Embedding(cfg["vocabSize"], cfg["width"])
        self.model.layers = nn.ModuleList([LlamaBlock(cfg) for _ in range(cfg["layers"])])
        self.model.norm = RmsNorm(cfg["width"], l["normEps"])
        if not l["tiedHead"]:
            self.lm_head = nn.Linear(cfg["width"], cfg["vocabSize"], bias=False)
        self.drop = nn.Dropout(cfg["dropout"])
        self.inverse = inverse_frequencies(l)

    def forward(self, ids, targets, reduction="mean"):
        return next_token_loss(self.logits(ids), targets, reduction)

    def logits(self, ids):
        t = ids.shape[1]
        # Angles multiplied in float32, as Hugging Face and Corpus Lab do; cos and sin of them in float64.
        inv = torch.tensor(self.inverse, dtype=torch.float64).float().to(ids.device)
        angles = (torch.arange(t, device=ids.device).float()[:, None] * inv[None, :]).double()
        cos, sin = angles.cos().float(), angles.sin().float()
        x = self.drop(self.model.embed_tokens(ids))
        for block in self.model.layers:
            x = block(x, cos, sin)
        head = self.model.embed_tokens.weight if self.cfg["llama"]["tiedHead"] else self.lm_head.weight
        return self.model.norm(x) @ head.t()


def next_token_loss(logits, targets, reduction):
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=IGNORED, reduction=reduction)


def build_model(cfg):
    return Llama(cfg) if cfg.get("llama") else GPT(cfg)


def gpt2_tensor_names(model):
    """Every tensor of the Hugging Face folder: a GPT-2 without biases has all-zero ones there."""
    names = [n for n, _ in model.named_parameters()]
    if model.cfg["bias"] or model.cfg.get("llama"):
        return names
    out = []
    for n in names:
        out.append(n)
        if n.endswith(".weight") and not n.startswith(("transformer.wte", "transformer.wpe")):
            out.append(n[: -len("weight")] + "bias")
    return out


# ---------------------------------------------------------------------------------------------
# safetensors (https://github.com/huggingface/safetensors#format), F32 only, like Corpus Lab.


def encode_safetensors(tensors, metadata):
    tensors = {n: t.detach().to("cpu", torch.float32).contiguous() for n, t in tensors.items()}
    if safetensors_torch is not None:
        return safetensors_torch.save(tensors, metadata)
    header = {"__metadata__": metadata}
    blobs, offset = [], 0
    for name in sorted(tensors):
        data = tensors[name].numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    if safetensors_torch is not None:
        try:
            return safetensors_torch.load(data)
        except Exception as e:
            raise UserError(f"{path}: not a valid safetensors file ({e})")
    if len(data) < 8:
        raise UserError(f"{path}: {len(data)} bytes, too short for a safetensors file")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise UserError(f"{path}: header length {n} is larger than the file: truncated or not safetensors")
    try:
        header = json.loads(data[8 : 8 + n].decode("utf-8"))
    except ValueError as e:
        raise UserError(f"{path}: the header is not valid JSON ({e})")
    if not isinstance(header, dict):
        raise UserError(f"{path}: the header is not a JSON object")
    body = memoryview(data)[8 + n :]
    out, covered = {}, 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(info, dict) or info.get("dtype") != "F32":
            raise UserError(f"{path}: tensor {name} is not F32")
        shape, (begin, end) = info["shape"], info["data_offsets"]
        if not (0 <= begin <= end <= len(body)) or math.prod(shape) * 4 != end - begin:
            raise UserError(f"{path}: tensor {name} has data_offsets [{begin}, {end}] that do not fit its shape or the file")
        out[name] = torch.from_numpy(np.frombuffer(body[begin:end], dtype="<f4").copy()).reshape(shape)
        covered += end - begin
    if covered != len(body):
        raise UserError(f"{path}: the tensors cover {covered} of {len(body)} data bytes: truncated or damaged")
    return out


# ---------------------------------------------------------------------------------------------
# Files: atomic writes (a temporary sibling, fsync, rename, fsync the parent), as Corpus Lab does.


def fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_sibling(path):
    return os.path.join(os.path.dirname(path), f".{os.path.basename(path)}{TEMP_MARK}{os.getpid()}-{secrets.token_hex(4)}")


def write_file_atomic(path, data):
    temp = temp_sibling(path)
    try:
        with open(temp, "xb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
        fsync_dir(os.path.dirname(path))
    except BaseException:
        if os.path.exists(temp):
            os.remove(temp)
        raise


def write_dir_atomic(final, files):
    if os.path.exists(final):
        raise UserError(f"{final} already exists")
    temp = temp_sibling(final)
    os.mkdir(temp)
    try:
        for name, data in files.items():
            with open(os.path.join(temp, name), "xb") as f:
                f.write(data.encode("utf-8") if isinstance(data, str) else data)
                f.flush()
                os.fsync(f.fileno())
        fsync_dir(temp)
        os.rename(temp, final)
        fsync_dir(os.path.dirname(final))
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


def remove_stale_temps(parent):
    for name in os.listdir(parent):
        if name.startswith(".") and TEMP_MARK in name:
            shutil.rmtree(os.path.join(parent, name), ignore_errors=True)


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            value = json.load(f)
    except (OSError, ValueError) as e:
        raise UserError(f"{path}: cannot read ({e})")
    if not isinstance(value, dict):
        raise UserError(f"{path}: not a JSON object")
    return value


def list_checkpoints(run_dir):
    """Complete checkpoint folders, oldest first (by step, then name); temporaries are skipped."""
    parent = os.path.join(run_dir, "checkpoints")
    found = []
    if not os.path.isdir(parent):
        return found
    for name in os.listdir(parent):
        path = os.path.join(parent, name)
        if (name.startswith(".") and TEMP_MARK in name) or not os.path.isdir(path):
            continue
        if not any(all(os.path.isfile(os.path.join(path, f)) for f in files) for files in (CHECKPOINT_FILES, ADAPTER_CHECKPOINT_FILES)):
            continue
        try:
            step = read_json(os.path.join(path, "trainer_state.json"))["step"]
        except (UserError, KeyError):
            continue
        found.append((step, name, path))
    return [p for _, _, p in sorted(found)]


def prune_checkpoints(run_dir, keep, protect):
    paths = list_checkpoints(run_dir)
    for path in paths[: max(0, len(paths) - keep)]:
        if os.path.basename(path) in protect:
            continue
        doomed = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}{TEMP_MARK}{os.getpid()}-deleting")
        os.rename(path, doomed)
        shutil.rmtree(doomed, ignore_errors=True)


def to_json(value, **kw):
    """JSON as JavaScript reads it: NaN and infinities become null (JSON.stringify's choice)."""

    def clean(v):
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        return v

    return json.dumps(clean(value), allow_nan=False, **kw)


def read_metrics(path):
    rows = []
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    rows.append(json.loads(line))
                except ValueError:
                    pass
    return rows


# ---------------------------------------------------------------------------------------------
# Loading the export


def verify_export():
    """Checks plan.json's checksums of the exported files: a damaged copy is refused before training."""
    plan = read_json(os.path.join(HERE, "plan.json"))
    if plan.get("format") != "corpus-lab-torch-export" or plan.get("format_version") != 1:
        raise UserError(f"{HERE}/plan.json is not a Corpus Lab export (format_version 1)")
    for rel, digest in plan["files"].items():
        path = os.path.join(HERE, rel)
        if not os.path.isfile(path):
            raise UserError(f"{path} is missing: copy the whole exported folder")
        if sha256_of(path) != digest:
            raise UserError(f"{path} is damaged or half-copied (its sha256 differs from plan.json's): copy it again")
    return plan


# ---------------------------------------------------------------------------------------------
# Examples one per row (.jsonl): src/core/example-batches.ts

IGNORED = -100


def example_order(count, seed, epoch):
    rng = Rng(mix_seed(seed, epoch, 0xE9A))
    a = list(range(count))
    for i in range(count - 1, 0, -1):
        j = rng.below(i + 1)
        a[i], a[j] = a[j], a[i]
    return a


class Examples:
    """Examples one per row (.jsonl): ids and labels (-100 where not trained), padded as Corpus Lab pads a batch."""

    def __init__(self, data, plan):
        self.seed = plan["options"]["seed"]
        self.split = {}
        for name in ("train", "val"):
            d = data[name]
            shape = (d["rows"], d["width"])
            self.split[name] = (
                load_array(d["ids"], "int32", shape),
                load_array(d["labels"], "int32", shape),
                load_array(d["lengths"], "int32", (d["rows"],)),
            )
        if self.split["train"][0].shape[0] != plan["examples"]:
            raise UserError(f"{HERE}/plan.json: {plan['examples']} training examples, the data holds {self.split['train'][0].shape[0]}")

    def order(self, epoch):
        return example_order(self.split["train"][0].shape[0], self.seed, epoch)

    def rows(self, split, picks, width=None):
        """Inputs ids[0..n-1) and targets labels[1..n), padded with 0 and -100 to `width` (default: the longest of `picks`)."""
        ids, labels, lengths = self.split[split]
        width = width or max(int(lengths[i]) - 1 for i in picks)
        x = torch.zeros(len(picks), width, dtype=torch.int64)
        y = torch.full((len(picks), width), IGNORED, dtype=torch.int64)
        for r, i in enumerate(picks):
            n = int(lengths[i]) - 1
            x[r, :n] = torch.from_numpy(np.asarray(ids[i, :n], dtype=np.int64))
            y[r, :n] = torch.from_numpy(np.asarray(labels[i, 1 : n + 1], dtype=np.int64))
        return x, y

    def replayed(self, x, y, step):
        return x, y

    def eval_groups(self, size, split="val"):
        """Groups of held-out rows; none of the base's text (examples are not scored on it)."""
        if split != "val":
            return []
        n = self.split["val"][0].shape[0]
        return [list(range(i, min(n, i + size))) for i in range(0, n, size)]


def load_array(name, dtype, shape):
    path = os.path.join(HERE, name)
    dt = np.dtype(dtype).newbyteorder("<")
    if os.path.getsize(path) != int(np.prod(shape)) * dt.itemsize:
        raise UserError(f"{path} has {os.path.getsize(path)} bytes, plan.json says {list(shape)} of {dt.itemsize} bytes")
    return np.memmap(path, dtype=dt, mode="r", shape=shape)


# ---------------------------------------------------------------------------------------------
# A token stream (text, documents): src/core/batches.ts, src/core/finetune.ts


class Tokens:
    """A token stream (text, documents): windows of context + 1 from train.bin / val.bin."""

    def __init__(self, data, plan, context):
        self.context = context
        self.seed = plan["options"]["seed"]
        self.train = load_array(data["train"], data["dtype"], (plan["trainTokens"],))
        self.val = load_array(data["val"], data["dtype"], (plan["valTokens"],))
        self.eval_starts = eval_window_starts(len(self.val), context, plan["options"]["evalBatches"] * plan["options"]["batch"])
        replay = data.get("replay")
        self.replay = (load_whole(replay), replay["fraction"]) if replay else None
        # The base's own held-out text: its loss is the forgetting meter (base_val_loss), as Corpus Lab's trainer reports it.
        base_val = data.get("base_val")
        self.base_val = load_whole(base_val) if base_val else None
        self.base_eval_starts = (
            eval_window_starts(len(self.base_val), context, plan["options"]["evalBatches"] * plan["options"]["batch"]) if base_val else []
        )

    def order(self, epoch):
        return epoch_starts(len(self.train), self.context, self.seed, epoch)

    def rows(self, split, picks):
        tokens = {"train": self.train, "val": self.val, "base_val": self.base_val}[split]
        idx = np.asarray(picks, dtype=np.int64)[:, None] + np.arange(self.context + 1)[None, :]
        w = torch.from_numpy(np.asarray(tokens[idx], dtype=np.int64))
        return w[:, :-1], w[:, 1:]

    def replayed(self, x, y, step):
        """Rows replaced by windows of the base's own training text (src/core/finetune.ts replayRows)."""
        if self.replay is None:
            return x, y
        old, fraction = self.replay
        if fraction <= 0 or len(old) < self.context + 1:
            return x, y
        rng = Rng(mix_seed(self.seed, step, 0x4E91))
        for row in range(x.shape[0]):
            if rng.next() >= fraction:
                continue
            start = rng.below(len(old) - self.context)
            w = torch.from_numpy(np.asarray(old[start : start + self.context + 1], dtype=np.int64))
            x[row], y[row] = w[:-1], w[1:]
        return x, y

    def eval_groups(self, size, split="val"):
        starts = self.eval_starts if split == "val" else self.base_eval_starts
        return [starts[i : i + size] for i in range(0, len(starts), size)]


def load_whole(entry):
    """A token file of plan.json's data (replay.bin, base-val.bin): all its ids, however many."""
    dt = np.dtype(entry["dtype"])
    return load_array(entry["file"], entry["dtype"], (os.path.getsize(os.path.join(HERE, entry["file"])) // dt.itemsize,))


# ---------------------------------------------------------------------------------------------
# The sample each evaluation shows (src/worker/train/trainer.ts, src/worker/model/generator.ts)

SAMPLE_TOKENS = 48
SAMPLE_TEMPERATURE = 0.8


class Sampler:
    """Corpus Lab's evaluation sample: 48 tokens after a line break, temperature 0.8, drawn with its seeded random numbers."""

    def __init__(self, tokenizer, tokenizer_kind, context):
        self.tokenizer = tokenizer
        self.context = context
        # An empty prompt starts from a line break, or from the first token when the vocabulary has none.
        self.prompt = self.tokenizer.encode("\n", add_special_tokens=False).ids or [0]
        unk = self.tokenizer.token_to_id("<unk>") if tokenizer_kind == "char" else None
        self.never = [] if unk is None else [unk]

    @torch.no_grad()
    def sample(self, next_logits, step):
        """`next_logits(ids)`: the model's logits for the token after `ids` (a list), as a 1-d tensor."""
        rng = Rng(mix_seed(step, 0x9E4))
        history = list(self.prompt)
        # The tokens the laptop's key/value cache holds: all the prompt's at first, half a context each time it is full.
        window = history[-self.context :]
        for _ in range(SAMPLE_TOKENS):
            logits = next_logits(window).float().cpu().numpy().astype(np.float64)
            logits[self.never] = -np.inf
            history.append(pick(logits, rng))
            window = window + history[-1:] if len(window) < self.context else history[-max(1, self.context // 2) :]
        return self.tokenizer.decode(history[len(self.prompt) :], skip_special_tokens=False)


def make_sampler(export, plan):
    """The sampler of this export's tokenizer, or None and why when Hugging Face's `tokenizers` (which decodes it) is not installed."""
    try:
        from tokenizers import Tokenizer
    except ImportError:
        return None, "no samples: the tokenizers package is not installed (python3 -m pip install tokenizers)"
    tokenizer = Tokenizer.from_file(os.path.join(HERE, "tokenizer.json"))
    return Sampler(tokenizer, export["run"]["tokenizer"]["kind"], plan["model"]["context"]), None


def sample_or_none(sampler, next_logits, step):
    """The sample at `step`; None without a sampler or when drawing fails: a sample is a courtesy that never stops training (as in Corpus Lab)."""
    if sampler is None:
        return None
    try:
        return sampler.sample(next_logits, step)
    except Exception:
        return None


def eval_event(step, epoch, loss, val_loss, base_val_loss, scored, elapsed_s, sample):
    """An evaluation as Corpus Lab logs it (src/core/train-events.ts): bits per character and byte of the scored held-out text."""
    bits = val_loss * scored["tokens"] / math.log(2)
    event = {"type": "eval", "step": step, "epoch": epoch, "loss": loss, "val_loss": val_loss}
    if base_val_loss is not None:
        event["base_val_loss"] = base_val_loss
    event.update(val_bits_per_char=bits / scored["chars"], val_bits_per_byte=bits / scored["bytes"], elapsed_s=elapsed_s)
    if sample is not None:
        event["sample"] = sample
    return event


def pick(logits, rng):
    """src/core/sampling.ts sampleToken at temperature 0.8, no top-k or top-p: likeliest first (ties: lower id first)."""
    order = np.argsort(-logits, kind="stable")
    probs = np.exp((logits[order] - logits[order[0]]) / SAMPLE_TEMPERATURE)
    probs /= probs.sum()
    at = int(np.searchsorted(np.cumsum(probs), rng.next() * probs.sum(), side="right"))
    return int(order[min(at, len(order) - 1)])


def load_checkpoint(path, model, with_optimizer=True):
    """Weights into the model; returns (trainer_state, moments by parameter name)."""
    for f in CHECKPOINT_FILES:
        if not os.path.isfile(os.path.join(path, f)):
            raise UserError(f"{path} is not a complete checkpoint: {f} is missing")
    weights = read_safetensors(os.path.join(path, "model.safetensors"))
    params = dict(model.named_parameters())
    expected = set(gpt2_tensor_names(model))
    if set(weights) != expected:
        raise UserError(f"{path}/model.safetensors does not hold this model's tensors (missing {sorted(expected - set(weights))[:3]}, extra {sorted(set(weights) - expected)[:3]})")
    with torch.no_grad():
        for name, value in weights.items():
            if name not in params:
                if torch.any(value != 0):
                    raise UserError(f"{path}: {name} is not zero, but the model has no biases")
                continue
            if tuple(value.shape) != tuple(params[name].shape):
                raise UserError(f"{path}: {name} has shape {list(value.shape)}, the model needs {list(params[name].shape)}")
            params[name].copy_(value)
    moments = {}
    if with_optimizer:
        saved = read_safetensors(os.path.join(path, "optimizer.safetensors"))
        for name, p in params.items():
            for key in ("m", "v"):
                t = saved.get(f"{key}.{name}")
                if t is None or tuple(t.shape) != tuple(p.shape):
                    raise UserError(f"{path}/optimizer.safetensors has no {key}.{name} of shape {list(p.shape)}")
                moments[f"{key}.{name}"] = t
    state = read_json(os.path.join(path, "trainer_state.json"))
    for key in ("step", "epoch", "cursor", "seed"):
        if not isinstance(state.get(key), int) or state[key] < 0:
            raise UserError(f"{path}/trainer_state.json: {key} must be a whole number ≥ 0")
    return state, moments


# ---------------------------------------------------------------------------------------------
# Training


def add_run_options(p, rows):
    """The options train.py and train_peft.py share: the step budget, the run folder, the device and the pass size."""
    p.add_argument("--max-steps", type=int, help="optimizer steps, counted from step 0 of the run (as corpus-lab's --max-steps)")
    p.add_argument("--epochs", type=int, help="passes over the training data, counted from the start of the run")
    p.add_argument("--out", help="the run folder to write (default: run/ next to this file); an existing one is continued")
    p.add_argument("--device", choices=["cuda", "cpu"], help="default: cuda when available")
    p.add_argument("--batch", type=int, help=f"{rows} per rank per forward pass; the global batch stays the plan's (gradient accumulation)")


def parse_run_options(p, argv):
    args = p.parse_args(argv)
    for name in ("max_steps", "epochs", "batch"):
        v = getattr(args, name)
        if v is not None and v < 1:
            raise UserError(f"--{name.replace('_', '-')} must be a whole number ≥ 1 (got {v})")
    return args


def parse_args(argv):
    p = argparse.ArgumentParser(description="Continue a Corpus Lab run in PyTorch (run under torchrun for several GPUs or machines).")
    add_run_options(p, "sequences")
    return parse_run_options(p, argv)


def rows_of_rank(batch, world, rank):
    """Rows [begin, end) of the global batch this rank computes (the first ranks one more when it does not divide)."""
    base, extra = divmod(batch, world)
    begin = rank * base + min(rank, extra)
    return begin, begin + base + (1 if rank < extra else 0)


def launch(args, verify_export, train):
    """Under torchrun (or alone): the device and process group of this rank, the export checked once per machine,
    then train(args, export, world, rank, device, device_kind); a run it leaves mid-training is marked failed."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device_kind = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device_kind == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda: PyTorch sees no CUDA device here (use --device cpu, or install a CUDA build of PyTorch)")
    device = torch.device(f"cuda:{local_rank}" if device_kind == "cuda" else "cpu")
    if device_kind == "cuda":
        torch.cuda.set_device(device)

    export = verify_export() if local_rank == 0 else read_json(os.path.join(HERE, "plan.json"))
    if world > 1:
        dist.init_process_group("nccl" if device_kind == "cuda" else "gloo")
    try:
        train(args, export, world, rank, device, device_kind)
    except BaseException as e:
        out = os.path.abspath(args.out or os.path.join(HERE, "run"))
        if rank == 0 and os.path.exists(os.path.join(out, "run.json")) and read_json(os.path.join(out, "run.json")).get("status") == "training":
            update_run(out, status="failed" if not isinstance(e, KeyboardInterrupt) else "cancelled", error=str(e) or type(e).__name__, trainer=None)
        raise
    finally:
        if world > 1:
            dist.destroy_process_group()


def main(argv):
    launch(parse_args(argv), verify_export, train)


def train(args, export, world, rank, device, device_kind):
    lead = rank == 0
    saved_plan = export["plan"]
    cfg = saved_plan["model"]
    out = os.path.abspath(args.out or os.path.join(HERE, "run"))
    model = build_model(cfg).to(device)
    exported_dir = start_dir = os.path.join(HERE, export["start"]["checkpoint"])
    if os.path.exists(os.path.join(out, "run.json")):
        existing = list_checkpoints(out)
        if not existing:
            raise UserError(f"{out} holds a run without a complete checkpoint: pass a new --out")
        start_dir = existing[-1]
    elif os.path.isdir(out) and os.listdir(out):
        raise UserError(f"{out} is not empty and not a run: pass a new --out")
    state, moments = load_checkpoint(start_dir, model)
    plan = remake_plan(state.get("plan") or saved_plan, args.max_steps, args.epochs)
    if plan["trainTokens"] != saved_plan["trainTokens"]:
        raise UserError(f"{start_dir} was trained on a different corpus than this export")
    if plan["totalSteps"] <= state["step"]:
        raise UserError(f"the run is already at step {state['step']} of {plan['totalSteps']}: pass a larger --max-steps or --epochs")
    opts = plan["options"]
    batch, context = opts["batch"], training_window(plan)
    if world > batch:
        raise UserError(f"{world} processes for a global batch of {batch} sequences: use at most {batch}")
    first, last = rows_of_rank(batch, world, rank)
    per_pass = args.batch or (last - first)

    data = export["data"]
    # A .jsonl's examples, one per row, padded, loss on the trained tokens only; else a token stream cut into windows.
    examples = Examples(data, plan) if data.get("kind") == "examples" else None
    # With the base's own text when it went along: its held-out loss (the forgetting meter), the rows replayed from it.
    tokens = Tokens(data, plan, context) if examples is None else None

    def epoch_order(e):
        return (examples or tokens).order(e)

    decayed = [p for n, p in model.named_parameters() if p.dim() >= 2]
    kept = [p for n, p in model.named_parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decayed, "weight_decay": opts["weightDecay"]}, {"params": kept, "weight_decay": 0.0}],
        lr=opts["lr"],
        betas=(opts["beta1"], opts["beta2"]),
        eps=1e-8,
    )
    for name, p in model.named_parameters():
        optimizer.state[p] = {
            "step": torch.tensor(float(state["step"])),
            "exp_avg": moments[f"m.{name}"].to(device),
            "exp_avg_sq": moments[f"v.{name}"].to(device),
        }
    net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device_kind == "cuda" else None) if world > 1 else model

    step, epoch, cursor = state["step"], state["epoch"], state["cursor"]
    best_val = state.get("best_val_loss")
    best_val = math.inf if best_val is None else best_val
    best_name = state.get("best_checkpoint") or ""
    elapsed_before = state.get("elapsed_s") or 0.0
    started = time.time()
    elapsed = lambda: elapsed_before + time.time() - started
    metrics_path = os.path.join(out, "metrics.jsonl")

    def emit(event):
        if lead:
            print(to_json(event), flush=True)

    def log(event):
        if lead:
            with open(metrics_path, "a", encoding="utf-8") as f:
                f.write(to_json(event) + "\n")
        emit(event)

    if lead:
        open_run(out, export, plan, step, device_kind, world)
    emit({"type": "start", "run_dir": out, "step": step, "epoch": epoch + 1, "resumed_from": start_dir, "world_size": world, "device": device_kind, "per_rank_batch": per_pass})
    sampler, no_sample = make_sampler(export, plan) if lead else (None, None)
    if no_sample:
        emit({"type": "notice", "step": step, "message": no_sample})

    last_loss, last_val, last_eval_step = state.get("loss", math.nan), math.nan, -1
    tokens_per_s = 0.0
    order = epoch_order(epoch)

    def windows_loss(split):
        """The summed mean loss of the split's evaluation windows, and their count (src/worker/model/evaluate.ts meanLoss)."""
        total, count = 0.0, 0
        for group in tokens.eval_groups(per_pass, split):
            x, y = tokens.rows(split, group)
            total += model(x.to(device), y.to(device)).item() * len(group)
            count += len(group)
        return total, count

    def evaluate():
        nonlocal last_val, last_eval_step
        if lead:
            model.eval()
            total, count = 0.0, 0
            with torch.no_grad():
                if examples:
                    for group in examples.eval_groups(per_pass):
                        x, y = examples.rows("val", group)
                        total += model(x.to(device), y.to(device), "sum").item()
                        count += int((y != IGNORED).sum())
                else:
                    total, count = windows_loss("val")
                base_total, base_count = windows_loss("base_val") if tokens else (0.0, 0)
                sample = sample_or_none(sampler, lambda ids: model.logits(torch.tensor([ids], device=device))[0, -1], step)
            model.train()
            last_val = total / count
            base_val = base_total / base_count if base_count else None
            log(eval_event(step, epoch + 1, last_loss, last_val, base_val, export["eval"], elapsed(), sample))
        if world > 1:
            shared = torch.tensor([last_val], dtype=torch.float64, device=device)
            dist.broadcast(shared, 0)
            last_val = shared.item()
        last_eval_step = step

    def checkpoint(name, reason, epoch_for_event):
        nonlocal best_val, best_name
        if math.isnan(last_val) or last_eval_step != step:
            evaluate()
        if last_val < best_val:
            best_val, best_name = last_val, name
        if lead:
            write_checkpoint(out, name, model, optimizer, start_dir, exported_dir, {
                "step": step,
                "epoch": epoch,
                "cursor": cursor,
                "seed": opts["seed"],
                "best_val_loss": best_val if math.isfinite(best_val) else None,
                "best_checkpoint": best_name,
                "rng": {"kind": "counter", "seed": opts["seed"], "step": step, "epoch": epoch},
                "elapsed_s": elapsed(),
                "loss": last_loss,
                "val_loss": last_val,
                "plan": plan,
            })
            prune_checkpoints(out, opts["keepCheckpoints"], [best_name] if best_name else [])
            update_run(out, last_checkpoint=os.path.join(out, "checkpoints", name), step=step, val_loss=last_val)
        emit({"type": "checkpoint", "step": step, "epoch": epoch_for_event, "path": os.path.join(out, "checkpoints", name), "val_loss": last_val, "reason": reason})
        if world > 1:
            dist.barrier()

    model.train()
    while step < plan["totalSteps"]:
        t0 = time.time()
        n = len(order)
        lr = learning_rate_at(plan, step)
        for group in optimizer.param_groups:
            group["lr"] = lr
        optimizer.zero_grad(set_to_none=True)
        local_loss = torch.zeros((), device=device)
        # Each pass: inputs, targets, the loss's reduction and its weight, so that DDP's mean over ranks of the
        # summed passes is the whole batch's mean loss (examples: the mean over the batch's trained tokens).
        if examples:
            # Every rank builds the whole batch's rows: its padding width and trained-token count are the batch's.
            x_all, y_all = examples.rows("train", [int(order[(cursor * batch + b) % n]) for b in range(batch)])
            weight = world / max(1, int((y_all != IGNORED).sum()))
            cuts = [(a, min(a + per_pass, last)) for a in range(first, last, per_pass)]
            passes = [(x_all[a:b], y_all[a:b], "sum", weight) for a, b in cuts]
            step_tokens = x_all.numel()
        else:
            # The whole batch's windows, some replaced by windows of the base's text (replay) as Corpus Lab replaces them.
            x_all, y_all = tokens.replayed(*tokens.rows("train", [int(order[(cursor * batch + b) % n]) for b in range(batch)]), step)
            cuts = [(a, min(a + per_pass, last)) for a in range(first, last, per_pass)]
            passes = [(x_all[a:b], y_all[a:b], "mean", (b - a) * world / batch) for a, b in cuts]
            step_tokens = batch * context
        for i, (x, y, reduction, weight) in enumerate(passes):
            x, y = x.to(device), y.to(device)
            sync = i == len(passes) - 1 or world == 1
            if sync:
                loss = net(x, y, reduction) * weight
                loss.backward()
            else:
                with net.no_sync():
                    loss = net(x, y, reduction) * weight
                    loss.backward()
            local_loss += loss.detach() / world
        if world > 1:
            dist.all_reduce(local_loss)
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), opts["gradClip"])
        loss_value, norm_value = local_loss.item(), float(grad_norm)
        if not (math.isfinite(loss_value) and math.isfinite(norm_value)):
            raise UserError(
                f"training diverged at step {step + 1} (learning rate {lr:.3g}): the loss is {loss_value} and the gradient norm {norm_value}; "
                f"the last good checkpoint is kept — lower the learning rate"
            )
        optimizer.step()
        if device_kind == "cuda":
            torch.cuda.synchronize()
        rate = step_tokens / max(time.time() - t0, 1e-9)
        tokens_per_s = rate if tokens_per_s == 0 else 0.9 * tokens_per_s + 0.1 * rate
        last_loss = loss_value
        step_epoch = epoch + 1
        step += 1
        cursor += 1
        log({"type": "step", "step": step, "epoch": step_epoch, "loss": loss_value, "lr": lr, "grad_norm": norm_value, "tokens_per_s": tokens_per_s, "elapsed_s": elapsed()})
        epoch_done = cursor >= plan["stepsPerEpoch"]
        if epoch_done:
            epoch += 1
            cursor = 0
            order = epoch_order(epoch)
        if step % plan["evalEvery"] == 0 or step == plan["totalSteps"]:
            evaluate()
        if epoch_done:
            checkpoint(f"epoch-{step_epoch:04d}", "epoch", step_epoch)
        elif step == plan["totalSteps"]:
            checkpoint(f"step-{step:08d}", "final", step_epoch)
    if lead:
        update_run(out, status="completed", trainer=None)
    emit({"type": "done", "step": step, "epoch": epoch + (1 if cursor > 0 else 0), "loss": last_loss, "val_loss": last_val, "elapsed_s": elapsed(), "reason": "completed"})


def write_checkpoint(out, name, model, optimizer, start_dir, exported_dir, trainer_state):
    params = dict(model.named_parameters())
    weights = {n: params[n] if n in params else torch.zeros(params[n[: -len("bias")] + "weight"].shape[-1]) for n in gpt2_tensor_names(model)}
    moments = {}
    for n, p in params.items():
        moments[f"m.{n}"] = optimizer.state[p]["exp_avg"]
        moments[f"v.{n}"] = optimizer.state[p]["exp_avg_sq"]
    parent = os.path.join(out, "checkpoints")
    os.makedirs(parent, exist_ok=True)
    remove_stale_temps(parent)
    with open(os.path.join(start_dir, "config.json"), "rb") as f:
        config = f.read()
    with open(os.path.join(out, "tokenizer.json"), "rb") as f:
        tokenizer = f.read()
    side = {}
    for file in HF_SIDE_FILES:
        if os.path.isfile(os.path.join(exported_dir, file)):
            with open(os.path.join(exported_dir, file), "rb") as f:
                side[file] = f.read()
    write_dir_atomic(os.path.join(parent, name), {
        "model.safetensors": encode_safetensors(weights, {"format": "pt"}),
        "config.json": config,
        "tokenizer.json": tokenizer,
        **side,
        "optimizer.safetensors": encode_safetensors(moments, {"format": "corpus-lab-adamw"}),
        "trainer_state.json": to_json(trainer_state, indent=2) + "\n",
    })


def open_run(out, export, plan, step, device_kind, world):
    """Creates RUN_DIR as a Corpus Lab run (or reopens it), with the history up to `step`."""
    os.makedirs(os.path.join(out, "checkpoints"), exist_ok=True)
    if not os.path.exists(os.path.join(out, "tokenizer.json")):
        shutil.copyfile(os.path.join(HERE, "tokenizer.json"), os.path.join(out, "tokenizer.json"))
    metrics = os.path.join(out, "metrics.jsonl")
    history = read_metrics(metrics if os.path.exists(metrics) else os.path.join(HERE, "metrics.jsonl"))
    kept = [r for r in history if not isinstance(r.get("step"), (int, float)) or r["step"] <= step]
    write_file_atomic(metrics, "".join(to_json(r) + "\n" for r in kept))
    run_path = os.path.join(out, "run.json")
    run = read_json(run_path) if os.path.exists(run_path) else dict(export["run"], created=datetime.datetime.now(datetime.timezone.utc).isoformat())
    run.update(
        format_version=1,
        backend={"name": f"pytorch-{device_kind}", "threads": world},
        plan=plan,
        status="training",
        trainer={"pid": os.getpid(), "host": socket.gethostname()},
    )
    write_file_atomic(run_path, to_json(run, indent=2) + "\n")


def update_run(out, **patch):
    path = os.path.join(out, "run.json")
    run = read_json(path)
    for key, value in patch.items():
        if value is None:
            run.pop(key, None)
        else:
            run[key] = value
    write_file_atomic(path, to_json(run, indent=2) + "\n")


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except UserError as e:
        print(f"train.py: {e}", file=sys.stderr)
        sys.exit(2)
