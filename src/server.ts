// The process shell: config, services, listen, and a graceful close on signals.
import closeWithGrace from 'close-with-grace';
import { loadConfig } from './config/config.js';
import { startServices } from './services.js';
import { buildApp } from './app.js';

export async function serve(): Promise<void> {
  const config = loadConfig();
  let app: Awaited<ReturnType<typeof buildApp>> | undefined;
  const services = await startServices(config, { onSyncError: (err) => app?.log.error({ err }, 'key sync failed') });
  app = await buildApp(services);
  closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'closing after an error');
    else app.log.info({ signal }, 'closing');
    await app.close(); // in-flight requests finish, then connections close
    await services.close();
  });
  await app.listen({ port: config.port, host: config.host });
  app.log.info({ issuer: config.issuer, database: config.database.kind }, 'tessera ready');
}
