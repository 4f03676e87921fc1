// One error type for everything Tessera answers on purpose. Codes are stable (RFC 6749
// 5.2 names on the OAuth endpoints); the description is generic and safe to show.
export type ErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'invalid_target'
  | 'invalid_credentials'
  | 'captcha_required'
  | 'mfa_required'
  | 'invalid_code'
  | 'insufficient_user_authentication'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'forbidden'
  | 'not_found'
  | 'method_not_allowed'
  | 'request_timeout'
  | 'payload_too_large'
  | 'headers_too_large'
  | 'unsupported_media_type'
  | 'registration_closed'
  | 'weak_password'
  | 'email_not_verified'
  | 'invalid_link'
  | 'password_reset_unavailable'
  | 'email_taken'
  | 'rate_limited'
  | 'temporarily_unavailable'
  | 'server_error';

const DEFAULTS: Record<ErrorCode, [status: number, description: string]> = {
  invalid_request: [400, 'The request is missing a parameter or is malformed'],
  invalid_client: [401, 'Client authentication failed'],
  invalid_grant: [400, 'The grant is invalid, expired or revoked'],
  unauthorized_client: [400, 'The client may not use this grant'],
  unsupported_grant_type: [400, 'The grant type is not supported'],
  invalid_scope: [400, 'The requested scope is invalid'],
  invalid_target: [400, 'The requested resource is invalid'],
  invalid_credentials: [401, 'Invalid credentials'],
  captcha_required: [401, 'A captcha answer is required'],
  mfa_required: [401, 'A second factor is required to complete the login'],
  invalid_code: [401, 'The code is invalid'],
  insufficient_user_authentication: [401, 'A more recent or stronger authentication is required'],
  invalid_token: [401, 'The access token is invalid'],
  insufficient_scope: [403, 'The access token lacks the required scope'],
  forbidden: [403, 'Not allowed'],
  not_found: [404, 'Not found'],
  method_not_allowed: [405, 'Method not allowed'],
  request_timeout: [408, 'The request took too long to arrive'],
  payload_too_large: [413, 'The request body is too large'],
  headers_too_large: [431, 'The request headers are too large'],
  unsupported_media_type: [415, 'Unsupported content type'],
  registration_closed: [403, 'Registration is closed'],
  weak_password: [400, 'The password does not meet the policy'],
  email_not_verified: [403, 'The email address is not verified yet; follow the link in the verification mail'],
  invalid_link: [400, 'The link is invalid, has expired or was already used'],
  password_reset_unavailable: [403, 'Password reset by mail is not available on this service'],
  email_taken: [409, 'Another account uses this email address'],
  rate_limited: [429, 'Too many requests'],
  temporarily_unavailable: [503, 'The service is busy, retry later'],
  server_error: [500, 'Internal server error'],
};

export class TesseraError extends Error {
  readonly status: number;
  readonly description: string;
  /** Whether code and description may be shown; anything else becomes server_error. */
  readonly expose: boolean;

  constructor(
    readonly code: ErrorCode,
    options: {
      description?: string;
      status?: number;
      headers?: Record<string, string>;
      detail?: string;
      extra?: Record<string, unknown>;
    } = {},
  ) {
    const [status, description] = DEFAULTS[code];
    super(options.detail ?? code);
    this.name = 'TesseraError';
    this.status = options.status ?? status;
    this.description = options.description ?? description;
    this.expose = this.status < 500 || this.status === 503;
    this.headers = options.headers ?? {};
    this.extra = options.extra ?? {};
  }

  readonly headers: Record<string, string>;
  readonly extra: Record<string, unknown>;
}
