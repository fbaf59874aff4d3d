import { DomainError } from '../errors/domain-error.js';

/**
 * An input of a /predict or /features call is not a usable image. HTTP 400. The message names the first bad
 * instance; `invalid` lists all of them. Reasons are ImageDecodeError.reason: short, and never a server path.
 */
export class InvalidInstanceImageError extends DomainError {
  constructor(
    /** 0-based index of the first bad image in the request. */
    readonly index: number,
    /** e.g. 'not an image', 'truncated or corrupt'. */
    readonly reason: string,
    readonly invalid: Array<{ index: number; reason: string }> = [{ index, reason }],
  ) {
    const more = invalid.length > 1 ? ` (and ${invalid.length - 1} more invalid images)` : '';
    super(400, 'Invalid Image', `instances[${index}]: ${reason}${more}`, { index, reason, invalid });
  }
}

/**
 * The child process running the batch died (crash, out of memory, killed) before answering. HTTP 503: the
 * pool has restarted it, so a retry normally succeeds.
 */
export class InferenceWorkerCrashedError extends DomainError {
  constructor(
    readonly exit: { code: number | null; signal: NodeJS.Signals | null },
    readonly workerIndex: number,
  ) {
    const how = exit.signal ? `signal ${exit.signal}` : exit.code === null ? 'not running' : `exit code ${exit.code}`;
    super(
      503,
      'Inference Worker Crashed',
      `the inference worker ${workerIndex} stopped (${how}) while running this request; retry it`,
      { retryable: true },
    );
  }
}

/** The pool is closed (shutting down) or was never started. HTTP 503. */
export class InferencePoolClosedError extends DomainError {
  constructor(readonly state: 'closed' | 'not started') {
    super(503, 'Inference Unavailable', `the inference pool is ${state}`);
  }
}

/** More images are waiting than the pool accepts; the caller should back off. HTTP 503. */
export class InferenceOverloadedError extends DomainError {
  constructor(
    readonly queuedImages: number,
    readonly limit: number,
  ) {
    super(503, 'Inference Overloaded', `${queuedImages} images are already waiting (limit ${limit}); retry later`, {
      retryable: true,
    });
  }
}

/**
 * The model artifact could not be loaded (missing, corrupt, or not a trained effnet-tl model). HTTP 500:
 * a model the api lists should always load; the detail goes to the log, not the client.
 */
export class ModelLoadError extends Error {
  constructor(
    readonly modelId: string,
    detail: string,
  ) {
    super(`model '${modelId}' could not be loaded: ${detail}`);
    this.name = 'ModelLoadError';
  }
}

/** Anything else that failed inside a child (an engine error, a bug); carries the child's message. */
export class InferenceFailedError extends Error {
  constructor(
    readonly modelId: string,
    detail: string,
  ) {
    super(`inference with model '${modelId}' failed: ${detail}`);
    this.name = 'InferenceFailedError';
  }
}

/** The child could not start (e.g. an explicitly requested backend does not load). */
export class InferenceWorkerStartError extends Error {
  constructor(
    readonly workerIndex: number,
    detail: string,
  ) {
    super(`inference worker ${workerIndex} failed to start: ${detail}`);
    this.name = 'InferenceWorkerStartError';
  }
}
