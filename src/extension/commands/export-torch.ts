import * as vscode from 'vscode';
import { basename, dirname, join } from 'node:path';
import { Ctx } from '../ctx';
import { RunsNode } from '../runs-tree';
import { withParticles } from '../l10n';
import { showError } from './util';
import { errorText } from '../error-text';

/** Continue on a GPU Machine…: exports a run (or checkpoint) as a folder that torchrun continues. */
export function continueOnGpuCommand(ctx: Ctx) {
  return async (node?: RunsNode) => {
    if (!node || node.kind === 'base') {
      vscode.window.showInformationMessage(vscode.l10n.t('Choose a run in the Runs view to continue on a GPU machine.'));
      return;
    }
    const runDir = node.run.dir;
    const target = await vscode.window.showSaveDialog({
      title: vscode.l10n.t('Folder to write for the GPU machine'),
      saveLabel: vscode.l10n.t('Export'),
      defaultUri: vscode.Uri.file(join(dirname(runDir), `${basename(runDir)}-torch`)),
    });
    if (!target) return;
    let result;
    try {
      result = await vscode.window.withProgress(
        {
          location: vscode.ProgressLocation.Notification,
          title: withParticles(vscode.l10n.t('Exporting {0} for PyTorch…', node.run.name)),
        },
        () => ctx.trainer.request((id) => ({ kind: 'export-torch', id, source: node.path, outDir: target.fsPath })).result,
      );
    } catch (e) {
      showError(ctx, errorText(e));
      return;
    }
    const readme = vscode.l10n.t('Open README');
    const reveal = vscode.l10n.t('Reveal Folder');
    const answer = await vscode.window.showInformationMessage(
      withParticles(
        vscode.l10n.t(
          'Exported step {0} to {1}. Copy the folder to a GPU machine and run torchrun there; its README.md says how, and how to bring the run back.',
          result.step,
          result.dir,
        ),
      ),
      readme,
      reveal,
    );
    if (answer === readme) await vscode.commands.executeCommand('markdown.showPreview', vscode.Uri.file(join(result.dir, 'README.md')));
    if (answer === reveal) await vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(result.dir));
  };
}
