import * as vscode from 'vscode';
import { Ctx } from './ctx';
import { trackTextEditor } from './text-editor';
import { RunsTree } from './runs-tree';
import { TokensView } from './webview/tokens-view';
import { LossChartPanel } from './webview/loss-chart-panel';
import { NextTokenView } from './webview/next-token-view';
import { AttentionPanel } from './webview/attention-panel';
import { SurprisalPanel } from './webview/surprisal-panel';
import { ComparePanel } from './webview/compare-panel';
import { retitleBackgroundPanels } from './webview/panel-revival';
import { CompletionProvider } from './completion-provider';
import { registerStatusBar } from './status-bar';
import { trainCommand, resumeCommand } from './commands/train';
import { cleanCommand, applyCleanedCommand, discardCleanedCommand, CleanedDocuments } from './commands/clean';
import { tokenizeCommand } from './commands/tokenize';
import { setActiveModelCommand, openLossChartCommand, revealRunCommand, deleteRunCommand } from './commands/runs';
import { generateSampleCommand, SampleDocuments } from './commands/generate';
import { askModelCommand } from './commands/ask-model';
import { toggleCompletionCommand, openSampleCommand } from './commands/completion';
import { continueOnGpuCommand } from './commands/export-torch';
import { finetuneCommand } from './commands/finetune';
import { chooseModelForFileCommand } from './commands/serving';
import { compareSamplesCommand, mergeAdapterCommand, openModelFolderCommand, quantizeCommand } from './commands/models';
import { archExperimentCommand, compareRunsCommand, moreSeedsCommand, normExperimentCommand } from './commands/compare';

/** What tests (and other extensions) can reach: the shared context and the views. */
export interface CorpusLabApi {
  ctx: Ctx;
  tokens: TokensView;
  nextToken: NextTokenView;
  runs: RunsTree;
  completion: CompletionProvider;
  /** The panels' classes, whose statics say what each shows (tests read them). */
  panels: {
    lossChart: typeof LossChartPanel;
    compare: typeof ComparePanel;
    attention: typeof AttentionPanel;
    surprisal: typeof SurprisalPanel;
  };
  /** The status bar item naming the model that serves the active editor's file. */
  modelStatus: vscode.StatusBarItem;
  /** Whether the status bar shows a training run's live loss. */
  trainingStatusShown: () => boolean;
  /** How long activate() took (the log says it too). */
  activationMs: number;
}

