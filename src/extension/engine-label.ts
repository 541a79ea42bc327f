import * as vscode from 'vscode';

/** The engine a job ran on, as the worker reports it (start event, estimate). */
export interface EngineDescription {
  backend: string;
  threads: number;
  /** The native engine's matrix products and their kernels: "Corpus Lab GEMM (AVX-512)". */
  blas?: string;
  /** Why the native engine was not used, when it was skipped. */
  nativeUnavailable?: string;
}

/** "native engine · 2 threads · Corpus Lab GEMM (AVX-512)", for the preset pick, the status bar and the log. */
export function describeEngine(e: EngineDescription): string {
  return [
    vscode.l10n.t('{0} engine', e.backend),
    e.threads === 1 ? vscode.l10n.t('1 thread') : vscode.l10n.t('{0} threads', e.threads),
    e.blas,
    e.nativeUnavailable !== undefined && vscode.l10n.t('native engine not available'),
  ]
    .filter(Boolean)
    .join(' · ');
}
