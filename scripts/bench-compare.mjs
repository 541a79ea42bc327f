// Side-by-side training speed: `corpus-lab bench` (standard config) against the PyTorch peer
// (../shared/bench/torch_gpt.py, same config, char-level tinyshakespeare), interleaved A/B/A/B in
// one run. The peer is measured at 1 thread and at all cores and its better figure is the
// reference (docs/tfjs-notes.md: OpenMP at 2 threads collapses when anything else holds a core).
//
// With --peer-python PY (a Python with torch 2.x), the same peer also runs on it in each round as
// eager, --sdpa and --sdpa --compile (nanoGPT's paths), each at 1 thread and at all cores; every
// variant's median is printed and the ratio is against the best of all peers measured.
//
// With --gpt2, also the GPT-2-small shape (12 layers, 12 heads, width 768, context 128, batch 4,
// vocab 50257; random tokens) against ../shared/bench/torch_finetune.py --mode full: speed and
// peak RSS (from /usr/bin/time -v), one run each.
//
// usage: node scripts/bench-compare.mjs [--rounds 3] [--steps 30] [--python /usr/bin/python3]
//          [--peer-python /work/venv/bin/python] [--batch 12] [--peer ../shared/bench/torch_gpt.py] [--corpus ../shared/corpora/tinyshakespeare.txt]
//          [--backend auto|native|wasm] [--gpt2] [--gpt2-steps 4] [--json]
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: a } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    steps: { type: 'string', default: '30' },
    python: { type: 'string', default: '/usr/bin/python3' },
    'peer-python': { type: 'string' },
    batch: { type: 'string' },
    peer: { type: 'string', default: join(repo, '../shared/bench/torch_gpt.py') },
    corpus: { type: 'string', default: join(repo, '../shared/corpora/tinyshakespeare.txt') },
    json: { type: 'boolean', default: false },
    backend: { type: 'string', default: 'auto' },
    gpt2: { type: 'boolean', default: false },
    'gpt2-steps': { type: 'string', default: '4' },
    'finetune-peer': { type: 'string', default: join(repo, '../shared/bench/torch_finetune.py') },
  },
});
const rounds = Number(a.rounds);
const steps = Number(a.steps);
const cores = availableParallelism();

const batchArgs = a.batch ? ['--batch', a.batch] : [];

function ours() {
  const out = execFileSync(
    process.execPath,
    [join(repo, 'dist/cli.js'), 'bench', '--steps', String(steps), '--backend', a.backend, ...batchArgs, '--json'],
    { encoding: 'utf8' },
  );
  return JSON.parse(out.trim().split('\n').pop());
}

/** Why `python` cannot run the peer (undefined when it can); `major` asks for at least that torch. */
function peerUnavailable(python, major) {
  if (!existsSync(a.peer)) return `${a.peer} not found`;
  if (!existsSync(a.corpus)) return `${a.corpus} not found`;
  try {
    const version = execFileSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8', stdio: 'pipe' }).trim();
    if (Number(version.split('.')[0]) < major) return `${python} has torch ${version}, not ${major}.x`;
    return undefined;
  } catch {
    return `PyTorch is not importable by ${python} (apt-get install -y python3-torch python3-numpy libopenblas0-openmp)`;
  }
}

// Each peer variant: a Python, the script's flags and a thread count.
const threadChoices = [...new Set([1, cores])];
const plural = (t) => `${t} thread${t > 1 ? 's' : ''}`;
const variantsOf = (python, label, flagSets) =>
  flagSets.flatMap(([name, flags]) =>
    threadChoices.map((threads) => ({ python, label: `${label}${name}, ${plural(threads)}`, flags, threads })),
  );
