// pino options: JSON lines on stdout (ready for ELK or Loki: ISO time, request id, route,
// status, duration), secrets redacted wherever they appear; a readable form only when
// stdout is a terminal.
import type { FastifyServerOptions } from 'fastify';
import { pino, stdSerializers, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { REDACTED, redactDeep, scrubLine, scrubString } from './lib/redact.js';

/** Paths pino itself censors; everything else is caught by key name at any depth. */
const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["proxy-authorization"]',
  'res.headers["set-cookie"]',
  '*.password',
  '*.refresh_token',
  '*.access_token',
  '*.client_secret',
  '*.captcha_token',
];

interface RequestLike {
  method: string;
  url: string;
  id: string;
  ip?: string;
  routeOptions?: { url?: string };
}

interface ReplyLike {
  statusCode: number;
  request?: { method?: string; routeOptions?: { url?: string } };
}

const serializers = {
  req: (req: RequestLike) => ({
    method: req.method,
    // The query string can carry secrets; log the path only.
    url: scrubString(req.url.split('?')[0] ?? ''),
    route: req.routeOptions?.url,
    id: req.id,
    ip: req.ip,
  }),
  res: (reply: ReplyLike) => ({
    statusCode: reply.statusCode,
    method: reply.request?.method,
    route: reply.request?.routeOptions?.url,
  }),
  // Errors keep type, message, stack and own fields, scrubbed like everything else: a
  // JSON syntax error, for one, quotes the body it could not parse.
  err: (error: Error) => redactDeep(JSON.parse(JSON.stringify(stdSerializers.err(error))) as unknown),
};

export interface LogOutput {
  /** Where lines go (tests capture them); default stdout. */
  stream?: DestinationStream;
  /** Human-readable lines; default: only when stdout is a terminal and no stream is given. */
  pretty?: boolean;
}

function baseOptions(level: string): LoggerOptions {
  return {
    level,
    redact: { paths: REDACT_PATHS, censor: REDACTED },
    timestamp: () => `,"time":"${new Date().toISOString()}"`,
    serializers,
    formatters: { log: (object) => redactDeep(object) as Record<string, unknown> },
    // The last net: whatever a message or a serializer let through is scrubbed as text.
    hooks: { streamWrite: scrubLine },
  };
}

function outputStream(output: LogOutput): DestinationStream | undefined {
  if (output.stream) return output.stream;
  const pretty = output.pretty ?? process.stdout.isTTY === true;
  return pretty ? prettyStream(process.stdout) : undefined;
}

/** Options for Fastify's own logger. */
export function loggerOptions(level: string, output: LogOutput = {}): FastifyServerOptions['logger'] {
  const stream = outputStream(output);
  return { ...baseOptions(level), ...(stream ? { stream } : {}) };
}

/** A logger for work outside requests (alerts), with the same options. */
export function createLogger(level: string, output: LogOutput = {}): Logger {
  const stream = outputStream(output);
  return stream ? pino(baseOptions(level), stream) : pino(baseOptions(level));
}

const LEVELS: Record<number, [string, string]> = {
  10: ['TRACE', '90'],
  20: ['DEBUG', '36'],
  30: ['INFO', '32'],
  40: ['WARN', '33'],
  50: ['ERROR', '31'],
  60: ['FATAL', '35'],
};

/** A line of this logger: pino writes msg as a string, and reqId is genReqId's UUID. */
type PinoRecord = Record<string, unknown> & { msg?: string; reqId?: string };

/** One line per record: time, level, request id, message, then the other fields as JSON. */
export function prettyLine(line: string, color = true): string {
  let record: PinoRecord;
  try {
    record = JSON.parse(line) as PinoRecord;
  } catch {
    return line;
  }
  const { time, level, msg, reqId, pid: _pid, hostname: _hostname, ...rest } = record;
  const [name, code] = LEVELS[Number(level)] ?? [String(level), '0'];
  const label = color ? `\u001b[${code}m${name.padEnd(5)}\u001b[0m` : name.padEnd(5);
  const clock = typeof time === 'string' ? time.slice(11, 23) : '';
  const fields = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
  return `${clock} ${label} ${reqId ? `[${String(reqId).slice(0, 8)}] ` : ''}${String(msg ?? '')}${fields}\n`;
}

function prettyStream(out: NodeJS.WriteStream): DestinationStream {
  return {
    write(chunk: string) {
      for (const line of chunk.split('\n')) if (line) out.write(prettyLine(line, out.hasColors?.() ?? false));
    },
  };
}
