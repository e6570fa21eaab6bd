// Where PGlite's wasm and data bundle come from: the npm package when run from source, the executable itself when compiled.
import type { PGliteOptions } from '@electric-sql/pglite';

/** Options to spread into PGlite.create(); empty means "load from the installed package" (run from source). */
export async function pgliteAssets(): Promise<Partial<PGliteOptions>> {
  return {};
}
