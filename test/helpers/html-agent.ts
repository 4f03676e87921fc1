// A user agent without a browser, for driving the hosted pages over real HTTP: fetch with
// redirects handled by hand, a cookie jar that keeps cookies the way a browser would
// (host-only or Domain, Path, Secure, Max-Age/Expires, the __Host- and __Secure- prefixes;
// loopback http counts as a secure context, as in Chromium), forms read from the HTML with
// parse5 and submitted as a browser submits them, with the request metadata a browser
// adds to a navigation (Sec-Fetch-Site/-Mode/-Dest, and Origin on a POST as the Fetch
// standard serializes it under the page's Referrer-Policy).
//
//   const agent = new HtmlAgent();
//   const login = await agent.get(authorizeUrl);                    // 200, the login page
//   const done = await agent.submitForm(login, { fields: { email, password } });
//   done.status === 302; done.location                              // the redirect_uri with code
//   await agent.get(url, { follow: true })                          // follows 3xx to the end
//
// Used by the browser-less OIDC tests (and the OpenID Foundation plan emulation); it knows
// nothing about Tessera.
import { parse, type DefaultTreeAdapterMap } from 'parse5';

type Node = DefaultTreeAdapterMap['node'];
type Element = DefaultTreeAdapterMap['element'];

export interface Cookie {
  name: string;
  value: string;
  /** Lower-case host; with hostOnly, only that exact host gets it. */
  domain: string;
  hostOnly: boolean;
  path: string;
  secure: boolean;
  httpOnly: boolean;
  sameSite: string | undefined;
  /** Epoch ms; undefined: a session cookie. */
  expires: number | undefined;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/** A secure context for cookies: https, or loopback over http (Chromium's rule). */
function isSecureOrigin(url: URL): boolean {
  return url.protocol === 'https:' || LOOPBACK.has(url.hostname) || url.hostname.endsWith('.localhost');
}

/** RFC 6265 5.1.4: the directory of the request path. */
function defaultPath(url: URL): string {
  const path = url.pathname;
  if (!path.startsWith('/') || path.lastIndexOf('/') === 0) return '/';
  return path.slice(0, path.lastIndexOf('/'));
}

function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/';
}

function domainMatches(host: string, cookie: Cookie): boolean {
  if (cookie.hostOnly) return host === cookie.domain;
  return host === cookie.domain || host.endsWith(`.${cookie.domain}`);
}

/** Cookies as a browser keeps them (RFC 6265bis), keyed by name, domain and path. */
export class CookieJar {
  private cookies: Cookie[] = [];

  /** Takes every Set-Cookie of a response to `url`; refused cookies are dropped silently, as browsers do. */
  store(url: URL, setCookies: readonly string[], now = Date.now()): void {
    for (const header of setCookies) this.storeOne(url, header, now);
  }

  private storeOne(url: URL, header: string, now: number): void {
    const [pair = '', ...attributes] = header.split(';');
    const eq = pair.indexOf('=');
    if (eq < 0) return;
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    if (!name) return;
    const host = url.hostname.toLowerCase();
    const cookie: Cookie = {
      name,
      value,
      domain: host,
      hostOnly: true,
      path: defaultPath(url),
      secure: false,
      httpOnly: false,
      sameSite: undefined,
      expires: undefined,
    };
    let maxAge: number | undefined;
    let pathGiven = false;
    let domainGiven = false;
    for (const attribute of attributes) {
      const i = attribute.indexOf('=');
      const key = (i < 0 ? attribute : attribute.slice(0, i)).trim().toLowerCase();
      const val = i < 0 ? '' : attribute.slice(i + 1).trim();
      if (key === 'path' && val.startsWith('/')) {
        cookie.path = val;
        pathGiven = true;
      } else if (key === 'domain' && val) {
        const domain = val.replace(/^\./, '').toLowerCase();
        // A cookie for another site, or for a bare IP other than the host itself, is refused.
        if (host !== domain && !host.endsWith(`.${domain}`)) return;
        cookie.domain = domain;
        cookie.hostOnly = false;
        domainGiven = true;
      } else if (key === 'secure') cookie.secure = true;
      else if (key === 'httponly') cookie.httpOnly = true;
      else if (key === 'samesite') cookie.sameSite = val.toLowerCase();
      else if (key === 'max-age' && /^-?\d+$/.test(val)) maxAge = Number(val);
      else if (key === 'expires') {
        const at = Date.parse(val);
        if (!Number.isNaN(at)) cookie.expires = at;
      }
    }
    if (maxAge !== undefined) cookie.expires = maxAge <= 0 ? 0 : now + maxAge * 1000;
    // Secure cookies only from a secure context; the prefixes as RFC 6265bis 4.1.3 fixes them.
    if (cookie.secure && !isSecureOrigin(url)) return;
    if (name.startsWith('__Secure-') && !cookie.secure) return;
    if (name.startsWith('__Host-') && (!cookie.secure || domainGiven || !pathGiven || cookie.path !== '/')) return;
    if (cookie.sameSite === 'none' && !cookie.secure) return;
    this.cookies = this.cookies.filter(
      (c) => !(c.name === cookie.name && c.domain === cookie.domain && c.path === cookie.path),
    );
    if (cookie.expires === undefined || cookie.expires > now) this.cookies.push(cookie);
  }

