/**
 * The API key, when the server has API_KEYS set. It lives in session storage: it survives a reload but not the
 * tab, and it is only ever sent as an Authorization header (never in a URL, where logs would keep it).
 */
const storageKey = 'effnet-tl.api-key';

/** The server marks its index.html when it requires keys (see src/routes/dashboard.ts). */
export function apiKeysRequired(): boolean {
  return document.querySelector('meta[name="effnet-api-keys"]')?.getAttribute('content') === 'on';
}

export function getApiKey(): string | null {
  return sessionStorage.getItem(storageKey);
}

export function setApiKey(key: string): void {
  sessionStorage.setItem(storageKey, key);
}

export function clearApiKey(): void {
  sessionStorage.removeItem(storageKey);
}

export function authHeaders(): Record<string, string> {
  const key = getApiKey();
  return key ? { authorization: `Bearer ${key}` } : {};
}
