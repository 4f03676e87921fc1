// Builds openapi.yaml from the route schemas of the real app, on a throwaway in-memory
// database: the same plugins and routes as a server, nothing faked.
import { randomBytes } from 'node:crypto';
import { loadConfig } from './config/config.js';
import { buildServer } from './server.js';

/** Fixed settings, so the document never depends on the caller's environment. */
const OPENAPI_ENV = {
  NODE_ENV: 'test',
  LOG_LEVEL: 'silent',
  ISSUER: 'http://localhost:3000',
  PORT: '3000',
  DATA_DIR: 'memory://openapi',
} as const;

/** The OpenAPI document as YAML, the same bytes for the same code. */
export async function generateOpenapi(): Promise<string> {
  // A key of its own for this throwaway database; it seals nothing that outlives the call.
  const config = loadConfig({ ...OPENAPI_ENV, MASTER_KEY: randomBytes(32).toString('base64') });
  const server = await buildServer(config, { logger: false });
  try {
    await server.ready();
    return server.swagger({ yaml: true });
  } finally {
    await server.close();
  }
}
