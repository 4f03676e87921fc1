// Signing keys: app.keys changes them (rotation, revocation, promotion), app.keystore holds
// this instance's copy, and app.syncKeys() brings that copy in step with the database, also
// every KEY_SYNC_INTERVAL. The sealing box comes in as an option and stays inside.
import fp from 'fastify-plugin';
import type { SecretBox } from '../../crypto/secret-box.js';
import { KeyManager } from '../../keys/key-manager.js';
import { Keystore } from '../../keys/keystore.js';
import { rotationSettings } from '../../keys/rotation-settings.js';

declare module 'fastify' {
  interface FastifyInstance {
    keys: KeyManager;
    keystore: Keystore;
    /** Promotes due keys and reloads this instance's keys, read after the call. */
    syncKeys(): Promise<void>;
  }
}

interface KeystorePluginOptions {
  box: SecretBox;
}

export default fp<KeystorePluginOptions>(
  async (app, { box }) => {
    const { config, db } = app;
    const keys = new KeyManager(db, box, { signingAlg: config.signingAlg, rotation: rotationSettings(config) });
    const keystore = new Keystore(db, box);
    await keys.ensureKeys();
    await keys.tick();
    await keystore.reload();

    let syncing: Promise<void> | undefined;
    let queued: Promise<void> | undefined;
    const syncKeys = (): Promise<void> => {
      if (syncing) {
        // One sync at a time. The one in flight may have read the keys before the caller's
        // change (a rotation or revocation just committed), so the caller gets the next one,
        // started after it and shared by everyone who arrives meanwhile.
        queued ??= syncing
          .catch(() => undefined)
          .then(() => {
            queued = undefined;
            return syncKeys();
          });
        return queued;
      }
      syncing = (async () => {
        try {
          await keys.tick();
          await keystore.reload();
        } finally {
          syncing = undefined;
        }
      })();
      return syncing;
    };
    const timer = setInterval(() => {
      syncKeys().catch((error: unknown) => app.log.error({ err: error }, 'key sync failed'));
    }, config.keys.syncInterval * 1000);
    timer.unref();

    app.decorate('keys', keys);
    app.decorate('keystore', keystore);
    app.decorate('syncKeys', syncKeys);
    app.addHook('onClose', async () => {
      clearInterval(timer);
      await (queued ?? syncing)?.catch(() => undefined);
    });
  },
  { name: 'keystore', dependencies: ['database'] },
);
