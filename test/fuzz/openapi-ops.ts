// The operations the fuzzer attacks, read from the committed openapi.yaml: every path and
// method, its path and query parameters, the body it consumes and the statuses it documents.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

export type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  enum?: unknown[];
  pattern?: string;
  format?: string;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  uniqueItems?: boolean;
  $ref?: string;
};

export interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required: boolean;
  schema: JsonSchema;
}

export interface Operation {
  /** "POST /admin/users/{id}" */
  id: string;
  method: string;
  /** The path template as documented, e.g. /admin/users/{id}. */
  path: string;
  pathParams: Parameter[];
  queryParams: Parameter[];
  /** The media type the body is documented with, if the operation takes one. */
  body: { contentType: string; schema: JsonSchema; required: boolean } | undefined;
  /** Documented statuses, as numbers. */
  statuses: Set<number>;
  /** Statuses documented with a JSON body. */
  jsonStatuses: Set<number>;
  /** Whether the operation documents bearer security. */
  bearer: boolean;
  /** Matches a concrete (already normalized) path against the template. */
  matcher: RegExp;
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head', 'trace'] as const;

interface RawOperation {
  parameters?: Array<{ name: string; in: Parameter['in']; required?: boolean; schema?: JsonSchema }>;
  requestBody?: { required?: boolean; content?: Record<string, { schema?: JsonSchema }> };
  responses?: Record<string, { content?: Record<string, unknown> }>;
  security?: Array<Record<string, unknown>>;
}

function templateMatcher(path: string): RegExp {
  const source = path
    .split('/')
    .map((segment) => (/^\{[^}]+\}$/.test(segment) ? '[^/]*' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${source}$`);
}

export function loadOperations(file = new URL('../../openapi.yaml', import.meta.url)): Operation[] {
  const doc = parse(readFileSync(file, 'utf8')) as {
    paths: Record<string, Partial<Record<(typeof METHODS)[number], RawOperation>>>;
  };
  const out: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of METHODS) {
      const raw = item[method];
      if (!raw) continue;
      const params: Parameter[] = (raw.parameters ?? []).map((p) => ({
        name: p.name,
        in: p.in,
        required: p.required === true,
        schema: p.schema ?? {},
      }));
      const content = raw.requestBody?.content ?? {};
      const [contentType, media] = Object.entries(content)[0] ?? [];
      const responses = raw.responses ?? {};
      out.push({
        id: `${method.toUpperCase()} ${path}`,
        method: method.toUpperCase(),
        path,
        pathParams: params.filter((p) => p.in === 'path'),
        queryParams: params.filter((p) => p.in === 'query'),
        body: contentType
          ? { contentType, schema: media?.schema ?? {}, required: raw.requestBody?.required === true }
          : undefined,
        statuses: new Set(Object.keys(responses).map(Number)),
        jsonStatuses: new Set(
          Object.entries(responses)
            .filter(([, r]) => r.content?.['application/json'])
            .map(([s]) => Number(s)),
        ),
        bearer: (raw.security ?? []).some((s) => 'bearer' in s),
        matcher: templateMatcher(path),
      });
    }
  }
  return out;
}

/**
 * The operation that a normalized request path and method reach, as the router would pick
 * it: a literal segment beats a parameter (find-my-way's rule), so /admin/keys/rotate is the
 * rotate route, not a key id.
 */
export function routeOf(operations: readonly Operation[], method: string, pathname: string): Operation | undefined {
  const candidates = operations.filter((op) => op.method === method && op.matcher.test(pathname));
  candidates.sort(
    (a, b) =>
      b.path.split('/').filter((s) => !s.startsWith('{')).length -
      a.path.split('/').filter((s) => !s.startsWith('{')).length,
  );
  return candidates[0];
}
