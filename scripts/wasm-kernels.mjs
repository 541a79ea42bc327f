// esbuild plugin: `import bytes from 'corpus-lab-kernels.wasm'` compiles src/worker/engine/kernels/assembly
// with AssemblyScript (SIMD, optimised, no runtime) and embeds the module's bytes in the bundle.
// The module imports the wasm backend's memory, so it must bring no data of its own (a data
// segment would be written over the backend's heap when it is instantiated): checked here.
import asc from 'assemblyscript/asc';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export async function compileKernels(root) {
  const dir = join(root, 'src/worker/engine/kernels/assembly');
  let wasm;
  const { error, stderr } = await asc.main(
    [
      'index.ts',
      '--baseDir',
      dir,
      '--outFile',
      'kernels.wasm',
      '-O3',
      '--runtime',
      'stub',
      '--enable',
      'simd',
      '--noAssert',
      '--importMemory',
      '--initialMemory',
      '1',
    ],
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
  checkSharesMemoryOnly(wasm);
  return { wasm, watchFiles: readdirSync(dir).map((f) => join(dir, f)) };
}

const DATA_SECTION = 11;

function checkSharesMemoryOnly(wasm) {
  const imports = WebAssembly.Module.imports(new WebAssembly.Module(wasm));
  if (imports.length !== 1 || imports[0].module !== 'env' || imports[0].name !== 'memory') {
    throw new Error(`the kernels module must import only env.memory, not ${imports.map((i) => `${i.module}.${i.name}`).join(', ')}`);
  }
  let at = 8;
  while (at < wasm.length) {
    const id = wasm[at++];
    let size = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = wasm[at++];
      size |= (byte & 0x7f) << shift;
      if (byte < 0x80) break;
    }
    if (id === DATA_SECTION)
      throw new Error(
        "the kernels module has a data segment (static data such as Mathf tables); it would overwrite the wasm backend's heap",
      );
    at += size;
  }
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