  /** The Cookie header for a request to `url` (undefined when none applies); longer paths first. */
  header(url: URL, now = Date.now()): string | undefined {
    this.cookies = this.cookies.filter((c) => c.expires === undefined || c.expires > now);
    const host = url.hostname.toLowerCase();
    const secure = isSecureOrigin(url);
    const matching = this.cookies
      .filter((c) => domainMatches(host, c) && pathMatches(url.pathname, c.path) && (!c.secure || secure))
      .sort((a, b) => b.path.length - a.path.length);
    return matching.length ? matching.map((c) => `${c.name}=${c.value}`).join('; ') : undefined;
  }

  get(name: string): Cookie | undefined {
    return this.cookies.find((c) => c.name === name);
  }

  all(): readonly Cookie[] {
    return [...this.cookies];
  }

  delete(name: string): void {
    this.cookies = this.cookies.filter((c) => c.name !== name);
  }
}

export interface AgentPage {
  /** The URL this answer came from. */
  url: string;
  status: number;
  headers: Headers;
  body: string;
  /** The Location header resolved against `url`, when there is one. */
  location: string | undefined;
  /** With `follow`: the 3xx answers passed on the way here, in order. */
  redirects: AgentPage[];
}

export interface RequestOptions {
  /** Follow 3xx answers (303, and 302/301 for POST, become GET as in browsers), at most 20. */
  follow?: boolean;
  headers?: Record<string, string>;
}

export interface SubmitOptions extends RequestOptions {
  /** Values for named controls (they replace what the form holds under that name). */
  fields?: Record<string, string>;
  /**
   * The submit button pressed: matched by its value, then its name, then its text. Its
   * name=value is sent (a nameless button sends nothing). Default: the first submit button.
   */
  button?: string;
  /** Which form: a CSS-ish test on the form's action (substring); default the first method=post form. */
  action?: string;
}

export interface ParsedForm {
  action: string;
  method: string;
  /** Every successful control's name and value, in document order (hidden, text, checked boxes, selects...). */
  controls: [string, string][];
  buttons: { name: string | undefined; value: string; text: string; formaction: string | undefined }[];
}

const attr = (el: Element, name: string): string | undefined => el.attrs.find((a) => a.name === name)?.value;

function* walk(node: Node): Generator<Node> {
  yield node;
  const children = 'childNodes' in node ? node.childNodes : [];
  for (const child of children) yield* walk(child);
  if (node.nodeName === 'template' && 'content' in node) yield* walk(node.content);
}

function textOf(node: Node): string {
  let text = '';
  for (const n of walk(node)) if (n.nodeName === '#text' && 'value' in n) text += n.value;
  return text.replace(/\s+/g, ' ').trim();
}

const isElement = (node: Node): node is Element => 'tagName' in node;

