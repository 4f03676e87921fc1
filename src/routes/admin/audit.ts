// GET /admin/audit: the audit log for admins, newest first, filtered and cursor-paged.
// Every read is itself an audit event (audit_read, with the filters).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { TesseraError } from '../../errors/errors.js';
import { Text, errors } from '../../schemas.js';
import { readAuditLog, type AuditEvent } from '../../audit/audit-reads.js';
import { noStore } from '../../lib/http.js';

const Time = Text({ maxLength: 40, description: 'RFC 3339 date-time, or unix seconds' });
const Id = Text({ minLength: 1, maxLength: 200 });

const AuditEventView = Type.Object(
  {
    id: Type.Integer(),
    time: Type.String({ format: 'date-time' }),
    type: Type.String(),
    outcome: Type.Union([Type.Literal('success'), Type.Literal('failure')]),
    actor: Type.Union([Type.String(), Type.Null()], {
      description: 'acting user id, client id or "cli"; null: anonymous or the service itself',
    }),
    target: Type.Union([Type.String(), Type.Null()], {
      description: 'what was acted on: a user id, key id, client id or session id',
    }),
    user_id: Type.Union([Type.String(), Type.Null()]),
    session_id: Type.Union([Type.String(), Type.Null()]),
    ip: Type.Union([Type.String(), Type.Null()]),
    user_agent: Type.Union([Type.String(), Type.Null()]),
    request_id: Type.Union([Type.String(), Type.Null()]),
    detail: Type.Record(Type.String(), Type.Unknown()),
    hash: Type.Union([Type.String(), Type.Null()], {
      description: 'this event’s leaf hash in the audit tree (hex); null until sealed, within about a second',
    }),
    leaf_index: Type.Union([Type.Integer(), Type.Null()], {
      description: 'this event’s place in the audit tree; null until sealed',
    }),
  },
  { additionalProperties: false },
);

const Query = Type.Object(
  {
    type: Type.Optional(
      Type.String({
        pattern: '^[a-z_]{1,64}(,[a-z_]{1,64}){0,19}$',
        description: 'one event type, or several separated by commas',
      }),
    ),
    actor: Type.Optional(Id),
    target: Type.Optional(Id),
    user: Type.Optional(
      Type.String({ format: 'uuid', maxLength: 36, description: 'events about this user (user_id)' }),
    ),
    outcome: Type.Optional(Type.Union([Type.Literal('success'), Type.Literal('failure')])),
    since: Type.Optional(Time),
    until: Type.Optional(Time),
    limit: Type.Optional(
      Type.String({ pattern: '^(?:[1-9]|[1-9][0-9]|[1-4][0-9][0-9]|500)$', description: '1 to 500, default 100' }),
    ),
    cursor: Type.Optional(Type.String({ pattern: '^[0-9]{1,18}$', description: 'next_cursor of the previous page' })),
  },
  { additionalProperties: false },
);

/** RFC 3339 or unix seconds; anything else is a bad request. */
function parseTime(value: string | undefined, name: string): Date | undefined {
  if (value === undefined) return undefined;
  const date = /^\d{1,12}$/.test(value)
    ? new Date(Number(value) * 1000)
    : /^\d{4}-\d{2}-\d{2}T/.test(value)
      ? new Date(value)
      : new Date(Number.NaN);
  if (Number.isNaN(date.getTime()))
    throw new TesseraError('invalid_request', { description: `${name} must be an RFC 3339 date-time or unix seconds` });
  return date;
}

const view = (e: AuditEvent) => ({
  id: e.id,
  time: e.created_at.toISOString(),
  type: e.type,
  outcome: e.outcome,
  actor: e.actor,
  target: e.target,
  user_id: e.user_id,
  session_id: e.session_id,
  ip: e.ip,
  user_agent: e.user_agent,
  request_id: e.request_id,
  detail: e.detail,
  hash: e.hash,
  leaf_index: e.leaf_index,
});

const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/audit',
    {
      config: { policy: { permission: 'audit:read' } },
      schema: {
        operationId: 'queryAudit',
        summary: 'Query the audit log (newest first, cursor-paged); the read is itself recorded',
        tags: ['admin'],
        security: [{ bearer: [] }],
        querystring: Query,
        response: {
          200: Type.Object({
            events: Type.Array(AuditEventView),
            next_cursor: Type.Union([Type.String(), Type.Null()]),
          }),
          ...errors(400, 401, 403, 429),
        },
      },
    },
    async (request, reply) => {
      const q = request.query;
      const since = parseTime(q.since, 'since');
      const until = parseTime(q.until, 'until');
      const { cursor: _cursor, ...filters } = q;
      const page = await readAuditLog(
        app.db,
        {
          ...(q.type ? { types: q.type.split(',') } : {}),
          ...(q.actor !== undefined ? { actor: q.actor } : {}),
          ...(q.target !== undefined ? { target: q.target } : {}),
          ...(q.user !== undefined ? { userId: q.user } : {}),
          ...(q.outcome !== undefined ? { outcome: q.outcome } : {}),
          ...(since ? { since } : {}),
          ...(until ? { until } : {}),
          ...(q.cursor !== undefined ? { beforeId: Number(q.cursor) } : {}),
          limit: q.limit ? Number(q.limit) : 100,
        },
        { filters, page: q.cursor ?? null },
      );
      noStore(reply);
      return { events: page.events.map(view), next_cursor: page.next === null ? null : String(page.next) };
    },
  );
};

export default routes;
