// The shared Redis client (ioredis) as app.redis when REDIS_URL is set, null otherwise:
// counters, captcha answers and rate limits are then shared by every instance.
// Unreachable at start: the start fails with one line naming REDIS_URL. Lost while
// running: commands fail at once (no offline queue) or within REDIS_TIMEOUT_MS, requests
// that need Redis answer 503 (isRedisUnavailable, the error mapper), and the client keeps
// reconnecting in the background, so recovery needs no restart.
import fp from 'fastify-plugin';
import { Redis } from 'ioredis';
import { ConfigError } from '../../config/config.js';

declare module 'fastify' {
  interface FastifyInstance {
    redis: Redis | null;
  }
}

/** Redis could not be reached at start. The URL itself is never shown: it may hold a password. */
class RedisUnreachableError extends ConfigError {
  constructor(timeoutMs: number, cause: string) {
    super('REDIS_URL', cause);
    this.message = `cannot reach Redis at REDIS_URL within ${timeoutMs} ms (${cause}); check REDIS_URL and that Redis is running`;
    this.name = 'RedisUnreachableError';
  }
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND']);

// What ioredis says while the connection is down or slow (none of it carries a value).
const DOWN =
  /^(Stream isn't writeable and enableOfflineQueue options is false|Command timed out|Connection is closed|Reached the max retries per request limit)/;

/** Whether an error means Redis could not be had: the request may be retried (503). */
export function isRedisUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'MaxRetriesPerRequestError') return true;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && NETWORK_CODES.has(code)) return true;
  return DOWN.test(error.message);
}

/** Why a connection failed, in a few words (a socket code or ioredis's first line). */
function causeOf(error: unknown): string {
  const code = (error as { code?: unknown })?.code;
  if (typeof code === 'string') return code;
  const message = (error as Error)?.message ?? 'no answer';
  return message.split('\n')[0]!.slice(0, 80);
}

export default fp(
  async (app) => {
    const { redisUrl, redisTimeoutMs } = app.config;
    if (!redisUrl) {
      app.decorate('redis', null);
      return;
    }
    const redis = new Redis(redisUrl, {
      lazyConnect: true,
      connectTimeout: redisTimeoutMs,
      commandTimeout: redisTimeoutMs,
      // Never buffer commands while disconnected: a request fails at once instead of waiting.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      // Reconnect for as long as the process lives, at most every 2 s.
      retryStrategy: (times) => Math.min(100 * times, 2000),
    });
    // Without a listener ioredis prints every failed reconnect with its stack on stderr.
    let down = false;
    // The socket's own reason (ECONNREFUSED, ...); connect() only says the connection closed.
    let lastCause: string | undefined;
    let started = false;
    const lost = (cause: string) => {
      if (down || !started) return;
      down = true;
      app.log.warn({ cause }, 'redis unavailable; reconnecting');
    };
    redis.on('error', (error: unknown) => {
      lastCause = causeOf(error);
      lost(lastCause);
    });
    // A server that goes away closes the socket; ioredis reports an error only once a
    // reconnect fails, which may be seconds later.
    redis.on('close', () => lost('connection closed'));
    redis.on('ready', () => {
      if (!down) return;
      down = false;
      app.log.info('redis reconnected');
    });
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        redis.connect(),
        new Promise((_resolve, reject) => {
          timer = setTimeout(() => reject(new Error('no answer')), redisTimeoutMs);
        }),
      ]);
    } catch (error) {
      redis.disconnect();
      throw new RedisUnreachableError(redisTimeoutMs, lastCause ?? causeOf(error));
    } finally {
      clearTimeout(timer);
    }
    down = false;
    started = true;
    app.decorate('redis', redis);
    app.addHook('onClose', async () => {
      started = false; // closing on purpose is no outage
      await redis.quit().catch(() => redis.disconnect());
    });
  },
  { name: 'redis', decorators: { fastify: ['config'] } },
);

/** Whether Redis answers a PING now (readiness); false while down, within REDIS_TIMEOUT_MS. */
export async function redisAnswers(redis: Redis): Promise<boolean> {
  if (redis.status !== 'ready') return false;
  try {
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  }
}