const why = peerUnavailable(a.python, 1);
const why2 = a['peer-python'] ? peerUnavailable(a['peer-python'], 2) : undefined;
if (why2) {
  console.error(`bench-compare: --peer-python: ${why2}`);
  process.exit(2);
}
const variants = [
  ...(why ? [] : variantsOf(a.python, 'pytorch', [['', []]])),
  ...(a['peer-python']
    ? variantsOf(a['peer-python'], 'pytorch 2', [
        [' eager', []],
        [' + sdpa', ['--sdpa']],
        [' + sdpa + compile', ['--sdpa', '--compile']],
      ])
    : []),
];

function peer(v) {
  const out = execFileSync(
    v.python,
    [a.peer, a.corpus, '--steps', String(steps), '--threads', String(v.threads), ...batchArgs, ...v.flags],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  return JSON.parse(out.trim().split('\n').pop());
}

const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y);
  const m = Math.floor(s.length / 2);
  return Math.round((s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2) * 100) / 100;
};
const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

const runs = { ours: [], peer: variants.map(() => []), load: [] };
for (let r = 1; r <= rounds; r++) {
  const before = load();
  const o = ours();
  runs.ours.push(o);
  const line = [`round ${r} (load ${before}): corpus-lab ${o.ms_per_step} ms/step (${o.backend}, ${plural(o.threads)})`];
  variants.forEach((v, i) => {
    const p = peer(v);
    runs.peer[i].push(p);
    line.push(`${v.label} ${p.ms_per_step}`);
  });
  runs.load.push(before);
  if (!a.json) console.log(line.join(' · '));
}

const oursTps = median(runs.ours.map((o) => o.tokens_per_s));
const measured = variants.map((v, i) => ({
  peer: v.label,
  torch: runs.peer[i][0].torch,
  blas: runs.peer[i][0].blas,
  threads: v.threads,
  ms_per_step: median(runs.peer[i].map((p) => p.ms_per_step)),
  tokens_per_s: median(runs.peer[i].map((p) => p.tokens_per_s)),
}));
const summary = {
  config: runs.ours[0].config,
  params: runs.ours[0].params,
  corpus_lab: {
    backend: runs.ours[0].backend,
    threads: runs.ours[0].threads,
    ms_per_step: median(runs.ours.map((o) => o.ms_per_step)),
    tokens_per_s: oursTps,
  },
  pytorch: measured.length === 0 ? { unavailable: why } : { variants: measured },
  load_average: runs.load,
  rounds,
  steps,
};
if (measured.length > 0) {
  const best = measured.reduce((x, y) => (y.tokens_per_s > x.tokens_per_s ? y : x));
  summary.pytorch.best = best;
  summary.ratio = Math.round((oursTps / best.tokens_per_s) * 1000) / 1000;
}