/** Every form of an HTML document, its controls as a browser would submit them. */
export function parseForms(html: string, pageUrl: string): ParsedForm[] {
  const document = parse(html);
  const forms: ParsedForm[] = [];
  for (const node of walk(document)) {
    if (!isElement(node) || node.tagName !== 'form') continue;
    const form: ParsedForm = {
      // HTML: an absent or empty action submits to the document's own URL.
      action: new URL(attr(node, 'action') || pageUrl, pageUrl).href,
      method: (attr(node, 'method') ?? 'get').toLowerCase(),
      controls: [],
      buttons: [],
    };
    for (const child of walk(node)) {
      if (!isElement(child) || child === node) continue;
      const name = attr(child, 'name');
      const disabled = attr(child, 'disabled') !== undefined;
      if (
        child.tagName === 'button' ||
        (child.tagName === 'input' && ['submit', 'image'].includes(attr(child, 'type') ?? ''))
      ) {
        const type = (attr(child, 'type') ?? 'submit').toLowerCase();
        if (type === 'submit' && !disabled)
          form.buttons.push({
            name,
            value: attr(child, 'value') ?? '',
            text: child.tagName === 'button' ? textOf(child) : (attr(child, 'value') ?? ''),
            formaction: attr(child, 'formaction'),
          });
        continue;
      }
      if (!name || disabled) continue;
      if (child.tagName === 'input') {
        const type = (attr(child, 'type') ?? 'text').toLowerCase();
        if (['button', 'reset', 'file'].includes(type)) continue;
        if ((type === 'checkbox' || type === 'radio') && attr(child, 'checked') === undefined) continue;
        form.controls.push([name, attr(child, 'value') ?? (type === 'checkbox' || type === 'radio' ? 'on' : '')]);
      } else if (child.tagName === 'textarea') {
        form.controls.push([name, textOf(child)]);
      } else if (child.tagName === 'select') {
        const options = [...walk(child)].filter((o): o is Element => isElement(o) && o.tagName === 'option');
        const chosen = options.find((o) => attr(o, 'selected') !== undefined) ?? options[0];
        if (chosen) form.controls.push([name, attr(chosen, 'value') ?? textOf(chosen)]);
      }
    }
    forms.push(form);
  }
  return forms;
}

/** A cookie-keeping HTTP client that reads and submits HTML forms. */
export class HtmlAgent {
  readonly jar = new CookieJar();
  /** Every answer received, in order (3xx included). */
  readonly history: AgentPage[] = [];

  constructor(private readonly defaults: { headers?: Record<string, string> } = {}) {}

  get(url: string, options: RequestOptions = {}): Promise<AgentPage> {
    return this.request('GET', url, undefined, options);
  }

  /** A form POST (application/x-www-form-urlencoded). */
  post(url: string, body: URLSearchParams | Record<string, string>, options: RequestOptions = {}): Promise<AgentPage> {
    return this.request('POST', url, new URLSearchParams(body), options);
  }

  /** Follows the Location of a 3xx answer (to the end, with `follow`). */
  follow(page: AgentPage, options: RequestOptions = {}): Promise<AgentPage> {
    if (!page.location) throw new Error(`${page.status} from ${page.url} has no Location`);
    return this.request('GET', page.location, undefined, options);
  }

  /**
   * Submits the page's `<form method="post">` (or the one whose action contains `action`):
   * every control it holds (hidden ones included), the given fields over them, the pressed
   * button's name=value, to the action resolved against the page URL.
   */
  submitForm(page: AgentPage, options: SubmitOptions = {}): Promise<AgentPage> {
    const forms = parseForms(page.body, page.url).filter(
      (f) => f.method === 'post' && (options.action === undefined || f.action.includes(options.action)),
    );
    const form = forms[0];
    if (!form) throw new Error(`no <form method="post"> on ${page.url} (status ${page.status})`);
    const fields = options.fields ?? {};
    const body = new URLSearchParams();
    for (const [name, value] of form.controls) if (!(name in fields)) body.append(name, value);
    for (const [name, value] of Object.entries(fields)) body.append(name, value);
    const button =
      options.button === undefined
        ? form.buttons[0]
        : (form.buttons.find((b) => b.value === options.button) ??
          form.buttons.find((b) => b.name === options.button) ??
          form.buttons.find((b) => b.text === options.button));
    if (options.button !== undefined && !button)
      throw new Error(`no submit button "${options.button}" in the form on ${page.url}`);
    if (button?.name) body.append(button.name, button.value);
    const action = button?.formaction ? new URL(button.formaction, page.url).href : form.action;
    return this.request('POST', action, body, options, page);
  }

