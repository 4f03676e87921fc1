import { test } from 'node:test';
import { build, userWithRoles } from '/work/main/test/helpers/build.js';
test('probe', async (t) => {
  let s = Date.now();
  const built = await build(t, {});
  t.diagnostic(`build ${Date.now() - s}`);
  s = Date.now();
  await userWithRoles(built, ['admin']);
  t.diagnostic(`admin ${Date.now() - s}`);
  s = Date.now();
  const b2 = await build(t, {});
  t.diagnostic(`build2 ${Date.now() - s}`);
});
