import { copyFileSync, renameSync } from 'node:fs';

/**
 * Copies src over dest by renaming a full copy into place: a process that has dest mapped (a loaded
 * addon) keeps its old file instead of dying with SIGBUS when the bytes change under it.
 */
export function replaceFile(src, dest) {
  const temp = `${dest}.${process.pid}.tmp`;
  copyFileSync(src, temp);
  renameSync(temp, dest);
}
