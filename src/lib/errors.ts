// How a caught value reads in a log line or a reply: anything can be thrown, not only Errors.

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
