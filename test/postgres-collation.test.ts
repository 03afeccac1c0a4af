/**
 * PostgreSQL sorts text by the database's collation, SQLite by bytes. Reads
 * that promise an order (the workflows each drone ran) sort with COLLATE "C"
 * so both stores answer alike; here the column is given a collation that
 * orders otherwise (ICU en-US: "alpha" before "Zeta"), as a database created
 * with a non-C locale would have.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { dropSchema, migratedSchema, openPgStore, pgAdmin, pgAvailable } from "./fixtures/pg.ts";

let schema = "";

afterEach(() => {
  if (schema) void dropSchema(schema);
  schema = "";
});

describe.skipIf(!pgAvailable)("PostgreSQL under a non-C collation", () => {
  test("listDrones withWorkflows lists each drone's workflows in byte order, as on SQLite", async () => {
    schema = await migratedSchema();
    await pgAdmin().unsafe(`ALTER TABLE ${schema}.tasks ALTER COLUMN workflow TYPE text COLLATE "en-US-x-icu"`);
    const store = await openPgStore(schema);
    try {
      await store.createRun({ goal: "g", tasks: [{ id: "a", title: "a", workflow: "alpha", input: {} }, { id: "z", title: "z", workflow: "Zeta", input: {} }] });
      expect((await store.claimTasks("w1", 2, 60_000)).map((c) => c.key).sort()).toEqual(["a", "z"]);
      const [drone] = await store.listDrones({ since: 0, withWorkflows: true });
      expect(drone!.workflows).toEqual(["Zeta", "alpha"]);
    } finally {
      await store.close();
    }
  });
});
