// The one place that turns any thrown value into the wire body. Nothing internal
// (stack, SQL, path, library name) leaves here; the full error goes to the log.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { TesseraError, type ErrorCode } from './errors.js';
import { HasherBusyError } from '../domain/passwords/password-hasher.js';
import { isDatabaseUnavailable } from '../db/database.js';
import { isRedisUnavailable } from '../plugins/external/redis.js';

export interface WireError {
  status: number;
  body: { error: ErrorCode; error_description: string } & Record<string, unknown>;
  headers: Record<string, string>;
}

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_request',
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_request',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_request',
  FST_ERR_CTP_EMPTY_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_TYPE: 'unsupported_media_type',
  FST_ERR_VALIDATION: 'invalid_request',
  FST_ERR_BAD_URL: 'invalid_request',
  FST_ERR_MAX_PARAM_LENGTH: 'invalid_request',
  FST_ERR_ASYNC_CONSTRAINT: 'invalid_request',
};

/** Seconds a client is told to wait while PostgreSQL or Redis cannot be reached. */
const OUTAGE_RETRY_AFTER = '5';

/** An outage of what requests depend on: PostgreSQL or Redis unreachable, lost or timing out. */
function isOutage(error: unknown): boolean {
  return isDatabaseUnavailable(error) || isRedisUnavailable(error);
}

export function toWireError(error: unknown): WireError {
  if (error instanceof HasherBusyError) {
    // Bounded hashing: shed load with a hint instead of queueing without limit.
    return { ...fromCode('temporarily_unavailable'), headers: { 'Retry-After': '1' } };
  }
  if (isOutage(error)) {
    // Nothing was decided: the client may retry once the store is back.
    return { ...fromCode('temporarily_unavailable'), headers: { 'Retry-After': OUTAGE_RETRY_AFTER } };
  }
  if (error instanceof TesseraError && error.expose) {
    return {
      status: error.status,
      body: { error: error.code, error_description: error.description, ...error.extra },
      headers: error.headers,
    };
  }
  const fastifyError = error as Partial<FastifyError> & { type?: string };
  const mapped = fastifyError?.code ? FASTIFY_CODES[fastifyError.code] : undefined;
  if (mapped) return fromCode(mapped);
  // Errors raised by body parsing outside Fastify's own codes (e.g. a JSON syntax error).
  if (
    error instanceof SyntaxError ||
    (typeof fastifyError?.statusCode === 'number' && fastifyError.statusCode === 400)
  ) {
    return fromCode('invalid_request');
  }
  if (fastifyError?.statusCode === 413) return fromCode('payload_too_large');
  if (fastifyError?.statusCode === 415) return fromCode('unsupported_media_type');
  return fromCode('server_error');
}

function fromCode(code: ErrorCode): WireError {
  const e = new TesseraError(code);
  return { status: e.status, body: { error: e.code, error_description: e.description }, headers: {} };
}

export function errorHandler(this: unknown, error: unknown, request: FastifyRequest, reply: FastifyReply) {
  const wire = toWireError(error);
  if (wire.status >= 500 && wire.status !== 503) request.log.error({ err: error }, 'request failed');
  else if (isOutage(error)) request.log.warn({ err: error }, 'dependency unavailable');
  else request.log.info({ err: error, code: wire.body.error }, 'request refused');
  for (const [name, value] of Object.entries(wire.headers)) reply.header(name, value);
  return reply.code(wire.status).send(wire.body);
}
