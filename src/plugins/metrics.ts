import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Prometheus metrics at GET /metrics: HTTP latency, training jobs by state and queue depth (read from
 * BullMQ at scrape time), inference batch sizes and latency, loaded models, and process defaults.
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
