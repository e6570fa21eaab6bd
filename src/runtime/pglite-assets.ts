// Where PGlite's wasm and data bundle come from: the npm package when run from source, the executable itself when compiled.
import type { PGliteOptions } from '@electric-sql/pglite';

/**
 * Options to spread into PGlite.create(). Empty means "load from the installed package", which is
 * right whenever Tern runs from source (Bun, Deno, Node): PGlite resolves its files next to its own
 * module. A `bun build --compile` executable has no node_modules and PGlite's bundled code would look
 * for them in $bunfs, so there the files embedded by runtime/bun/pglite-assets.ts are handed over.
 * The dynamic import keeps that file (and its Bun-only import attributes) out of every other runtime.
 */
export async function pgliteAssets(): Promise<Partial<PGliteOptions>> {
  if (typeof Bun !== 'undefined' && Bun.isStandaloneExecutable) {
    const { embeddedPgliteAssets } = await import('./bun/pglite-assets.ts');
    return embeddedPgliteAssets();
  }
  return {};
}

/**
 * Where the embedded database's worker thread starts. From source, next to its proxy in src/store/. In a
 * compiled executable every bundled module shares the executable's import.meta.url at the bundle root,
 * and the worker (an extra entry point in scripts/build.ts) keeps its path relative to src/.
 */
export function pgliteWorkerUrl(): string {
  if (typeof Bun !== 'undefined' && Bun.isStandaloneExecutable) return new URL('./store/pglite-worker.ts', import.meta.url).href;
  return new URL('../store/pglite-worker.ts', import.meta.url).href;
}
