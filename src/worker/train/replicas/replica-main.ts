import { parentPort } from 'node:worker_threads';
import { startEngine, tf } from '../../engine/backend';
import { Gpt } from '../../model/gpt';
import { shardGradients } from '../train-step';
import { lowerThreadPriority } from '../../thread-priority';
import { FlatLayout, copyOut } from './flat-params';
import { FromReplica, ReplicaInit, ToReplica } from './protocol';
import { NamedTensors } from '../../../core/tensor';

// Entry of a gradient replica (dist/replica.js): a thread that computes the gradients of its
// shard of each batch with the primary's current weights. It keeps no optimizer state.
const port = parentPort;
if (!port) throw new Error('dist/replica.js runs as a worker thread');
const send = (m: FromReplica) => port.postMessage(m);

let init: ReplicaInit | undefined;
let layout: FlatLayout;
let weights: Float32Array;
let grads: Float32Array;
let model: Gpt | undefined;

port.on('message', (m: ToReplica) => {
  handle(m).catch((e: unknown) => send({ type: 'error', message: e instanceof Error ? e.message : String(e) }));
});

async function handle(m: ToReplica): Promise<void> {
  if (m.type === 'init') {
    init = m;
    if (m.nice > 0) send({ type: 'log', message: `replica ${m.index}: ${lowerThreadPriority(m.nice)}` });
    await startEngine('wasm');
    layout = new FlatLayout(m.names, m.shapes);
    weights = new Float32Array(m.weights);
    grads = new Float32Array(m.grads);
    send({ type: 'ready' });
    return;
  }
  if (!init) throw new Error('internal: replica stepped before init');
  loadWeights(init);
  const current = model as Gpt;
  tf.tidy(() => {
    const shard = shardGradients(current, m);
    layout.names.forEach((name, i) => copyOut(shard.grads[name], layout.view(grads, i)));
    grads[layout.total] = shard.loss.dataSync()[0];
  });
  send({ type: 'grads', step: m.step });
}

function loadWeights(init: ReplicaInit): void {
  if (!model) {
    const named: NamedTensors = new Map(layout.names.map((name, i) => [name, { shape: layout.shapes[i], data: layout.view(weights, i) }]));
    model = Gpt.fromWeights(init.config, named);
    return;
  }
  const params = model.params;
  tf.tidy(() =>
    layout.names.forEach((name, i) => params.get(name)?.assign(tf.tensor(layout.view(weights, i), layout.shapes[i], 'float32'))),
  );
}
