// The audit log's Merkle tree, as RFC 9162 section 2.1 defines it (the tree of certificate
// transparency), so that anyone can check our roots and proofs with a standard library.
// Every function here takes leaf hashes (leafHash of each entry), never raw entries: the
// sealer stores leaf hashes, and a proof over a range of the log needs nothing else.
import { createHash } from 'node:crypto';

const HASH_SIZE = 32;

/** SHA-256(0x00 || data): the hash of one log entry. */
export function leafHash(data: Uint8Array): Uint8Array {
  return sha256(Uint8Array.of(0x00), data);
}

/** SHA-256(0x01 || left || right): the hash of an interior node. */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256(Uint8Array.of(0x01), left, right);
}

/** MTH(D[n]) over the given leaf hashes; the empty tree's root is SHA-256 of nothing. */
export function rootHash(leafHashes: readonly Uint8Array[]): Uint8Array {
  const frontier = new TreeFrontier();
  for (const hash of leafHashes) frontier.append(hash);
  return frontier.root();
}

/** What TreeFrontier.toJSON writes: the tree size and its frontier hashes, base64, left to right. */
export interface TreeFrontierJSON {
  size: number;
  hashes: string[];
}

/**
 * The right edge of a tree: one hash per perfect subtree of the size's binary decomposition
 * (at most one per level). It is all a sealer needs to append the next batch and compute the
 * new root, so a log whose oldest rows were pruned still yields roots that verify.
 */
export class TreeFrontier {
  #size = 0;
  // levels[i] is the root of a perfect subtree of 2^i leaves, present iff bit i of size is set.
  #levels: (Uint8Array | undefined)[] = [];

  get size(): number {
    return this.#size;
  }

  append(hash: Uint8Array): void {
    assertHash(hash, 'leaf hash');
    if (this.#size >= Number.MAX_SAFE_INTEGER) throw new RangeError('tree is full');
    let carry = hash;
    let level = 0;
    for (let left = this.#levels[level]; left !== undefined; left = this.#levels[level]) {
      carry = nodeHash(left, carry);
      this.#levels[level] = undefined;
      level += 1;
    }
    this.#levels[level] = carry;
    this.#size += 1;
  }

  root(): Uint8Array {
    // Smaller subtrees are to the right, so fold from the lowest level up.
    let root: Uint8Array | undefined;
    for (const hash of this.#levels) {
      if (hash !== undefined) root = root === undefined ? hash : nodeHash(hash, root);
    }
    return root ?? sha256();
  }

  toJSON(): TreeFrontierJSON {
    const hashes: string[] = [];
    for (let level = this.#levels.length - 1; level >= 0; level -= 1) {
      const hash = this.#levels[level];
      if (hash !== undefined) hashes.push(Buffer.from(hash).toString('base64'));
    }
    return { size: this.#size, hashes };
  }

  static fromJSON(json: TreeFrontierJSON): TreeFrontier {
    const { size, hashes } = json;
    if (!Number.isSafeInteger(size) || size < 0) throw new RangeError('frontier size must be a safe integer >= 0');
    if (!Array.isArray(hashes)) throw new TypeError('frontier hashes must be an array');
    const frontier = new TreeFrontier();
    const levels = setBits(size);
    if (hashes.length !== levels.length) {
      throw new RangeError(`a tree of size ${size} has ${levels.length} frontier hashes, not ${hashes.length}`);
    }
    levels.forEach((level, i) => {
      const encoded = hashes[i];
      const hash = typeof encoded === 'string' ? Buffer.from(encoded, 'base64') : undefined;
      if (hash?.length !== HASH_SIZE || hash.toString('base64') !== encoded) {
        throw new TypeError(`frontier hash ${i} is not base64 of ${HASH_SIZE} bytes`);
      }
      frontier.#levels[level] = new Uint8Array(hash);
    });
    frontier.#size = size;
    return frontier;
  }
}

/** PATH(index, D[size]) (RFC 9162 2.1.3.1) over the first `size` leaf hashes. */
export function inclusionProof(
  leafHashes: readonly Uint8Array[],
  index: number,
  size: number = leafHashes.length,
): Uint8Array[] {
  checkSize(leafHashes, size);
  if (!Number.isSafeInteger(index) || index < 0 || index >= size) {
    throw new RangeError(`leaf index ${index} is outside a tree of size ${size}`);
  }
  const proof: Uint8Array[] = [];
  const path = (m: number, lo: number, hi: number): void => {
    if (hi - lo <= 1) return;
    const k = split(hi - lo);
    if (m < k) {
      path(m, lo, lo + k);
      proof.push(subtreeHash(leafHashes, lo + k, hi));
    } else {
      path(m - k, lo + k, hi);
      proof.push(subtreeHash(leafHashes, lo, lo + k));
    }
  };
  path(index, 0, size);
  return proof;
}

/** RFC 9162 2.1.3.2: does `proof` put `hash` at `index` of the tree of `size` with `root`? */
export function verifyInclusion(
  hash: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  if (!isHash(hash) || !isHash(root) || !proof.every(isHash)) return false;
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return false;
  let fn = index;
  let sn = size - 1;
  let r = hash;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      while (fn % 2 === 0 && fn !== 0) [fn, sn] = [half(fn), half(sn)];
    } else {
      r = nodeHash(r, p);
    }
    [fn, sn] = [half(fn), half(sn)];
  }
  return sn === 0 && equal(r, root);
}

