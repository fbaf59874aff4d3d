import closeWithGrace from 'close-with-grace';
import { buildApp } from './app.js';
import { loadConfig } from './config.js';

// start:api — build the app, listen, and close gracefully on SIGINT/SIGTERM.
const config = loadConfig();
const app = await buildApp({ config });
await app.listen({ port: config.port, host: config.host });
closeWithGrace({ delay: 10_000 }, async ({ err, signal }) => {
  if (err) app.log.error({ err }, 'closing after an uncaught error');
  else app.log.info({ signal }, 'closing');
  await app.close();
});
