import { request } from './api.js';
import type { Job } from './api-types.js';

/**
 * Follows GET /v1/jobs/{id}/events. Not EventSource: it cannot send the Authorization header, and a key must
 * never go into a URL. So this reads the text/event-stream body with fetch and parses its `event:`/`data:` lines.
 * Resolves when the server ends the stream (the job ended) or `signal` aborts.
 */
export async function followJob(id: string, onJob: (job: Job, event: string) => void, signal: AbortSignal) {
  const response = await request(`/v1/jobs/${encodeURIComponent(id)}/events`, {
    headers: { accept: 'text/event-stream' },
    signal,
  });
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n/g, '\n');
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (data.length === 0 || event === 'end') continue;
      onJob(JSON.parse(data.join('\n')) as Job, event);
    }
  }
}
