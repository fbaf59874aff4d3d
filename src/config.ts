import path from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { backendPreferences } from './compute/backend.js';
import { maxWasmThreads } from './compute/wasm-threads.js';

const Bool = Type.Union([Type.Literal('true'), Type.Literal('false'), Type.Literal('1'), Type.Literal('0')]);
const Int = (min: number, def: number, description: string) =>
  Type.Integer({ minimum: min, default: def, description });

/** The environment schema: the one place that names, documents and defaults every setting. */
export const EnvSchema = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000, description: 'HTTP port' }),
  HOST: Type.String({ default: '127.0.0.1', description: 'Address to bind; non-loopback requires API_KEYS' }),
  REDIS_URL: Type.Optional(
    Type.String({ pattern: '^rediss?://', description: 'Redis for the queue; unset with npm start: a private one' }),
  ),
  QUEUE_PREFIX: Type.String({ default: 'effnet', minLength: 1, description: 'Redis key prefix of the queues' }),
  DATA_DIR: Type.String({ default: '.data', minLength: 1, description: 'Datasets, checkpoints and models' }),
  WEIGHTS_DIR: Type.Optional(Type.String({ description: 'Keras ImageNet .h5 files; default DATA_DIR/weights' })),
  WEIGHTS_VERIFY: Type.Optional(Bool),
  BASE_MODEL_IMAGE_SIZE: Type.Optional(
    Type.Integer({
      minimum: 32,
      maximum: 1024,
      description: "Input size of the ImageNet base models; default: each architecture's (224 for B0)",
    }),
  ),
  TF_BACKEND: Type.Union(
    backendPreferences.map((name) => Type.Literal(name)),
    { default: 'auto', description: 'auto, node-gpu, node, wasm or cpu' },
  ),
  TF_WASM_THREADS: Type.Integer({
    minimum: 0,
    maximum: maxWasmThreads,
    default: 0,
    description: 'XNNPACK threads of the wasm backend: 0 = one per CPU (at most 8), 1 = single-threaded build',
  }),
  API_KEYS: Type.Optional(Type.String({ description: 'Comma-separated bearer tokens' })),
  UPLOAD_MAX_BYTES: Int(1, 2 * 1024 ** 3, 'Largest dataset upload in bytes'),
  ARCHIVE_MAX_ENTRIES: Int(1, 200_000, 'Most entries in a dataset archive'),
  ARCHIVE_MAX_BYTES: Int(1, 8 * 1024 ** 3, 'Most uncompressed bytes in a dataset archive'),
  ARCHIVE_MAX_RATIO: Int(1, 200, 'Highest compression ratio of an archive (zip bombs)'),
  IMAGE_MAX_PIXELS: Int(1, 50_000_000, 'Most pixels in one input image (pixel floods)'),
  PREDICT_MAX_INSTANCES: Int(1, 64, 'Most images in one /predict or /features call'),
  JSON_BODY_MAX_BYTES: Int(1024, 32 * 1024 ** 2, 'Largest JSON request body in bytes (e.g. base64 images to /predict)'),
  DATASET_MAX_CLASSES: Int(2, 1000, 'Most classes in one dataset'),
  JOB_MAX_IMAGE_SIZE: Int(32, 600, 'Largest imageSize a job may train at (pixels per side)'),
  JOB_MAX_EPOCHS: Int(1, 1000, 'Most epochs of one job (head + finetune)'),
  JOBS_MAX_ACTIVE_PER_KEY: Int(
    1,
    10,
    'Most queued or running jobs per API key (all callers share one count without keys)',
  ),
  RATE_LIMIT_UPLOADS: Int(1, 20, 'Dataset uploads per minute per API key (per client address without keys)'),
  RATE_LIMIT_JOBS: Int(1, 60, 'Job creations per minute per API key (per client address without keys)'),
  WORKER_CONCURRENCY: Int(1, 1, 'Training jobs one worker runs at once'),
  INFERENCE_WORKER_CONCURRENCY: Int(1, 1, 'Batch inference jobs one inference worker runs at once'),
  BATCH_INFERENCE_BATCH_SIZE: Int(1, 32, 'Images per forward pass in a batch inference job'),
  WORKER_HEARTBEAT_FILE: Type.Optional(
    Type.String({ minLength: 1, description: 'File a worker touches every 10 s, for container health checks' }),
  ),
  WORKER_LOCK_MS: Int(
    1000,
    60_000,
    "Lifetime of a running job's lock, renewed by its worker; a dead worker's job is retried once it expires",
  ),
  WORKER_STALLED_INTERVAL_MS: Int(
    1000,
    30_000,
    'How often a worker looks for running jobs whose lock expired (their worker died) and requeues them',
  ),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)),
    { default: 'info', description: 'fatal, error, warn, info, debug, trace or silent' },
  ),
});
type Env = Static<typeof EnvSchema>;