/** PROOF(m, D[n]) (RFC 9162 2.1.4.1) between the trees of the first m and n leaf hashes. */
export function consistencyProof(
  leafHashes: readonly Uint8Array[],
  m: number,
  n: number = leafHashes.length,
): Uint8Array[] {
  checkSize(leafHashes, n);
  if (!Number.isSafeInteger(m) || m < 0 || m > n) throw new RangeError(`old size ${m} is outside 0..${n}`);
  const proof: Uint8Array[] = [];
  if (m === 0 || m === n) return proof;
  const subproof = (m: number, lo: number, hi: number, complete: boolean): void => {
    if (m === hi - lo) {
      if (!complete) proof.push(subtreeHash(leafHashes, lo, hi));
      return;
    }
    const k = split(hi - lo);
    if (m <= k) {
      subproof(m, lo, lo + k, complete);
      proof.push(subtreeHash(leafHashes, lo + k, hi));
    } else {
      subproof(m - k, lo + k, hi, false);
      proof.push(subtreeHash(leafHashes, lo, lo + k));
    }
  };
  subproof(m, 0, n, true);
  return proof;
}

/**
 * RFC 9162 2.1.4.2: is the tree of size n with newRoot an append-only extension of the tree
 * of size m with oldRoot? Sizes 0 and m = n, which the RFC leaves out, need an empty proof
 * (and, for m = n, equal roots; for m = 0, the empty tree's root).
 */
export function verifyConsistency(
  m: number,
  n: number,
  oldRoot: Uint8Array,
  newRoot: Uint8Array,
  proof: readonly Uint8Array[],
): boolean {
  if (!isHash(oldRoot) || !isHash(newRoot) || !proof.every(isHash)) return false;
  if (!Number.isSafeInteger(m) || !Number.isSafeInteger(n) || m < 0 || m > n) return false;
  if (m === 0) return proof.length === 0 && equal(oldRoot, sha256());
  if (m === n) return proof.length === 0 && equal(oldRoot, newRoot);
  if (proof.length === 0) return false;
  const path = isPowerOfTwo(m) ? [oldRoot, ...proof] : [...proof];
  let fn = m - 1;
  let sn = n - 1;
  while (fn % 2 === 1) [fn, sn] = [half(fn), half(sn)];
  let fr = path[0] as Uint8Array;
  let sr = fr;
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (fn % 2 === 0 && fn !== 0) [fn, sn] = [half(fn), half(sn)];
    } else {
      sr = nodeHash(sr, c);
    }
    [fn, sn] = [half(fn), half(sn)];
  }
  return sn === 0 && equal(fr, oldRoot) && equal(sr, newRoot);
}

function subtreeHash(leafHashes: readonly Uint8Array[], lo: number, hi: number): Uint8Array {
  if (hi - lo === 1) return leafHashes[lo] as Uint8Array;
  const k = split(hi - lo);
  return nodeHash(subtreeHash(leafHashes, lo, lo + k), subtreeHash(leafHashes, lo + k, hi));
}

// The largest power of two smaller than n (n > 1): RFC 9162's split point, not the midpoint.
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function checkSize(leafHashes: readonly Uint8Array[], size: number): void {
  if (!Number.isSafeInteger(size) || size < 0 || size > leafHashes.length) {
    throw new RangeError(`tree size ${size} is outside 0..${leafHashes.length}`);
  }
  for (let i = 0; i < size; i += 1) assertHash(leafHashes[i], `leaf hash ${i}`);
}

function setBits(size: number): number[] {
  const levels: number[] = [];
  for (let level = 0, rest = size; rest > 0; level += 1, rest = half(rest)) {
    if (rest % 2 === 1) levels.unshift(level);
  }
  return levels;
}

// Sizes go past 2^32, where the bitwise operators would truncate them.
const half = (x: number): number => Math.floor(x / 2);
const isPowerOfTwo = (x: number): boolean => x > 0 && setBits(x).length === 1;
const isHash = (x: unknown): x is Uint8Array => x instanceof Uint8Array && x.length === HASH_SIZE;
const equal = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(b);

function assertHash(x: unknown, what: string): asserts x is Uint8Array {
  if (!isHash(x)) throw new TypeError(`${what} must be ${HASH_SIZE} bytes`);
}

function sha256(...parts: Uint8Array[]): Uint8Array {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return new Uint8Array(hash.digest());
}
