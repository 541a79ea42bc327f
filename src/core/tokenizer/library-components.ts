/**
 * Calls `change` once on every component of a tokenizer built by @huggingface/tokenizers: its
 * normalizer, pre-tokenizer and decoder, and the components inside them (Sequences), each before
 * what it holds. The library's components are callable objects: functions with their class as prototype.
 */
export function forEachComponent(hf: object, change: (component: object) => void): void {
  const seen = new Set<object>();
  const visit = (node: unknown): void => {
    if ((typeof node !== 'object' && typeof node !== 'function') || node === null || seen.has(node)) return;
    seen.add(node);
    change(node);
    for (const child of Object.values(node)) {
      if (Array.isArray(child)) child.forEach(visit);
      else if (!(child instanceof RegExp)) visit(child);
    }
  };
  const { normalizer, pre_tokenizer, decoder } = hf as Record<string, unknown>;
  [normalizer, pre_tokenizer, decoder].forEach(visit);
}