// One command under /usr/bin/time -v: its last JSON line and its peak RSS in MB (undefined without GNU time).
function timed(cmd, args) {
  const haveTime = existsSync('/usr/bin/time');
  const r = spawnSync(haveTime ? '/usr/bin/time' : cmd, haveTime ? ['-v', cmd, ...args] : args, { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr.slice(-2000)}`);
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr);
  return { ...JSON.parse(r.stdout.trim().split('\n').pop()), peak_rss_mb: rss ? Math.round(Number(rss[1]) / 1024) : undefined };
}

if (a.gpt2) {
  const shape = { layers: 12, heads: 12, width: 768, context: 128, batch: 4, vocab: 50257 };
  const shapeArgs = Object.entries(shape).flatMap(([k, v]) => [`--${k}`, String(v)]);
  const o = timed(process.execPath, [
    join(repo, 'dist/cli.js'),
    'bench',
    ...shapeArgs,
    '--steps',
    a['gpt2-steps'],
    '--backend',
    a.backend,
    '--json',
  ]);
  const row = {
    shape,
    corpus_lab: {
      backend: o.backend,
      threads: o.threads,
      ms_per_step: o.ms_per_step,
      tokens_per_s: o.tokens_per_s,
      peak_rss_mb: o.peak_rss_mb,
    },
  };
  if (!why && existsSync(a['finetune-peer'])) {
    // The peer's better of 1 thread and all cores, as for the standard config.
    const tries = threadChoices.map((t) =>
      timed(a.python, [a['finetune-peer'], '--mode', 'full', ...shapeArgs, '--steps', a['gpt2-steps'], '--threads', String(t)]),
    );
    const p = tries.reduce((best, x) => (x.tokens_per_s > best.tokens_per_s ? x : best));
    row.pytorch = {
      ms_per_step: p.ms_per_step,
      tokens_per_s: p.tokens_per_s,
      threads: p.threads,
      peak_rss_mb: p.peak_rss_mb,
      tried: tries.map((x) => ({ threads: x.threads, ms_per_step: x.ms_per_step, peak_rss_mb: x.peak_rss_mb })),
    };
    row.ratio = Math.round((o.tokens_per_s / p.tokens_per_s) * 1000) / 1000;
  } else row.pytorch = { unavailable: why ?? `${a['finetune-peer']} not found` };
  summary.gpt2_small = row;
}

if (a.json) console.log(JSON.stringify(summary));
else {
  const fmt = (n) => Math.round(n).toLocaleString('en-US');
  console.log('');
  console.log(
    `${runs.ours[0].standard ? 'standard config' : 'model'}: ${summary.config.layers} layers, ${summary.config.heads} heads, width ${summary.config.width}, context ${summary.config.context}, batch ${summary.config.batch} (${summary.params.toLocaleString('en-US')} params); medians of ${rounds} rounds × ${steps} steps`,
  );
  console.log(
    `corpus-lab (${summary.corpus_lab.backend}, ${summary.corpus_lab.threads} thread(s)): ${summary.corpus_lab.ms_per_step} ms/step, ${fmt(oursTps)} tokens/s`,
  );
  if (measured.length === 0) console.log(`pytorch: not measured: ${why}`);
  else {
    for (const p of measured)
      console.log(`${p.peer} (torch ${p.torch}, ${p.blas}): ${p.ms_per_step} ms/step, ${fmt(p.tokens_per_s)} tokens/s`);
    console.log(`best pytorch: ${summary.pytorch.best.peer}; ratio (corpus-lab ÷ best pytorch, tokens/s): ${summary.ratio.toFixed(3)}`);
  }
  console.log(`load average (1, 5, 15 min) before each round: ${runs.load.join(' · ')}`);
  const g = summary.gpt2_small;
  if (g) {
    const mb = (x) => (x === undefined ? '?' : `${x.toLocaleString('en-US')} MB`);
    console.log('');
    console.log(`GPT-2-small shape (12 layers, 12 heads, width 768, context 128, batch 4, vocab 50257), ${a['gpt2-steps']} steps:`);
    console.log(
      `corpus-lab (${g.corpus_lab.backend}, ${g.corpus_lab.threads} thread(s)): ${g.corpus_lab.ms_per_step} ms/step, ${g.corpus_lab.tokens_per_s} tokens/s, peak RSS ${mb(g.corpus_lab.peak_rss_mb)}`,
    );
    if (g.pytorch.unavailable) console.log(`pytorch: not measured: ${g.pytorch.unavailable}`);
    else {
      for (const t of g.pytorch.tried)
        console.log(`pytorch full fine-tune, ${t.threads} thread(s): ${t.ms_per_step} ms/step, peak RSS ${mb(t.peak_rss_mb)}`);
      console.log(`pytorch's best: ${g.pytorch.threads} thread(s), ${g.pytorch.tokens_per_s} tokens/s`);
      console.log(
        `ratio (corpus-lab ÷ pytorch, tokens/s): ${g.ratio.toFixed(3)}; peak RSS ÷ pytorch's: ${g.corpus_lab.peak_rss_mb && g.pytorch.peak_rss_mb ? (g.corpus_lab.peak_rss_mb / g.pytorch.peak_rss_mb).toFixed(3) : '?'}`,
      );
    }
  }
}
