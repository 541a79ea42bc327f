import type { Baselines } from '../../src/core/metric-row';
import { ChartSeriesSet } from '../../src/extension/webview/protocol';
import { shownGzipBitsPerByte } from '../../src/core/gzip-baseline';

// The loss chart's units: nats per token (what training minimises), or bits per character / per
// UTF-8 byte of the held-out text (comparable across tokenizers), with the baselines to beat.

export type LossUnit = 'nats' | 'bpc' | 'bpb';

/** The factor from nats per token to `unit`, from the run's held-out text; undefined when the run has no baselines (an older run). */
export function unitFactor(run: ChartSeriesSet, unit: LossUnit): number | undefined {
  if (unit === 'nats') return 1;
  const b = run.baselines;
  if (!b) return undefined;
  return b.val_tokens / ((unit === 'bpc' ? b.val_chars : b.val_bytes) * Math.LN2);
}

/** The horizontal lines to draw, in `unit`: each baseline that applies to the run. */
export function baselineLines(b: Baselines, unit: LossUnit, strings: Record<string, string>): { label: string; value: number }[] {
  const perChar = b.val_chars / b.val_tokens;
  const perByte = b.val_bytes / b.val_tokens;
  // Everything to nats per token first, then to the unit shown.
  const fromNats = (nats: number) => (unit === 'nats' ? nats : unit === 'bpc' ? nats / Math.LN2 / perChar : nats / Math.LN2 / perByte);
  const lines = [
    { label: strings.baselineUniform ?? 'guessing evenly (ln |V|)', value: fromNats(b.uniform_loss) },
    { label: strings.baselineUnigram ?? 'character frequencies', value: fromNats(b.unigram_bits_per_char * Math.LN2 * perChar) },
  ];
  const gzip = shownGzipBitsPerByte(b, b.val_bytes);
  if (gzip !== undefined) lines.push({ label: strings.baselineGzip ?? 'gzip -9', value: fromNats(gzip * Math.LN2 * perByte) });
  if (b.init_val_loss !== undefined)
    lines.splice(1, 0, { label: strings.baselineInit ?? 'at initialisation', value: fromNats(b.init_val_loss) });
  return lines;
}

export function unitLabel(unit: LossUnit, strings: Record<string, string>): string {
  return unit === 'nats'
    ? (strings.unitNats ?? 'nats/token')
    : unit === 'bpc'
      ? (strings.unitBpc ?? 'bits/char')
      : (strings.unitBpb ?? 'bits/byte');
}

/** The unit picker of the toolbar. */
export function unitPicker(current: LossUnit, strings: Record<string, string>, onChange: (u: LossUnit) => void): HTMLElement {
  const label = document.createElement('label');
  label.append(`${strings.unit ?? 'Unit'} `);
  const select = document.createElement('select');
  select.id = 'loss-unit';
  for (const u of ['nats', 'bpc', 'bpb'] as const) {
    const o = document.createElement('option');
    o.value = u;
    o.textContent = unitLabel(u, strings);
    o.selected = u === current;
    select.append(o);
  }
  select.onchange = () => onChange(select.value as LossUnit);
  label.append(select);
  return label;
}

/** What the numbers are measured on, with the baselines as text (the lines' values, readable). */
export function baselineNote(run: ChartSeriesSet, unit: LossUnit, strings: Record<string, string>): HTMLElement {
  const box = document.createElement('section');
  box.id = 'baselines';
  box.className = 'baselines';
  const b = run.baselines;
  if (!b) {
    box.textContent = strings.noBaselines ?? '';
    return box;
  }
  const fmt = (n: number) => n.toLocaleString();
  const p = document.createElement('p');
  p.textContent = (strings.heldOut ?? '{0} tokens · {1} characters · {2} bytes')
    .replace('{0}', fmt(b.val_tokens))
    .replace('{1}', fmt(b.val_chars))
    .replace('{2}', fmt(b.val_bytes));
  const denominators = document.createElement('p');
  denominators.textContent = strings.denominators ?? '';
  const list = document.createElement('ul');
  for (const line of baselineLines(b, unit, strings)) {
    const li = document.createElement('li');
    li.textContent = `${line.label}: ${line.value.toFixed(3)} ${unitLabel(unit, strings)}`;
    list.append(li);
  }
  const heading = document.createElement('h3');
  heading.textContent = strings.baselines ?? 'To beat';
  box.append(heading, list);
  if (shownGzipBitsPerByte(b, b.val_bytes) === undefined)
    box.append(Object.assign(document.createElement('p'), { id: 'gzip-left-out', textContent: strings.gzipTooShort ?? '' }));
  box.append(p, denominators);
  return box;
}
