// `tessera/verifier/express`: the verifier kit's Connect/Express middleware, from the
// workspace package @tessera/verifier (packages/verifier).
export * from '@tessera/verifier/express';
export { default } from '@tessera/verifier/express';
