// Every migration, in order. Listed explicitly so the build and the embedded
// database need no file globbing.
import { InitialSchema1764356400000 } from './1764356400000-initial-schema.js';
import { LoginFailures1764442800000 } from './1764442800000-login-failures.js';
import { ClientsAndRevocations1764529200000 } from './1764529200000-clients-and-revocations.js';
import { AuditLog1764720000000 } from './1764720000000-audit-log.js';
import { CaptchaAnswers1764806400000 } from './1764806400000-captcha-answers.js';
import { AuthorizationCode1764892800000 } from './1764892800000-authorization-code.js';
import { AuditTree1764979200000 } from './1764979200000-audit-tree.js';
import { AccountLifecycle1765065600000 } from './1765065600000-account-lifecycle.js';
import { AlertOutbox1765152000000 } from './1765152000000-alert-outbox.js';
import { SecondFactors1765238400000 } from './1765238400000-second-factors.js';
import { RuntimeRole1765324800000 } from './1765324800000-runtime-role.js';
import { AuditExport1765411200000 } from './1765411200000-audit-export.js';

export const migrations = [
  InitialSchema1764356400000,
  LoginFailures1764442800000,
  ClientsAndRevocations1764529200000,
  AuditLog1764720000000,
  CaptchaAnswers1764806400000,
  AuthorizationCode1764892800000,
  AuditTree1764979200000,
  AccountLifecycle1765065600000,
  AlertOutbox1765152000000,
  SecondFactors1765238400000,
  RuntimeRole1765324800000,
  AuditExport1765411200000,
];
