// pino options: JSON lines on stdout, secrets redacted wherever they appear.
import type { FastifyServerOptions } from 'fastify';

export const REDACT_PATHS = [
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

export function loggerOptions(level: string): FastifyServerOptions['logger'] {
  return {
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: {
      req: (req: { method: string; url: string; id: string; ip?: string; routeOptions?: { url?: string } }) => ({
        method: req.method,
        // The query string can carry secrets; log the path only.
        url: req.url.split('?')[0],
        route: req.routeOptions?.url,
        id: req.id,
        ip: req.ip,
      }),
    },
  };
}
