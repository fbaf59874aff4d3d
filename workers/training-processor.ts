import { UnrecoverableError, type SandboxedJob } from 'bullmq';

/** BullMQ sandboxed processor: runs in its own child process, one training job at a time. */
export default async function trainingProcessor(job: SandboxedJob): Promise<unknown> {
  throw new UnrecoverableError(`job ${job.id}: the two-phase trainer is not wired into the worker yet`);
}
