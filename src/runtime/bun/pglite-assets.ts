// PGlite's wasm modules and filesystem bundle, embedded into a `bun build --compile` executable.
import type { PGliteOptions } from '@electric-sql/pglite';
// `type: 'file'` makes the bundler copy each file into the executable and turns the import into its
// /$bunfs/... path; from source it is the path inside node_modules. Declared in embedded-files.d.ts.
import pgliteWasmPath from '@electric-sql/pglite/pglite.wasm' with { type: 'file' };
import initdbWasmPath from '@electric-sql/pglite/initdb.wasm' with { type: 'file' };
import fsBundlePath from '@electric-sql/pglite/pglite.data' with { type: 'file' };

/** Compiles both wasm modules (about 0.1 s) and hands over the data bundle as a lazy Blob. */
export async function embeddedPgliteAssets(): Promise<Partial<PGliteOptions>> {
  const compile = async (path: string) => WebAssembly.compile(await Bun.file(path).arrayBuffer());
  const [pgliteWasmModule, initdbWasmModule] = await Promise.all([compile(pgliteWasmPath), compile(initdbWasmPath)]);
  return { pgliteWasmModule, initdbWasmModule, fsBundle: Bun.file(fsBundlePath) };
}
