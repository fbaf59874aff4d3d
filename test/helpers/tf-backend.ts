import { selectBackend, type BackendInfo, type BackendPreference } from '../../src/compute/backend.js';

/**
 * Initialises the tfjs backend for a test file. TEST_TF_BACKEND overrides the default, so the suite
 * can be rerun on another backend (`TEST_TF_BACKEND=cpu npm test`).
 */
export function useTestBackend(fallback: BackendPreference = 'wasm'): Promise<BackendInfo> {
  const name = (process.env.TEST_TF_BACKEND as BackendPreference | undefined) ?? fallback;
  return selectBackend(name);
}
