/**
 * An error the caller can act on. The HTTP layer answers it as problem+json with `status`; workers turn
 * it into a job failure with `message` as the reason. Subclasses live beside the code that throws them.
 */
export class DomainError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    message: string,
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class NotFoundError extends DomainError {
  constructor(what: string, id: string) {
    super(404, 'Not Found', `${what} '${id}' does not exist`, { resource: what, id });
  }
}

export class ConflictError extends DomainError {
  constructor(message: string, extensions: Record<string, unknown> = {}) {
    super(409, 'Conflict', message, extensions);
  }
}

export class BadRequestError extends DomainError {
  constructor(message: string, extensions: Record<string, unknown> = {}) {
    super(400, 'Bad Request', message, extensions);
  }
}
