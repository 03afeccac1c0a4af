/** Saying which process writes to the database: this one for others, another one, or this one alone. */
import type { Store } from "../store/types.ts";
import type { SharedRole } from "../store/sqlite/shared/store.ts";

export async function sharingOf(store: Store): Promise<SharedRole | null> {
  const shared = store as Store & { sharing?: () => Promise<SharedRole> };
  return typeof shared.sharing === "function" ? shared.sharing() : null;
}

export function describeSharing(role: SharedRole | null): string {
  if (role === null) return "writes directly";
  if (role.role === "host") return "writes here for others on this machine (one writer per database file)";
  if (role.role === "client") return `writes through the host, process ${role.hostPid}`;
  return `writes directly (${role.why})`;
}
