import assert from "node:assert/strict";
import { allMalformed, assertRefused, assertValid } from "./_family_test_util.ts";
import { auditEntry } from "./audit.ts";
import { alert } from "./alert.ts";
import audits from "./testdata/audit_entry.json" with { type: "json" };
import alerts from "./testdata/alert.json" with { type: "json" };

Deno.test("parseAuditEntry accepts the fixture and names the field of every malformed entry", () => {
  assertValid(auditEntry, audits);
  const n = assertRefused(auditEntry, [
    ...allMalformed(audits, { opaque: ["after", "before"] }),
    {
      what: "unknown role",
      input: { ...audits[0], actor: { subject: "x", role: "god" } },
      field: "actor.role",
    },
  ]);
  assert.ok(n >= 20, `only ${n}`);
});

Deno.test("parseAlert accepts the fixture and names the field of every malformed alert", () => {
  assertValid(alert, alerts);
  const n = assertRefused(alert, [...allMalformed(alerts), {
    what: "unknown kind",
    input: { ...alerts[0], kind: "meteor" },
    field: "kind",
  }]);
  assert.ok(n >= 20, `only ${n}`);
});
