import { statSync } from 'node:fs';
import { join } from 'node:path';
import { LoadedModel, loadModel } from './load-model';
import { resolveCheckpoint } from '../../core/checkpoint';

/** Keeps the last loaded checkpoint in memory; reloads when another one (or a rewritten one) is asked for. */
export class ModelCache {
  private loaded?: { key: string; model: LoadedModel };

  async get(path: string): Promise<LoadedModel> {
    const dir = resolveCheckpoint(path);
    const key = `${dir}@${statSync(join(dir, 'model.safetensors')).mtimeMs}`;
    if (this.loaded?.key === key) return this.loaded.model;
    this.loaded?.model.model.dispose();
    this.loaded = undefined;
    const model = await loadModel(dir);
    this.loaded = { key, model };
    return model;
  }
}
