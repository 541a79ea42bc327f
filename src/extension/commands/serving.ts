import * as vscode from 'vscode';
import { basename } from 'node:path';
import { Ctx, modelName } from '../ctx';
import { resolveCheckpointAsync } from '../../core/checkpoint';
import { valLabel } from '../runs-tree';
import { shortReason } from '../status-bar';
import { languageSample } from '../serving-model';
import { showError } from './util';

interface MenuItem extends vscode.QuickPickItem {
  run: () => Promise<unknown> | unknown;
}

/**
 * Choose Model for This File (also the status bar's click): automatic, or one of the models, kept
 * for this file across reloads; then setting the default model and turning completion on or off.
 * `model` answers the pick for tests: a model path, or null for automatic.
 */
export function chooseModelForFileCommand(ctx: Ctx) {
  return async (uri?: vscode.Uri, model?: string | null): Promise<string | null | undefined> => {
    const doc = uri instanceof vscode.Uri ? undefined : vscode.window.activeTextEditor?.document;
    const target = uri instanceof vscode.Uri ? uri : doc?.uri;
    if (model !== undefined) {
      if (!target) return undefined;
      return (await chooseFor(ctx, target, model ?? undefined)) ? model : undefined;
    }
    const items: (MenuItem | vscode.QuickPickItem)[] = [];
    if (target) {
      const file = basename(target.path);
      const chosen = ctx.serving.chosenFor(target);
      const serving = doc && (await ctx.serving.forDocument(doc));
      const automatic = chosen ? undefined : serving;
      items.push({
        label: `${chosen ? '' : '$(check) '}${vscode.l10n.t('Automatic')}`,
        description: automatic ? `${modelName(automatic.model)} · ${shortReason(automatic)}` : '',
        detail: vscode.l10n.t('The model trained on this file, else the one that knows its letters best, else the default model.'),
        run: () => chooseFor(ctx, target, undefined),
      });
      items.push({ label: vscode.l10n.t('Models for {0}', file), kind: vscode.QuickPickItemKind.Separator });
      const sample = doc ? languageSample(doc) : '';
      for (const c of await ctx.serving.candidates()) {
        const unknown = sample ? await ctx.serving.unknownShare(c.model, sample) : undefined;
        const best = c.run?.checkpoints.find((k) => k.dir === c.model);
        items.push({
          label: `${chosen === c.model ? '$(check) ' : ''}${modelName(c.model)}`,
          description: [
            best?.valLoss !== undefined ? valLabel(best.valLoss) : '',
            unknown !== undefined ? vscode.l10n.t('knows {0}% of its letters', Math.round((1 - unknown) * 100)) : '',
            c.model === ctx.activeModel ? vscode.l10n.t('default model') : '',
          ]
            .filter(Boolean)
            .join(' · '),
          detail: c.run?.corpus ? vscode.l10n.t('trained on {0}', basename(c.run.corpus)) : undefined,
          run: () => chooseFor(ctx, target, c.model),
        });
      }
      items.push({ label: '', kind: vscode.QuickPickItemKind.Separator });
    }
    items.push(
      {
        label: `$(star-empty) ${vscode.l10n.t('Set Active Model (the default for other files)…')}`,
        run: () => vscode.commands.executeCommand('corpusLab.setActiveModel'),
      },
      {
        label: ctx.config.completionEnabled
          ? `$(circle-slash) ${vscode.l10n.t('Turn Inline Completion Off')}`
          : `$(sparkle) ${vscode.l10n.t('Turn Inline Completion On')}`,
        run: () => vscode.commands.executeCommand('corpusLab.toggleInlineCompletion'),
      },
    );
    const picked = await vscode.window.showQuickPick(items, {
      title: target ? vscode.l10n.t('Model for {0}', basename(target.path)) : vscode.l10n.t('Corpus Lab Model'),
    });
    if (picked && 'run' in picked) await picked.run();
    return undefined;
  };
}

async function chooseFor(ctx: Ctx, target: vscode.Uri, model: string | undefined): Promise<boolean> {
  if (model) {
    try {
      await resolveCheckpointAsync(model);
    } catch (e) {
      showError(ctx, (e as Error).message);
      return false;
    }
  }
  await ctx.serving.choose(target, model);
  ctx.log.appendLine(`model for ${target.toString()}: ${model ?? 'automatic'}`);
  return true;
}
