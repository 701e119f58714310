import { ObelmApiError, ObelmError } from '@obelm/client';
import { byId, h } from './dom.ts';

/** A problem to show: the API's (or the SDK's) stable code and its message. */
export interface Problem {
  code: string;
  message: string;
}

/** Any thrown value as a Problem: API errors keep their code, status and request id. */
export function problemOf(err: unknown): Problem {
  if (err instanceof ObelmApiError) {
    const request = err.requestId
      ? ` (HTTP ${err.status}, request ${err.requestId})`
      : ` (HTTP ${err.status})`;
    return { code: err.code, message: `${err.message}${request}` };
  }
  if (err instanceof ObelmError) return { code: err.code, message: err.message };
  if (err instanceof DOMException && err.name === 'AbortError')
    return { code: 'aborted', message: 'Stopped.' };
  return { code: 'error', message: err instanceof Error ? err.message : String(err) };
}

/** Shows the problem in the page's alert region (read out by screen readers). */
export function showProblem(problem: Problem): void {
  const region = byId('error', HTMLDivElement);
  region.replaceChildren(h('code', { 'data-testid': 'error-code' }, problem.code), `: ${problem.message}`);
  region.hidden = false;
}

export function clearProblem(): void {
  const region = byId('error', HTMLDivElement);
  region.replaceChildren();
  region.hidden = true;
}
