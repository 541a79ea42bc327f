import { UserError } from './errors';
import { SamplingOptions } from './sampling';

export interface GenerateOptions extends SamplingOptions {
  maxTokens: number;
  seed: number;
  stop: string[];
}

export const DEFAULT_GENERATE_OPTIONS: GenerateOptions = { maxTokens: 200, temperature: 0.8, topK: 0, topP: 1, seed: 1, stop: [] };

export function validateGenerateOptions(o: GenerateOptions): GenerateOptions {
  if (!Number.isInteger(o.maxTokens) || o.maxTokens < 1 || o.maxTokens > 100_000) {
    throw new UserError('max tokens must be a whole number from 1 to 100000 (got {0})', o.maxTokens);
  }
  if (!Number.isFinite(o.temperature) || o.temperature < 0 || o.temperature > 100) {
    throw new UserError('temperature must be from 0 (greedy) to 100 (got {0})', o.temperature);
  }
  if (!Number.isInteger(o.topK) || o.topK < 0) throw new UserError('top-k must be a whole number, 0 for no limit (got {0})', o.topK);
  if (!Number.isFinite(o.topP) || o.topP <= 0 || o.topP > 1) throw new UserError('top-p must be above 0 and at most 1 (got {0})', o.topP);
  if (!Number.isInteger(o.seed) || o.seed < 0 || o.seed > 2 ** 32 - 1)
    throw new UserError('seed must be a whole number from 0 to 4294967295 (got {0})', o.seed);
  return o;
}
