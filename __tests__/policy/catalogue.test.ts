/**
 * One rule per file with its explanation beside its check (rules/<rule-id>.ts), every rule in at
 * least one pack, and the contract's list of rule ids (what suppressions may name) in step.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { POLICY_RULE_IDS } from "../../constructs/contract/index";
import { BASELINE, DEV_PACK, PACKS, PROD_PACK, TEST_PACK, definePack } from "../../constructs/policy/packs";
import { RULES, RULE_IDS } from "../../constructs/policy/rules";
import type { PolicyRule } from "../../constructs/policy/types";

const RULES_DIR = join(__dirname, "..", "..", "constructs", "policy", "rules");
const NOT_RULES = ["index.ts", "helpers.ts"];
const ruleFiles = readdirSync(RULES_DIR)
  .filter((f) => f.endsWith(".ts") && !NOT_RULES.includes(f))
  .sort();

function isRule(value: unknown): value is PolicyRule {
  return typeof value === "object" && value !== null && "id" in value && typeof (value as PolicyRule).check === "function";
}

describe("rule files", () => {
  it("there is one file per rule, named by its id", () => {
    expect(ruleFiles.map((f) => f.replace(/\.ts$/, ""))).toEqual([...RULE_IDS].sort());
  });

  it.each(ruleFiles)("%s exports exactly one rule, with its explanation, that is in the catalogue and in a pack", async (file) => {
    const mod = (await import(join(RULES_DIR, file))) as Record<string, unknown>;
    const rules = Object.values(mod).filter(isRule);
    expect(rules).toHaveLength(1);
    const rule = rules[0]!;
    expect(rule.id).toBe(file.replace(/\.ts$/, ""));
    expect(["error", "warning"]).toContain(rule.level);
    for (const text of [rule.title, rule.why, rule.fix]) expect(text.trim().length).toBeGreaterThan(10);
    expect(RULES).toContain(rule);
    const packs = Object.entries(PACKS).filter(([, pack]) => pack.some((e) => e.rule === rule));
    expect(packs.length, `${rule.id} is in no pack`).toBeGreaterThan(0);
  });

  it("the contract lists exactly the rule ids, in evaluation order (a suppression can name each, and nothing else)", () => {
    expect([...POLICY_RULE_IDS]).toEqual([...RULE_IDS]);
  });
});

describe("packs", () => {
  it("keep the levels enforced per environment", () => {
    const levels = (pack: typeof DEV_PACK) => Object.fromEntries(pack.map((e) => [e.rule.id, e.severity]));
    const everywhere = Object.fromEntries(BASELINE.map((r) => [r.id, r.id === "network-by-id" ? "warning" : "error"]));
    expect(levels(DEV_PACK)).toEqual({ ...everywhere, "image-digest": "warning" });
    expect(levels(TEST_PACK)).toEqual({ ...everywhere, "image-digest": "error" });
    expect(levels(PROD_PACK)).toEqual({ ...everywhere, "image-digest": "error", "prod-volume-protected": "error" });
    expect(PACKS).toEqual({ dev: DEV_PACK, test: TEST_PACK, prod: PROD_PACK });
  });

  it("list their rules in the catalogue's order, so findings come out in the same order everywhere", () => {
    for (const pack of [DEV_PACK, TEST_PACK, PROD_PACK]) {
      const ids: string[] = pack.map((e) => e.rule.id);
      expect(ids).toEqual(RULE_IDS.filter((id) => ids.includes(id)));
    }
  });

  it("refuse a rule chosen twice", () => {
    expect(() => definePack("dev", [RULES[0]!, { rule: RULES[0]!, level: "warning" }])).toThrow(/chosen twice/);
  });

  it("refuse a rule that is not in the catalogue", () => {
    const stray: PolicyRule = { ...RULES[0]! };
    expect(() => definePack("dev", [stray])).toThrow(/not in the rule catalogue/);
  });
});
