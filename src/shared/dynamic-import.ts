/**
 * `import()` for the package's own code. Built, that code runs as a script
 * body (src/shared/code-cache.ts, scripts/bundle.mjs), where a bare
 * `import()` has no module to resolve from: its loader hands the body an
 * importer, `__deadpool_import`, which is used when present.
 */
declare const __deadpool_import: ((specifier: string) => Promise<unknown>) | undefined;

export function importModule<T = unknown>(specifier: string): Promise<T> {
  return (
    typeof __deadpool_import === 'function' ? __deadpool_import(specifier) : import(specifier)
  ) as Promise<T>;
}
