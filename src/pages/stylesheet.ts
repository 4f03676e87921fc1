// The hosted pages' one stylesheet, read once: its bytes for GET /assets/tessera.css, and
// a strong ETag that also versions the URL the pages link to.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from './package-root.js';

export const STYLESHEET_PATH = '/assets/tessera.css';

export interface Stylesheet {
  body: Buffer;
  /** Quoted, as the ETag header carries it. */
  etag: string;
  /** The URL the pages link to: the path plus a content version, so an upgrade is seen at once. */
  href: string;
}

let cached: Stylesheet | undefined;

export function stylesheet(): Stylesheet {
  if (cached) return cached;
  const body = readFileSync(join(packageRoot(), 'src', 'pages', 'assets', 'tessera.css'));
  const digest = createHash('sha256').update(body).digest('base64url');
  cached = { body, etag: `"${digest}"`, href: `${STYLESHEET_PATH}?v=${digest.slice(0, 16)}` };
  return cached;
}
