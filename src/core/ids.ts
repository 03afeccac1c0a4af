/**
 * Identifiers people type: short, lowercase, time-sortable.
 * A run id is `r` + 9 base32 characters of time + 6 random ones, e.g. `r0jf3k2m9q7x4b2c`.
 */
const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"; // Crockford base32, lowercase

function encodeTime(ms: number, length: number): string {
  let out = "";
  let value = Math.floor(ms);
  for (let i = 0; i < length; i++) {
    out = ALPHABET[value % 32] + out;
    value = Math.floor(value / 32);
  }
  return out;
}

function randomChars(length: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  let out = "";
  for (const byte of bytes) out += ALPHABET[byte % 32];
  return out;
}

export function newId(prefix: string, now: number): string {
  return prefix + encodeTime(now, 9) + randomChars(6);
}
