/* global fetch, AbortSignal, console */
// Container health check of the api: GET /health on the loopback interface. Plain node (global fetch), so the
// runtime image needs no curl. HOST=0.0.0.0 in the image, so 127.0.0.1 reaches the server.
// Exit status 0 = healthy, 1 = unhealthy, as Docker's HEALTHCHECK expects.
import process from 'node:process';

const port = process.env.PORT || '3000';
const url = `http://127.0.0.1:${port}/health`;
try {
  const res = await fetch(url, { signal: AbortSignal.timeout(4000) });
  if (!res.ok) {
    console.error(`${url} answered ${res.status}`);
    process.exit(1);
  }
} catch (error) {
  console.error(`${url} unreachable: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
