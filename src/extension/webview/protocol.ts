import { isObject } from '../../core/json';
import { MetricRow, isMetricRow } from '../../core/metric-row';
import type { Baselines } from '../../core/metric-row';
import type { VocabularyId } from '../../core/vocabulary';

export type { MetricRow };
// Messages between the extension and its webviews. Both sides validate what they receive:
// a malformed message is ignored (and logged by the extension).

export interface ChartSeriesSet {
  name: string;
  /** The run folder, kept in the webview's state so the chart comes back after a reload. */
  dir?: string;
  rows: MetricRow[];
  /** The held-out text's sizes and the losses to beat (runs from before they were recorded have none). */
  baselines?: Baselines;
  /** The run's tokenizer, from run.json. */
  tokenizer?: VocabularyId;
  /** An overlay whose vocabulary is not the main run's: its losses per token do not compare. */
  vocabularyDiffers?: boolean;
}

/** Runs drawn over the main one, each in its own colour. */
export const MAX_OVERLAYS = 3;

/** Fine-tuning on examples: the first one as the model sees it, in masked and trained runs, and the counts in words. */
export interface DataPreview {
  /** core/sft-preview's PreviewPart, written out: the webviews' build reaches no Node modules. */
  parts: { text: string; trained: boolean; separator?: boolean }[];
  title: string;
  summary: string;
  legend: string;
}

export type ToChart =
  | {
      type: 'init';
      run: ChartSeriesSet;
      overlays: ChartSeriesSet[];
      sample?: string;
      preview?: DataPreview;
      strings: Record<string, string>;
    }
  | { type: 'data'; preview: DataPreview }
  | { type: 'append'; rows: MetricRow[] }
  | { type: 'sample'; text: string; step: number }
  | { type: 'overlays'; overlays: ChartSeriesSet[] };

export type FromChart = { type: 'ready' } | { type: 'pickOverlay' } | { type: 'removeOverlay'; dir: string };

export interface TokenPiece {
  id: number;
  text: string;
  bytes: number[];
  fallback: boolean;
}

export type ToTokens =
  | {
      type: 'tokens';
      source: string;
      tokenizer: string;
      pieces: TokenPiece[];
      chars: number;
      truncated: boolean;
      strings: Record<string, string>;
    }
  | { type: 'empty'; message: string };

export type FromTokens = { type: 'ready' };

export function parseFromChart(m: unknown): FromChart | undefined {
  if (!isObject(m)) return undefined;
  if (m.type === 'removeOverlay') return typeof m.dir === 'string' ? { type: 'removeOverlay', dir: m.dir } : undefined;
  return m.type === 'ready' || m.type === 'pickOverlay' ? { type: m.type } : undefined;
}

export function parseFromTokens(m: unknown): FromTokens | undefined {
  return isObject(m) && m.type === 'ready' ? { type: 'ready' } : undefined;
}

function isSeriesSet(s: unknown): s is ChartSeriesSet {
  return (
    isObject(s) &&
    typeof s.name === 'string' &&
    (s.dir === undefined || typeof s.dir === 'string') &&
    Array.isArray(s.rows) &&
    s.rows.every(isMetricRow) &&
    (s.baselines === undefined || isBaselines(s.baselines)) &&
    (s.tokenizer === undefined ||
      (isObject(s.tokenizer) && typeof s.tokenizer.kind === 'string' && typeof s.tokenizer.vocabSize === 'number')) &&
    (s.vocabularyDiffers === undefined || typeof s.vocabularyDiffers === 'boolean')
  );
}

function isSeriesSets(s: unknown): s is ChartSeriesSet[] {
  return Array.isArray(s) && s.length <= MAX_OVERLAYS && s.every(isSeriesSet);
}

function isBaselines(b: unknown): b is Baselines {
  return (
    isObject(b) &&
    ['uniform_loss', 'unigram_bits_per_char', 'gzip_bits_per_byte', 'val_tokens', 'val_chars', 'val_bytes'].every(
      (k) => typeof b[k] === 'number' && (b[k] as number) > 0,
    )
  );
}

function isDataPreview(p: unknown): p is DataPreview {
  return (
    isObject(p) &&
    typeof p.summary === 'string' &&
    Array.isArray(p.parts) &&
    p.parts.every((x) => isObject(x) && typeof x.text === 'string' && typeof x.trained === 'boolean')
  );
}

export function parseToChart(m: unknown): ToChart | undefined {
  if (!isObject(m)) return undefined;
  switch (m.type) {
    case 'init':
      return isSeriesSet(m.run) && isSeriesSets(m.overlays) && isObject(m.strings) && (m.preview === undefined || isDataPreview(m.preview))
        ? (m as ToChart)
        : undefined;
    case 'data':
      return isDataPreview(m.preview) ? (m as ToChart) : undefined;
    case 'append':
      return Array.isArray(m.rows) && m.rows.every(isMetricRow) ? (m as ToChart) : undefined;
    case 'sample':
      return typeof m.text === 'string' && typeof m.step === 'number' ? (m as ToChart) : undefined;
    case 'overlays':
      return isSeriesSets(m.overlays) ? (m as ToChart) : undefined;
    default:
      return undefined;
  }
}

export function parseToTokens(m: unknown): ToTokens | undefined {
  if (!isObject(m)) return undefined;
  if (m.type === 'empty') return typeof m.message === 'string' ? (m as ToTokens) : undefined;
  if (m.type !== 'tokens' || !Array.isArray(m.pieces) || !isObject(m.strings)) return undefined;
  const ok = m.pieces.every(
    (p) =>
      isObject(p) && typeof p.id === 'number' && typeof p.text === 'string' && Array.isArray(p.bytes) && typeof p.fallback === 'boolean',
  );
  return ok ? (m as ToTokens) : undefined;
}
