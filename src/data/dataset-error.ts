import { DomainError } from '../errors/domain-error.js';

/** A dataset that cannot be trained on as given (layout problem, too few classes…). The message is user-facing. */
export class DatasetError extends DomainError {
  constructor(message: string) {
    super(422, 'Invalid Dataset', message);
  }
}
