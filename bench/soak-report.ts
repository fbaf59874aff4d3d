/**
 * What a soak run reports, and the verdict on it: memory read from the service's own /metrics at the start
 * (after warm-up) and the end of a fixed-length load, judged flat or not within stated bounds.
 */

/** One inference child's memory, as /metrics reports it. */
export interface ChildMemoryReading {
  worker: number;
  tensors: number;
  tensorBytes: number;
  /** null where the child's tfjs backend is not wasm. */
  wasmHeapBytes: number | null;
  rssBytes: number;
}

export interface MemorySnapshot {
  /** Seconds since the measured load began (negative: before it). */
  atSeconds: number;
  apiRssBytes: number;
  apiHeapUsedBytes: number;
  children: ChildMemoryReading[];
}

/** How much the memory may grow between the start and the end of the load and still count as flat. */
export interface SoakBounds {
  /** The api process's RSS. */
  apiRssGrowthMiB: number;
  /** Each inference child's RSS, and its wasm heap. */
  childRssGrowthMiB: number;
}

export const defaultBounds: SoakBounds = { apiRssGrowthMiB: 32, childRssGrowthMiB: 32 };

export interface SoakVerdict {
  /** Every child holds exactly as many tensors at the end as at the start. */
  tensorsFlat: boolean;
  apiRssGrowthMiB: number;
  childRssGrowthMiB: number[];
  wasmHeapGrowthMiB: Array<number | null>;
  /** Tensors identical, every growth within its bound, and no failed request. */
  flat: boolean;
  /** Why not, one line per broken bound. */
  reasons: string[];
}

export interface SoakReport {
  date: string;
  machine: { cpuModel: string; cores: number; node: string; loadAverage: { start: number; end: number } };
  settings: {
    durationSeconds: number;
    warmupSeconds: number;
    connections: number;
    imagesPerRequest: number;
    imageSize: number;
    architecture: string;
    jpegBytes: number;
  };
  engine: string;
  backend: string;
  requests: { total: number; perSecond: number; imagesPerSecond: number };
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  errors: { non2xx: number; socket: number; timeouts: number; total: number; statusCodes: Record<string, number> };
  memory: { start: MemorySnapshot; end: MemorySnapshot; samples: MemorySnapshot[] };
  bounds: SoakBounds;
  verdict: SoakVerdict;
}

const MiB = 1024 * 1024;
const mib = (bytes: number) => Math.round((bytes / MiB) * 10) / 10;

/** Parses Prometheus text into `name{labels}` → value (labels as written, e.g. `{worker="0"}`). */
export function parsePrometheus(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([A-Za-z_:][\w:]*(?:\{[^}]*\})?)\s+(\S+)/.exec(line);
    if (match) values.set(match[1]!, Number(match[2]));
  }
  return values;
}

