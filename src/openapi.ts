// Builds openapi.yaml from the route schemas, without a database: route plugins read
// services only inside their handlers, so stand-ins that refuse every call suffice.
import { loadConfig } from './config/config.js';
import { buildApp } from './app.js';
import type { Services } from './services.js';

/** Fixed settings, so the document never depends on the caller's environment. */
const OPENAPI_ENV = {
  NODE_ENV: 'test',
  LOG_LEVEL: 'silent',
  ISSUER: 'http://localhost:3000',
  PORT: '3000',
  DATA_DIR: 'memory://openapi',
} as const;

/** A service that is never reached while routes register; any use is a bug worth a loud error. */
function unavailable(name: string): unknown {
  return new Proxy(Object.create(null) as object, {
    get(_target, property) {
      // Promise resolution and inspection probe `then` and symbols; answer them as a plain object would.
      if (property === 'then' || typeof property === 'symbol') return undefined;
      return () => {
        throw new Error(`openapi generation has no ${name}; ${name}.${String(property)} was called while routes registered`);
      };
    },
  });
}

/** The OpenAPI document as YAML, the same bytes for the same code. */
export async function generateOpenapi(): Promise<string> {
  const config = loadConfig(OPENAPI_ENV);
  // Only config is real; every other service (db, keystore, tokens, ...) is a stand-in.
  const services = new Proxy({} as Services, {
    get(_target, property) {
      if (property === 'config') return config;
      if (property === 'close') return async () => undefined;
      if (property === 'then' || typeof property === 'symbol') return undefined;
      return unavailable(String(property));
    },
  });
  const app = await buildApp(services, { logger: false });
  try {
    await app.ready();
    return app.swagger({ yaml: true });
  } finally {
    await app.close();
  }
}
