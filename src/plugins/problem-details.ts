import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { STATUS_CODES } from 'node:http';
import { DomainError } from '../errors/domain-error.js';
import { ModelLoadError } from '../inference/inference-errors.js';
import type { Problem } from '../schemas/problem.js';

const problemType = (slug: string) => `https://effnet-tl.dev/problems/${slug}`;

function slugOf(title: string): string {
  return title.toLowerCase().replace(/[^a-z0-9]+/g, '-');
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Errors of this route are TF Serving's `{"error": "…"}` (application/json), not problem+json. */
    tfServingErrors?: boolean;
  }
}

export function sendProblem(
  reply: FastifyReply,
  request: FastifyRequest,
  problem: Omit<Problem, 'instance'> & Record<string, unknown>,
) {
  // Every error path (auth, rate limits, body parsing, validation, handlers) ends here, so one check covers all.
  if (request.routeOptions.config?.tfServingErrors) {
    return reply
      .code(problem.status)
      .type('application/json')
      .send({ error: problem.detail ?? problem.title });
  }
  return reply
    .code(problem.status)
    .type('application/problem+json')
    .send({ ...problem, instance: request.url.split('?')[0] });
}

/** Fastify's own messages for these say only the status ("Unsupported Media Type"); say what to send instead. */
function clientDetail(error: FastifyError, request: FastifyRequest): string {
  if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    const sent = (request.headers['content-type'] ?? '').slice(0, 100) || 'none';
    return `unsupported content type (${sent}): send application/json, or multipart/form-data for file uploads`;
  }
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return (
      `request body too large: more than ${request.routeOptions.bodyLimit} bytes (JSON_BODY_MAX_BYTES); ` +
      'send images as multipart/form-data, or fewer per call'
    );
  }
  return error.message;
}

/** One error handler for the whole app: every error becomes problem+json, and 5xx details stay in the log. */
export default fp(
  async function problemDetails(app: FastifyInstance) {
    app.setErrorHandler((error: FastifyError, request, reply) => {
      // Failed before its body was read (an upload that hit a full disk or a limit): nothing reads the rest,
      // so a kept-alive socket would hang, with the client still sending, and block the server's close().
      if (!request.raw.complete) reply.header('connection', 'close');
      if (error instanceof DomainError) {
        if (error.status >= 500 && error.status !== 503) request.log.error({ err: error }, 'request failed');
        return sendProblem(reply, request, {
          type: problemType(slugOf(error.name.replace(/Error$/, ''))),
          title: error.title,
          status: error.status,
          detail: error.message,
          ...error.extensions,
        });
      }
      if (error instanceof ModelLoadError) {
        // A registered model whose artifact is corrupt or incomplete: say which model, keep the cause (it
        // names server paths) in the log.
        request.log.error({ err: error, modelId: error.modelId }, 'model could not be loaded');
        return sendProblem(reply, request, {
          type: problemType('model-load-failed'),
          title: 'Model Load Failed',
          status: 500,
          detail: `model '${error.modelId}' could not be loaded: its artifact is missing, incomplete or corrupt; the cause is in the server log`,
          modelId: error.modelId,
        });
      }
      if (error.validation) {
        return sendProblem(reply, request, {
          type: problemType('validation'),
          title: 'Bad Request',
          status: 400,
          detail: error.message,
          errors: error.validation.map((v) => ({ path: v.instancePath, message: v.message })),
        });
      }
      const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
      if (status >= 500) {
        request.log.error({ err: error }, 'request failed');
        return sendProblem(reply, request, {
          type: 'about:blank',
          title: STATUS_CODES[status] ?? 'Internal Server Error',
          status,
          detail: 'The server failed to handle this request; the error is in its log.',
        });
      }
      return sendProblem(reply, request, {
        type: 'about:blank',
        title: STATUS_CODES[status] ?? 'Error',
        status,
        detail: clientDetail(error, request),
      });
    });

    app.setNotFoundHandler((request, reply) =>
      sendProblem(reply, request, {
        type: 'about:blank',
        title: 'Not Found',
        status: 404,
        detail: `No route ${request.method} ${request.url.split('?')[0]}`,
      }),
    );
  },
  { name: 'problem-details' },
);
