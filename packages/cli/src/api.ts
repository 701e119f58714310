import { readFileSync } from 'node:fs';
import {
  createObelmClient,
  ObelmApiError,
  type ObelmClient,
  ObelmError,
  ObelmNetworkError,
} from '@obelm/client';
import type { Values } from './command.ts';
import { CliError } from './errors.ts';

/**
 * How the commands that call the API find it: --url/--key, else OBELM_API_URL/OBELM_API_KEY, else the running
 * local stack's URL and dev key (its discovery file in the data folder), so `npm start` needs no setup at all.
 */

/** The options every API command takes. */
export const API_OPTIONS = {
  key: { type: 'string' },
  url: { type: 'string' },
} as const;

export const API_SYNOPSIS = '[--key <api key>] [--url <api url>]';

/** The API and the key to call it with: options, then the environment, then the local stack's. */
export async function apiOf(values: Values): Promise<{ apiUrl: string; key: string }> {
  const given = (option: string, variable: string) =>
    typeof values[option] === 'string' ? (values[option] as string) : process.env[variable] || undefined;
  const apiUrl = given('url', 'OBELM_API_URL');
  const key = given('key', 'OBELM_API_KEY');
  if (apiUrl && key) return { apiUrl, key };
  // Loaded only here: target.ts brings the AWS SDK (for `obelm admin`), which calls through the API never need.
  const { runningLocalStack } = await import('./localStack.ts');
  const stack = runningLocalStack();
  return {
    apiUrl: apiUrl ?? stack.apiUrl,
    key: key ?? readFileSync(stack.devKeyFile, 'utf8').trim(),
  };
}

/** The SDK's client of the API that `values` (and the environment) name. */
export async function clientOf(values: Values): Promise<ObelmClient> {
  const { apiUrl, key } = await apiOf(values);
  return createObelmClient({ baseUrl: apiUrl, apiKey: key });
}

/**
 * An SDK error as one line with exit code 1: `<status> <code>: <message>` for an API answer, `cannot reach
 * <origin>` when none came. Anything else is returned as is.
 */
export function apiFailure(err: unknown): unknown {
  if (err instanceof ObelmApiError) return new CliError(`${err.status} ${err.code}: ${err.message}`);
  if (err instanceof ObelmNetworkError) {
    const cause = (err.cause as Error | undefined)?.cause ?? err.cause;
    return new CliError(
      `cannot reach ${new URL(err.url).origin}: ${(cause as Error)?.message ?? String(cause)}`,
    );
  }
  if (err instanceof ObelmError) return new CliError(`${err.code}: ${err.message}`);
  return err;
}
