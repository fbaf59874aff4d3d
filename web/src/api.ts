import { authHeaders } from './api-key.js';

/** A failed call, with the problem+json `detail` the server wrote for people. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
  ) {
    super(detail);
  }
}

/** Called on any 401, so the page can ask for a (new) key. */
let onUnauthorized: (detail: string) => void = () => {};
export function handleUnauthorized(handler: (detail: string) => void): void {
  onUnauthorized = handler;
}

/** fetch with the API key, throwing ApiError for non-2xx answers. */
export async function request(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  for (const [name, value] of Object.entries(authHeaders())) headers.set(name, value);
  let response: Response;
  try {
    response = await fetch(path, { ...init, headers });
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error;
    throw new ApiError(0, `the server did not answer (${(error as Error).message})`);
  }
  if (response.ok) return response;
  let detail = `${response.status} ${response.statusText}`;
  try {
    const problem = (await response.json()) as { detail?: string; title?: string };
    detail = problem.detail ?? problem.title ?? detail;
  } catch {
    // Not JSON: keep the status line.
  }
  if (response.status === 401) onUnauthorized(detail);
  throw new ApiError(response.status, detail);
}

export async function getJson<T>(path: string): Promise<T> {
  return (await (await request(path)).json()) as T;
}

export async function postJson<T>(path: string, body: unknown, headers: Record<string, string> = {}): Promise<T> {
  const response = await request(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return (await response.json()) as T;
}

export async function postForm<T>(path: string, form: FormData): Promise<T> {
  return (await (await request(path, { method: 'POST', body: form })).json()) as T;
}

export async function postEmpty<T>(path: string): Promise<T> {
  return (await (await request(path, { method: 'POST' })).json()) as T;
}

export async function remove(path: string): Promise<void> {
  await request(path, { method: 'DELETE' });
}

/** A message for any error, for role=alert areas. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
