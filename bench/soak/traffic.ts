// The soak's traffic, all through the proxy and all at once for the whole run: autocannon
// at fixed rates for the cheap high-rate kinds (client_credentials tokens, the JWKS,
// introspection), and scripted fetch loops for the stateful flows (first-party logins,
// refresh-token chains, the authorization code flow with PKCE through the hosted login
// page, wrong passwords that raise alerts, the verifier kit on fresh tokens). Every request
// is recorded with its outcome; what a flow expects (a 401 for a wrong password) is not a failure.
import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';
import { createVerifier } from '../../src/verifier.js';
import { basic, FORM } from '../load.js';
import { errorOutcome, type Recorder } from './recorder.js';

export interface Setup {
  base: string;
  issuer: string;
  /** client_credentials client, allowed to introspect. */
  service: { id: string; secret: string };
  /** Public first-party client for the authorization code flow. */
  app: { id: string; redirectUri: string };
  password: string;
  /** Accounts the right-password flows log in as. */
  users: string[];
  /** Accounts that only ever get wrong passwords. */
  victims: string[];
}

export interface Rates {
  tokens: number;
  jwks: number;
  introspect: number;
  chains: number;
  /** Seconds between refreshes of one chain. */
  chainInterval: number;
  /** Logins (right password) per second. */
  logins: number;
  /** Authorization code flows per second. */
  codeFlows: number;
  /** Wrong passwords per second. */
  wrongPasswords: number;
  /** End a chain deliberately (revoke) after this many refreshes, and start a new one. */
  chainLength: number;
}

/** One refresh chain: every refresh token it was given, in order, and whether it was ended on purpose. */
interface Chain {
  id: number;
  tokens: string[];
  ended: boolean;
  /** Why it broke (an unexpected refusal of its last token), if it did. */
  broken?: string;
  /** Refreshes whose answer was lost (socket error, 5xx) and were presented again. */
  retried: number;
}

const REQUEST_TIMEOUT_MS = 15_000;

interface Answer {
  status: number;
  text: string;
  headers: Headers;
}

/**
 * A request through the proxy, recorded under `kind`; undefined when no answer came (a
 * socket error or timeout, recorded as such). Statuses in `expect` are not failures.
 */
async function call(
  recorder: Recorder,
  kind: string,
  url: string,
  init: RequestInit,
  expect: number[] = [200],
): Promise<Answer | undefined> {
  const start = performance.now();
  try {
    const res = await fetch(url, { ...init, redirect: 'manual', signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    const text = await res.text();
    recorder.record(kind, performance.now() - start, String(res.status), !expect.includes(res.status));
    return { status: res.status, text, headers: res.headers };
  } catch (error) {
    recorder.record(kind, -1, errorOutcome(error), true);
    return undefined;
  }
}

const json = (body: unknown): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});
const form = (fields: Record<string, string>, headers: Record<string, string> = {}): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': FORM, ...headers },
  body: new URLSearchParams(fields).toString(),
});

/** Runs `step` every `intervalMs` (from the start of one to the next) until `running()` is false. */
async function every(intervalMs: number, running: () => boolean, step: () => Promise<void>): Promise<void> {
  // Spread the loops' first steps so they do not all fire in the same millisecond.
  await sleep(Math.random() * intervalMs);
  while (running()) {
    const start = performance.now();
    await step();
    await sleep(Math.max(0, intervalMs - (performance.now() - start)));
  }
}

