// `tessera/verifier`: the verifier kit, importable from the server package too. The
// code lives in the workspace package @tessera/verifier (packages/verifier).
export * from '@tessera/verifier';
