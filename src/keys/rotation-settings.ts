// The key state machine's timings from the settings, with the margins a fleet needs.
import type { Config } from '../config/config.js';
import type { RotationSettings } from '../domain/keys/key-states.js';

/** Margin on top of token lifetimes before a retired key is dropped: clock skew and sync lag. */
const RETENTION_MARGIN = 60;

export function rotationSettings(
  config: Pick<Config, 'keys' | 'accessTokenTtl' | 'refreshTokenTtl'>,
): RotationSettings {
  const margin = RETENTION_MARGIN + config.keys.syncInterval;
  return {
    // The key reaches each instance's JWKS only at that instance's next sync: add one
    // sync interval so it is published everywhere a full KEY_PUBLISH_AHEAD before it signs.
    publishAhead: config.keys.publishAhead + config.keys.syncInterval,
    rotationInterval: config.keys.rotationInterval,
    retention: { access: config.accessTokenTtl + margin, refresh: config.refreshTokenTtl + margin },
  };
}
