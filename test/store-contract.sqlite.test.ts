/** The Store contract suite against the SQLite store: a fresh database file per test, with the real migrations. */
import { join } from "node:path";
import { openTestStore } from "./fixtures/stores.ts";
import { freshDir } from "./helpers.ts";
import { storeContract, type StoreFactory } from "./store-contract/index.ts";

const sqliteFactory: StoreFactory = {
  async open({ clock, random, recoveryLimit }) {
    const path = join(freshDir(), "farcaster.db");
    const options = { clock, random, recoveryLimit };
    return {
      store: openTestStore(path, options),
      another: async () => openTestStore(path, options),
      reader: async () => openTestStore(path, { clock, readOnly: true }),
    };
  },
};

storeContract("sqlite", sqliteFactory);
