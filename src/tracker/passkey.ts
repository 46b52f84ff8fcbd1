// Weightless passkeys: `<user_id>.<hex HMAC-SHA256(key = tracker secret, msg = user_id)>`, the path segment
// after /announce/. Optional: only a tracker given a secret asks for them.
import { createHmac, timingSafeEqual } from 'node:crypto';

export function signUserId(secret: string, userId: string): string {
  return createHmac('sha256', secret).update(userId).digest('hex');
}

/** The passkey for `userId`, to put in an announce URL. */
export function makePasskey(secret: string, userId: string): string {
  return `${userId}.${signUserId(secret, userId)}`;
}

/** The user id a passkey vouches for, or undefined when it is malformed or not signed with `secret`. */
export function verifyPasskey(secret: string, passkey: string): string | undefined {
  const dot = passkey.indexOf('.');
  if (dot <= 0 || dot !== passkey.lastIndexOf('.')) return undefined;
  const userId = passkey.slice(0, dot);
  const given = Buffer.from(passkey.slice(dot + 1), 'utf8');
  const expected = Buffer.from(signUserId(secret, userId), 'utf8');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  return userId;
}
