import { Worker } from 'node:worker_threads';
import type { Message } from '../core/errors';
import { JobResults, WorkerRequest, WorkerResponse, parseWorkerResponse } from '../worker/protocol';

type Job = {
  resolve: (value: unknown) => void;
  reject: (e: Error) => void;
  onMessage?: (m: WorkerResponse) => void;
};

/** An error from the worker; `parts` when it is about the user's input (show it translated, see errorText). */
export class WorkerError extends Error {
  constructor(
    message: string,
    readonly parts: Message | undefined,
    readonly crashed = false,
  ) {
    super(message);
  }

  get userError(): boolean {
    return this.parts !== undefined;
  }
}

/**
 * One worker thread running dist/worker.js, started on first use and again after a crash.
 * Requests carry ids; the worker's replies are validated before they are believed.
 */
export class WorkerClient {
  private worker?: Worker;
  private nextId = 1;
  private readonly jobs = new Map<number, Job>();

  constructor(
    private readonly script: string,
    private readonly name: string,
    private readonly log: (line: string) => void,
    /** Nice value for the thread (Linux): above 0 lets the editor win the CPU when both want it. */
    private readonly nice = 0,
  ) {}

  /** Requests sent and not yet answered. */
  get pending(): number {
    return this.jobs.size;
  }

  /** Sends a request; `onMessage` receives its events and streamed text until it settles. */
  request<R extends Exclude<WorkerRequest, { kind: 'cancel' }>>(
    make: (id: number) => R,
    onMessage?: (m: WorkerResponse) => void,
  ): { id: number; result: Promise<JobResults[R['kind']]> } {
    const worker = this.ensureWorker();
    const id = this.nextId++;
    const result = new Promise<JobResults[R['kind']]>((resolve, reject) => {
      this.jobs.set(id, { resolve: resolve as (v: unknown) => void, reject, onMessage });
    });
    worker.postMessage(make(id));
    return { id, result };
  }

  cancel(id: number): void {
    if (this.jobs.has(id)) this.worker?.postMessage({ kind: 'cancel', id } satisfies WorkerRequest);
  }

  /** Stops the thread now; pending requests fail. */
  async terminate(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    this.failAll(new WorkerError(`${this.name} worker was stopped`, undefined, true));
    await w?.terminate();
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(this.script, { name: `corpus-lab-${this.name}`, workerData: { nice: this.nice } });
    worker.on('message', (raw: unknown) => this.onMessage(raw));
    worker.on('error', (e) => {
      this.log(`[${this.name} worker] crashed: ${e.stack ?? e.message}`);
      if (this.worker === worker) this.worker = undefined;
      this.failAll(new WorkerError(`the ${this.name} worker crashed: ${e.message}`, undefined, true));
    });
    worker.on('exit', (code) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      if (this.jobs.size > 0) {
        this.log(`[${this.name} worker] exited with code ${code}`);
        this.failAll(new WorkerError(`the ${this.name} worker stopped unexpectedly (exit code ${code})`, undefined, true));
      }
    });
    this.worker = worker;
    return worker;
  }

  private onMessage(raw: unknown): void {
    const m = parseWorkerResponse(raw);
    if (typeof m === 'string') {
      this.log(`[${this.name} worker] ignored a malformed message: ${m}`);
      return;
    }
    if (m.kind === 'log') {
      this.log(`[${this.name} worker] ${m.message}`);
      return;
    }
    const job = this.jobs.get(m.id);
    if (!job) return;
    if (m.kind === 'result') {
      this.jobs.delete(m.id);
      job.resolve(m.value);
    } else if (m.kind === 'error') {
      this.jobs.delete(m.id);
      job.reject(new WorkerError(m.message, m.parts));
    } else job.onMessage?.(m);
  }

  private failAll(e: WorkerError): void {
    const jobs = [...this.jobs.values()];
    this.jobs.clear();
    for (const j of jobs) j.reject(e);
  }
}
