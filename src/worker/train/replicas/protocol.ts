import { ModelConfig } from '../../../core/model-config';

// Messages between the training thread (primary) and its gradient replicas. Bulk data (weights,
// gradients) goes through SharedArrayBuffers laid out by FlatLayout; messages only signal.

export interface ReplicaInit {
  type: 'init';
  /** 1-based: the primary is replica 0. */
  index: number;
  config: ModelConfig;
  names: string[];
  shapes: number[][];
  /** The weights, flat; the primary writes them before each step. */
  weights: SharedArrayBuffer;
  /** This replica's gradients, flat, then its loss. */
  grads: SharedArrayBuffer;
  /** The primary thread's nice value, which the replica takes on. */
  nice: number;
}

export interface ReplicaStep {
  type: 'step';
  /** Sequence number, echoed back. */
  step: number;
  inputs: Int32Array;
  targets: Int32Array;
  rows: number;
  /** The shard's share of the batch (rows / batch): its mean loss is scaled by it, so gradients add up. */
  lossScale: number;
  dropoutSeed?: number;
}

export type ToReplica = ReplicaInit | ReplicaStep;

export type FromReplica =
  { type: 'ready' } | { type: 'grads'; step: number } | { type: 'error'; message: string } | { type: 'log'; message: string };
