// Loads @peculiar/x509 on demand, with the little of the reflect-metadata API its tsyringe dependency demands.

import { webcrypto } from 'node:crypto';

// tsyringe (used inside @peculiar/x509) refuses to load unless Reflect.getMetadata exists; it only stores and
// reads constructor parameter types, which a WeakMap does. Installed only if absent, so the real
// reflect-metadata package, if ever added, wins. The import below is dynamic so this runs first on every
// runtime (Bun evaluates a CommonJS dependency before the importing module's earlier static imports).
type MetaStore = WeakMap<object, Map<unknown, unknown>>;
const store: MetaStore = new WeakMap();
const R = Reflect as unknown as Record<string, unknown>;
if (typeof R.getMetadata !== 'function') {
  R.defineMetadata = (key: unknown, value: unknown, target: object): void => {
    let m = store.get(target);
    if (!m) store.set(target, m = new Map());
    m.set(key, value);
  };
  R.getOwnMetadata = (key: unknown, target: object): unknown => store.get(target)?.get(key);
  R.getMetadata = (key: unknown, target: object): unknown => {
    for (let t: object | null = target; t; t = Object.getPrototypeOf(t)) {
      const m = store.get(t);
      if (m?.has(key)) return m.get(key);
    }
    return undefined;
  };
}

export type X509 = typeof import('@peculiar/x509');
let loaded: Promise<X509> | undefined;

/** The @peculiar/x509 module, wired to node:crypto's WebCrypto (identical on Bun, Deno and Node). */
export function loadX509(): Promise<X509> {
  loaded ??= import('@peculiar/x509').then((x509) => {
    x509.cryptoProvider.set(webcrypto as unknown as Crypto);
    return x509;
  });
  return loaded;
}
