// sysexits(3) codes, so scripts and service managers can tell a usage error from a busy data directory.
export const EX_OK = 0;
export const EX_USAGE = 64;
export const EX_DATAERR = 65;
export const EX_UNAVAILABLE = 69;
export const EX_SOFTWARE = 70;
export const EX_TEMPFAIL = 75;
export const EX_CONFIG = 78;

/** An error the CLI prints as one line (no stack) before exiting with its code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}
