/**
 * Bearer-token auth. Both tokens are hashed before comparing so the
 * comparison takes the same time whatever their lengths, and timingSafeEqual
 * takes the same time whatever their contents.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { HttpError } from "./errors.ts";

const digest = (text: string) => createHash("sha256").update(text).digest();

export function tokensMatch(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

export function bearerAuth(token: string): MiddlewareHandler {
  return async (c, next) => {
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer\s+(.+)$/i.exec(header);
    if (!match) throw new HttpError(401, "unauthorized", "this server needs a bearer token: send `Authorization: Bearer <FARCASTER_TOKEN>`");
    if (!tokensMatch(match[1]!.trim(), token)) throw new HttpError(401, "unauthorized", "the bearer token is wrong");
    await next();
  };
}

export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host);
}
