// Identifiers as Tessera mints them: UUIDs for users, sessions and token ids. A value that
// is not one can never name a stored row, so it is refused before any lookup.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const isUuid = (value: unknown): value is string => typeof value === 'string' && UUID.test(value);