async function clientToken(s: Setup): Promise<string> {
  const res = await fetch(
    `${s.base}/oauth/token`,
    form({ grant_type: 'client_credentials' }, { authorization: basic(s.service.id, s.service.secret) }),
  );
  if (res.status !== 200) throw new Error(`client_credentials: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { access_token: string }).access_token;
}

/** Presents the token to refresh it: its successor, or why not. */
export async function refreshOnce(s: Setup, token: string): Promise<{ status: number; token?: string }> {
  const res = await fetch(`${s.base}/oauth/token`, form({ grant_type: 'refresh_token', refresh_token: token }));
  const body = (await res.json().catch(() => ({}))) as { refresh_token?: string };
  return { status: res.status, token: body.refresh_token };
}

/** An autocannon stream for the whole run; every answer and error goes to the recorder. */
function stream(
  recorder: Recorder,
  kind: string,
  seconds: number,
  options: Omit<autocannon.Options, 'duration'>,
): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      // The proxy balances per connection: reconnecting now and then spreads a stream over
      // the instances again after one was restarted.
      { duration: seconds, timeout: REQUEST_TIMEOUT_MS / 1000, reconnectRate: 300, ...options },
      (error: Error | null, result) => (error ? reject(error) : resolve(result)),
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) =>
      recorder.record(kind, responseTime, String(statusCode), statusCode !== 200),
    );
    instance.on('reqError', (error) => recorder.record(kind, -1, errorOutcome(error), true));
  });
}

function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** The hidden inputs of the hosted login form (interaction, csrf_token). */
function hiddenFields(html: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g))
    fields[m[1]!] = m[2]!
      .replace(/&amp;/g, '&')
      .replace(/&quot;/g, '"')
      .replace(/&#39;/g, "'");
  return fields;
}

/** A browser's cookies as far as the hosted pages need them: name=value, kept from Set-Cookie. */
function keepCookies(jar: Map<string, string>, headers: Headers): void {
  for (const line of headers.getSetCookie()) {
    const [pair = ''] = line.split(';');
    const at = pair.indexOf('=');
    if (at > 0) jar.set(pair.slice(0, at).trim(), pair.slice(at + 1).trim());
  }
}
const cookieHeader = (jar: Map<string, string>) => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');

/** One authorization code flow with PKCE, as a new browser: authorize, login form, code exchange. */
async function codeFlow(recorder: Recorder, s: Setup, email: string): Promise<void> {
  const { verifier, challenge } = pkce();
  const state = randomBytes(8).toString('base64url');
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: s.app.id,
    redirect_uri: s.app.redirectUri,
    scope: 'openid email offline_access',
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  });
  const jar = new Map<string, string>();
  const page = await call(
    recorder,
    'code flow: GET /oauth/authorize',
    `${s.base}/oauth/authorize?${query.toString()}`,
    {},
  );
  if (page?.status !== 200) return;
  keepCookies(jar, page.headers);
  const posted = await call(
    recorder,
    'code flow: POST login form',
    `${s.base}/oauth/authorize/login`,
    form(
      { ...hiddenFields(page.text), email, password: s.password },
      { cookie: cookieHeader(jar), origin: new URL(s.issuer).origin },
    ),
    [303],
  );
  if (posted?.status !== 303) return;
  const location = new URL(posted.headers.get('location') ?? '', s.base);
  const code = location.searchParams.get('code');
  if (!code || location.searchParams.get('state') !== state) {
    recorder.record('code flow: POST login form', 0, 'no code in redirect', true);
    return;
  }
  await call(
    recorder,
    'code flow: POST /oauth/token (code)',
    `${s.base}/oauth/token`,
    form({
      grant_type: 'authorization_code',
      code,
      redirect_uri: s.app.redirectUri,
      client_id: s.app.id,
      code_verifier: verifier,
    }),
  );
}

/**
 * One chain's loop: refresh every interval; an answer lost to a socket error or a 5xx is
 * presented again (the server hands out the successor it committed, within
 * REFRESH_REUSE_GRACE); after `chainLength` refreshes the chain is revoked on purpose and
 * `replace` starts the next one.
 */
async function driveChain(
  recorder: Recorder,
  s: Setup,
  chain: Chain,
  rates: Rates,
  running: () => boolean,
  replace: () => Promise<void>,
): Promise<void> {
  let refreshes = 0;
  await every(
    rates.chainInterval * 1000,
    () => running() && !chain.ended && !chain.broken,
    async () => {
      if (refreshes >= rates.chainLength) {
        const revoked = await call(recorder, 'refresh chain: revoke', `${s.base}/oauth/revoke`, {
          // The chains are the first-party client's (POST /auth/login): no client_id.
          ...form({ token: chain.tokens.at(-1)! }),
        });
        if (revoked?.status === 200) {
          chain.ended = true;
          await replace();
        }
        return;
      }
      for (let attempt = 0; attempt < 6 && running(); attempt++) {
        const res = await call(
          recorder,
          'refresh chain: POST /oauth/token (refresh)',
          `${s.base}/oauth/token`,
          form({ grant_type: 'refresh_token', refresh_token: chain.tokens.at(-1)! }),
        );
        if (res?.status === 200) {
          chain.tokens.push((JSON.parse(res.text) as { refresh_token: string }).refresh_token);
          refreshes++;
          return;
        }
        if (res && res.status < 500) {
          chain.broken = `${res.status} ${res.text.slice(0, 120)}`;
          return;
        }
        chain.retried++;
        await sleep(500);
      }
    },
  );
}

export interface Traffic {
  chains: Chain[];
  /** Resolves when every stream and loop has stopped (after `stop()` or the duration). */
  done: Promise<Array<{ kind: string; result: autocannon.Result }>>;
  stop(): void;
}

export async function startTraffic(recorder: Recorder, s: Setup, rates: Rates, seconds: number): Promise<Traffic> {
  let running = true;
  const isRunning = () => running;
  const timer = setTimeout(() => (running = false), seconds * 1000);

  // The chains start from real logins before the clock runs.
  const chains: Chain[] = [];
  const newChain = async () => {
    const chain: Chain = { id: chains.length, tokens: [], ended: false, retried: 0 };
    chains.push(chain);
    const email = s.users[chain.id % s.users.length]!;
    const res = await call(recorder, 'refresh chain: POST /auth/login (new chain)', `${s.base}/auth/login`, {
      ...json({ email, password: s.password }),
    });
    if (res?.status === 200) chain.tokens.push((JSON.parse(res.text) as { refresh_token: string }).refresh_token);
    else chain.broken = `login ${res?.status ?? 'no answer'}`;
    return chain;
  };
  for (let i = 0; i < rates.chains; i++) await newChain();
  const loops: Array<Promise<void>> = [];
  const startChain = (chain: Chain) => {
    if (chain.broken) return;
    loops.push(
      driveChain(recorder, s, chain, rates, isRunning, async () => {
        if (running) startChain(await newChain());
      }),
    );
  };
  for (const chain of [...chains]) startChain(chain);

  // The token the verifier loop got last, also the one introspection asks about.
  const current = { token: await clientToken(s) };
  const verifier = createVerifier({ issuer: s.issuer, audience: s.issuer, jwksUri: `${s.base}/.well-known/jwks.json` });

  const basicAuth = basic(s.service.id, s.service.secret);
  const streams = Promise.all([
    stream(recorder, 'client_credentials: POST /oauth/token', seconds, {
      url: `${s.base}/oauth/token`,
      connections: 6,
      overallRate: rates.tokens,
      method: 'POST',
      headers: { 'content-type': FORM, authorization: basicAuth },
      body: 'grant_type=client_credentials',
    }).then((result) => ({ kind: 'client_credentials', result })),
    stream(recorder, 'GET /.well-known/jwks.json', seconds, {
      url: `${s.base}/.well-known/jwks.json`,
      connections: 6,
      overallRate: rates.jwks,
    }).then((result) => ({ kind: 'jwks', result })),
    stream(recorder, 'POST /oauth/introspect', seconds, {
      url: `${s.base}/oauth/introspect`,
      connections: 6,
      overallRate: rates.introspect,
      requests: [
        {
          method: 'POST',
          headers: { 'content-type': FORM, authorization: basicAuth },
          setupRequest: (request) => ({ ...request, body: `token=${encodeURIComponent(current.token)}` }),
        },
      ],
    }).then((result) => ({ kind: 'introspect', result })),
  ]);

  let nextUser = 0;
  let nextVictim = 0;
  const verifierLoop = every(1000, isRunning, async () => {
    const res = await call(
      recorder,
      'verifier kit: POST /oauth/token (fresh token)',
      `${s.base}/oauth/token`,
      form({ grant_type: 'client_credentials' }, { authorization: basicAuth }),
    );
    if (res?.status !== 200) return;
    current.token = (JSON.parse(res.text) as { access_token: string }).access_token;
    const start = performance.now();
    try {
      await verifier.verify(current.token);
      recorder.record('verifier kit: verify against the JWKS', performance.now() - start, 'verified', false);
    } catch (error) {
      const code = (error as { code?: string }).code ?? errorOutcome(error);
      recorder.record('verifier kit: verify against the JWKS', performance.now() - start, code, true);
    }
  });
  loops.push(
    verifierLoop,
    every(1000 / rates.logins, isRunning, async () => {
      const email = s.users[nextUser++ % s.users.length]!;
      await call(recorder, 'POST /auth/login', `${s.base}/auth/login`, json({ email, password: s.password }));
    }),
    every(1000 / rates.codeFlows, isRunning, () => codeFlow(recorder, s, s.users[nextUser++ % s.users.length]!)),
    every(1000 / rates.wrongPasswords, isRunning, async () => {
      const email = s.victims[nextVictim++ % s.victims.length]!;
      await call(
        recorder,
        'POST /auth/login (wrong password)',
        `${s.base}/auth/login`,
        json({ email, password: 'not-the-password-0000' }),
        [401],
      );
    }),
  );

  const done = (async () => {
    const results = await streams;
    running = false;
    // Loops that started chains while others ended push more loops: wait until none is left.
    for (let seen = 0; seen < loops.length;) {
      const batch = loops.slice(seen);
      seen = loops.length;
      await Promise.all(batch);
    }
    clearTimeout(timer);
    await verifier.close();
    return results;
  })();
  return {
    chains,
    done,
    stop: () => {
      running = false;
    },
  };
}
