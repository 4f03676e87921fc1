// Node's answers to requests it cannot parse (headers over its 16 KiB limit, a malformed
// request line, a request that did not arrive in time), in the contract's shape.
import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import { TesseraError, type ErrorCode } from '../errors/errors.js';
import { toWireError } from '../errors/error-mapper.js';
import { securityHeaders } from './security-headers.js';

/** Node's error codes that have a more telling answer than invalid_request. */
const CODES: Partial<Record<string, ErrorCode>> = {
  HPE_HEADER_OVERFLOW: 'headers_too_large',
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 'payload_too_large',
  ERR_HTTP_REQUEST_TIMEOUT: 'request_timeout',
};

/** A whole HTTP/1.1 answer; no request exists yet, so no hook can add anything to it. */
function rawResponse(code: ErrorCode, hsts: boolean): string {
  const { status, body } = toWireError(new TesseraError(code));
  const payload = JSON.stringify(body);
  const headers = {
    ...securityHeaders(hsts),
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(payload)),
    connection: 'close',
  };
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  return `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n${lines.join('')}\r\n${payload}`;
}

/** Fastify's clientErrorHandler option; Fastify calls it with the instance as `this`. */
export function clientErrorHandler(httpsIssuer: boolean) {
  return function onClientError(this: FastifyInstance, error: Error & { code?: string }, socket: Socket): void {
    // A reset connection has nobody left to answer.
    if (error.code === 'ECONNRESET' || socket.destroyed) {
      socket.destroy();
      return;
    }
    const code = CODES[error.code ?? ''] ?? 'invalid_request';
    // Codes only: the raw packet and the parser's message can quote headers holding secrets.
    this.log.info({ code, reason: error.code }, 'client error');
    // Node's own rule: answer unless a response on this connection has already begun
    // (an earlier keep-alive response that finished does not count), or bytes would mix.
    const current = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (socket.writable && !current?.headersSent)
      socket.write(rawResponse(code, httpsIssuer || socket instanceof TLSSocket));
    socket.destroy();
  };
}
