// Queueing a mail: the whole request (address, kind, one-time link) sealed with the master
// key into one mail_outbox row, written in the caller's transaction so that the mail
// exists exactly when the change it announces is committed. The worker (delivery.ts) sends it.
import { randomUUID } from 'node:crypto';
import type { SecretBox } from '../crypto/secret-box.js';
import type { Queryable } from '../db/database.js';
import { insertMail } from '../db/repositories/mail-outbox.js';
import { checkMailRequest, type MailRequest } from './messages.js';

/** What binds a sealed message to its row: a ciphertext copied onto another row does not open. */
export const outboxAad = (id: string): string => `mail_outbox:${id}`;

export interface OutboxOptions {
  /** Links must point under it; default: no check here (the worker checks again before sending). */
  issuer?: string;
  /** Called after each queue(): the worker of this process looks at once instead of at its next poll. */
  onQueued?: () => void;
}

export class MailOutbox {
  constructor(
    private readonly box: SecretBox,
    private readonly options: OutboxOptions = {},
  ) {}

  /** Seals and inserts one mail; pass the caller's transaction. Throws on a request that could never be sent. */
  async queue(db: Queryable, mail: MailRequest): Promise<void> {
    const checked = this.options.issuer ? checkMailRequest(mail, this.options.issuer) : mail;
    const id = randomUUID();
    const message = this.box.seal(JSON.stringify(checked), outboxAad(id));
    await insertMail(db, { id, kind: checked.kind, message });
    this.options.onQueued?.();
  }
}
