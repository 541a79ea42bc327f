import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { mkdtempSync, rmSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AUTO_BACKEND, KOREAN, REPO } from './helpers';
import { WorkerRequest, WorkerResponse, parseWorkerResponse } from '../../src/worker/protocol';

// The built worker (dist/worker.js), driven through its typed protocol as the extension drives it.

test('worker thread: trains, streams events, cancels on request, generates text, ignores malformed messages', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corpus-lab-worker-'));
  const worker = new Worker(join(REPO, 'dist/worker.js'));
  const received: WorkerResponse[] = [];
  const waiters: ((m: WorkerResponse) => void)[] = [];
  worker.on('message', (raw: unknown) => {
    const m = parseWorkerResponse(raw);
    assert.notEqual(typeof m, 'string', `malformed response ${JSON.stringify(raw)}`);
    received.push(m as WorkerResponse);
    for (const w of waiters) w(m as WorkerResponse);
  });
  const send = (m: WorkerRequest | object) => worker.postMessage(m);
  const until = (pred: (m: WorkerResponse) => boolean) =>
    new Promise<WorkerResponse>((resolve) => {
      const found = received.find(pred);
      if (found) return resolve(found);
      waiters.push((m) => pred(m) && resolve(m));
    });
  try {
    send({ kind: 'nonsense', id: 1 });
    const log = await until((m) => m.kind === 'log');
    assert.match((log as { message: string }).message, /ignored a malformed message: unknown message kind "nonsense"/);

    send({
      kind: 'train',
      id: 2,
      request: { corpusPath: KOREAN, runDir: join(dir, 'run'), layers: 1, heads: 2, width: 32, context: 16, batch: 4, maxSteps: 100000 },
    });
    await until((m) => m.kind === 'event' && m.id === 2 && m.event.type === 'step' && m.event.step >= 3);
    send({ kind: 'cancel', id: 2 });
    const result = await until((m) => m.kind === 'result' && m.id === 2);
    const value = (result as { value: { reason: string; checkpoint: string } }).value;
    assert.equal(value.reason, 'cancelled');
    assert.ok(existsSync(join(value.checkpoint, 'model.safetensors')));

    send({
      kind: 'generate',
      id: 3,
      checkpoint: join(dir, 'run'),
      prompt: '대한민국',
      options: { temperature: 0.8, topK: 0, topP: 1, maxTokens: 12, seed: 1, stop: [] },
    });
    const gen = await until((m) => (m.kind === 'result' || m.kind === 'error') && m.id === 3);
    assert.equal(gen.kind, 'result');
    const streamed = received.flatMap((m) => (m.kind === 'text' && m.id === 3 ? [m.text] : [])).join('');
    assert.equal(streamed, (gen as { value: { text: string } }).value.text);

    send({ kind: 'next', id: 5, checkpoint: join(dir, 'run'), request: { prompt: '대한민국은 민주', following: '공화국', lens: true } });
    const next = await until((m) => (m.kind === 'result' || m.kind === 'error') && m.id === 5);
    assert.equal(next.kind, 'result', JSON.stringify(next));
    const nv = (next as { value: unknown }).value as {
      logits: number[];
      vocab: string[];
      actual: { text: string; rank: number };
      lens: unknown[];
      promptTokens: number;
    };
    assert.equal(nv.logits.length, nv.vocab.length);
    assert.equal(nv.actual.text, '공');
    assert.ok(nv.actual.rank >= 1 && nv.actual.rank <= nv.vocab.length);
    assert.equal(nv.lens.length, 2);
    send({ kind: 'attention', id: 6, checkpoint: join(dir, 'run'), prompt: '대한민국' });
    const att = await until((m) => (m.kind === 'result' || m.kind === 'error') && m.id === 6);
    assert.deepEqual(((att as { value: unknown }).value as { tokens: unknown[] }).tokens.length, 4);

    send({
      kind: 'generate',
      id: 4,
      checkpoint: join(dir, 'nowhere'),
      prompt: '',
      options: { temperature: 1, topK: 0, topP: 1, maxTokens: 5, seed: 1, stop: [] },
    });
    const err = await until((m) => m.kind === 'error' && m.id === 4);
    assert.match((err as { message: string }).message, /no such run or checkpoint folder/);
    assert.deepEqual((err as { parts: unknown }).parts, {
      template: '{0}: no such run or checkpoint folder',
      args: [join(dir, 'nowhere')],
    });
  } finally {
    await worker.terminate();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a fresh worker asked for two estimates at once starts the best backend once (no silent cpu fallback)', async () => {
  const worker = new Worker(join(REPO, 'dist/worker.js'));
  try {
    const results = new Map<number, { backend: string }>();
    const done = new Promise<void>((resolve, reject) => {
      worker.on('message', (m: WorkerResponse) => {
        if (m.kind === 'error') reject(new Error(m.message));
        if (m.kind === 'result') {
          results.set(m.id, m.value as { backend: string });
          if (results.size === 2) resolve();
        }
      });
    });
    for (const id of [1, 2])
      worker.postMessage({
        kind: 'estimate',
        id,
        request: { corpusPath: KOREAN, preset: id === 1 ? 'tiny' : 'small', measureSteps: 1 },
      } satisfies WorkerRequest);
    await done;
    assert.deepEqual(
      [...results.values()].map((r) => r.backend),
      [AUTO_BACKEND, AUTO_BACKEND],
    );
  } finally {
    await worker.terminate();
  }
});

test(
  'worker thread: started with a nice value, only that thread runs at lower priority (Linux)',
  { skip: process.platform !== 'linux' },
  async () => {
    const niceOf = (tid: number) => Number(readFileSync(`/proc/${process.pid}/task/${tid}/stat`, 'utf8').split(') ')[1].split(' ')[16]);
    const mainBefore = niceOf(process.pid);
    const worker = new Worker(join(REPO, 'dist/worker.js'), { workerData: { nice: 10 } });
    try {
      const message = await new Promise<string>((resolve) => worker.once('message', (m: { message: string }) => resolve(m.message)));
      const expected = Math.max(mainBefore, 10);
      const tid = Number(new RegExp(`^thread (\\d+) runs at nice ${expected}$`).exec(message)?.[1]);
      assert.ok(tid > 0, message);
      assert.equal(niceOf(tid), expected);
      assert.equal(niceOf(process.pid), mainBefore, 'the main thread keeps its priority');
    } finally {
      await worker.terminate();
    }
  },
);
