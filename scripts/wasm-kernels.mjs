// esbuild plugin: `import bytes from 'corpus-lab-kernels.wasm'` compiles src/worker/kernels/assembly
// with AssemblyScript (SIMD, optimised, no runtime) and embeds the module's bytes in the bundle.
import asc from 'assemblyscript/asc';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export async function compileKernels(root) {
  const dir = join(root, 'src/worker/kernels/assembly');
  let wasm;
  const { error, stderr } = await asc.main(
    ['index.ts', '--baseDir', dir, '--outFile', 'kernels.wasm', '-O3', '--runtime', 'stub', '--enable', 'simd', '--noAssert', '--initialMemory', '1'],
    {
      readFile: (name, baseDir) => {
        try {
          return readFileSync(join(baseDir, name), 'utf8');
        } catch {
          return null;
        }
      },
      writeFile: (name, contents) => name.endsWith('.wasm') && (wasm = contents),
    },
  );
  if (error) throw new Error(`AssemblyScript kernels failed to compile:\n${stderr.toString()}`);
  return { wasm, watchFiles: readdirSync(dir).map((f) => join(dir, f)) };
}

export function wasmKernelsPlugin(root) {
  return {
    name: 'corpus-lab-kernels',
    setup(build) {
      build.onResolve({ filter: /^corpus-lab-kernels\.wasm$/ }, () => ({ path: 'kernels', namespace: 'corpus-lab-kernels' }));
      build.onLoad({ filter: /.*/, namespace: 'corpus-lab-kernels' }, async () => {
        const { wasm, watchFiles } = await compileKernels(root);
        return { contents: wasm, loader: 'binary', watchFiles };
      });
    },
  };
}
