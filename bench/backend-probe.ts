/**
 * Whether one tfjs backend loads in a fresh process (selectBackend can only choose once per process).
 *
 *   node --import tsx bench/backend-probe.ts --backend node|node-gpu|wasm|cpu
 *
 * Prints the BackendInfo as JSON and exits 0, or prints why it cannot load and exits 1.
 */
import { parseArgs } from 'node:util';
import { selectBackend, type BackendPreference } from '../src/compute/backend.js';

const { values: opts } = parseArgs({ options: { backend: { type: 'string', default: 'wasm' } } });
try {
  console.log(JSON.stringify(await selectBackend(opts.backend as BackendPreference)));
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
}
