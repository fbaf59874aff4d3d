import { DomainError } from '../errors/domain-error.js';

/** An archive that is refused (unsafe, over a limit, corrupt or not an archive). `reason` is user-facing. */
export class ArchiveError extends DomainError {
  constructor(
    readonly reason: string,
    /** Entry name inside the archive, when one entry is to blame. */
    readonly entry?: string,
    /** Underlying library message, for logs. */
    readonly detail?: string,
  ) {
    super(422, 'Invalid Archive', entry ? `${reason}: ${entry}` : reason, entry ? { reason, entry } : { reason });
  }
}
