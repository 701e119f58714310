import type { LocalStack } from '@obelm/local';
import { createKey, createTenant, getTenant } from '@obelm/store';

/** A real 1x1 PNG. */
export const PNG_BASE64 =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=';

export interface Reply {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: test responses are inspected field by field
  body: any;
}

/** One HTTP call to the stack's API. `body` is sent as JSON unless it is already a string. */
export async function call(
  stack: LocalStack,
  method: string,
  path: string,
  {
    body,
    key = stack.devKey,
    headers = {},
  }: { body?: unknown; key?: string | null; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const res = await fetch(`${stack.apiUrl}${path}`, {
    method,
    headers: {
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

/** A new API key of `tenant` (created when it does not exist), as `obelm admin` makes them. */
export async function addApiKey(stack: LocalStack, tenant: string): Promise<string> {
  const store = stack.deps.store;
  if (!(await getTenant(store, tenant))) await createTenant(store, tenant);
  return (await createKey(store, tenant)).key;
}
