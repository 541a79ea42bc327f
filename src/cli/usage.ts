export const USAGE = `corpus-lab — train a small GPT on a text file, on the CPU

usage:
  corpus-lab clean FILE [-o OUT] [--rules markup,urls,front-matter,emoji] [--json]
  corpus-lab tokenize FILE -o DIR [--kind char|bpe] [--vocab-size N] [--json]
  corpus-lab encode TOKENIZER_JSON FILE --json
  corpus-lab train [FILE] [-o RUN_DIR] [--preset tiny|small] [--layers N --heads N --width N
        --context N --batch N] [--tokenizer char|bpe] [--vocab-size N] [--norm layernorm|dyt]
        [--dropout X] [--epochs N] [--max-steps N] [--lr X] [--eval-every N] [--seed N]
        [--backend auto|native|wasm|cpu|tensorflow] [--threads N] [--resume RUN_DIR_OR_CHECKPOINT] [--json]
  corpus-lab generate CHECKPOINT_OR_RUN [--prompt TEXT] [--max-tokens N] [--temperature T]
        [--top-k K] [--top-p P] [--seed N] [--stop TEXT] [--json]
  corpus-lab eval CHECKPOINT_OR_RUN FILE [--json]
  corpus-lab estimate FILE [--preset tiny|small] [--tokenizer char|bpe] [--vocab-size N] [--steps N] [--json]
  corpus-lab bench [--steps N] [--threads N] [--layers N --heads N --width N --context N --batch N --vocab N] [--backend auto|native|wasm|cpu|tensorflow] [--profile] [--json]

train without FILE uses the bundled sample (media/samples/shakespeare.txt).
Runs are written to ./.corpus-lab/runs/<time>-<name>/ unless -o names a folder.
--threads: threads of the native engine (default: one per core), or that share each batch on the wasm backend (default: one per core, at most 4).
Ctrl-C during train writes a checkpoint and exits with 130; --resume continues it.
Exit codes: 0 success, 2 a problem with the input (one line on stderr), 130 interrupted.
`;
