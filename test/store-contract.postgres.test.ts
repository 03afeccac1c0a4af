/**
 * The Store contract suite against the PostgreSQL store: every test on a
 * fresh schema of the test server (test/fixtures/pg.ts) with the real
 * migrations, dropped after the test. Skipped, with one line saying why,
 * where no server is reachable.
 */
import { describe } from "bun:test";
import { dropSchema, migratedSchema, openPgStore, pgAvailable } from "./fixtures/pg.ts";
import { storeContract, type StoreFactory } from "./store-contract/index.ts";

const postgresFactory: StoreFactory = {
  async open({ clock, random, recoveryLimit }) {
    const schema = await migratedSchema();
    const options = { clock, random, recoveryLimit };
    return {
      store: await openPgStore(schema, options),
      another: () => openPgStore(schema, options),
      reader: () => openPgStore(schema, { clock, readOnly: true }),
      dispose: () => dropSchema(schema),
    };
  },
};

describe.skipIf(!pgAvailable)("postgres", () => storeContract("postgres", postgresFactory));
