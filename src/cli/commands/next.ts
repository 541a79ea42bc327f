import { parseCommand } from '../args';
import type { BackendChoice } from '../../worker/engine/backend';
import { printJson } from '../output';
import { loadModel } from '../../worker/jobs/load-model';
import { nextToken } from '../../worker/jobs/inspect-job';
import { shapeDistribution } from '../../core/distribution';
import { DEFAULT_GENERATE_OPTIONS, validateGenerateOptions } from '../../core/generate-options';

export async function nextCommand(argv: string[]): Promise<number> {
  const { options, positionals } = parseCommand('next', argv);
  const {
    prompt,
    topK = 10,
    temperature = 1,
    lens,
    base,
    backend,
    json,
  } = options as {
    prompt: string;
    topK?: number;
    temperature?: number;
    lens?: boolean;
    base?: string;
    backend?: BackendChoice;
    json?: boolean;
  };
  validateGenerateOptions({ ...DEFAULT_GENERATE_OPTIONS, topK, temperature });
  const loaded = await loadModel(positionals[0], backend, base);
  try {
    const r = await nextToken(loaded, { prompt, lens });
    const shaped = shapeDistribution(r.logits, { temperature, topK: 0, topP: 1 });
    const listed = topK > 0 ? shaped.order.slice(0, topK) : shaped.order;
    const candidates = listed.map((id) => ({ id, text: r.vocab[id], prob: shaped.probs[id], logit: r.logits[id] }));
    if (json) {
      printJson({
        prompt_tokens: r.promptTokens,
        entropy_bits: shaped.entropyBits,
        candidates,
        ...(r.lens ? { lens: r.lens } : {}),
        checkpoint: loaded.checkpoint,
      });
      return 0;
    }
    process.stdout.write(`${r.promptTokens} prompt tokens · entropy ${shaped.entropyBits.toFixed(3)} bits · temperature ${temperature}\n`);
    process.stdout.write(' rank      prob     logit     id  text\n');
    candidates.forEach((c, i) =>
      process.stdout.write(
        `${String(i + 1).padStart(5)} ${c.prob.toFixed(6).padStart(9)} ${c.logit.toFixed(3).padStart(9)} ${String(c.id).padStart(6)}  ${JSON.stringify(c.text)}\n`,
      ),
    );
    r.lens?.forEach((row, layer) =>
      process.stdout.write(`layer ${layer}: ${row.map((c) => `${JSON.stringify(c.text)} ${c.prob.toFixed(3)}`).join('  ')}\n`),
    );
  } finally {
    loaded.model.dispose();
  }
  return 0;
}
