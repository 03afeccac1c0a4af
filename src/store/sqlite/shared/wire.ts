/**
 * What crosses the socket between a store host and its clients: one JSON
 * object per line. A request names a Store method and its arguments; a reply
 * carries the value or the error. `undefined` survives the trip (an omitted
 * option stays omitted), and errors come back as the classes they were, so
 * `error instanceof LeaseLostError` holds in the client as in the host.
 */
import * as errors from "../../../core/errors.ts";

/**
 * A request: `undefined` marks which arguments were left out (an optional
 * argument must stay omitted: a null would not take its default). Inside
 * arguments and values, JSON's own rule applies (a key holding undefined is
 * dropped), which is what every Store method expects of its options.
 */
export type Request = { id: number; method: string; args: unknown[]; undefinedArgs?: number[] } | { hello: { db: string; pid: number } };
export type Reply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: WireError }
  /** The host committed a batch: followers and idle drones in clients look again. */
  | { changed: true }
  | { welcome: { pid: number } }
  | { refused: string };

export interface WireError {
  name: string;
  message: string;
  code?: string;
  details?: unknown;
  fields?: Record<string, unknown>;
}

export function encodeRequest(id: number, method: string, args: unknown[]): string {
  let undefinedArgs: number[] | undefined;
  for (let index = 0; index < args.length; index++) if (args[index] === undefined) (undefinedArgs ??= []).push(index);
  return encode(undefinedArgs === undefined ? { id, method, args } : { id, method, args, undefinedArgs });
}

/** The arguments as the caller passed them, omitted ones omitted (the request's own array when none was). */
export function requestArgs(request: { args: unknown[]; undefinedArgs?: number[] }): unknown[] {
  if (request.undefinedArgs === undefined) return request.args;
  const args = [...request.args];
  for (const index of request.undefinedArgs) args[index] = undefined;
  return args;
}

export function encode(message: Request | Reply): string {
  return JSON.stringify(message) + "\n";
}

export function decode<T extends Request | Reply>(line: string): T {
  return JSON.parse(line) as T;
}

/** The error classes a reply can bring back, by name. */
const CLASSES: Record<string, new (...args: never[]) => Error> = {
  RangeError,
  TypeError,
  ...Object.fromEntries(Object.entries(errors).filter(([, value]) => typeof value === "function" && value.prototype instanceof Error)),
} as Record<string, new (...args: never[]) => Error>;

export function toWireError(error: unknown): WireError {
  if (!(error instanceof Error)) return { name: "Error", message: String(error) };
  const wire: WireError = { name: error.name, message: error.message };
  const own = error as Error & { code?: unknown; details?: unknown };
  if (typeof own.code === "string") wire.code = own.code;
  if (own.details !== undefined) wire.details = own.details;
  // Fields some errors carry beside their message (PlanInvalidError.issues, StepFailedError.stepKey…).
  const fields: Record<string, unknown> = {};
  for (const key of Object.keys(error)) if (!["name", "message", "code", "details", "stack", "cause"].includes(key)) fields[key] = (error as unknown as Record<string, unknown>)[key];
  if (Object.keys(fields).length > 0) wire.fields = fields;
  return wire;
}

/** The error as its own class when it is one of ours (or a built-in), else a plain Error with its name. */
export function fromWireError(wire: WireError): Error {
  const cls = CLASSES[wire.name];
  const error = Object.create((cls ?? Error).prototype) as Error & Record<string, unknown>;
  Object.defineProperty(error, "message", { value: wire.message, writable: true, configurable: true });
  Object.defineProperty(error, "name", { value: wire.name, writable: true, configurable: true });
  if (wire.code !== undefined) Object.defineProperty(error, "code", { value: wire.code, enumerable: true });
  if (wire.details !== undefined) Object.defineProperty(error, "details", { value: wire.details, enumerable: true });
  for (const [key, value] of Object.entries(wire.fields ?? {})) error[key] = value;
  Error.captureStackTrace?.(error, fromWireError);
  return error;
}
