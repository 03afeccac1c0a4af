/** The SHA-256 of a text as lowercase hex: how goal files, frozen plans, plan reviews and gate subjects are compared. */
export function contentHash(text: string): string {
  return new Bun.CryptoHasher("sha256").update(text).digest("hex");
}
