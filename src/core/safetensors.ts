import { closeSync, fstatSync, readSync } from 'node:fs';
import { openRegularFile } from './safe-fs';
import { basename } from 'node:path';
import { Message, UserError, isUserError, message } from './errors';
import { jsonSyntaxError } from './json';
import { HostTensor, NamedTensors, bf16HostTensor, elementCount, refuseNonFinite } from './tensor';
import { f16ToFloat32, float32ToBf16, float32ToF16 } from './half-float';

// No npm package reads safetensors in plain Node without pulling in a framework; the format is
// small (https://github.com/huggingface/safetensors#format), so this follows the spec directly
// and is tested against hand-built files and a Python reader.

/** Largest header we accept; the reference implementation caps it at 100 MB as well. */
const MAX_HEADER_BYTES = 100_000_000;
const DTYPE_BYTES: Record<string, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

/** An int8 tensor (weight-only quantization stores its matrices as I8; see core/int8.ts). */
export interface Int8Tensor {
  shape: number[];
  data: Int8Array;
}

export interface SafetensorsFile {
  tensors: NamedTensors;
  /** I8 tensors; only ever filled when the reader was asked to accept I8. */
  int8: Map<string, Int8Tensor>;
  metadata: Record<string, string>;
}

export interface ReadOptions {
  /** Data types to read (default F32 only; F16 is widened to float32, BF16 kept as its bits: bf16HostTensor); any other is refused with the reason. */
  dtypes?: readonly ('F32' | 'F16' | 'BF16' | 'I8')[];
  /**
   * Tensors to leave unread (e.g. the causal-mask buffers of Hugging Face GPT-2 files, which are
   * not weights). Their header entries are still validated, and they may have any known dtype.
   */
  skip?: (name: string, dtype: string, shape: number[]) => boolean;
  /** Called with the validated header of the tensors to be read, before any of their bytes are. */
  check?: (header: Map<string, { dtype: string; shape: number[] }>, metadata: Record<string, string>) => void;
  /** Where F32 and BF16 tensors' bytes are read straight into, instead of new host arrays (TensorDestination). */
  into?: TensorDestination;
}

/**
 * Memory for a tensor's bytes as stored (F32, or BF16 bits; little-endian), e.g. the engine's own,
 * asked for just before they are read: a file is then never held twice. A buffer shorter than the
 * tensor takes its first bytes (the rows a model keeps); undefined reads it into a host array. The
 * tensor is left out of what the reader returns, and the buffer must stay valid until it has been
 * read and checked (the next call).
 */
export type TensorDestination = (name: string, dtype: string, shape: number[]) => Uint8Array | undefined;

/**
 * Serialises F32 tensors (those named in `half`: narrowed to BF16 or F16, core/half-float.ts) and
 * optionally I8 ones, with optional string metadata. Like the reference writer, tensors are packed
 * by dtype alignment (F32, then 16-bit, then I8) and then by name, so every tensor starts on a
 * boundary of its size; an F32-only file is sorted by name.
 */
