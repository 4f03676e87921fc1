// The cipher allow-list of TLS served directly (ASVS 12.1.2): a TLS 1.2 client gets only
// ECDHE suites with an AEAD; TLS 1.3 works, TLS 1.1 does not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type ConnectionOptions } from 'node:tls';
import { build } from '../helpers/build.js';

/**
 * A self-signed RSA certificate (test/helpers/tls.ts makes ECDSA ones): with RSA the static-RSA
 * suites such as AES128-SHA are possible at all, so refusing them proves the allow-list.
 */
function selfSignedRsa(): { cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-tls-'));
  const [cert, key] = [join(dir, 'cert.pem'), join(dir, 'key.pem')];
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1'].concat([
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ]),
    { stdio: 'ignore' },
  );
  return { cert, key };
}

type Handshake = { ok: true; protocol: string | null; cipher: string } | { ok: false; code: string };

/** One handshake with these client options; the socket is closed right after. */
function handshake(port: number, ca: Buffer, options: ConnectionOptions): Promise<Handshake> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, ca, servername: 'localhost', ...options }, () => {
      resolve({ ok: true, protocol: socket.getProtocol(), cipher: socket.getCipher().standardName });
      socket.end();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => resolve({ ok: false, code: error.code ?? error.message }));
  });
}

test('TLS 1.2 clients get only forward-secret AEAD suites', async (t) => {
  const { cert, key } = selfSignedRsa();
  const { app } = await build(t, { TLS_CERT_FILE: cert, TLS_KEY_FILE: key, ISSUER: 'https://127.0.0.1:3443' });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as { port: number }).port;
  const ca = readFileSync(cert);
  const tls12 = { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' } as const;

  // Node's default server list accepts every one of these from a TLS 1.2 client: static RSA
  // key exchange (no forward secrecy) with CBC or GCM, and ECDHE with CBC.
  for (const ciphers of ['AES128-SHA', 'AES128-GCM-SHA256', 'ECDHE-RSA-AES128-SHA', 'ECDHE-RSA-AES128-SHA256']) {
    const refused = await handshake(port, ca, { ...tls12, ciphers });
    assert.equal(refused.ok, false, `${ciphers} must be refused`);
  }

  for (const [ciphers, standardName] of [
    ['ECDHE-RSA-AES128-GCM-SHA256', 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256'],
    ['ECDHE-RSA-CHACHA20-POLY1305', 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256'],
  ] as const) {
    assert.deepEqual(await handshake(port, ca, { ...tls12, ciphers }), {
      ok: true,
      protocol: 'TLSv1.2',
      cipher: standardName,
    });
  }
  // A client offering everything OpenSSL has (strongest-first or not) gets the server's first choice.
  for (const ciphers of ['ALL:@SECLEVEL=0', 'AES128-SHA:ECDHE-RSA-AES128-GCM-SHA256:ALL:@SECLEVEL=0']) {
    assert.deepEqual(await handshake(port, ca, { ...tls12, ciphers }), {
      ok: true,
      protocol: 'TLSv1.2',
      cipher: 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384',
    });
  }

  const tls11 = await handshake(port, ca, { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'ALL:@SECLEVEL=0' });
  assert.equal(tls11.ok, false, 'TLS 1.1 is refused');

  assert.deepEqual(await handshake(port, ca, { minVersion: 'TLSv1.3' }), {
    ok: true,
    protocol: 'TLSv1.3',
    cipher: 'TLS_AES_256_GCM_SHA384',
  });
});
