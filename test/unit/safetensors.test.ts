import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeSafetensors, readSafetensors } from '../../src/core/safetensors';
import { isUserError } from '../../src/core/errors';
import { NamedTensors } from '../../src/core/tensor';
import { Rng } from '../../src/core/rng';

const dir = mkdtempSync(join(tmpdir(), 'corpus-lab-st-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function file(bytes: Uint8Array): string {
  const p = join(dir, `f${n++}.safetensors`);
  writeFileSync(p, bytes);
  return p;
}

function handBuilt(header: object, data: Buffer): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, data]);
}

const sample: NamedTensors = new Map([
  ['b', { shape: [2], data: Float32Array.from([1.5, -2]) }],
  ['a', { shape: [2, 2], data: Float32Array.from([0, 1, 2, 3]) }],
  ['empty', { shape: [0, 3], data: new Float32Array(0) }],
]);

test('writer output follows the spec byte for byte: u64 length, space-padded sorted JSON, packed LE floats', () => {
  const bytes = encodeSafetensors(sample, { format: 'pt' });
  const len = Number(bytes.readBigUInt64LE(0));
  assert.equal(len % 8, 0);
  const header = bytes.subarray(8, 8 + len).toString('utf8');
  assert.match(header, / *$/);
  assert.deepEqual(JSON.parse(header), {
    __metadata__: { format: 'pt' },
    a: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] },
    b: { dtype: 'F32', shape: [2], data_offsets: [16, 24] },
    empty: { dtype: 'F32', shape: [0, 3], data_offsets: [24, 24] },
  });
  const data = bytes.subarray(8 + len);
  assert.equal(data.length, 24);
  assert.equal(data.readFloatLE(16), 1.5);
  assert.equal(data.readFloatLE(20), -2);
});

test('round trip is bit-exact, including -0 and subnormals; NaN and ±Infinity are refused, naming the tensor', () => {
  for (const bad of [NaN, Infinity, -Infinity]) {
    const t: NamedTensors = new Map([['x', { shape: [3], data: Float32Array.from([1, bad, 2]) }], ...sample]);
    assert.throws(
      () => readSafetensors(file(encodeSafetensors(t))),
      (e: unknown) => isUserError(e) && (e as Error).message.includes(`: tensor x holds ${bad} (value 1 of 3): the model is damaged`),
    );
  }
  const values = Float32Array.from([-0, 1e-45, 3.4e38, -1]);
  const t: NamedTensors = new Map([['x', { shape: [4], data: values }], ...sample]);
  const back = readSafetensors(file(encodeSafetensors(t, { k: 'v' })));
  assert.deepEqual(back.metadata, { k: 'v' });
  assert.deepEqual(new Uint8Array(back.tensors.get('x')!.data.buffer), new Uint8Array(values.buffer));
  assert.deepEqual(back.tensors.get('a')!.shape, [2, 2]);
  assert.deepEqual(Array.from(back.tensors.get('a')!.data), [0, 1, 2, 3]);
});

