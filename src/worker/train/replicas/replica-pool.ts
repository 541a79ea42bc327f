import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { setNativeThreads, tf } from '../../engine/backend';
import { ModelConfig } from '../../../core/model-config';
import { currentThreadNice } from '../../thread-priority';
import { UserError } from '../../../core/errors';
import { FlatLayout, copyOut } from './flat-params';
import { FromReplica, ReplicaStep, ToReplica } from './protocol';

/** A replica thread failed: the step's gradients are incomplete (the trainer carries on without replicas). */
export class ReplicaFailure extends Error {}

/**
 * Training threads for a batch: as asked (1–64), or one per core, at most 4, each with a shard of
 * at least 2 sequences. Only the wasm backend gets more than one: tfjs-node and native thread their own kernels.
 */
export function resolveTrainingThreads(asked: number | undefined, backend: string, batch: number): number {
  if (asked !== undefined && (!Number.isInteger(asked) || asked < 1 || asked > 64)) {
    throw new UserError('threads must be a whole number from 1 to 64 (got {0})', asked);
  }
  // The native engine threads its own kernels (no second copy of the weights per thread).
  if (backend === 'native') {
    setNativeThreads(asked ?? availableParallelism());
    return 1;
  }
  if (backend !== 'wasm') return 1;
  if (asked !== undefined) return Math.max(1, Math.min(asked, batch));
  return Math.max(1, Math.min(availableParallelism(), Math.floor(batch / 2), 4));
}

/**
 * Data-parallel training on one machine: the training thread (replica 0) and `size − 1` replica
 * threads each compute the gradients of a shard of the batch; the primary adds them up and makes
 * the one optimizer step. The summed gradient is the full batch's (shard losses are weighted by
 * their share of the batch), up to float rounding.
 */
export class ReplicaPool {
  private readonly layout: FlatLayout;
  private readonly weights: Float32Array;
  private readonly grads: Float32Array[] = [];
  private readonly workers: Worker[] = [];
  private broken: Error | undefined;
  private readonly waiting = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  private sequence = 0;

  private constructor(
    params: Map<string, tf.Tensor>,
    readonly size: number,
    private readonly log: (message: string) => void,
  ) {
    this.layout = FlatLayout.of(params);
    this.weights = new Float32Array(new SharedArrayBuffer(this.layout.total * 4));
    for (let i = 1; i < size; i++) this.grads.push(new Float32Array(new SharedArrayBuffer((this.layout.total + 1) * 4)));
  }

  /** `log` receives the replicas' log lines (for the extension's log; the CLI drops them). */
  static async start(
    config: ModelConfig,
    params: Map<string, tf.Tensor>,
    size: number,
    log: (message: string) => void,
  ): Promise<ReplicaPool> {
    const pool = new ReplicaPool(params, size, log);
    try {
      await Promise.all(Array.from({ length: size - 1 }, (_, k) => pool.spawn(k + 1, config)));
    } catch (e) {
      await pool.dispose();
      throw e;
    }
    return pool;
  }

  private spawn(index: number, config: ModelConfig): Promise<void> {
    const worker = new Worker(replicaScript());
    this.workers.push(worker);
    const init: ToReplica = {
      type: 'init',
      index,
      config,
      names: this.layout.names,
      shapes: this.layout.shapes,
      weights: this.weights.buffer as SharedArrayBuffer,
      grads: this.grads[index - 1].buffer as SharedArrayBuffer,
      nice: currentThreadNice(),
    };
    return new Promise((resolve, reject) => {
      const fail = (why: string) => {
        const e = new ReplicaFailure(`training thread ${index + 1} of ${this.size} failed: ${why}`);
        this.broken ??= e;
        reject(e);
        for (const w of this.waiting.values()) w.reject(e);
        this.waiting.clear();
      };
      worker.on('message', (m: FromReplica) => {
        if (m.type === 'ready') resolve();
        else if (m.type === 'log') this.log(m.message);
        else if (m.type === 'error') fail(m.message);
        else if (m.type === 'grads') {
          const key = m.step * this.size + index;
          this.waiting.get(key)?.resolve();
          this.waiting.delete(key);
        }
      });
      worker.on('error', (e) => fail(e.message));
      worker.on('exit', (code) => fail(`it exited (code ${code})`));
      worker.postMessage(init);
    });
  }

  /** Writes the primary's current weights where the replicas read them. */
  publishWeights(params: Map<string, tf.Tensor>): void {
    [...params.values()].forEach((t, i) => copyOut(t, this.layout.view(this.weights, i)));
  }

  /** Starts replicas 1… on shards[1…]; resolves when all their gradients are written. */
  run(shards: Omit<ReplicaStep, 'type' | 'step'>[]): Promise<void> {
    if (this.broken) return Promise.reject(this.broken);
    const step = ++this.sequence;
    return Promise.all(
      shards.map(
        (shard, k) =>
          new Promise<void>((resolve, reject) => {
            this.waiting.set(step * this.size + k + 1, { resolve, reject });
            this.workers[k].postMessage({ type: 'step', step, ...shard } satisfies ToReplica);
          }),
      ),
    ).then(() => undefined);
  }

  /** Replica k's (1-based) gradient of parameter i, from the last run. */
  gradient(k: number, i: number): Float32Array {
    return this.layout.view(this.grads[k - 1], i);
  }

  loss(k: number): number {
    return this.grads[k - 1][this.layout.total];
  }

  async dispose(): Promise<void> {
    this.broken ??= new Error('the training threads were stopped');
    const workers = this.workers.splice(0);
    for (const w of workers) w.removeAllListeners('exit');
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/** dist/replica.js, next to the bundle that starts it (test bundles are built with the path of their own). */
function replicaScript(): string {
  const here = process.env.CORPUS_LAB_REPLICA_SCRIPT ?? join(__dirname, 'replica.js');
  if (!existsSync(here)) throw new Error(`internal: ${here} is missing (npm run build)`);
  return here;
}
