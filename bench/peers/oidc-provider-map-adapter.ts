// An in-memory adapter for oidc-provider (the benchmark peer without a database): the same
// rows and rules as the PostgreSQL adapter (expired rows never returned, `consumed` set on
// consume, revokeByGrantId removes a grant's tokens) in plain Maps. oidc-provider's own
// in-memory adapter keeps at most 1,000 entries (an LRU), so a bench that mints thousands of
// refresh tokens would find most of them evicted; nothing is evicted here.
import type { Adapter, AdapterPayload } from 'oidc-provider';

interface Entry {
  payload: AdapterPayload;
  expiresAt: number | null;
}

const GRANTABLE = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'PreAuthorizedCode',
]);

class MapAdapter implements Adapter {
  private readonly rows = new Map<string, Entry>();

  constructor(private readonly type: string) {}

  private live(entry: Entry | undefined): AdapterPayload | undefined {
    return entry && (entry.expiresAt === null || entry.expiresAt > Date.now()) ? entry.payload : undefined;
  }

  private first(match: (p: AdapterPayload) => boolean): AdapterPayload | undefined {
    for (const entry of this.rows.values()) {
      const payload = this.live(entry);
      if (payload && match(payload)) return payload;
    }
    return undefined;
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    this.rows.set(id, { payload, expiresAt: expiresIn === undefined ? null : Date.now() + expiresIn * 1000 });
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    return this.live(this.rows.get(id));
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    return this.first((p) => p.userCode === userCode);
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    return this.first((p) => p.uid === uid);
  }

  async consume(id: string): Promise<void> {
    const entry = this.rows.get(id);
    if (entry) entry.payload = { ...entry.payload, consumed: Math.floor(Date.now() / 1000) };
  }

  async destroy(id: string): Promise<void> {
    this.rows.delete(id);
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    if (!GRANTABLE.has(this.type)) return;
    for (const [id, entry] of this.rows) if (entry.payload.grantId === grantId) this.rows.delete(id);
  }
}

/** The adapter factory for oidc-provider's `adapter` option: one Map per model. */
export function mapAdapter(): (name: string) => Adapter {
  const models = new Map<string, MapAdapter>();
  return (name) => {
    let adapter = models.get(name);
    if (!adapter) models.set(name, (adapter = new MapAdapter(name)));
    return adapter;
  };
}
