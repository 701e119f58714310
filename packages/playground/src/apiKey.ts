import type { PlaygroundConfig } from './config.ts';

/** Where a key the user typed is kept between visits (this browser only). */
const STORAGE_KEY = 'obelm.playground.apiKey';

const storage = (): Storage | undefined => {
  try {
    return window.localStorage;
  } catch {
    return undefined; // storage disabled: the key lives in the field only
  }
};

/** The key to start with: one the user entered before, else the config's dev key. */
export function initialApiKey(config: PlaygroundConfig): string {
  return storage()?.getItem(STORAGE_KEY) || config.devKey || '';
}

/** Keeps a key the user entered; the config's own key (or an empty field) is not stored. */
export function rememberApiKey(key: string, config: PlaygroundConfig): void {
  const store = storage();
  if (!store) return;
  if (key && key !== config.devKey) store.setItem(STORAGE_KEY, key);
  else store.removeItem(STORAGE_KEY);
}
