import * as vscode from 'vscode';
import { join } from 'node:path';

// What every integration suite shares: the test workspace's two texts, and waiting.
export const workspace = process.env.CORPUS_LAB_TEST_WORKSPACE!;
export const en = vscode.Uri.file(join(workspace, 'texts', 'speech-en.txt'));
export const ko = vscode.Uri.file(join(workspace, 'texts', 'speech-ko.txt'));

export async function settle(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** The first defined value of `get`, polled every 100 ms. */
export async function until<T>(what: string, get: () => T | undefined, timeoutMs = 60_000): Promise<T> {
  for (const end = Date.now() + timeoutMs; Date.now() < end; await settle(100)) {
    const v = get();
    if (v !== undefined) return v;
  }
  throw new Error(`timed out waiting for ${what}`);
}