export function encodeSafetensors(
  tensors: NamedTensors,
  metadata: Record<string, string> = {},
  int8: Map<string, Int8Tensor> = new Map(),
  half: ReadonlyMap<string, 'BF16' | 'F16'> = new Map(),
): Buffer {
  const items: { name: string; dtype: 'F32' | 'BF16' | 'F16' | 'I8'; shape: number[]; bytes: Uint8Array }[] = [];
  const bytesOf = (a: Float32Array | Uint16Array | Int8Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const names = [...tensors.keys()].sort();
  for (const name of [...names.filter((n) => !half.has(n)), ...names.filter((n) => half.has(n))]) {
    const t = tensors.get(name)!;
    if (t.data.length !== elementCount(t.shape)) throw new Error(`internal: ${name} has ${t.data.length} values for shape [${t.shape}]`);
    const dtype = half.get(name) ?? 'F32';
    const data = dtype === 'BF16' ? float32ToBf16(t.data) : dtype === 'F16' ? float32ToF16(t.data) : t.data;
    items.push({ name, dtype, shape: t.shape, bytes: bytesOf(data) });
  }
  for (const name of [...int8.keys()].sort()) {
    const t = int8.get(name)!;
    if (tensors.has(name)) throw new Error(`internal: ${name} is given both as F32 and as I8`);
    if (t.data.length !== elementCount(t.shape)) throw new Error(`internal: ${name} has ${t.data.length} values for shape [${t.shape}]`);
    items.push({ name, dtype: 'I8', shape: t.shape, bytes: bytesOf(t.data) });
  }
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const it of items) {
    header[it.name] = { dtype: it.dtype, shape: it.shape, data_offsets: [offset, offset + it.bytes.length] };
    offset += it.bytes.length;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = Math.ceil(json.length / 8) * 8;
  json = Buffer.concat([json, Buffer.alloc(padded - json.length, 0x20)]);
  const out = Buffer.alloc(8 + json.length + offset);
  out.writeBigUInt64LE(BigInt(json.length), 0);
  json.copy(out, 8);
  let at = 8 + json.length;
  for (const it of items) {
    out.set(it.bytes, at);
    at += it.bytes.length;
  }
  return out;
}

interface Entry {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

/** A tensor as a safetensors header describes it. */
export interface TensorHeader {
  dtype: string;
  shape: number[];
}

/**
 * Reads a safetensors file, checking the header (length, JSON, dtypes, shapes, offsets, coverage)
 * before reading any tensor data, then that every value is finite. Every problem is a
 * UserError naming the file.
 */
export function readSafetensors(path: string, opts: ReadOptions = {}): SafetensorsFile {
  const dtypes: readonly string[] = opts.dtypes ?? ['F32'];
  return withHeader(path, (fd, entries, dataStart, fail) => {
    const kept = entries.list.filter((e) => !opts.skip?.(e.name, e.dtype, e.shape));
    for (const e of kept) {
      if (!dtypes.includes(e.dtype))
        fail(message('tensor "{0}" is {1}; Corpus Lab reads {2} tensors only', e.name, e.dtype, dtypes.join(', ')));
    }
    opts.check?.(new Map(kept.map((e) => [e.name, { dtype: e.dtype, shape: e.shape }])), entries.metadata);
    const tensors: NamedTensors = new Map();
    const int8 = new Map<string, Int8Tensor>();
    for (const e of kept) {
      const count = e.end - e.begin;
      if (e.dtype === 'I8') {
        const values = new Int8Array(count);
        if (count > 0) readSync(fd, new Uint8Array(values.buffer), 0, count, dataStart + e.begin);
        int8.set(e.name, { shape: e.shape, data: values });
        continue;
      }
      const destination = e.dtype === 'F32' || e.dtype === 'BF16' ? opts.into?.(e.name, e.dtype, e.shape) : undefined;
      if (destination) readInto(fd, e, destination, dataStart, path);
      else tensors.set(e.name, readFloats(fd, e.dtype, e.shape, count, dataStart + e.begin));
    }
    refuseNonFinite(tensors, path);
    return { tensors, int8, metadata: entries.metadata };
  });
}

/** The checked header of a safetensors file, without reading any tensor data (as readSafetensors checks it). */
export function readSafetensorsHeader(path: string): Map<string, TensorHeader> {
  return withHeader(path, (_fd, entries) => new Map(entries.list.map((e) => [e.name, { dtype: e.dtype, shape: e.shape }])));
}

function withHeader<T>(
  path: string,
  use: (fd: number, entries: { list: Entry[]; metadata: Record<string, string> }, dataStart: number, fail: (why: Message) => never) => T,
): T {
  const label = basename(path);
  const fail = (why: Message): never => {
    throw new UserError('{0}: {1}', label, why);
  };
  let fd: number;
  try {
    fd = openRegularFile(path);
  } catch (e) {
    if (isUserError(e)) throw e; // not a regular file, or gone: it says so
    const code = (e as NodeJS.ErrnoException).code;
    throw code === 'ENOENT' ? new UserError('{0}: no such file', path) : new UserError('{0}: cannot open ({1})', path, code ?? String(e));
  }
  try {
    const size = fstatSync(fd).size;
    if (size < 8)
      fail(message('the file has {0} bytes, fewer than the 8-byte header length: it is truncated or not a safetensors file', size));
    const lengthBytes = Buffer.alloc(8);
    readSync(fd, lengthBytes, 0, 8, 0);
    const headerLength = lengthBytes.readBigUInt64LE(0);
    if (headerLength > BigInt(size - 8)) {
      fail(
        message(
          'header length {0} is larger than the file ({1} bytes): the file is truncated or not a safetensors file',
          String(headerLength),
          size,
        ),
      );
    }
    if (headerLength > BigInt(MAX_HEADER_BYTES))
      fail(message('header length {0} is over the {1}-byte limit', String(headerLength), MAX_HEADER_BYTES));
    const n = Number(headerLength);
    const headerBytes = Buffer.alloc(n);
    readSync(fd, headerBytes, 0, n, 8);
    return use(fd, parseHeader(headerBytes, size - 8 - n, fail), 8 + n, fail);
  } finally {
    closeSync(fd);
  }
}

/** Entry `e`'s first bytes (as many as `destination` holds) into `destination`, checked to be finite. */
function readInto(fd: number, e: Entry, destination: Uint8Array, dataStart: number, path: string): void {
  if (destination.length > e.end - e.begin) throw new Error(`internal: ${destination.length} bytes asked of ${e.name}`);
  if (destination.length > 0) readSync(fd, destination, 0, destination.length, dataStart + e.begin);
  const values = destination.length / DTYPE_BYTES[e.dtype];
  const read: HostTensor =
    e.dtype === 'BF16'
      ? bf16HostTensor([values], new Uint16Array(destination.buffer, destination.byteOffset, values))
      : { shape: [values], data: new Float32Array(destination.buffer, destination.byteOffset, values) };
  refuseNonFinite(new Map([[e.name, read]]), path);
}

/** `count` bytes of F32, F16 or BF16 values at `position`: float32, F16 widened, BF16 as its bits. */
function readFloats(fd: number, dtype: string, shape: number[], count: number, position: number): HostTensor {
  const raw = dtype === 'F32' ? new Float32Array(count / 4) : new Uint16Array(count / 2);
  if (count > 0) readSync(fd, new Uint8Array(raw.buffer), 0, count, position);
  if (raw instanceof Float32Array) return { shape, data: raw };
  return dtype === 'BF16' ? bf16HostTensor(shape, raw) : { shape, data: f16ToFloat32(raw) };
}

function parseHeader(bytes: Buffer, dataBytes: number, fail: (why: Message) => never): { list: Entry[]; metadata: Record<string, string> } {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return fail(message('the header is not valid UTF-8'));
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    return fail(message('the header is not valid JSON ({0})', jsonSyntaxError(e as Error, text)));
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) return fail(message('the header is not a JSON object'));
  const metadata: Record<string, string> = {};
  const list: Entry[] = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(message('__metadata__ is not an object'));
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(message('__metadata__.{0} is not a string', k));
        metadata[k] = v as string;
      }
      continue;
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(message('tensor "{0}" has no description object', name));
    const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
    if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES))
      fail(message('tensor "{0}" has unknown dtype {1}', name, JSON.stringify(dtype)));
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0))
      fail(message('tensor "{0}" has an invalid shape {1}', name, JSON.stringify(shape)));
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      fail(message('tensor "{0}" has invalid data_offsets {1}', name, JSON.stringify(offsets)));
    }
    const [begin, end] = offsets as number[];
    if (begin > end || end > dataBytes)
      fail(message('tensor "{0}" has data_offsets [{1}, {2}] outside the {3}-byte data buffer', name, begin, end, dataBytes));
    const elements = (shape as number[]).reduce((a, b) => a * b, 1);
    if (!Number.isSafeInteger(elements) || elements * DTYPE_BYTES[dtype as string] !== end - begin) {
      fail(
        message(
          'tensor "{0}" has shape [{1}] ({2} × {3} bytes) but {4} bytes of data',
          name,
          String(shape),
          elements,
          DTYPE_BYTES[dtype as string],
          end - begin,
        ),
      );
    }
    list.push({ name, dtype: dtype as string, shape: shape as number[], begin, end });
  }
  // As the reference reader: the ranges, in order, must tile the buffer exactly (no overlap, no hole).
  const ordered = [...list].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  for (const e of ordered) {
    if (e.begin < at) fail(message('tensor "{0}" overlaps another tensor\'s bytes', e.name));
    if (e.begin > at) fail(message('bytes {0}–{1} of the data buffer belong to no tensor', at, e.begin));
    at = e.end;
  }
  if (at !== dataBytes) fail(message('the data buffer has {0} bytes but the tensors cover {1}', dataBytes, at));
  return { list, metadata };
}
