#!/usr/bin/env node
// The container's health check: GET /healthz (or /readyz, given `readyz`) on this instance's
// own port; exit 0 on 200, 1 on anything else, no answer within HEALTHCHECK_TIMEOUT_MS
// included. Plain Node with no dependency, so the image runs it as it is.
//
// With TLS_CERT_FILE set it speaks HTTPS and verifies the server: the certificate names the
// public host, not 127.0.0.1, so the name checked is ISSUER's host, and the trust anchors are
// the certificates in TLS_CERT_FILE itself (leaf and chain; a partial chain is accepted, the
// public root is not needed). A server that is not the one holding that certificate fails.
// On failure it prints one line on stderr: a status code or an error code, never a setting's
// value or a response body.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { checkServerIdentity } from 'node:tls';

const PATHS = { healthz: '/healthz', readyz: '/readyz' };
const CERTIFICATE = /-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+-----END CERTIFICATE-----/g;
const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

function fail(message) {
  process.stderr.write(`healthcheck: ${message}\n`);
  process.exitCode = 1;
}

/** A whole number in [min, max] from the environment; the default when unset; null when malformed. */
function wholeNumber(name, fallback, min, max) {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  if (!/^\d{1,6}$/.test(text)) return null;
  const value = Number(text);
  return value >= min && value <= max ? value : null;
}

/** Where to connect: HOST when it is one address, loopback when it is a wildcard; null when malformed. */
function connectHost(host) {
  if (host === undefined || host === '' || host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '::1';
  if (isIP(host) || HOSTNAME.test(host)) return host;
  return null;
}

/** The host name the certificate must carry: ISSUER's (Tessera's default issuer is http://localhost:PORT). */
function issuerHost(issuer) {
  if (issuer === undefined || issuer === '') return 'localhost';
  try {
    const { protocol, hostname } = new URL(issuer);
    if (protocol !== 'https:' && protocol !== 'http:') return null;
    return hostname.replace(/^\[(.*)\]$/, '$1');
  } catch {
    return null;
  }
}

/** HTTPS options from TLS_CERT_FILE and ISSUER, or an error message. */
function tlsOptions(certFile) {
  let pem;
  try {
    pem = readFileSync(certFile, 'utf8');
  } catch {
    return 'cannot read TLS_CERT_FILE';
  }
  const ca = pem.match(CERTIFICATE);
  if (!ca) return 'TLS_CERT_FILE holds no PEM certificate';
  const name = issuerHost(process.env.ISSUER);
  if (!name) return 'ISSUER is not an absolute http(s) URL';
  return {
    ca,
    // The file's certificates are the anchors even when not self-signed (a leaf and its
    // intermediates from a public CA); without this OpenSSL wants the root too.
    allowPartialTrustChain: true,
    // SNI takes names only; an issuer at an IP address is still checked below.
    ...(isIP(name) ? {} : { servername: name }),
    checkServerIdentity: (_connectedTo, certificate) => checkServerIdentity(name, certificate),
    minVersion: 'TLSv1.2',
  };
}

function main() {
  const args = process.argv.slice(2);
  const which = args[0] ?? 'healthz';
  if (args.length > 1 || !Object.hasOwn(PATHS, which)) return fail('usage: healthcheck.js [healthz|readyz]');
  const path = PATHS[which];
  const port = wholeNumber('PORT', 3000, 1, 65535);
  if (port === null) return fail('PORT must be a whole number from 1 to 65535');
  const timeoutMs = wholeNumber('HEALTHCHECK_TIMEOUT_MS', 2000, 100, 60_000);
  if (timeoutMs === null) return fail('HEALTHCHECK_TIMEOUT_MS must be a whole number from 100 to 60000');
  const host = connectHost(process.env.HOST);
  if (host === null) return fail('HOST must be an address or a host name');

  let transport = http;
  let extra = {};
  const certFile = process.env.TLS_CERT_FILE;
  if (certFile) {
    const options = tlsOptions(certFile);
    if (typeof options === 'string') return fail(options);
    transport = https;
    extra = options;
  }

  let settled = false;
  let timedOut = false;
  const settle = (ok, message) => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    if (ok) process.exitCode = 0;
    else fail(message);
  };
  const request = transport.get(
    { host, port, path, agent: false, headers: { accept: 'application/json' }, ...extra },
    (response) => {
      response.on('error', () => undefined); // destroyed below; the verdict is already in
      settle(response.statusCode === 200, `${path} answered ${response.statusCode}`);
      response.destroy();
    },
  );
  const timer = setTimeout(() => {
    timedOut = true;
    request.destroy();
  }, timeoutMs);
  request.on('error', (error) =>
    settle(false, timedOut ? `no answer from ${path} within ${timeoutMs} ms` : `${path}: ${error.code ?? 'error'}`),
  );
  request.on('close', () =>
    settle(false, timedOut ? `no answer from ${path} within ${timeoutMs} ms` : `${path}: closed`),
  );
}

main();
