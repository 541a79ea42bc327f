import { TrainEvent } from '../core/train-events';
import { info } from './output';
import { etaSeconds, formatDuration } from '../core/duration';
import { Baselines } from '../core/baselines';
import { dataSummary, previewHeading, previewText } from '../core/sft-preview';
import { formatBytes } from '../core/format-bytes';
import { GZIP_BASELINE_MIN_BYTES, shownGzipBitsPerByte } from '../core/gzip-baseline';
import type { PreparePhase } from '../core/prepared/prepare-corpus';

const PREPARE_PHASES: Record<PreparePhase, string> = {
  read: 'reading the corpus',
  encode: 'preparing the corpus (token ids)',
  verify: 'checking the prepared token ids',
};

function prepareText(e: Extract<TrainEvent, { type: 'prepare' }>): string {
  const percent = e.total > 0 ? Math.floor((100 * e.done) / e.total) : 100;
  const eta = e.eta_s === undefined || e.done >= e.total ? '' : `, ETA ${formatDuration(e.eta_s)}`;
  return `${PREPARE_PHASES[e.phase]}: ${formatBytes(e.done)} of ${formatBytes(e.total)} (${percent}%)${eta}`;
}

function bitsText(e: { val_bits_per_char?: number; val_bits_per_byte?: number }): string {
  return e.val_bits_per_char === undefined || e.val_bits_per_byte === undefined
    ? ''
    : ` (${e.val_bits_per_char.toFixed(3)} bits/char, ${e.val_bits_per_byte.toFixed(3)} bits/byte)`;
}

/** The numbers a run has to beat, on the held-out text its validation loss is measured on. */
export function describeBaselines(b: Baselines): string {
  const init = b.init_val_loss === undefined ? '' : `, ${b.init_val_loss.toFixed(3)} measured at initialisation`;
  return (
    `held-out text: ${b.val_tokens} tokens = ${b.val_chars} characters (code points) = ${b.val_bytes} UTF-8 bytes; to beat: ` +
    `${b.uniform_loss.toFixed(3)} nats/token guessing evenly (ln |V|${init}) · ${b.unigram_bits_per_char.toFixed(3)} bits/char from character frequencies · ` +
    gzipText(b, b.val_bytes)
  );
}

/** gzip -9's figure, or why it is left out (shownGzipBitsPerByte). */
export function gzipText(b: { gzip_bits_per_byte: number }, heldOutBytes: number): string {
  const gzip = shownGzipBitsPerByte(b, heldOutBytes);
  return gzip === undefined
    ? `gzip -9 left out (the held-out text is under ${GZIP_BASELINE_MIN_BYTES / 1024} KiB, too short for gzip to mean anything)`
    : `${gzip.toFixed(3)} bits/byte by gzip -9`;
}

/** Human progress for `train` without --json: a redrawn bar on a terminal, plain lines otherwise. */
export class TrainProgress {
  private total = 0;
  private firstStep = 0;
  private startedAt = 0;
  private valLoss = NaN;
  private readonly tty = Boolean(process.stderr.isTTY);

  onEvent(e: TrainEvent): void {
    switch (e.type) {
      case 'start': {
        const p = e.plan;
        this.total = p.totalSteps;
        this.firstStep = e.step;
        this.startedAt = performance.now();
        info(
          `${e.resumed_from ? `resuming from ${e.resumed_from} at step ${e.step}` : 'training'}: ` +
            `${e.params.toLocaleString('en-US')} parameters, ${p.model.layers} layers × ${p.model.heads} heads × ${p.model.width} wide, context ${p.model.context}, ` +
            `${p.trainTokens.toLocaleString('en-US')} training tokens, ${p.stepsPerEpoch} steps per epoch, ${p.totalSteps} steps · ${e.backend} (${e.threads} thread${e.threads === 1 ? '' : 's'}${e.blas ? `, ${e.blas}` : ''})`,
        );
        if (e.trainable_params < e.params) {
          info(
            `trainable: ${e.trainable_params.toLocaleString('en-US')} of ${e.params.toLocaleString('en-US')} parameters (${((100 * e.trainable_params) / e.params).toFixed(2)}%); the rest is the frozen base`,
          );
        }
        info(`run folder: ${e.run_dir}`);
        if (e.baselines) info(describeBaselines(e.baselines));
        break;
      }
      case 'step':
        if (this.tty) this.draw(e.step, e.epoch, e.loss, e.tokens_per_s);
        break;
      case 'eval':
        this.valLoss = e.val_loss;
        this.line(
          `step ${e.step}: loss ${e.loss.toFixed(4)}, val loss ${e.val_loss.toFixed(4)}${e.base_val_loss !== undefined ? `, base corpus val loss ${e.base_val_loss.toFixed(4)}` : ''}${bitsText(e)}${e.sample ? `\n  sample: ${JSON.stringify(e.sample.slice(0, 120))}` : ''}`,
        );
        break;
      case 'data':
        info(dataSummary(e));
        info(`${previewHeading(e, this.tty)}\n${previewText(e.first.parts, this.tty)}`);
        break;
      case 'prepare':
        this.prepared(e);
        break;
      case 'notice':
        this.line(`step ${e.step}: ${e.message}`);
        break;
      case 'checkpoint':
        this.line(`checkpoint (${e.reason}) at step ${e.step}: ${e.path}`);
        break;
      case 'done':
        this.line(
          `${e.reason === 'cancelled' ? 'stopped' : 'done'} at step ${e.step} in ${formatDuration(e.elapsed_s)}: ` +
            `loss ${e.loss.toFixed(4)}, val loss ${e.val_loss.toFixed(4)} → ${e.checkpoint}`,
        );
        break;
    }
  }

  private draw(step: number, epoch: number, loss: number, tokensPerSecond: number): void {
    const done = step / this.total;
    const width = 24;
    const filled = Math.round(done * width);
    const seconds = (performance.now() - this.startedAt) / 1000;
    const eta = etaSeconds(this.total - step, step - this.firstStep, seconds);
    const bar = '='.repeat(Math.max(0, filled - 1)) + (filled > 0 ? '>' : '') + ' '.repeat(width - filled);
    const val = Number.isNaN(this.valLoss) ? '' : ` val ${this.valLoss.toFixed(3)}`;
    process.stderr.write(
      `\r[${bar}] ${step}/${this.total} ep ${epoch} loss ${loss.toFixed(3)}${val} ${Math.round(tokensPerSecond)} tok/s${eta === undefined ? '' : ` ETA ${formatDuration(eta)}`}\x1b[K`,
    );
  }

  private lastPrepareLine = -Infinity;

  /**
   * Only a preparation that takes a while is shown (so a refusal that follows a quick one is still
   * the one line on stderr): redrawn on a terminal and cleared when done; otherwise a line every 5 s
   * and one at the end.
   */
  private prepared(e: Extract<TrainEvent, { type: 'prepare' }>): void {
    const done = e.done >= e.total;
    if (this.tty) {
      if (e.elapsed_s >= 1) process.stderr.write(done ? '\r\x1b[K' : `\r${prepareText(e)}\x1b[K`);
      return;
    }
    if (e.elapsed_s < 5 || (!done && e.elapsed_s - this.lastPrepareLine < 5)) return;
    this.lastPrepareLine = done ? -Infinity : e.elapsed_s;
    process.stderr.write(`${prepareText(e)}\n`);
  }

  private line(text: string): void {
    process.stderr.write(this.tty ? `\r\x1b[K${text}\n` : `${text}\n`);
  }
}
