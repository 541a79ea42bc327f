import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { setWasmPaths, getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { existsSync, readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, sep } from 'node:path';
import { UserError } from '../../core/errors';
import { shareIdentityOnWasm } from './kernels/shared-identity';
import { loadAddon, nativeAddon, setNative } from './native';

export const BACKEND_CHOICES = ['auto', 'native', 'wasm', 'cpu', 'tensorflow'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];
export type BackendName = Exclude<BackendChoice, 'auto'>;

export interface EngineInfo {
  backend: BackendName;
  threads: number;
  /** The BLAS library doing the matmuls (native only). */
  blas?: string;
  /** Why a better backend was skipped, for the log. */
  skipped: string[];
}

let current: EngineInfo | undefined;
let starting: Promise<EngineInfo> | undefined;

/**
 * Starts TensorFlow.js on the best backend that loads: native (our addon on the wasm backend's
 * memory) → tensorflow (tfjs-node) → wasm → cpu.
 * Concurrent callers share one start: two racing initialisations of the wasm backend would make the
 * second fail and fall back to the 17× slower cpu backend.
 */
export async function startEngine(choice: BackendChoice = 'auto'): Promise<EngineInfo> {
  while (starting) await starting.catch(() => undefined);
  if (current && (choice === 'auto' || choice === current.backend)) return current;
  starting = start(choice);
  try {
    return await starting;
  } finally {
    starting = undefined;
  }
}

async function start(choice: BackendChoice): Promise<EngineInfo> {
  tf.enableProdMode(); // no per-op NaN checks, no console banners
  const order: BackendName[] = choice === 'auto' ? ['native', 'tensorflow', 'wasm', 'cpu'] : [choice];
  const skipped: string[] = [];
  for (const name of order) {
    const why = await tryBackend(name);
    if (why === undefined) {
      current = { backend: name, threads: threadsOf(name), skipped };
      if (name === 'native') current.blas = nativeAddon()?.info().blas;
      return current;
    }
    skipped.push(`${name}: ${why}`);
  }
  throw new UserError('backend "{0}" is not available here ({1})', choice, skipped.join('; '));
}

async function tryBackend(name: BackendName): Promise<string | undefined> {
  try {
    setNative(undefined);
    if (name === 'native') {
      const loaded = loadAddon();
      if ('why' in loaded) return loaded.why;
      setWasmPaths(wasmDir() + sep);
      if (!(await tf.setBackend('wasm'))) return 'the wasm backend it runs on did not initialise';
      shareIdentityOnWasm();
      setNative(loaded.addon, availableParallelism());
      return undefined;
    }
    if (name === 'tensorflow') {
      const why = loadTfjsNode();
      if (why) return why;
    } else if (name === 'wasm') {
      setWasmPaths(wasmDir() + sep);
    } else if (!tf.findBackendFactory('cpu')) {
      tf.registerBackend('cpu', () => new MathBackendCPU(), 1);
    }
    if (!(await tf.setBackend(name))) return 'it did not initialise';
    if (name === 'wasm') shareIdentityOnWasm();
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

// tfjs-node registers its backend in tfjs-core's global engine, which every copy of tfjs-core shares.
// Requiring it without its native binding prints a wall of warnings, so check the binding first.
function loadTfjsNode(): string | undefined {
  let pkgDir: string;
  try {
    pkgDir = dirname(require.resolve('@tensorflow/tfjs-node/package.json'));
  } catch {
    return '@tensorflow/tfjs-node is not installed';
  }
  const libDir = join(pkgDir, 'lib');
  const hasBinding =
    existsSync(libDir) && readdirSync(libDir).some((d) => d.startsWith('napi-v') && existsSync(join(libDir, d, 'tfjs_binding.node')));
  if (!hasBinding) return '@tensorflow/tfjs-node is installed without its native binding (libtensorflow)';
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('@tensorflow/tfjs-node');
  return tf.findBackendFactory('tensorflow') ? undefined : 'tfjs-node loaded but registered no backend';
}

/** The .wasm files sit next to the bundle in dist/; in unit tests they are read from the package. */
function wasmDir(): string {
  if (existsSync(join(__dirname, 'tfjs-backend-wasm-simd.wasm'))) return __dirname;
  return join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
}

/** Sets the native engine's threads (the CLI's --threads); returns how many it runs. */
export function setNativeThreads(n: number): number {
  const addon = nativeAddon();
  if (!addon || !current || current.backend !== 'native') return 1;
  current.threads = addon.setThreads(n);
  return current.threads;
}

function threadsOf(name: BackendName): number {
  if (name === 'native') return nativeAddon()?.info().threads ?? 1;
  if (name === 'wasm') return getThreadsCount();
  if (name === 'tensorflow') return availableParallelism();
  return 1;
}

export { tf };
