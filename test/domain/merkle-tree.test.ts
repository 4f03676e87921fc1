// The audit Merkle tree against the RFC 6962 / RFC 9162 reference vectors (the tree used by
// certificate-transparency-go and transparency-dev/merkle), then properties over every size.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  consistencyProof,
  inclusionProof,
  leafHash,
  nodeHash,
  rootHash,
  TreeFrontier,
  verifyConsistency,
  verifyInclusion,
} from '../../src/domain/audit/merkle-tree.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));

const ENTRIES = [
  '',
  '00',
  '10',
  '2021',
  '3031',
  '40414243',
  '5051525354555657',
  '606162636465666768696a6b6c6d6e6f',
].map(unhex);
const LEAVES = ENTRIES.map(leafHash);
// ROOTS[n] is the root of the tree of the first n entries.
const ROOTS = [
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
const INCLUSION = [
  {
    index: 0,
    size: 8,
    proof: [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  },
  {
    index: 5,
    size: 8,
    proof: [
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
];
const CONSISTENCY = [
  {
    m: 2,
    n: 8,
    proof: [
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  },
  {
    m: 6,
    n: 8,
    proof: [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
  {
    m: 2,
    n: 5,
    proof: [
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  },
];
const root = (n: number): Uint8Array => unhex(ROOTS[n] as string);
const leaf = (i: number): Uint8Array => LEAVES[i] as Uint8Array;

test('leaf and node hashes use the 0x00 and 0x01 prefixes', () => {
  assert.equal(hex(leafHash(new Uint8Array())), ROOTS[1]);
  assert.equal(hex(nodeHash(leaf(0), leaf(1))), ROOTS[2]);
});

test('rootHash and the frontier give the published root for every size 0..8', () => {
  const frontier = new TreeFrontier();
  for (let n = 0; n <= LEAVES.length; n += 1) {
    assert.equal(hex(rootHash(LEAVES.slice(0, n))), ROOTS[n], `rootHash(${n})`);
    assert.equal(frontier.size, n);
    assert.equal(hex(frontier.root()), ROOTS[n], `frontier at ${n}`);
    if (n < LEAVES.length) frontier.append(leaf(n));
  }
});

test('inclusion proofs match the published ones and verify', () => {
  for (const { index, size, proof } of INCLUSION) {
    assert.deepEqual(inclusionProof(LEAVES, index, size).map(hex), proof);
    assert.ok(verifyInclusion(leaf(index), index, size, proof.map(unhex), root(size)));
  }
});

test('consistency proofs match the published ones and verify', () => {
  for (const { m, n, proof } of CONSISTENCY) {
    assert.deepEqual(consistencyProof(LEAVES, m, n).map(hex), proof, `${m} -> ${n}`);
    assert.ok(verifyConsistency(m, n, root(m), root(n), proof.map(unhex)), `${m} -> ${n}`);
  }
});

// Distinct pseudo-random leaves, enough for every shape of the recursion up to 70 leaves.
const MANY = Array.from({ length: 70 }, (_, i) => leafHash(new TextEncoder().encode(`event ${i}`)));
const MANY_ROOTS = MANY.map((_, n) => rootHash(MANY.slice(0, n))).concat([rootHash(MANY)]);
const manyRoot = (n: number): Uint8Array => MANY_ROOTS[n] as Uint8Array;
const flip = (proof: Uint8Array[], at: number, bit: number): Uint8Array[] =>
  proof.map((p, i) => (i === at ? p.map((b, j) => (j === bit >> 3 ? b ^ (1 << (bit & 7)) : b)) : p));

test('the frontier root equals rootHash for every size 0..70, through a JSON round trip', () => {
  let frontier = new TreeFrontier();
  for (let n = 0; n <= MANY.length; n += 1) {
    assert.equal(hex(frontier.root()), hex(manyRoot(n)), `size ${n}`);
    const json = frontier.toJSON();
    assert.equal(json.hashes.length, n.toString(2).replaceAll('0', '').length);
    frontier = TreeFrontier.fromJSON(JSON.parse(JSON.stringify(frontier)) as typeof json);
    assert.equal(frontier.size, n);
    if (n < MANY.length) frontier.append(MANY[n] as Uint8Array);
  }
});

test('a frontier built in batches agrees with one built leaf by leaf', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 8 }), (batches) => {
      let frontier = new TreeFrontier();
      let size = 0;
      for (const batch of batches) {
        for (const hash of MANY.slice(size, Math.min(size + batch, MANY.length))) frontier.append(hash);
        size = frontier.size;
        // A sealer keeps only the JSON between batches.
        frontier = TreeFrontier.fromJSON(frontier.toJSON());
        assert.equal(hex(frontier.root()), hex(rootHash(MANY.slice(0, size))));
      }
    }),
  );
});

test('a malformed frontier is refused', () => {
  const good = new TreeFrontier();
  for (const hash of MANY.slice(0, 5)) good.append(hash);
  const json = good.toJSON();
  assert.throws(() => TreeFrontier.fromJSON({ ...json, size: 7 }), RangeError);
  assert.throws(() => TreeFrontier.fromJSON({ ...json, size: -1 }), RangeError);
  assert.throws(() => TreeFrontier.fromJSON({ ...json, size: 4.5 }), RangeError);
  assert.throws(() => TreeFrontier.fromJSON({ ...json, hashes: [json.hashes[0] as string, 'AAAA'] }), TypeError);
  assert.throws(() => new TreeFrontier().append(new Uint8Array(31)), TypeError);
});

test('every inclusion proof verifies for sizes 1..70, and nothing near it does', () => {
  for (let n = 1; n <= MANY.length; n += 1) {
    for (let i = 0; i < n; i += 1) {
      const hash = MANY[i] as Uint8Array;
      const proof = inclusionProof(MANY, i, n);
      assert.ok(verifyInclusion(hash, i, n, proof, manyRoot(n)), `${i} in ${n}`);
      assert.ok(!verifyInclusion(hash, i, n, proof, manyRoot(n - 1)), `old root ${i} in ${n}`);
      assert.ok(!verifyInclusion(MANY[(i + 1) % MANY.length] as Uint8Array, i, n, proof, manyRoot(n)));
      for (const j of [i - 1, i + 1, i ^ 1, n]) {
        if (j !== i) assert.ok(!verifyInclusion(hash, j, n, proof, manyRoot(n)), `index ${j} for ${i} in ${n}`);
      }
      // A proof only means something against the root of the size it claims (a checkpoint
      // binds the two): against root(n) a wrong size can pass, against root(size) it cannot.
      for (const size of [n - 1, n + 1, 2 * n]) {
        if (size > i && size <= MANY.length) {
          assert.ok(!verifyInclusion(hash, i, size, proof, manyRoot(size)), `size ${size} for ${n}`);
        }
      }
      if (proof.length > 0) {
        assert.ok(!verifyInclusion(hash, i, n, proof.slice(0, -1), manyRoot(n)), 'truncated');
        assert.ok(!verifyInclusion(hash, i, n, flip(proof, 0, 0), manyRoot(n)), 'flipped');
      }
      assert.ok(!verifyInclusion(hash, i, n, [...proof, manyRoot(n)], manyRoot(n)), 'extended');
    }
  }
});

test('every consistency proof verifies for 0 <= m <= n <= 70, and nothing near it does', () => {
  for (let n = 0; n <= MANY.length; n += 1) {
    for (let m = 0; m <= n; m += 1) {
      const proof = consistencyProof(MANY, m, n);
      assert.ok(verifyConsistency(m, n, manyRoot(m), manyRoot(n), proof), `${m} -> ${n}`);
      if (m === 0) continue;
      if (m < n) {
        assert.ok(!verifyConsistency(m, n, manyRoot(m - 1), manyRoot(n), proof), `wrong old root ${m} -> ${n}`);
        assert.ok(!verifyConsistency(m, n, manyRoot(m), manyRoot(n - 1), proof), `wrong new root ${m} -> ${n}`);
        assert.ok(!verifyConsistency(m, n, manyRoot(m), manyRoot(n), proof.slice(0, -1)), 'truncated');
      }
      assert.ok(!verifyConsistency(m, n, manyRoot(m), manyRoot(n), [...proof, manyRoot(m)]), 'extended');
      assert.ok(!verifyConsistency(n, m, manyRoot(n), manyRoot(m), proof) || m === n, 'sizes swapped');
      if (m > 1) assert.ok(!verifyConsistency(m - 1, n, manyRoot(m), manyRoot(n), proof), 'old size - 1');
      if (m < n - 1) assert.ok(!verifyConsistency(m + 1, n, manyRoot(m), manyRoot(n), proof), 'old size + 1');
    }
  }
});

test('any flipped bit in a proof or a root fails verification', () => {
  const sizes = fc
    .integer({ min: 1, max: MANY.length })
    .chain((n) =>
      fc.record({ n: fc.constant(n), i: fc.integer({ min: 0, max: n - 1 }), bit: fc.nat(255), at: fc.nat() }),
    );
  fc.assert(
    fc.property(sizes, ({ n, i, bit, at }) => {
      const proof = inclusionProof(MANY, i, n);
      const hash = MANY[i] as Uint8Array;
      assert.ok(!verifyInclusion(hash, i, n, proof, flip([manyRoot(n)], 0, bit)[0] as Uint8Array));
      assert.ok(!verifyInclusion(flip([hash], 0, bit)[0] as Uint8Array, i, n, proof, manyRoot(n)));
      if (proof.length > 0) assert.ok(!verifyInclusion(hash, i, n, flip(proof, at % proof.length, bit), manyRoot(n)));

      const m = i + 1; // 1..n
      const cproof = consistencyProof(MANY, m, n);
      const oldRoot = flip([manyRoot(m)], 0, bit)[0] as Uint8Array;
      assert.ok(!verifyConsistency(m, n, oldRoot, manyRoot(n), cproof));
      if (cproof.length > 0) {
        assert.ok(!verifyConsistency(m, n, manyRoot(m), manyRoot(n), flip(cproof, at % cproof.length, bit)));
      }
    }),
    { numRuns: 500 },
  );
});

test('generators refuse positions outside the tree; verifiers answer false', () => {
  assert.throws(() => inclusionProof(LEAVES, 8), RangeError);
  assert.throws(() => inclusionProof(LEAVES, -1), RangeError);
  assert.throws(() => inclusionProof(LEAVES, 0, 9), RangeError);
  assert.throws(() => inclusionProof([new Uint8Array(31)], 0), TypeError);
  assert.throws(() => consistencyProof(LEAVES, 5, 3), RangeError);
  assert.throws(() => consistencyProof(LEAVES, 1, 9), RangeError);
  assert.ok(!verifyInclusion(new Uint8Array(31), 0, 1, [], new Uint8Array(31)));
  assert.ok(!verifyInclusion(leaf(0), 0, 0, [], root(0)));
  assert.ok(!verifyConsistency(0, 8, root(1), root(8), []), 'size 0 needs the empty root');
  assert.ok(!verifyConsistency(0, 8, root(0), root(8), [root(8)]), 'size 0 needs an empty proof');
  assert.ok(!verifyConsistency(4, 4, root(4), root(5), []), 'equal sizes need equal roots');
  assert.ok(!verifyConsistency(2, 8, root(2), root(8), []), 'a real extension needs a proof');
});
