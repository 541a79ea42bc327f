import { LoadedModel, loadModel } from './load-model';
import { modelCacheKey } from '../../core/model-folder';

interface Entry {
  key: string;
  model: Promise<LoadedModel>;
  users: number;
  replaced: boolean;
}

/**
 * Keeps the last loaded checkpoint in memory and reloads when another one (or a rewritten one) is
 * asked for. Concurrent requests share one load (completions arrive many times a second; each
 * loading its own copy queued hundreds of loads), and a replaced model is freed only once the
 * generations using it are done.
 */
export class ModelCache {
  private current?: Entry;

  async use<T>(path: string, f: (m: LoadedModel) => Promise<T>): Promise<T> {
    const entry = this.entry(path);
    entry.users++;
    try {
      return await f(await entry.model);
    } finally {
      entry.users--;
      if (entry.replaced && entry.users === 0) free(entry);
    }
  }

  private entry(path: string): Entry {
    const { dir, key } = modelCacheKey(path);
    if (this.current?.key === key) return this.current;
    const old = this.current;
    const entry: Entry = { key, model: loadModel(dir), users: 0, replaced: false };
    entry.model.catch(() => {
      if (this.current === entry) this.current = undefined;
    });
    this.current = entry;
    if (old) {
      old.replaced = true;
      if (old.users === 0) free(old);
    }
    return entry;
  }
}

function free(entry: Entry): void {
  entry.model.then(
    (m) => m.model.dispose(),
    () => undefined,
  );
}
