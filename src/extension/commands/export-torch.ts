import * as vscode from 'vscode';
import { basename, dirname, join } from 'node:path';
import { Ctx } from '../ctx';
import { RunsNode } from '../runs-tree';
import { withParticles } from '../l10n';
import { showError } from './util';
import { errorText } from '../error-text';

/**
 * Continue on a GPU Machine…: exports a run (or checkpoint) as a folder that torchrun continues
 * (train.py, or train_peft.py for LoRA); returns the folder written.
 */
export function continueOnGpuCommand(ctx: Ctx) {
  return async (node?: RunsNode): Promise<string | undefined> => {
    if (!node || node.kind === 'base') {
      vscode.window.showInformationMessage(vscode.l10n.t('Choose a run in the Runs view to continue on a GPU machine.'));
      return undefined;
    }
    const runDir = node.run.dir;
    const lora = node.run.finetune?.lora !== undefined;
    const withBase = lora ? await askWithBase(node.run.finetune!.base) : false;
    if (withBase === undefined) return undefined;
    const target = await vscode.window.showSaveDialog({
      title: vscode.l10n.t('Folder to write for the GPU machine'),
      saveLabel: vscode.l10n.t('Export'),
      defaultUri: vscode.Uri.file(join(dirname(runDir), `${basename(runDir)}-torch`)),
    });
    if (!target) return undefined;
    let result;
    try {
      result = await vscode.window.withProgress(
        {
          location: vscode.ProgressLocation.Notification,
          title: withParticles(vscode.l10n.t('Exporting {0} for PyTorch…', node.run.name)),
        },
        () => ctx.trainer.request((id) => ({ kind: 'export-torch', id, source: node.path, outDir: target.fsPath, withBase })).result,
      );
    } catch (e) {
      showError(ctx, errorText(e));
      return undefined;
    }
    const readme = vscode.l10n.t('Open README');
    const reveal = vscode.l10n.t('Reveal Folder');
    const done =
      'base' in result
        ? vscode.l10n.t(
            'Exported step {0} to {1}. Copy the folder to a GPU machine (with the base model unless it is in the folder) and run train_peft.py with torchrun there; its README.md says how, and how to bring the run back.',
            result.step,
            result.dir,
          )
        : vscode.l10n.t(
            'Exported step {0} to {1}. Copy the folder to a GPU machine and run torchrun there; its README.md says how, and how to bring the run back.',
            result.step,
            result.dir,
          );
    void vscode.window.showInformationMessage(withParticles(done), readme, reveal).then(async (answer) => {
      if (answer === readme) await vscode.commands.executeCommand('markdown.showPreview', vscode.Uri.file(join(result.dir, 'README.md')));
      if (answer === reveal) await vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(result.dir));
    });
    return result.dir;
  };
}

/** A LoRA run's base stays where it is (the GPU machine gets it itself) unless the user has it copied into the folder. */
async function askWithBase(base: string): Promise<boolean | undefined> {
  const picked = await vscode.window.showQuickPick(
    [
      {
        label: vscode.l10n.t('Reference the base model'),
        detail: withParticles(
          vscode.l10n.t(
            'The folder names {0} and the sha256 of its weights; the GPU machine needs a copy of it (train_peft.py --base DIR).',
            base,
          ),
        ),
        copy: false,
      },
      {
        label: vscode.l10n.t('Copy the base model into the folder'),
        detail: vscode.l10n.t('The folder holds everything the GPU machine needs, and is as large as the base model.'),
        copy: true,
      },
    ],
    { title: vscode.l10n.t('The base model of this LoRA run') },
  );
  return picked?.copy;
}
