import { parseCommand } from '../args';
import type { BackendChoice } from '../../worker/engine/backend';
import { printJson } from '../output';
import { loadModel } from '../../worker/jobs/load-model';
import { attentionMaps } from '../../worker/jobs/inspect-job';

export async function attentionCommand(argv: string[]): Promise<number> {
  const { options, positionals } = parseCommand('attention', argv);
  const { prompt, base, backend, json } = options as { prompt: string; base?: string; backend?: BackendChoice; json?: boolean };
  const loaded = await loadModel(positionals[0], backend, base);
  try {
    const r = await attentionMaps(loaded, prompt);
    const tokens = r.tokens.map(({ id, text }) => ({ id, text }));
    // Query head j reads key/value head kvHeadOf[j] (grouped-query attention); GPT-2's heads each have their own.
    const kvHeadOf = r.kvHeads ?? Array.from({ length: loaded.model.config.heads }, (_, j) => j);
    const kvHeads = new Set(kvHeadOf).size;
    if (json) {
      printJson({
        tokens,
        attention: r.attention,
        kv_heads: kvHeads,
        group_size: kvHeadOf.length / kvHeads,
        kv_head_of_head: kvHeadOf,
        checkpoint: loaded.checkpoint,
      });
      return 0;
    }
    // Without --json: where the last token looks, per layer and head (its three largest weights).
    process.stdout.write(`${tokens.length} tokens; the last, ${JSON.stringify(tokens.at(-1)!.text)}, attends to:\n`);
    r.attention.forEach((heads, l) =>
      heads.forEach((rows, h) => {
        const row = rows.at(-1)!;
        const top = row
          .map((w, k) => ({ w, k }))
          .sort((a, b) => b.w - a.w)
          .slice(0, 3);
        process.stdout.write(
          `layer ${l} head ${h}${r.kvHeads ? ` (kv ${kvHeadOf[h]})` : ''}: ${top.map(({ w, k }) => `${JSON.stringify(tokens[k].text)}@${k} ${w.toFixed(3)}`).join('  ')}\n`,
        );
      }),
    );
  } finally {
    loaded.model.dispose();
  }
  return 0;
}
