import { isObject } from '../../core/json';
import type { RunComparison, SettingKey } from '../../core/run-comparison';

// Messages of the Compare Runs panel (both sides validate what they receive).

export interface CompareData {
  comparison: RunComparison;
  /** The prompt the samples start from (the first line of the first run's corpus). */
  prompt: string;
  seed: number;
  strings: Record<string, string>;
  /** Each setting's name in the display language (the table shows the key on hover). */
  settingNames: Record<SettingKey, string>;
}

/** One run's sample: the text after the prompt, or why there is none. */
export interface RunSample {
  name: string;
  model?: string;
  text?: string;
  error?: string;
}

export type ToCompare =
  ({ type: 'show' } & CompareData) | { type: 'samples'; prompt: string; seed: number; samples: RunSample[]; busy: boolean };

export type FromCompare =
  { type: 'ready' } | { type: 'sample'; prompt: string; seed: number } | { type: 'repeatSeeds' } | { type: 'openChart' };

export function parseFromCompare(m: unknown): FromCompare | undefined {
  if (!isObject(m)) return undefined;
  if (m.type === 'sample')
    return typeof m.prompt === 'string' && Number.isInteger(m.seed) && (m.seed as number) >= 0
      ? { type: 'sample', prompt: m.prompt, seed: m.seed as number }
      : undefined;
  return m.type === 'ready' || m.type === 'repeatSeeds' || m.type === 'openChart' ? { type: m.type } : undefined;
}

export function parseToCompare(m: unknown): ToCompare | undefined {
  if (!isObject(m)) return undefined;
  if (m.type === 'show')
    return isObject(m.comparison) && Array.isArray(m.comparison.runs) && typeof m.prompt === 'string' && isObject(m.strings)
      ? (m as ToCompare)
      : undefined;
  if (m.type === 'samples')
    return typeof m.prompt === 'string' && Array.isArray(m.samples) && m.samples.every((s) => isObject(s) && typeof s.name === 'string')
      ? (m as ToCompare)
      : undefined;
  return undefined;
}