/** The memory figures of one /metrics scrape. Throws when the service does not export them. */
export function memoryFromMetrics(text: string, atSeconds: number): MemorySnapshot {
  const values = parsePrometheus(text);
  const required = (key: string) => {
    const value = values.get(key);
    if (value === undefined) throw new Error(`/metrics has no ${key}`);
    return value;
  };
  const workers = [...values.keys()]
    .map((key) => /^effnet_inference_tensors\{worker="(\d+)"\}$/.exec(key)?.[1])
    .filter((w): w is string => w !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
  if (workers.length === 0) throw new Error('/metrics reports no inference child (effnet_inference_tensors)');
  return {
    atSeconds,
    apiRssBytes: required('effnet_process_resident_memory_bytes'),
    apiHeapUsedBytes: required('effnet_nodejs_heap_size_used_bytes'),
    children: workers.map((worker) => {
      const label = `{worker="${worker}"}`;
      return {
        worker,
        tensors: required(`effnet_inference_tensors${label}`),
        tensorBytes: required(`effnet_inference_tensor_bytes${label}`),
        wasmHeapBytes: values.get(`effnet_inference_wasm_heap_bytes${label}`) ?? null,
        rssBytes: required(`effnet_inference_rss_bytes${label}`),
      };
    }),
  };
}

/** Compares the end of the load with its start. */
export function judge(start: MemorySnapshot, end: MemorySnapshot, failedRequests: number, bounds: SoakBounds) {
  const reasons: string[] = [];
  let tensorsFlat = start.children.length === end.children.length;
  if (!tensorsFlat)
    reasons.push(`inference children: ${start.children.length} at the start, ${end.children.length} at the end`);
  const childRssGrowthMiB: number[] = [];
  const wasmHeapGrowthMiB: Array<number | null> = [];
  for (const before of start.children) {
    const after = end.children.find((c) => c.worker === before.worker);
    if (!after) continue;
    if (after.tensors !== before.tensors) {
      tensorsFlat = false;
      reasons.push(`worker ${before.worker}: ${before.tensors} tensors at the start, ${after.tensors} at the end`);
    }
    const rss = mib(after.rssBytes - before.rssBytes);
    childRssGrowthMiB.push(rss);
    if (rss > bounds.childRssGrowthMiB) {
      reasons.push(`worker ${before.worker}: RSS grew ${rss} MiB (bound ${bounds.childRssGrowthMiB} MiB)`);
    }
    const heap =
      before.wasmHeapBytes === null || after.wasmHeapBytes === null
        ? null
        : mib(after.wasmHeapBytes - before.wasmHeapBytes);
    wasmHeapGrowthMiB.push(heap);
    if (heap !== null && heap > bounds.childRssGrowthMiB) {
      reasons.push(`worker ${before.worker}: wasm heap grew ${heap} MiB (bound ${bounds.childRssGrowthMiB} MiB)`);
    }
  }
  const apiRssGrowthMiB = mib(end.apiRssBytes - start.apiRssBytes);
  if (apiRssGrowthMiB > bounds.apiRssGrowthMiB) {
    reasons.push(`api: RSS grew ${apiRssGrowthMiB} MiB (bound ${bounds.apiRssGrowthMiB} MiB)`);
  }
  if (failedRequests > 0) reasons.push(`${failedRequests} requests failed`);
  return {
    tensorsFlat,
    apiRssGrowthMiB,
    childRssGrowthMiB,
    wasmHeapGrowthMiB,
    flat: reasons.length === 0,
    reasons,
  } satisfies SoakVerdict;
}

/** The report as a Markdown table (README-ready) plus the verdict line. */
export function formatReport(report: SoakReport): string {
  const { settings: s, memory } = report;
  const rows: Array<[string, string, string]> = [
    ['api RSS', `${mib(memory.start.apiRssBytes)} MiB`, `${mib(memory.end.apiRssBytes)} MiB`],
    ['api JS heap used', `${mib(memory.start.apiHeapUsedBytes)} MiB`, `${mib(memory.end.apiHeapUsedBytes)} MiB`],
  ];
  for (const before of memory.start.children) {
    const after = memory.end.children.find((c) => c.worker === before.worker);
    const w = `inference child ${before.worker}`;
    rows.push([`${w} RSS`, `${mib(before.rssBytes)} MiB`, after ? `${mib(after.rssBytes)} MiB` : 'gone']);
    rows.push([`${w} tfjs tensors`, `${before.tensors}`, after ? `${after.tensors}` : 'gone']);
    rows.push([
      `${w} tfjs tensor bytes`,
      `${mib(before.tensorBytes)} MiB`,
      after ? `${mib(after.tensorBytes)} MiB` : '',
    ]);
    if (before.wasmHeapBytes !== null) {
      const end = after?.wasmHeapBytes;
      rows.push([`${w} wasm heap`, `${mib(before.wasmHeapBytes)} MiB`, end == null ? '' : `${mib(end)} MiB`]);
    }
  }
  const lines = [
    `POST /v1/models/{id}/predict, ${s.architecture} ${s.imageSize} px, ${s.imagesPerRequest} JPEG ` +
      `(${Math.round(s.jpegBytes / 1024)} KiB) per request, ${s.connections} connections, ${s.durationSeconds} s ` +
      `after ${s.warmupSeconds} s of warm-up; ${report.engine} on ${report.backend}; ` +
      `${report.machine.cores} cores (${report.machine.cpuModel}), load average ` +
      `${report.machine.loadAverage.start} → ${report.machine.loadAverage.end}`,
    '',
    '| throughput | p50 | p90 | p99 | max | errors |',
    '| ---: | ---: | ---: | ---: | ---: | ---: |',
    `| ${report.requests.perSecond} req/s (${report.requests.total} requests) | ${report.latencyMs.p50} ms | ` +
      `${report.latencyMs.p90} ms | ${report.latencyMs.p99} ms | ${report.latencyMs.max} ms | ${report.errors.total} |`,
    '',
    '| memory | start | end |',
    '| --- | ---: | ---: |',
    ...rows.map(([what, start, end]) => `| ${what} | ${start} | ${end} |`),
    '',
    report.verdict.flat
      ? `Flat: tensor count unchanged, RSS growth api ${report.verdict.apiRssGrowthMiB} MiB (bound ` +
        `${report.bounds.apiRssGrowthMiB}), children ${report.verdict.childRssGrowthMiB.join(', ')} MiB (bound ` +
        `${report.bounds.childRssGrowthMiB}), no failed request.`
      : `NOT FLAT: ${report.verdict.reasons.join('; ')}`,
  ];
  return lines.join('\n');
}