export interface Config {
  port: number;
  host: string;
  redisUrl: string | undefined;
  queuePrefix: string;
  dataDir: string;
  weightsDir: string;
  weightsVerify: boolean;
  /** Input size of the base models (efficientnet-bN-imagenet); undefined: each architecture's default. */
  baseModelImageSize: number | undefined;
  tfBackend: Env['TF_BACKEND'];
  apiKeys: string[];
  limits: {
    uploadBytes: number;
    archiveEntries: number;
    archiveBytes: number;
    archiveRatio: number;
    imagePixels: number;
    predictInstances: number;
    jsonBodyBytes: number;
    datasetClasses: number;
    jobImageSize: number;
    jobEpochs: number;
    activeJobsPerKey: number;
    uploadsPerMinute: number;
    jobsPerMinute: number;
  };
  workerConcurrency: number;
  /** Batch inference jobs one inference worker runs at once (each in its own sandboxed process). */
  inferenceWorkerConcurrency: number;
  /** Images per forward pass in a batch inference job; with the decode-ahead window, what bounds its memory. */
  batchInferenceBatchSize: number;
  /** Touched every 10 s by a running worker (docker/worker-healthcheck.mjs reads it); unset: no heartbeat. */
  workerHeartbeatFile: string | undefined;
  /** BullMQ lockDuration of training jobs. */
  workerLockMs: number;
  /** BullMQ stalledInterval of training workers. */
  workerStalledIntervalMs: number;
  logLevel: Env['LOG_LEVEL'];
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

const loopback = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/** Validates the environment once, at start. Errors name the variable and say what it must be. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const known = Object.keys(EnvSchema.properties);
  const raw: Record<string, unknown> = {};
  for (const key of known) if (env[key] !== undefined && env[key] !== '') raw[key] = env[key];
  const converted = Value.Convert(EnvSchema, Value.Default(EnvSchema, raw));
  const problems = [...Value.Errors(EnvSchema, converted)].map((error) => {
    const name = error.path.replace(/^\//, '');
    return `${name}=${JSON.stringify(raw[name] ?? '')}: ${error.message}${describe(name)}`;
  });
  if (problems.length > 0) throw new ConfigError(problems);
  const e = converted as Env;
  const apiKeys = (e.API_KEYS ?? '')
    .split(',')
    .map((key) => key.trim())
    .filter((key) => key.length > 0);
  if (!loopback.test(e.HOST) && apiKeys.length === 0) {
    throw new ConfigError([`HOST=${e.HOST} is not a loopback address, so API_KEYS must be set (secure by default)`]);
  }
  const dataDir = path.resolve(e.DATA_DIR);
  return {
    port: e.PORT,
    host: e.HOST,
    redisUrl: e.REDIS_URL,
    queuePrefix: e.QUEUE_PREFIX,
    dataDir,
    weightsDir: path.resolve(e.WEIGHTS_DIR ?? path.join(dataDir, 'weights')),
    weightsVerify: e.WEIGHTS_VERIFY === undefined || e.WEIGHTS_VERIFY === 'true' || e.WEIGHTS_VERIFY === '1',
    baseModelImageSize: e.BASE_MODEL_IMAGE_SIZE,
    tfBackend: e.TF_BACKEND,
    apiKeys,
    limits: {
      uploadBytes: e.UPLOAD_MAX_BYTES,
      archiveEntries: e.ARCHIVE_MAX_ENTRIES,
      archiveBytes: e.ARCHIVE_MAX_BYTES,
      archiveRatio: e.ARCHIVE_MAX_RATIO,
      imagePixels: e.IMAGE_MAX_PIXELS,
      predictInstances: e.PREDICT_MAX_INSTANCES,
      jsonBodyBytes: e.JSON_BODY_MAX_BYTES,
      datasetClasses: e.DATASET_MAX_CLASSES,
      jobImageSize: e.JOB_MAX_IMAGE_SIZE,
      jobEpochs: e.JOB_MAX_EPOCHS,
      activeJobsPerKey: e.JOBS_MAX_ACTIVE_PER_KEY,
      uploadsPerMinute: e.RATE_LIMIT_UPLOADS,
      jobsPerMinute: e.RATE_LIMIT_JOBS,
    },
    workerConcurrency: e.WORKER_CONCURRENCY,
    inferenceWorkerConcurrency: e.INFERENCE_WORKER_CONCURRENCY,
    batchInferenceBatchSize: e.BATCH_INFERENCE_BATCH_SIZE,
    workerHeartbeatFile: e.WORKER_HEARTBEAT_FILE === undefined ? undefined : path.resolve(e.WORKER_HEARTBEAT_FILE),
    workerLockMs: e.WORKER_LOCK_MS,
    workerStalledIntervalMs: e.WORKER_STALLED_INTERVAL_MS,
    logLevel: e.LOG_LEVEL,
  };
}

function describe(name: string): string {
  const schema = (EnvSchema.properties as Record<string, { description?: string }>)[name];
  return schema?.description ? ` (${schema.description})` : '';
}
