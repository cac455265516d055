/**
 * Refusals quote what they refuse: a variable's name, a value from a config or releases file, a
 * construct prop. Printed as they came, an escape sequence in one could clear the screen or retitle
 * the terminal, a bidi override could reverse what follows, and a newline could add a problem line
 * of its own ("  - ...") or hide one. The messages show such characters as code points; the
 * `problems` lists keep the text as it was, for callers that read it.
 */
import { describe, expect, it } from "vitest";
import { ValidationError } from "../../constructs/contract";
import { ConfigError, loadEnvironmentConfig, validateEnvironmentConfig } from "../../environments/load";
import { renderReloadJobScript } from "../../constructs/postgres/renderers/postgres-reload";
import { mutatedConfig } from "../support/config-problems";
import { RELOAD_JOB_INPUT } from "../support/postgres-inputs";

const HOSTILE = "\u001b]0;pwned\u0007\u001b[2J\u202e\n  - all good";
const SHOWN = "\\u{001B}]0;pwned\\u{0007}\\u{001B}[2J\\u{202E}\\u{000A}  - all good";
/** What a terminal would act on, other than the message's own line breaks. */
const ACTIVE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069]/;

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error("expected a ConfigError, but the configuration was accepted");
}

/** The message is inert and has exactly one line per problem after its heading. */
function expectInert(message: string, problems: readonly string[]): void {
  expect(message).not.toMatch(ACTIVE);
  expect(message.split("\n")).toHaveLength(1 + problems.length);
  expect(message).toContain(SHOWN);
  expect(message).not.toMatch(/^ {2}- all good/m);
}

describe("refusals quote hostile text inertly", () => {
  it.each([
    ["an unknown name in the environment's namespace", "UPDATEIO_DEV_X"],
    ["an unknown name outside every namespace", "UPDATEIO_X"],
  ])("%s", (_what, prefix) => {
    const e = configError(() => loadEnvironmentConfig("dev", { [`${prefix}${HOSTILE}`]: "1" }));
    expect(e.problems.some((p) => p.includes(HOSTILE))).toBe(true); // the list keeps it as it was
    expectInert(e.message, e.problems);
  });

  it("a value from the configuration (an image reference, as a releases file would hold it)", () => {
    const base = loadEnvironmentConfig("test", {});
    const e = configError(() =>
      validateEnvironmentConfig(
        mutatedConfig(base, (c) => (c.services.api.image.ref = `x${HOSTILE}`)),
        "test",
      ),
    );
    expectInert(e.message, e.problems);
  });

  it("a construct's refusal", () => {
    const e = new ValidationError(`Thing${HOSTILE}`, [`name "${HOSTILE}" is refused`, "plain"]);
    expect(e.problems[0]).toContain(HOSTILE);
    expect(e.message).not.toMatch(ACTIVE);
    expect(e.message.split("\n")).toHaveLength(3);
    expect(e.message).toBe(`Thing${SHOWN} is invalid:\n  - name "${SHOWN}" is refused\n  - plain`);
  });

  it("a renderer's refusal: one ValidationError, every problem on its own line", () => {
    let e: unknown;
    try {
      renderReloadJobScript({ ...RELOAD_JOB_INPUT, role: HOSTILE, port: 0 });
    } catch (caught) {
      e = caught;
    }
    expect(e).toBeInstanceOf(ValidationError);
    const v = e as ValidationError;
    expect(v.problems).toEqual([`role "${HOSTILE}" must be a lowercase SQL identifier`, "port 0 must be a TCP port"]);
    expect(v.message).not.toMatch(ACTIVE);
    expect(v.message.split("\n")).toHaveLength(3);
  });

  it("ordinary text is left as it was", () => {
    const e = new ValidationError("PostgresCluster prod/postgres", ['database "Updateio" must be lowercase (fix: "updateio")']);
    expect(e.message).toBe('PostgresCluster prod/postgres is invalid:\n  - database "Updateio" must be lowercase (fix: "updateio")');
  });
});
