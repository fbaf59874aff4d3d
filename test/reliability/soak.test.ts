import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BackendPreference } from '../../src/compute/backend.js';
import { formatReport, judge, type MemorySnapshot } from '../../bench/soak-report.js';
import { runSoak } from '../../bench/soak-run.js';

// The soak's own code path (api process, inference child, autocannon, /metrics) for a few seconds on a 32 px
// model served by tfjs, whose weights are tensors in the child: a tensor leaked per batch breaks the count.
test('a short soak serves every request and the inference child holds the same tensors at the end', async (t) => {
  const report = await runSoak({
    durationSeconds: 2,
    warmupSeconds: 1,
    connections: 4,
    imageSize: 32,
    engine: 'tfjs',
    tfBackend: (process.env.TEST_TF_BACKEND ?? 'auto') as BackendPreference,
    sampleSeconds: 1,
    // RSS moves by tens of MiB with garbage collection in a few seconds; the tensor count is the exact check.
    bounds: { apiRssGrowthMiB: 256, childRssGrowthMiB: 256 },
  });
  for (const line of formatReport(report).split('\n')) t.diagnostic(line);

  assert.equal(report.engine, 'tfjs');
  assert.ok(report.requests.total > 0, 'requests were served');
  assert.ok(report.requests.perSecond > 0);
  assert.ok(report.latencyMs.p50 > 0 && report.latencyMs.p99 >= report.latencyMs.p50, JSON.stringify(report.latencyMs));
  assert.deepEqual(
    { non2xx: report.errors.non2xx, socket: report.errors.socket, total: report.errors.total },
    { non2xx: 0, socket: 0, total: 0 },
  );
  assert.deepEqual(Object.keys(report.errors.statusCodes), ['200']);

  const { start, end, samples } = report.memory;
  assert.ok(start.apiRssBytes > 0 && end.apiRssBytes > 0);
  assert.equal(start.children.length, 1);
  assert.equal(end.children.length, 1);
  const [before, after] = [start.children[0]!, end.children[0]!];
  // The loaded model's weights: the count is the real child's, not an empty process's.
  assert.ok(before.tensors > 100, `tensors at the start: ${before.tensors}`);
  assert.equal(after.tensors, before.tensors);
  assert.equal(after.tensorBytes, before.tensorBytes);
  assert.ok(before.rssBytes > 0 && after.rssBytes > 0);
  if (report.backend === 'wasm') assert.ok(before.wasmHeapBytes! > 0);
  assert.ok(samples.length >= 1, 'memory was sampled during the load');
  assert.equal(report.verdict.tensorsFlat, true);
  assert.equal(report.verdict.flat, true, report.verdict.reasons.join('; '));
});

test('the verdict catches a tensor leak, memory growth beyond the bounds and failed requests', () => {
  const snapshot = (tensors: number, rssMiB: number): MemorySnapshot => ({
    atSeconds: 0,
    apiRssBytes: rssMiB * 2 ** 20,
    apiHeapUsedBytes: 0,
    children: [{ worker: 0, tensors, tensorBytes: tensors * 4, wasmHeapBytes: 2 ** 24, rssBytes: rssMiB * 2 ** 20 }],
  });
  const bounds = { apiRssGrowthMiB: 64, childRssGrowthMiB: 64 };
  assert.equal(judge(snapshot(314, 300), snapshot(314, 340), 0, bounds).flat, true);

  const leak = judge(snapshot(314, 300), snapshot(315, 300), 0, bounds);
  assert.equal(leak.tensorsFlat, false);
  assert.equal(leak.flat, false);
  assert.match(leak.reasons.join(), /314 tensors at the start, 315 at the end/);

  const growth = judge(snapshot(314, 300), snapshot(314, 400), 0, bounds);
  assert.equal(growth.flat, false);
  assert.deepEqual(growth.childRssGrowthMiB, [100]);
  assert.match(growth.reasons.join(), /RSS grew 100 MiB/);

  assert.equal(judge(snapshot(314, 300), snapshot(314, 300), 2, bounds).flat, false);
});
