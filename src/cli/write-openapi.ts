import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildApp } from '../app.js';
import { loadConfig } from '../config.js';

/**
 * The OpenAPI document as YAML, generated from the route schemas. Without a Redis URL it points the app
 * at an unreachable placeholder (the spec needs no Redis), whose reconnect timers then outlive the call.
 */
export async function generateOpenapiYaml(redisUrl = 'redis://127.0.0.1:1'): Promise<string> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'effnet-openapi-'));
  const config = loadConfig({ DATA_DIR: dataDir, REDIS_URL: redisUrl, TF_BACKEND: 'cpu', LOG_LEVEL: 'silent' });
  const app = await buildApp({ config, logger: false });
  try {
    await app.ready();
    return app.swagger({ yaml: true });
  } finally {
    await app.close();
    await fs.rm(dataDir, { recursive: true, force: true });
  }
}

export const openapiPath = path.resolve(import.meta.dirname, '../../openapi.yaml');

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  await fs.writeFile(openapiPath, await generateOpenapiYaml());
  console.log(`wrote ${openapiPath}`);
  // Connections to the placeholder Redis keep retrying; nothing else is left to do.
  process.exit(0);
}
