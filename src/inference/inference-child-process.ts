import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { BackendPreference } from '../compute/backend.js';
import {
  InferencePoolClosedError,
  InferenceWorkerCrashedError,
  InferenceWorkerStartError,
} from './inference-errors.js';
import type {
  BatchFailed,
  BatchRequest,
  BatchSucceeded,
  ChildMemory,
  ChildMessage,
  ChildReady,
  EvictReply,
  MemoryReply,
  ParentMessage,
} from './inference-protocol.js';

// Same extension as this file: the .ts entry under tsx (the child inherits `--import tsx`), .js when built.
const thisFile = fileURLToPath(import.meta.url);
export const inferenceChildFile = path.join(path.dirname(thisFile), `inference-child${path.extname(thisFile)}`);

export type PoolLog = {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
};

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface InferenceChildOptions {
  index: number;
  backend: BackendPreference;
  cacheBytes: number;
  limitInputPixels?: number;
  log?: PoolLog;
  /** Called when the process ends without stop() having been called. */
  onUnexpectedExit(exit: ChildExit): void;
}

type Reply = BatchSucceeded | BatchFailed | EvictReply | MemoryReply;

interface Waiter {
  resolve(reply: Reply): void;
  reject(error: unknown): void;
}

/** Node flags the child must not inherit: a second debugger on the same port, the test runner, watch mode. */
function childExecArgv(): string[] {
  return process.execArgv.filter((flag) => !/^--(inspect|debug|test|watch|experimental-test)/.test(flag));
}

const stopGraceMs = 2000;

/** The parent's handle on one inference child process: fork, ready handshake, request/reply by id. */
export class InferenceChildProcess {
  private child: ChildProcess | undefined;
  private readonly waiting = new Map<number, Waiter>();
  private nextId = 1;
  private stopping = false;
  private exited: Promise<void> = Promise.resolve();
  info: ChildReady | undefined;
  /** Model ids the child reported cached, after its last answer. */
  loadedModels: string[] = [];

  constructor(private readonly options: InferenceChildOptions) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get ready(): boolean {
    return this.info !== undefined;
  }

  /** Forks the process and resolves once its backend is up; rejects with InferenceWorkerStartError. */
  start(): Promise<ChildReady> {
    const { index, log } = this.options;
    this.stopping = false;
    this.info = undefined;
    this.loadedModels = [];
    const env = { ...process.env };
    delete env.NODE_TEST_CONTEXT;
    const child = fork(inferenceChildFile, [], {
      serialization: 'advanced',
      execArgv: childExecArgv(),
      env,
      stdio: log ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child = child;
    if (log) {
      for (const stream of [child.stdout, child.stderr]) {
        if (stream) createInterface({ input: stream }).on('line', (line) => log.warn({ worker: index }, line));
      }
    }

    let becameReady = false;
    let settleStart: { resolve(info: ChildReady): void; reject(error: unknown): void } | undefined;
    const started = new Promise<ChildReady>((resolve, reject) => (settleStart = { resolve, reject }));
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        resolve();
        if (this.child === child) this.child = undefined;
        this.info = undefined;
        this.loadedModels = [];
        if (settleStart) {
          settleStart.reject(new InferenceWorkerStartError(index, `exited (${signal ?? `code ${code}`}) before ready`));
          settleStart = undefined;
        } else if (becameReady && !this.stopping) {
          // (A child that never became ready is reported by start() instead.) Before the waiters are failed,
          // so the pool stops dispatching here before their slots free up.
          this.options.onUnexpectedExit({ code, signal });
        }
        const error = this.stopping
          ? new InferencePoolClosedError('closed')
          : new InferenceWorkerCrashedError({ code, signal }, index);
        for (const waiter of this.waiting.values()) waiter.reject(error);
        this.waiting.clear();
      });
    });
    child.on('error', (error) => log?.error({ worker: index, err: error }, 'inference worker process error'));
    child.on('message', (message: ChildMessage) => {
      switch (message.type) {
        case 'ready':
          becameReady = true;
          this.info = message;
          settleStart?.resolve(message);
          settleStart = undefined;
          return;
        case 'start-failed':
          settleStart?.reject(new InferenceWorkerStartError(index, message.message));
          settleStart = undefined;
          return;
        default: {
          const waiter = this.waiting.get(message.id);
          if (!waiter) return;
          this.waiting.delete(message.id);
          if (message.type !== 'memory-result') this.loadedModels = message.loadedModels;
          else this.loadedModels = message.memory.loadedModels;
          waiter.resolve(message);
        }
      }
    });
    this.post({
      type: 'init',
      backend: this.options.backend,
      cacheBytes: this.options.cacheBytes,
      limitInputPixels: this.options.limitInputPixels,
    });
    return started;
  }

  runBatch(request: Omit<BatchRequest, 'type' | 'id'>): Promise<BatchSucceeded | BatchFailed> {
    return this.call({ type: 'batch', ...request }) as Promise<BatchSucceeded | BatchFailed>;
  }

  async evict(modelId: string): Promise<boolean> {
    const reply = (await this.call({ type: 'evict', modelId })) as EvictReply;
    return reply.evicted;
  }

  async memory(): Promise<ChildMemory> {
    const reply = (await this.call({ type: 'memory' })) as MemoryReply;
    return reply.memory;
  }

  /** Requests still unanswered by this process. */
  get pendingCount(): number {
    return this.waiting.size;
  }

  /** SIGTERM, then SIGKILL after a grace period; pending requests fail with InferencePoolClosedError. */
  async stop(): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return this.exited;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), stopGraceMs);
    await this.exited;
    clearTimeout(timer);
  }

  private call(message: Omit<BatchRequest, 'id'> | { type: 'evict'; modelId: string } | { type: 'memory' }) {
    const id = this.nextId++;
    return new Promise<Reply>((resolve, reject) => {
      if (!this.ready) {
        reject(new InferenceWorkerCrashedError({ code: null, signal: null }, this.options.index));
        return;
      }
      this.waiting.set(id, { resolve, reject });
      this.post({ ...message, id } as ParentMessage);
    });
  }

  private post(message: ParentMessage): void {
    // A send on a channel that just closed fails; the 'exit' handler answers everything waiting.
    this.child?.send(message, (error) => {
      if (error) this.options.log?.warn({ worker: this.options.index, err: error }, 'inference worker send failed');
    });
  }
}