  /**
   * GET and POST as top-level navigations: without an initiator (typed into the address
   * bar) Sec-Fetch-Site is `none` and no Origin is sent; from a page's form, Sec-Fetch-Site
   * relates the page to each URL of the redirect chain (the least related one so far), and
   * a POST carries Origin as the Fetch standard serializes it under the page's
   * Referrer-Policy (`null` under no-referrer, as Chromium sends it).
   */
  private async request(
    method: string,
    url: string,
    body: URLSearchParams | undefined,
    options: RequestOptions,
    initiator?: AgentPage,
  ): Promise<AgentPage> {
    const redirects: AgentPage[] = [];
    const from = initiator ? new URL(initiator.url) : undefined;
    const policy = initiator ? referrerPolicy(initiator.headers) : undefined;
    let site: FetchSite = from ? 'same-origin' : 'none';
    let crossOriginRedirect = false;
    for (let hop = 0; ; hop++) {
      const target = new URL(url);
      if (from) site = leastRelated(site, relation(from, target));
      const metadata: Record<string, string> = {
        'sec-fetch-site': site,
        'sec-fetch-mode': 'navigate',
        'sec-fetch-dest': 'document',
      };
      if (method !== 'GET' && method !== 'HEAD' && from)
        metadata.origin = crossOriginRedirect ? 'null' : serializedOrigin(from, target, policy);
      const headers: Record<string, string> = {
        accept: 'text/html',
        ...metadata,
        ...this.defaults.headers,
        ...options.headers,
      };
      const cookie = this.jar.header(target);
      if (cookie) headers.cookie = cookie;
      if (body) headers['content-type'] = 'application/x-www-form-urlencoded';
      const res = await fetch(target, { method, headers, body: body?.toString(), redirect: 'manual' });
      this.jar.store(target, res.headers.getSetCookie());
      const location = res.headers.get('location');
      const page: AgentPage = {
        url: target.href,
        status: res.status,
        headers: res.headers,
        body: await res.text(),
        location: location === null ? undefined : new URL(location, target).href,
        redirects,
      };
      this.history.push(page);
      if (!options.follow || page.status < 300 || page.status > 399 || !page.location) return page;
      if (hop >= 20) throw new Error(`more than 20 redirects from ${url}`);
      redirects.push(page);
      // Browsers turn a POST into a GET on 301, 302 and 303; 307 and 308 repeat it.
      if (page.status !== 307 && page.status !== 308) {
        method = 'GET';
        body = undefined;
      }
      if (new URL(page.location).origin !== target.origin) crossOriginRedirect = true;
      url = page.location;
    }
  }
}

type FetchSite = 'none' | 'same-origin' | 'same-site' | 'cross-site';

/** Same site: same scheme and host, or hosts sharing their last two labels (no public-suffix list here). */
function relation(from: URL, to: URL): FetchSite {
  if (from.origin === to.origin) return 'same-origin';
  const site = (u: URL) => (/^[\d.]+$|^\[/.test(u.hostname) ? u.hostname : u.hostname.split('.').slice(-2).join('.'));
  return from.protocol === to.protocol && site(from) === site(to) ? 'same-site' : 'cross-site';
}

function leastRelated(a: FetchSite, b: FetchSite): FetchSite {
  const order: FetchSite[] = ['none', 'same-origin', 'same-site', 'cross-site'];
  return order[Math.max(order.indexOf(a), order.indexOf(b))]!;
}

/** The policy a page's Referrer-Policy header sets (the last known token), else the default. */
function referrerPolicy(headers: Headers): string {
  const known = [
    'no-referrer',
    'no-referrer-when-downgrade',
    'same-origin',
    'origin',
    'strict-origin',
    'origin-when-cross-origin',
    'strict-origin-when-cross-origin',
    'unsafe-url',
  ];
  const tokens = (headers.get('referrer-policy') ?? '').split(',').map((t) => t.trim().toLowerCase());
  return tokens.filter((t) => known.includes(t)).at(-1) ?? 'strict-origin-when-cross-origin';
}

/** Fetch, "append a request Origin header", for a non-CORS POST navigation. */
function serializedOrigin(from: URL, to: URL, policy: string | undefined): string {
  const downgrade = from.protocol === 'https:' && to.protocol !== 'https:';
  switch (policy) {
    case 'no-referrer':
      return 'null';
    case 'no-referrer-when-downgrade':
    case 'strict-origin':
    case 'strict-origin-when-cross-origin':
      return downgrade ? 'null' : from.origin;
    case 'same-origin':
      return from.origin === to.origin ? from.origin : 'null';
    default:
      return from.origin;
  }
}
