// `tessera/verifier/fastify`: the verifier kit's Fastify plugin, from the workspace
// package @tessera/verifier (packages/verifier).
export * from '@tessera/verifier/fastify';
export { default } from '@tessera/verifier/fastify';
