// The account forms are rate limited like their JSON endpoints (LOGIN_RATE_LIMIT for the
// reset forms, REGISTRATION_RATE_LIMIT for the verification form), and past the limit the
// browser gets the error page (HTML, 429, Retry-After), never JSON.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { uniqueEmail } from '../helpers/build.js';
import { HtmlAgent } from '../helpers/html-agent.js';
import { accountWorld, assertPageHeaders, textOf } from './helpers.js';

test('rate limits on the account forms', async (t) => {
  const { server } = await accountWorld(t, { LOGIN_RATE_LIMIT: '3', REGISTRATION_RATE_LIMIT: '2' });
  const agent = new HtmlAgent();

  await t.test('the reset request form: the fourth post in a minute gets the 429 page', async () => {
    const form = await agent.get(`${server.url}/account/password-reset`);
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => agent.submitForm(form, { fields: { email: uniqueEmail('limit') } })),
    );
    const statuses = answers.map((a) => a.status).sort();
    assert.deepEqual(statuses, [200, 200, 200, 429, 429], JSON.stringify(statuses));
    const limited = answers.find((a) => a.status === 429)!;
    assertPageHeaders(limited, '429 page', { tokenInUrl: false });
    assert.match(textOf(limited), /Too many requests\. Please wait a moment and try again\./);
    assert.match(limited.headers.get('retry-after') ?? '', /^\d+$/);
  });

  await t.test('the verification page: past REGISTRATION_RATE_LIMIT, the 429 page', async () => {
    const link = `${server.url}/account/verify-email?token=${'v'.repeat(43)}`;
    const answers = await Promise.all(Array.from({ length: 4 }, () => agent.get(link)));
    assert.deepEqual(answers.map((a) => a.status).sort(), [200, 200, 429, 429]);
    const limited = answers.find((a) => a.status === 429)!;
    assert.match(limited.headers.get('content-type') ?? '', /^text\/html/);
    assert.equal(limited.headers.get('referrer-policy'), 'no-referrer');
  });
});
