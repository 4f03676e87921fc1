// GET /assets/tessera.css from the route plugin on a bare Fastify (the app wires it), and
// sendPage's headers under the app's helmet settings.
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Fastify from 'fastify';
import helmet from '@fastify/helmet';
import assetRoutes from '../../src/routes/assets/index.js';
import { ErrorBody } from '../../src/schemas.js';
import { HELMET_OPTIONS } from '../../src/lib/security-headers.js';
import { packageRoot } from '../../src/pages/package-root.js';
import { sendPage } from '../../src/pages/send.js';
import { elements } from './html.js';
import { pages } from './fixtures.js';

const CSS = readFileSync(join(packageRoot(), 'src', 'pages', 'assets', 'tessera.css'));
const ETAG = `"${createHash('sha256').update(CSS).digest('base64url')}"`;

async function app(t: TestContext) {
  const fastify = Fastify();
  t.after(() => fastify.close());
  fastify.addSchema(ErrorBody);
  await fastify.register(helmet, { global: true, ...HELMET_OPTIONS });
  await fastify.register(assetRoutes);
  return fastify;
}

describe('GET /assets/tessera.css', () => {
  it('serves the stylesheet, cacheable, with a strong ETag', async (t) => {
    const res = await (await app(t)).inject({ method: 'GET', url: '/assets/tessera.css' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], 'text/css; charset=utf-8');
    assert.equal(res.headers['cache-control'], 'public, max-age=86400');
    assert.equal(res.headers.etag, ETAG);
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.deepEqual(res.rawPayload, CSS);
    // The versioned URL the pages link to is the same file.
    const href = elements(pages().error({ message: 'x' }).html).find((el) => el.tag === 'link')?.attrs.href;
    const versioned = await (await app(t)).inject({ method: 'GET', url: href! });
    assert.equal(versioned.statusCode, 200);
    assert.equal(versioned.headers.etag, ETAG);
  });

  it('answers 304 without a body when If-None-Match names its ETag', async (t) => {
    const fastify = await app(t);
    for (const inm of [ETAG, `W/${ETAG}`, `"other", ${ETAG}`, '*']) {
      const res = await fastify.inject({
        method: 'GET',
        url: '/assets/tessera.css',
        headers: { 'if-none-match': inm },
      });
      assert.equal(res.statusCode, 304, inm);
      assert.equal(res.body, '');
      assert.equal(res.headers.etag, ETAG);
      assert.equal(res.headers['cache-control'], 'public, max-age=86400');
    }
    const stale = await fastify.inject({
      method: 'GET',
      url: '/assets/tessera.css',
      headers: { 'if-none-match': '"stale"' },
    });
    assert.equal(stale.statusCode, 200);
    assert.equal(stale.body, CSS.toString('utf8'));
  });

  it('is small, light and dark, with visible focus and nothing loaded from elsewhere', () => {
    const css = CSS.toString('utf8');
    assert.ok(CSS.length < 6 * 1024, `${CSS.length} bytes`);
    assert.match(css, /@media \(prefers-color-scheme: dark\)/);
    assert.match(css, /:focus-visible\s*{[^}]*outline:/);
    assert.doesNotMatch(css, /@import|@font-face|url\(/);
  });
});

describe('sendPage', () => {
  it('sends HTML with the page’s own CSP in place of the API one, never cached', async (t) => {
    const fastify = Fastify();
    t.after(() => fastify.close());
    await fastify.register(helmet, { global: true, ...HELMET_OPTIONS });
    const page = pages().error({ message: 'Nothing to see.' });
    fastify.get('/page', async (_request, reply) => sendPage(reply, 400, page));
    const res = await fastify.inject({ method: 'GET', url: '/page' });
    assert.equal(res.statusCode, 400);
    assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(res.headers['content-security-policy'], page.csp);
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.equal(res.headers['x-frame-options'], 'DENY');
    assert.equal(res.body, page.html);
  });
});
