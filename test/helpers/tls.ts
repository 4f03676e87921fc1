// A self-signed certificate (by default for 127.0.0.1 and localhost), made by openssl for one test.
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** `san`: the subjectAltName list; the common name is its first name. */
export function selfSigned(san = 'IP:127.0.0.1,DNS:localhost'): { cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-tls-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      `/CN=${san.split(',')[0]!.replace(/^\w+:/, '')}`,
      '-addext',
      `subjectAltName=${san}`,
    ],
    { stdio: 'ignore' },
  );
  return { cert, key };
}
