import * as vscode from 'vscode';
import { basename, join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { readRegularFileAsync } from '../../core/safe-fs';
import { createHash } from 'node:crypto';
import { Ctx } from '../ctx';
import { RunsNode, valLabel } from '../runs-tree';
import { listRuns } from '../../core/runs';
import { RunJson, parseRunJson } from '../../core/run-json';
import { ExperimentChange, experimentArm, moreSeeds, otherArch, otherNorm, repeatRequest } from '../../core/experiments';
import { ComparePanel } from '../webview/compare-panel';
import { QueuedRun, trainQueue } from '../training-queue';
import { withParticles } from '../l10n';
import { errorText } from '../error-text';
import type { CompareData } from '../webview/compare-protocol';

/** The Compare Runs picker takes this many runs (issue 13); experiments may open the panel on more. */
const MIN_PICK = 2;
const MAX_PICK = 4;

/**
 * Compare Runs…: from the Runs view (the clicked run, or the selected runs) or the palette. A pick
 * of the runs opens with the clicked run chosen; `options.runDirs` answers for tests.
 */
export function compareRunsCommand(ctx: Ctx) {
  return async (node?: RunsNode, selected?: RunsNode[] | { runDirs?: string[] }): Promise<CompareData | undefined> => {
    const fromSelection = Array.isArray(selected) ? selected.filter((n) => n.kind === 'run').map((n) => n.path) : [];
    let dirs =
      !Array.isArray(selected) && selected?.runDirs ? selected.runDirs : fromSelection.length >= MIN_PICK ? fromSelection : undefined;
    if (!dirs) {
      const runs = (await listRuns(ctx.runsRoot())).filter((r) => r.status !== 'unreadable');
      if (runs.length < MIN_PICK) {
        vscode.window.showInformationMessage(vscode.l10n.t('Compare needs at least two runs: train another one first.'));
        return undefined;
      }
      const clicked = node && 'run' in node ? node.run.dir : undefined;
      const picked = await vscode.window.showQuickPick(
        runs.map((r) => ({
          label: r.name,
          description: [
            r.tokenizer ? `${r.tokenizer.kind} ${r.tokenizer.vocabSize}` : '',
            r.valLoss !== undefined ? valLabel(r.valLoss) : '',
          ]
            .filter(Boolean)
            .join(' · '),
          picked: r.dir === clicked,
          dir: r.dir,
        })),
        { canPickMany: true, title: vscode.l10n.t('Compare Runs'), placeHolder: vscode.l10n.t('Choose 2 to 4 runs') },
      );
      if (!picked) return undefined;
      dirs = picked.map((p) => p.dir);
    }
    if (dirs.length < MIN_PICK || dirs.length > (selected && !Array.isArray(selected) ? Infinity : MAX_PICK)) {
      vscode.window.showWarningMessage(vscode.l10n.t('Choose 2 to 4 runs to compare (you chose {0}).', dirs.length));
      return undefined;
    }
    return ComparePanel.show(ctx, dirs);
  };
}

/** LayerNorm vs DyT: trains the run's twin with only the norm flipped (same seed, data, steps), then compares the two. */
export function normExperimentCommand(ctx: Ctx) {
  return async (node?: RunsNode): Promise<CompareData | undefined> => {
    const dir = runDirOf(node);
    const run = dir && (await repeatableRun(dir));
    if (!dir || !run) return undefined;
    let norm;
    try {
      norm = otherNorm(run.plan.model);
    } catch (e) {
      vscode.window.showInformationMessage(errorText(e));
      return undefined;
    }
    return twinExperiment(ctx, dir, run, { norm });
  };
}

/** GPT-2 block vs Llama block: trains the run's twin with the other blocks at the same parameter budget (same seed, data, steps), then compares the two. */
export function archExperimentCommand(ctx: Ctx) {
  return async (node?: RunsNode): Promise<CompareData | undefined> => {
    const dir = runDirOf(node);
    const run = dir && (await repeatableRun(dir));
    if (!dir || !run) return undefined;
    return twinExperiment(ctx, dir, run, { arch: otherArch(run.plan.model) });
  };
}

async function twinExperiment(ctx: Ctx, dir: string, run: RunJson, change: ExperimentChange): Promise<CompareData | undefined> {
  const outcome = await trainQueue(ctx, [queued(ctx, dir, run, change)]);
  if (!outcome?.completed) return undefined;
  return ComparePanel.show(ctx, [dir, ...outcome.runDirs]);
}

/** Repeat with Two More Seeds: each run (or each group of runs that differ only by seed) twice more, then compares them all. */
export function moreSeedsCommand(ctx: Ctx) {
  return async (node?: RunsNode | { runDirs: string[] }): Promise<CompareData | undefined> => {
    const dirs = node && 'runDirs' in node ? node.runDirs : [runDirOf(node)].filter((d): d is string => d !== undefined);
    if (!dirs.length) {
      vscode.window.showInformationMessage(vscode.l10n.t('Choose a run in the Runs view.'));
      return undefined;
    }
    const runs: RunJson[] = [];
    for (const d of dirs) {
      const run = await repeatableRun(d);
      if (!run) return undefined;
      runs.push(run);
    }
    const plan = moreSeeds(runs);
    const outcome = await trainQueue(
      ctx,
      plan.map(({ template, seed }) => queued(ctx, dirs[template], runs[template], { seed })),
    );
    if (!outcome?.completed) return undefined;
    return ComparePanel.show(ctx, [...dirs, ...outcome.runDirs]);
  };
}

function runDirOf(node?: RunsNode): string | undefined {
  if (node?.kind === 'run') return node.path;
  if (node && 'run' in node) return node.run.dir;
  vscode.window.showInformationMessage(vscode.l10n.t('Choose a run in the Runs view.'));
  return undefined;
}

/** The run in `dir` trained again with `change`, recorded as an arm of an experiment on it. */
function queued(ctx: Ctx, dir: string, run: RunJson, change: ExperimentChange): QueuedRun {
  const request = { ...repeatRequest(run, change), experiment: experimentArm(dir, change), runsRoot: ctx.runsRoot() };
  return { target: vscode.Uri.file(run.corpus.path), request };
}

/** The run's run.json when it can be trained again as it was: from scratch, on its corpus as it was. Otherwise says why. */
async function repeatableRun(dir: string): Promise<RunJson | undefined> {
  const name = basename(dir);
  const path = join(dir, 'run.json');
  let run: RunJson;
  try {
    run = parseRunJson(await readRegularFileAsync(path), path);
  } catch {
    vscode.window.showErrorMessage(withParticles(vscode.l10n.t('Cannot repeat {0}: its run.json is missing or damaged.', name)));
    return undefined;
  }
  if (run.finetune) {
    vscode.window.showInformationMessage(
      withParticles(vscode.l10n.t('{0} is a fine-tuning run: experiments repeat runs trained from scratch.', name)),
    );
    return undefined;
  }
  const text = await readFile(run.corpus.path).catch(() => undefined);
  if (!text) {
    vscode.window.showErrorMessage(withParticles(vscode.l10n.t('Cannot repeat {0}: its corpus {1} is gone.', name, run.corpus.path)));
    return undefined;
  }
  if (createHash('sha256').update(text).digest('hex') !== run.corpus.sha256) {
    vscode.window.showWarningMessage(
      withParticles(
        vscode.l10n.t(
          '{0} has changed since {1} was trained on it: a repeat would not see the same data. Train a new run on the file as it is now, then repeat that one.',
          basename(run.corpus.path),
          name,
        ),
      ),
    );
    return undefined;
  }
  return run;
}
