/** What config.json next to the page says (written by the build or served by the local stack). */
export interface PlaygroundConfig {
  /** The API's root URL; '' means the page's own origin. */
  apiUrl: string;
  /** A key to prefill: the local stack's dev key. */
  devKey?: string;
}

/** config.json, or same-origin defaults when it is missing or unreadable. */
export async function loadConfig(): Promise<PlaygroundConfig> {
  try {
    const response = await fetch('config.json', { cache: 'no-store' });
    if (!response.ok) return { apiUrl: '' };
    const body = (await response.json()) as Partial<PlaygroundConfig>;
    return {
      apiUrl: typeof body.apiUrl === 'string' ? body.apiUrl : '',
      ...(typeof body.devKey === 'string' && body.devKey ? { devKey: body.devKey } : {}),
    };
  } catch {
    return { apiUrl: '' };
  }
}

/** The base URL the client calls. */
export const apiBaseUrl = (config: PlaygroundConfig): string => config.apiUrl || window.location.origin;
