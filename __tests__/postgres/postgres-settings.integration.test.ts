import { afterEach, expect, it } from "vitest";
import { normalizePostgresSetting, PRELOADABLE_LIBRARIES } from "../../constructs/postgres/renderers/postgres-settings";
import { describeIf } from "../support/binaries";
import { freePort } from "../support/helpers";
import { postgresRequirement, TempPostgres } from "../support/postgres-server";

describeIf([postgresRequirement()], "shared_preload_libraries on a real server", () => {
  let server: TempPostgres | undefined;
  afterEach(() => server?.stop());

  it("starts with every library the config check allows, all at once", async () => {
    const value = PRELOADABLE_LIBRARIES.join(",");
    expect(normalizePostgresSetting("shared_preload_libraries", value)).toEqual({ setting: value });
    server = new TempPostgres(await freePort());
    server.start({ shared_preload_libraries: value });
    expect(server.psql("SHOW shared_preload_libraries").trim()).toBe(value);
  });

  it("does not start with a library it cannot load, which the config check refuses", async () => {
    expect(normalizePostgresSetting("shared_preload_libraries", "no_such_library")).toHaveProperty("problem");
    server = new TempPostgres(await freePort());
    expect(() => server!.start({ shared_preload_libraries: "no_such_library" })).toThrow(/pg_ctl/);
  });
});