export function activate(context: vscode.ExtensionContext): CorpusLabApi {
  const started = performance.now();
  context.subscriptions.push(trackTextEditor());
  const ctx = new Ctx(context);
  const runs = new RunsTree(ctx);
  const tokens = new TokensView(ctx);
  const nextToken = new NextTokenView(ctx);
  const completion = new CompletionProvider(ctx);
  const cleaned = new CleanedDocuments();
  const samples = new SampleDocuments();
  const statusBar = registerStatusBar(ctx);
  const command = (id: string, f: (...args: never[]) => unknown) =>
    vscode.commands.registerCommand(`corpusLab.${id}`, f as (...args: unknown[]) => unknown);

  // Folders have their own menu titles ("… on This Folder"), the same commands behind them.
  const train = trainCommand(ctx);
  const finetune = finetuneCommand(ctx);
  context.subscriptions.push(
    ctx,
    // Several runs selected at once go to Compare Runs together.
    vscode.window.createTreeView('corpusLab.runs', { treeDataProvider: runs, canSelectMany: true }),
    vscode.window.registerWebviewViewProvider(TokensView.id, tokens),
    vscode.window.registerWebviewViewProvider(NextTokenView.id, nextToken),
    command('showNextToken', async () => {
      await vscode.commands.executeCommand(`${NextTokenView.id}.focus`);
      await nextToken.update();
    }),
    command('showAttention', () => AttentionPanel.show(ctx)),
    command('showSurprisal', () => SurprisalPanel.show(ctx)),
    command('clearSurprisal', () => SurprisalPanel.clearAll()),
    vscode.languages.registerInlineCompletionItemProvider({ pattern: '**' }, completion),
    vscode.workspace.registerTextDocumentContentProvider(CleanedDocuments.scheme, cleaned),
    vscode.workspace.registerTextDocumentContentProvider(SampleDocuments.scheme, samples),
    LossChartPanel.registerSerializer(ctx),
    ComparePanel.registerSerializer(ctx),
    statusBar,
    command('train', train),
    command('trainFolder', train),
    command('resumeTraining', resumeCommand(ctx)),
    command('cancelTraining', () =>
      ctx.training ? ctx.training.cancel() : vscode.window.showInformationMessage(vscode.l10n.t('No training is running.')),
    ),
    command('cleanDocument', cleanCommand(ctx, cleaned)),
    command('applyCleaned', applyCleanedCommand(cleaned)),
    command('discardCleaned', discardCleanedCommand(cleaned)),
    command('tokenizeDocument', tokenizeCommand(ctx, tokens)),
    command('generateSample', generateSampleCommand(ctx, samples)),
    command('askModel', askModelCommand(ctx, samples)),
    command('setActiveModel', setActiveModelCommand(ctx)),
    command('chooseModelForFile', chooseModelForFileCommand(ctx)),
    command('toggleInlineCompletion', toggleCompletionCommand(ctx)),
    command('openLossChart', openLossChartCommand(ctx)),
    command('showTokens', async () => {
      await vscode.commands.executeCommand(`${TokensView.id}.focus`);
      await tokens.update();
    }),
    command('refreshRuns', () => runs.refresh()),
    command('revealRun', revealRunCommand()),
    command('deleteRun', deleteRunCommand(ctx)),
    command('showLog', () => ctx.log.show()),
    command('openSample', openSampleCommand(ctx)),
    command('continueOnGpu', continueOnGpuCommand(ctx)),
    command('finetune', finetune),
    command('finetuneFolder', finetune),
    command('openModelFolder', openModelFolderCommand(ctx)),
    command('mergeAdapter', mergeAdapterCommand(ctx)),
    command('quantize', quantizeCommand(ctx)),
    command('compareSamples', compareSamplesCommand(ctx)),
    command('compareRuns', compareRunsCommand(ctx)),
    command('compareNorms', normExperimentCommand(ctx)),
    command('compareArchs', archExperimentCommand(ctx)),
    command('repeatWithMoreSeeds', moreSeedsCommand(ctx)),
    vscode.workspace.onDidChangeConfiguration((e) => e.affectsConfiguration('corpusLab') && setExtraExtensions(ctx)),
  );
  setExtraExtensions(ctx);
  void retitleBackgroundPanels(context.workspaceState, (line) => ctx.log.appendLine(line));
  context.subscriptions.push(ctx.onDidChangeRuns(() => void ctx.checkActiveModel()));
  void ctx.checkActiveModel();
  const activationMs = performance.now() - started;
  ctx.log.appendLine(`activated in ${activationMs.toFixed(1)} ms (TensorFlow.js loads later, in the worker threads)`);
  return {
    ctx,
    tokens,
    nextToken,
    runs,
    completion,
    panels: { lossChart: LossChartPanel, compare: ComparePanel, attention: AttentionPanel, surprisal: SurprisalPanel },
    modelStatus: statusBar.model,
    trainingStatusShown: statusBar.trainingShown,
    activationMs,
  };
}

function setExtraExtensions(ctx: Ctx): void {
  void vscode.commands.executeCommand(
    'setContext',
    'corpusLab.extraTextExtensions',
    ctx.config.extraTextExtensions.map((e) => e.toLowerCase()),
  );
}

export function deactivate(): void {
  // Disposables in context.subscriptions stop the workers; an interrupted run resumes from its checkpoint.
}
