// The breached-password range answer and key, without a network: SHA-1 of the stored
// (NFKC) form split 5/35, `SUFFIX:COUNT` lines in CRLF or LF, any case, padding (count 0)
// as absent, and anything else refused as malformed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BreachedPasswords, breachCount, MalformedRangeError, rangeKey } from '../../src/domain/passwords/breached.js';

// SHA-1("password") = 5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8, the example HIBP documents.
const SUFFIX = '1E4C9B93F3F0682250B6CF8331B7EE68FD8';

test('the range key is the SHA-1 of the NFKC form, split after five upper-case hex characters', () => {
  assert.deepEqual(rangeKey('password'), { prefix: '5BAA6', suffix: SUFFIX });
  assert.deepEqual(rangeKey('ｐａｓｓｗｏｒｄ'), rangeKey('password'), 'fullwidth is the same password');
});

test('a range answer gives the count of the suffix, in either line ending and any case', () => {
  const lines = [
    `0018A45C4D1DEF81644B54AB7F969B88D65:1`,
    `${SUFFIX.toLowerCase()}:3861493`,
    `00D4F6E8FA6EECAD2A3AA415EEC418D38EC:2`,
  ];
  assert.equal(breachCount(lines.join('\r\n'), SUFFIX), 3861493);
  assert.equal(breachCount(`${lines.join('\n')}\n`, SUFFIX), 3861493);
  assert.equal(breachCount(lines.join('\n'), SUFFIX.toLowerCase()), 3861493);
  assert.equal(breachCount(lines.filter((l) => !l.includes(':3861')).join('\r\n'), SUFFIX), 0, 'absent');
  assert.equal(breachCount('', SUFFIX), 0, 'an empty range');
});

test('padding entries (count 0) count as absent, even for the very suffix', () => {
  assert.equal(breachCount(`${SUFFIX}:0\r\n0018A45C4D1DEF81644B54AB7F969B88D65:0`, SUFFIX), 0);
});

test('anything that is not SUFFIX:COUNT makes the whole answer malformed', () => {
  for (const body of [
    '<html>maintenance</html>',
    `${SUFFIX}`,
    `${SUFFIX}:`,
    `${SUFFIX}:-1`,
    `${SUFFIX}:12a`,
    `${SUFFIX.slice(1)}:1`,
    `${SUFFIX}0:1`,
    `5BAA6${SUFFIX}:1`,
    `${SUFFIX.replace('E', 'G')}:1`,
    `0018A45C4D1DEF81644B54AB7F969B88D65:1\n{"error":"x"}`,
  ]) {
    assert.throws(() => breachCount(body, SUFFIX), MalformedRangeError, body);
  }
});

test('with no URL the check is off: no result, nothing counted', async () => {
  const seen: string[] = [];
  const off = new BreachedPasswords(
    { url: undefined, timeoutMs: 100 },
    { counted: (r) => void seen.push(r), failed: (r) => void seen.push(r) },
  );
  assert.equal(off.enabled, false);
  assert.equal(await off.check('password'), undefined);
  assert.deepEqual(seen, []);
});