test('a file written by hand (unpadded header, unsorted offsets) reads correctly', () => {
  const data = Buffer.alloc(12);
  data.writeFloatLE(7, 0);
  data.writeFloatLE(8, 4);
  data.writeFloatLE(9, 8);
  const f = file(
    handBuilt({ y: { dtype: 'F32', shape: [1], data_offsets: [8, 12] }, x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, data),
  );
  const back = readSafetensors(f);
  assert.deepEqual(Array.from(back.tensors.get('x')!.data), [7, 8]);
  assert.deepEqual(Array.from(back.tensors.get('y')!.data), [9]);
});

const rejects = (bytes: Uint8Array, message: RegExp) =>
  assert.throws(
    () => readSafetensors(file(bytes)),
    (e: unknown) => isUserError(e) && message.test((e as Error).message),
    String(message),
  );

test('hostile headers are rejected with a clear reason', () => {
  const f32 = (k: number) => Buffer.alloc(4 * k);
  const huge = (v: bigint) => {
    const b = Buffer.alloc(16);
    b.writeBigUInt64LE(v);
    return b;
  };
  rejects(Buffer.alloc(0), /fewer than the 8-byte header/);
  rejects(Buffer.alloc(5), /fewer than the 8-byte header/);
  rejects(huge(2n ** 63n), /header length 9223372036854775808 is larger than the file/);
  rejects(huge(2n ** 64n - 1n), /header length 18446744073709551615 is larger than the file/);
  rejects(huge(9n), /larger than the file/);
  const bad = Buffer.concat([Buffer.from([4, 0, 0, 0, 0, 0, 0, 0]), Buffer.from([0xff, 0xfe, 0x7b, 0x7d])]);
  rejects(bad, /not valid UTF-8/);
  rejects(handBuilt([1, 2] as unknown as object, Buffer.alloc(0)), /not a JSON object/);
  const notJson = Buffer.concat([Buffer.from([3, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{x:')]);
  rejects(notJson, /not valid JSON/);
  rejects(handBuilt({ a: { dtype: 'Q8', shape: [1], data_offsets: [0, 4] } }, f32(1)), /unknown dtype "Q8"/);
  rejects(handBuilt({ a: { dtype: 'F16', shape: [2], data_offsets: [0, 4] } }, f32(1)), /F32 tensors only/);
  rejects(handBuilt({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, f32(1)), /invalid shape/);
  rejects(handBuilt({ a: { dtype: 'F32', shape: [1.5], data_offsets: [0, 4] } }, f32(1)), /invalid shape/);
  rejects(handBuilt({ a: { dtype: 'F32', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 4] } }, f32(1)), /shape/);
  rejects(handBuilt({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 8] } }, f32(1)), /outside the 4-byte data buffer/);
  rejects(handBuilt({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 0] } }, f32(1)), /outside/);
  rejects(handBuilt({ a: { dtype: 'F32', shape: [1], data_offsets: [0] } }, f32(1)), /invalid data_offsets/);
  rejects(handBuilt({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, f32(1)), /shape \[2\] .* but 4 bytes/);
  rejects(
    handBuilt({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, f32(3)),
    /overlaps/,
  );
  rejects(handBuilt({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, f32(2)), /belong to no tensor/);
  rejects(handBuilt({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, f32(2)), /cover 4/);
  rejects(handBuilt({ __metadata__: { k: 1 } }, Buffer.alloc(0)), /__metadata__.k is not a string/);
  rejects(handBuilt({ a: 'x' }, Buffer.alloc(0)), /no description object/);
  assert.throws(
    () => readSafetensors(join(dir, 'nope.safetensors')),
    (e: unknown) => isUserError(e) && (e as Error).message === `${join(dir, 'nope.safetensors')}: no such file`,
  );
});

test('fuzz: random bytes and truncations either read or fail with a UserError, never hang or crash', () => {
  const valid = encodeSafetensors(sample);
  const rng = new Rng(99);
  for (let i = 0; i < 300; i++) {
    let bytes: Uint8Array;
    if (i % 3 === 0) bytes = Uint8Array.from({ length: rng.below(64) }, () => rng.below(256));
    else if (i % 3 === 1) bytes = valid.subarray(0, rng.below(valid.length + 1));
    else {
      bytes = Uint8Array.from(valid);
      for (let k = 0; k < 3; k++) bytes[rng.below(bytes.length)] = rng.below(256);
    }
    const p = file(bytes);
    try {
      const r = readSafetensors(p);
      for (const t of r.tensors.values())
        assert.equal(
          t.data.length,
          t.shape.reduce((a, b) => a * b, 1),
        );
    } catch (e) {
      assert.ok(isUserError(e), `not a UserError: ${(e as Error).stack}`);
    }
  }
  assert.ok(readFileSync(file(valid)).length > 0);
});

test('F16 and BF16 tensors are widened to float32 exactly (subnormals and extremes too); a dtype not asked for names itself', () => {
  const halves = (bits: number[]) => Buffer.from(Uint16Array.from(bits).buffer);
  const f16 = [0x3c00, 0xc000, 0x7bff, 0x0400, 0x0001, 0x8000, 0x3555];
  const bf16 = [0x3f80, 0xc0a0, 0x7f7f, 0x3eaa, 0x0001];
  const p = file(
    handBuilt(
      {
        h: { dtype: 'F16', shape: [7], data_offsets: [0, 14] },
        b: { dtype: 'BF16', shape: [5], data_offsets: [14, 24] },
      },
      Buffer.concat([halves(f16), halves(bf16)]),
    ),
  );
  const r = readSafetensors(p, { dtypes: ['F32', 'BF16', 'F16'] });
  assert.deepEqual([...r.tensors.get('h')!.data], [1, -2, 65504, 2 ** -14, 2 ** -24, -0, 0.333251953125]);
  assert.deepEqual([...r.tensors.get('b')!.data], [1, -5, 3.3895313892515355e38, 0.33203125, 2 ** -133]);
  assert.throws(
    () => readSafetensors(p),
    (e: unknown) => isUserError(e) && /tensor "h" is F16; Corpus Lab reads F32 tensors only$/.test((e as Error).message),
  );
  const f64 = file(handBuilt({ d: { dtype: 'F64', shape: [1], data_offsets: [0, 8] } }, Buffer.alloc(8)));
  assert.throws(
    () => readSafetensors(f64, { dtypes: ['F32', 'BF16', 'F16'] }),
    (e: unknown) => isUserError(e) && /tensor "d" is F64; Corpus Lab reads F32, BF16, F16 tensors only$/.test((e as Error).message),
  );
  // Infinity and NaN in half precision are refused like float32's.
  for (const [dtype, bits] of [
    ['F16', 0x7c00],
    ['BF16', 0x7fc0],
  ] as const) {
    const bad = file(handBuilt({ x: { dtype, shape: [1], data_offsets: [0, 2] } }, halves([bits])));
    assert.throws(
      () => readSafetensors(bad, { dtypes: [dtype] }),
      (e: unknown) => isUserError(e) && /tensor x holds (Infinity|NaN)/.test((e as Error).message),
    );
  }
});

test('BF16 tensors are read as their bits: the float32 widening is made only when data is asked for', () => {
  const bits = [0x3f80, 0xc0a0, 0x7f7f, 0x3eaa];
  const p = file(handBuilt({ m: { dtype: 'BF16', shape: [2, 2], data_offsets: [0, 8] } }, Buffer.from(Uint16Array.from(bits).buffer)));
  const m = readSafetensors(p, { dtypes: ['BF16'] }).tensors.get('m')!;
  assert.ok(m.bf16 instanceof Uint16Array, 'the bits as stored, not a float32 array');
  assert.deepEqual([...m.bf16], bits);
  assert.equal(Object.getOwnPropertyDescriptor(m, 'data')?.value, undefined, 'no float32 values made by reading');
  assert.deepEqual([...m.data], [1, -5, 3.3895313892515355e38, 0.33203125]);
  assert.equal(m.data, m.data, 'widened once');
});

test("tensors read into a destination (the engine's memory) are left out of the result; a shorter one takes the first rows; a non-finite value there is refused", () => {
  const bf16 = Uint16Array.from([0x3f80, 0xc0a0, 0x7f7f, 0x3eaa, 0x4000, 0x4040]);
  const f32 = Float32Array.from([0.5, -1.25, 3]);
  const p = file(
    handBuilt(
      {
        h: { dtype: 'BF16', shape: [3, 2], data_offsets: [0, 12] },
        f: { dtype: 'F32', shape: [3], data_offsets: [12, 24] },
        k: { dtype: 'F32', shape: [1], data_offsets: [24, 28] },
      },
      Buffer.concat([Buffer.from(bf16.buffer), Buffer.from(f32.buffer), Buffer.from(Float32Array.from([7]).buffer)]),
    ),
  );
  const memory = new Uint8Array(64);
  const asked: string[] = [];
  const destinations: Record<string, Uint8Array> = { h: memory.subarray(0, 8), f: memory.subarray(16, 28) };
  const r = readSafetensors(p, {
    dtypes: ['F32', 'BF16'],
    into: (name, dtype, shape) => {
      asked.push(`${name} ${dtype} [${shape}]`);
      return destinations[name];
    },
  });
  assert.deepEqual(asked, ['h BF16 [3,2]', 'f F32 [3]', 'k F32 [1]']);
  assert.deepEqual([...r.tensors.keys()], ['k'], 'only the tensor given no destination is returned');
  assert.deepEqual([...new Uint16Array(memory.buffer, 0, 4)], [...bf16.slice(0, 4)], 'the first two rows, as stored');
  assert.deepEqual([...new Float32Array(memory.buffer, 16, 3)], [...f32]);
  assert.deepEqual([...memory.subarray(8, 16)], new Array(8).fill(0), 'nothing past the destination');

  const bad = file(
    handBuilt({ x: { dtype: 'BF16', shape: [2], data_offsets: [0, 4] } }, Buffer.from(Uint16Array.from([0x3f80, 0x7f80]).buffer)),
  );
  assert.throws(
    () => readSafetensors(bad, { dtypes: ['BF16'], into: () => new Uint8Array(4) }),
    (e: unknown) => isUserError(e) && /f\d+\.safetensors: tensor x holds Infinity \(value 1 of 2\)/.test((e as Error).message),
  );
});
