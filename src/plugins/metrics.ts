import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { InferencePool } from '../inference/inference-pool.js';

type ChildMemorySample = Awaited<ReturnType<InferencePool['memory']>>[number];

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Prometheus metrics at GET /metrics: HTTP latency, training jobs by state and queue depth (read from
 * BullMQ at scrape time), inference batch sizes and latency, loaded models, each inference child's tensor
 * count and memory (asked at scrape time, so a leak shows as a rising line), and process defaults.
 */
export default fp(
  async function metrics(app: FastifyInstance) {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry, prefix: 'effnet_' });

    const http = new Histogram({
      name: 'effnet_http_request_duration_seconds',
      help: 'HTTP request latency',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    });
    app.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? 'unmatched';
      if (route === '/metrics') return;
      http.observe({ method: request.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
    });

    new Gauge({
      name: 'effnet_training_jobs',
      help: 'Training jobs in BullMQ by state',
      labelNames: ['state'],
      registers: [registry],
      async collect() {
        const counts = await app.trainingQueue.queue.getJobCounts().catch(() => ({}) as Record<string, number>);
        for (const [state, count] of Object.entries(counts)) this.set({ state }, count);
      },
    });
    new Gauge({
      name: 'effnet_training_queue_depth',
      help: 'Training jobs waiting for a worker',
      registers: [registry],
      async collect() {
        const counts = await app.trainingQueue.queue
          .getJobCounts('waiting', 'delayed', 'prioritized')
          .catch(() => ({}) as Record<string, number>);
        this.set(Object.values(counts).reduce((a, b) => a + b, 0));
      },
    });

    const batchSize = new Histogram({
      name: 'effnet_inference_batch_size',
      help: 'Images per inference batch',
      labelNames: ['kind'],
      buckets: [1, 2, 4, 8, 16, 32, 64],
      registers: [registry],
    });
    const batchLatency = new Histogram({
      name: 'effnet_inference_batch_duration_seconds',
      help: 'From dispatch of a batch to its answer',
      labelNames: ['kind'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
    const batchFailures = new Counter({
      name: 'effnet_inference_batch_failures_total',
      help: 'Inference batches that failed',
      labelNames: ['kind'],
      registers: [registry],
    });
    const unsubscribe = app.inference.addBatchListener((event) => {
      batchSize.observe({ kind: event.kind }, event.size);
      batchLatency.observe({ kind: event.kind }, event.ms / 1000);
      if (!event.ok) batchFailures.inc({ kind: event.kind });
    });
    app.addHook('onClose', async () => unsubscribe());
    // One memory round trip to the children per scrape, shared by the gauges below; a child busy for longer
    // than the timeout is left out of this scrape rather than holding it up.
    let sampled: { at: number; children: Promise<ChildMemorySample[]> } | undefined;
    const childMemory = () => {
      if (!sampled || Date.now() - sampled.at > 1000) {
        sampled = { at: Date.now(), children: withTimeout(app.inference.memory(), 5000).catch(() => []) };
      }
      return sampled.children;
    };
    const childGauge = (name: string, help: string, value: (child: ChildMemorySample) => number | null) =>
      new Gauge({
        name,
        help,
        labelNames: ['worker'],
        registers: [registry],
        async collect() {
          const children = await childMemory();
          this.reset();
          for (const child of children) {
            const v = value(child);
            if (v !== null) this.set({ worker: String(child.worker) }, v);
          }
        },
      });
    childGauge('effnet_inference_tensors', 'tfjs tensors alive in each inference child', (c) => c.numTensors);
    childGauge(
      'effnet_inference_tensor_bytes',
      'Bytes held by tfjs tensors in each inference child',
      (c) => c.numBytes,
    );
    childGauge('effnet_inference_wasm_heap_bytes', 'tfjs wasm heap of each inference child', (c) => c.wasmHeapBytes);
    childGauge('effnet_inference_rss_bytes', 'Resident memory of each inference child process', (c) => c.rssBytes);

    new Gauge({
      name: 'effnet_inference_loaded_models',
      help: 'Models held in the inference engines',
      labelNames: ['engine', 'backend'],
      registers: [registry],
      collect() {
        const stats = app.inference.stats();
        this.reset();
        this.set({ engine: stats.engine, backend: stats.backend ?? 'unknown' }, stats.loadedModels.length);
      },
    });

    app.get(
      '/metrics',
      { schema: { tags: ['health'], summary: 'Prometheus metrics', produces: ['text/plain'] } },
      async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()),
    );
  },
  { name: 'metrics', dependencies: ['training-queue', 'inference'] },
);
