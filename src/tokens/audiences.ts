// Every audience Tessera issues access tokens for.
import type { Config } from '../config/config.js';

export function allAudiences(config: Pick<Config, 'issuer' | 'defaultAudience' | 'audiences'>): string[] {
  return [...new Set([config.issuer, config.defaultAudience, ...config.audiences])];
}
