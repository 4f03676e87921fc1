// A local stand-in for a captcha provider's browser side, on 127.0.0.1, beside the
// siteverify stand-in: GET /api.js is a widget script that, like the real ones, finds the
// widget element (`.h-captcha`, `.cf-turnstile` or `.g-recaptcha`), renders a control in
// it ("I am human", a plain button built with DOM calls: no inline style or script, so it
// works under Tessera's CSP) and, once clicked, puts the answer into the enclosing form as
// the provider's hidden field. The answer comes from GET /answer (CORS-enabled), so the
// test decides whether it is one siteverify accepts.
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import { startSiteverify } from './siteverify-stand-in.js';

export type WidgetProvider = 'hcaptcha' | 'turnstile' | 'recaptcha';

export const WIDGETS: Record<WidgetProvider, { className: string; field: string }> = {
  hcaptcha: { className: 'h-captcha', field: 'h-captcha-response' },
  turnstile: { className: 'cf-turnstile', field: 'cf-turnstile-response' },
  recaptcha: { className: 'g-recaptcha', field: 'g-recaptcha-response' },
};

/** What the button label says before and after a click, for tests to find it by. */
export const WIDGET_LABEL = 'I am human';
export const WIDGET_DONE_LABEL = 'Verified';

const GOOD = /^good-[A-Za-z0-9_-]+$/;

function widgetScript(origin: string, provider: WidgetProvider): string {
  const { className, field } = WIDGETS[provider];
  const json = (value: string) => JSON.stringify(value);
  return `'use strict';
(function () {
  var ORIGIN = ${json(origin)};
  var CLASS_NAME = ${json(className)};
  var FIELD = ${json(field)};
  function render() {
    var widgets = document.getElementsByClassName(CLASS_NAME);
    for (var i = 0; i < widgets.length; i++) mount(widgets[i]);
  }
  function mount(widget) {
    if (widget.getAttribute('data-stand-in') === 'rendered') return;
    widget.setAttribute('data-stand-in', 'rendered');
    var button = document.createElement('button');
    button.type = 'button';
    button.className = 'stand-in-captcha';
    button.textContent = ${json(WIDGET_LABEL)};
    button.addEventListener('click', function () {
      var sitekey = widget.getAttribute('data-sitekey') || '';
      fetch(ORIGIN + '/answer?sitekey=' + encodeURIComponent(sitekey), { cache: 'no-store', credentials: 'omit' })
        .then(function (res) { return res.text(); })
        .then(function (answer) {
          var form = widget.closest('form');
          if (!form) throw new Error('the captcha widget is not inside a form');
          var input = form.querySelector('input[name="' + FIELD + '"]');
          if (!input) {
            input = document.createElement('input');
            input.type = 'hidden';
            input.name = FIELD;
            form.appendChild(input);
          }
          input.value = answer;
          button.textContent = ${json(WIDGET_DONE_LABEL)};
          widget.setAttribute('data-stand-in', 'solved');
        });
    });
    widget.appendChild(button);
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', render);
  else render();
})();
`;
}

export interface CaptchaWidgetStandIn {
  /** For CAPTCHA_SCRIPT_URL. */
  scriptUrl: string;
  origin: string;
  /** Settings pointing Tessera at both stand-ins (CAPTCHA_HOSTNAMES=localhost). */
  env: Record<string, string>;
  sitekey: string;
  secret: string;
  siteverify: Awaited<ReturnType<typeof startSiteverify>>;
  /** 'good': later clicks get answers siteverify accepts (a fresh one each); 'bad': ones it refuses; or an exact value. */
  setAnswer(next: 'good' | 'bad' | { exact: string }): void;
  /** Every answer handed to a widget, in order. */
  answers: string[];
  /** How many times the widget script was fetched. */
  scriptLoads(): number;
}

/** Starts the widget stand-in and the siteverify stand-in (both closed after the test). */
export async function startCaptchaWidget(
  t: Pick<TestContext, 'after'>,
  provider: WidgetProvider = 'hcaptcha',
): Promise<CaptchaWidgetStandIn> {
  const siteverify = await startSiteverify({ goodAnswer: GOOD });
  t.after(() => siteverify.close());
  let mode: 'good' | 'bad' | { exact: string } = 'good';
  const answers: string[] = [];
  let loads = 0;
  let origin = '';
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', origin);
    // Cross-origin by design: Tessera's pages load the script and the script fetches.
    const cors = { 'access-control-allow-origin': '*', 'cross-origin-resource-policy': 'cross-origin' };
    if (url.pathname === '/api.js') {
      loads += 1;
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-store', ...cors });
      return void res.end(widgetScript(origin, provider));
    }
    if (url.pathname === '/answer') {
      const random = randomBytes(12).toString('base64url');
      const answer = mode === 'good' ? `good-${random}` : mode === 'bad' ? `bad-${random}` : mode.exact;
      answers.push(answer);
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...cors });
      return void res.end(answer);
    }
    res.writeHead(404, cors).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  t.after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const sitekey = `stand-in-sitekey-${randomBytes(4).toString('hex')}`;
  const secret = `stand-in-secret-${randomBytes(8).toString('hex')}`;
  const scriptUrl = `${origin}/api.js`;
  return {
    scriptUrl,
    origin,
    sitekey,
    secret,
    siteverify,
    answers,
    env: {
      CAPTCHA_PROVIDER: provider,
      CAPTCHA_SCRIPT_URL: scriptUrl,
      CAPTCHA_VERIFY_URL: siteverify.url,
      CAPTCHA_SECRET: secret,
      CAPTCHA_SITEKEY: sitekey,
      CAPTCHA_HOSTNAMES: 'localhost',
    },
    setAnswer(next) {
      mode = next;
    },
    scriptLoads: () => loads,
  };
}
