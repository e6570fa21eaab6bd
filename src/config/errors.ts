// The one error a bad configuration produces: every problem found, as lines a CLI prints without a stack trace.

/**
 * Thrown by loadConfig (and loadOrCreateCertificate) when the operator has to fix something. `problems` holds
 * one human-readable line each, already naming the key and where it came from; `message` is a printable
 * summary of all of them. Callers print `message` and exit (EX_CONFIG, 78); anything else thrown is a bug.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly problems: readonly string[];

  constructor(summary: string, problems: readonly string[], options?: { cause?: unknown }) {
    super(problems.length ? `${summary}:\n${problems.map((p) => `  - ${p}`).join('\n')}` : summary, options);
    this.problems = problems;
  }
}

/** Exit status for a configuration error (sysexits.h EX_CONFIG). */
export const EX_CONFIG = 78;
