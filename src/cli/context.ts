// What every CLI command shares: loading the configuration once, the same way the daemon does.
import { loadConfig } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { CliError, EX_CONFIG } from './exit-codes.ts';
import { errorText } from '../lib/errors.ts';

export interface Loaded {
  config: Config;
  source: string[];
  warnings: string[];
}

/** Loads and validates; any problem becomes a CliError (exit 78) listing every problem at once. */
export function loadConfigOrFail(file: string | undefined, env: Record<string, string | undefined>): Loaded {
  try {
    return loadConfig({ file, env });
  } catch (err) {
    throw new CliError(`configuration error: ${errorText(err)}`, EX_CONFIG);
  }
}
