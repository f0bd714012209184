// Test helper, private to protocol/: runs a family's parser over valid fixtures and malformed inputs.
import { isDeepStrictEqual } from "node:util";
import type { MessageFamily } from "./message_family.ts";
import { type Malformed, malformedFrom, NOT_A_MESSAGE } from "./_malformed.ts";
import { ProtocolError } from "./protocol_error.ts";

function fail(message: string): never {
  throw new Error(message);
}

/** Checks that every valid fixture parses and round-trips through encode. */
export function assertValid<T>(family: MessageFamily<T>, fixtures: readonly unknown[]): void {
  if (fixtures.length === 0) fail(`no fixtures for ${family.name}`);
  for (const fixture of fixtures) {
    const result = family.parse(JSON.stringify(fixture));
    if (!result.ok) fail(`valid ${family.name} fixture refused: ${result.error.message}`);
    const again = family.parse(family.encode(result.value));
    if (!again.ok || !isDeepStrictEqual(again.value, fixture)) {
      fail(`${family.name} did not round-trip: ${JSON.stringify(fixture)}`);
    }
  }
}

/** Feeds each malformed input to the parser: each must be refused, naming the expected field. Returns how many. */
export function assertRefused<T>(family: MessageFamily<T>, cases: readonly Malformed[]): number {
  for (const c of cases) {
    let result;
    try {
      result = family.parse(c.input);
    } catch (e) {
      fail(`${family.name} parser threw on ${c.what}: ${e}`);
    }
    if (result.ok) fail(`${family.name} accepted ${c.what}: ${JSON.stringify(c.input)}`);
    if (!(result.error instanceof ProtocolError)) {
      fail(`${family.name} error for ${c.what} is not a ProtocolError`);
    }
    if (result.error.field !== c.field) {
      fail(
        `${family.name}, ${c.what}: error names field "${result.error.field}", expected "${c.field}" (${result.error.message})`,
      );
    }
    if (c.field !== "" && !result.error.message.includes(`"${c.field}"`)) {
      fail(`${family.name}, ${c.what}: message does not name the field: ${result.error.message}`);
    }
  }
  return cases.length;
}

/** Everything malformed derivable from the fixtures, plus inputs that are not messages. */
export function allMalformed(
  fixtures: readonly unknown[],
  options: Parameters<typeof malformedFrom>[1] = {},
): Malformed[] {
  // deno-lint-ignore no-explicit-any
  return [...NOT_A_MESSAGE, ...fixtures.flatMap((f) => malformedFrom(f as any, options))];
}
