import { DomainError } from '../errors/domain-error.js';

/**
 * An error of the TF Serving REST routes, with the HTTP status TF Serving gives its canonical code
 * (tensorflow_serving/model_servers/http_server.cc: INVALID_ARGUMENT 400, NOT_FOUND 404) and, where TF Serving
 * has one, its message word for word, so clients that log or match it see what they know. Those routes answer
 * it as `{"error": message}`.
 */
export class TfServingError extends DomainError {
  constructor(status: 400 | 404, message: string) {
    super(status, status === 404 ? 'Not Found' : 'Bad Request', message);
  }
}

/** TF Serving's answer for a model or version it does not serve. */
export function servableNotFound(name: string, version?: string): TfServingError {
  const request = version === undefined ? `Latest(${name})` : `Specific(${name}, ${version})`;
  return new TfServingError(404, `Servable not found for request: ${request}`);
}
