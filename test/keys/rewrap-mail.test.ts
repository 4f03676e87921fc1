// Mail waiting in the outbox is sealed under the master key too: a rotation re-seals it,
// so the old key can be dropped while reset and verification links are still queued.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { SecretBox } from '../../src/crypto/secret-box.js';
import { loadSecrets } from '../../src/crypto/secrets.js';
import { insertMail } from '../../src/db/repositories/mail-outbox.js';
import { rewrapSecrets } from '../../src/keys/rewrap.js';
import { outboxAad } from '../../src/mail/outbox.js';
import { build, testConfig, TEST_MASTER_KEY } from '../helpers/build.js';

test('master key rotation re-seals queued mail', async (t) => {
  const newKey = randomBytes(32).toString('base64');
  const { services } = await build(t, { MASTER_KEY: newKey, MASTER_KEY_PREVIOUS: TEST_MASTER_KEY });
  const { box: oldBox } = loadSecrets(await testConfig());
  const id = randomUUID();
  const body = JSON.stringify({ kind: 'password_reset', to: 'someone@example.test', link: 'https://x.test/r#secret' });
  await insertMail(services.db, { id, kind: 'password_reset', message: oldBox.seal(body, outboxAad(id)) });

  const result = await rewrapSecrets(services.db, services.box);
  assert.ok(result.rewrapped >= 1, JSON.stringify(result));
  const [row] = await services.db.query<{ message: string }>('SELECT message FROM mail_outbox WHERE id = $1', [id]);
  assert.equal(SecretBox.sealedWith(row!.message), services.box.keyId);
  // The new key alone opens it, under its own row's AAD only.
  const { box: newOnly } = loadSecrets(await testConfig({ MASTER_KEY: newKey }));
  assert.equal(newOnly.open(row!.message, outboxAad(id)).toString(), body);
  assert.throws(() => newOnly.open(row!.message, outboxAad(randomUUID())));
  // A second run finds it current.
  const again = await rewrapSecrets(services.db, services.box);
  assert.equal(again.rewrapped, 0);
});
