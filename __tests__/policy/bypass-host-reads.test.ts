/**
 * The policy against an attacker who reads the machine that applies: Terraform evaluates every
 * expression there (a laptop, a Terraform Cloud agent), so `file("~/.terraform.d/credentials.tfrc.json")`
 * in an uploaded file, a secret's name, a local, an output, a variable or a lifecycle message would
 * carry that machine's files into a container, the state or a run log. Each attack must produce an
 * error finding of no-unjudged-expressions; what our stacks synthesize must still pass.
 */
import { RandomProvider } from "@cdktf/provider-random/lib/provider";
import { Password } from "@cdktf/provider-random/lib/password";
import { Fn, TerraformLocal, TerraformOutput, TerraformVariable } from "cdktf";
import { describe, expect, it } from "vitest";
import { interpolations } from "../../constructs/policy/expressions";
import { type Attack, attacked, blockingMessages, container, fixture, type Fixture, set } from "./fixtures";

const RULE = "no-unjudged-expressions";
const READ = '${file("/home/runner/.terraform.d/credentials.tfrc.json")}';

/** A fixture with what our stacks declare: a generated password, a sensitive variable, a local built from them. */
function withValues(f: Fixture) {
  new RandomProvider(f.stack, "random");
  const password = new Password(f.stack, "db-password", { length: 32, special: false });
  const token = new TerraformVariable(f.stack, "bot_token", { type: "string", sensitive: true });
  const url = new TerraformLocal(f.stack, "db_url", `postgresql://app:${Fn.urlencode(password.result)}@db:5432/app`);
  return { password, token, url };
}

const upload = (content: string) => set("upload", [{ file: "/etc/app/app.env", content }]);

describe("uploaded file contents", () => {
  it("our forms pass: literal text with generated passwords, urlencode() or sha256() of one, variables, locals and escaped shell", () => {
    const f = fixture("prod");
    const v = withValues(f);
    container(f, {
      upload: [
        {
          file: "/etc/app/app.env",
          content: `PASSWORD=${v.password.result}\nURL=${v.url.asString}\nENCODED=${Fn.urlencode(v.password.result)}\nTOKEN=${v.token.stringValue}\nHASH=${Fn.sha256(v.password.result)}\n`,
        },
        { file: "/etc/app/run.sh", content: ': "$${BACKUP_ROOT:=/backups}"\necho "%%{not a directive}"\n' },
      ],
    });
    expect(blockingMessages(f, RULE)).toEqual([]);
  });

  it.each<[string, string]>([
    ["file() of the applier's credentials", `TOKEN=${READ}\n`],
    ["templatefile()", '${templatefile("/etc/passwd", {})}'],
    ["filebase64()", '${filebase64("/root/.ssh/id_ed25519")}'],
    ["fileset() joined", '${join(",", fileset("/home", "**"))}'],
    ["a file() hidden behind a generated value in one interpolation", '${random_password.db-password_ABCD.result}${file("/etc/shadow")}'],
    ["a template directive", '%{ for l in split("\\n", file("/etc/passwd")) }${l}%{ endfor }'],
    ["an undeclared password", "${random_password.nope.result}"],
    ["an undeclared variable", "${var.nope}"],
    ["a prototype name as a variable", "${var.__proto__}"],
    ["a generated value wrapped in another function", "${upper(random_password.db-password.result)}"],
    ["sha256() of a file of the applier", '${sha256(file("/etc/shadow"))}'],
    ["sha256() of an undeclared password", "${sha256(random_password.nope.result)}"],
    ["sha256() of a variable (only generated passwords are hashed)", "${sha256(var.bot_token)}"],
    ["a strip marker", "${~ var.bot_token ~}"],
    ["an interpolation that never closes", "TOKEN=${var.bot_token"],
    ["a brace inside the interpolation", '${var.bot_token}${{a = file("/etc/passwd")}.a}'],
  ])("refuses %s", (_what, content) => {
    const f = fixture("prod");
    withValues(f);
    upload(content)(container(f), f);
    expect(blockingMessages(f, RULE).join("\n")).toContain("upload[0].content is the expression");
  });

  it("refuses the same in content_base64", () => {
    const f = attacked(set("upload", [{ file: "/etc/app/key", content_base64: '${filebase64("/root/.ssh/id_ed25519")}' }]));
    expect(blockingMessages(f, RULE).join("\n")).toContain("upload[0].content_base64 is the expression");
  });
});

describe("interpolations()", () => {
  it("reads escapes the way isExpression does and gives each body", () => {
    expect(interpolations("a ${x} b $${y} c ${z}")).toEqual(["x", "z"]);
    expect(interpolations("$$${x}")).toEqual([]);
    expect(interpolations("%%{ if }")).toEqual([]);
    expect(interpolations("${a}{b}")).toEqual(["a"]);
  });

  it("gives undefined for a directive or an unclosed interpolation", () => {
    expect(interpolations("%{ if true }x%{ endif }")).toBeUndefined();
    expect(interpolations("${x")).toBeUndefined();
    expect(interpolations("${x{}")).toBeUndefined();
  });
});

describe("names, triggers and data sources", () => {
  const attacks: [string, Attack, string][] = [
    [
      "a secret named after a file of the applier",
      (_c, f) => f.stack.addOverride("resource.docker_secret.s", { name: READ, data: "${base64encode(var.bot_token)}" }),
      "name is the expression",
    ],
    [
      "a secret name with the content-derived shape around file()",
      (_c, f) =>
        f.stack.addOverride("resource.docker_secret.s", {
          name: '${join("", ["prod-s-", substr(sha256(file("/etc/shadow")), 0, 12)])}',
          data: "${base64encode(var.bot_token)}",
        }),
      "name is the expression",
    ],
    [
      "a config name that prints a file",
      (_c, f) => f.stack.addOverride("resource.docker_config.c", { name: '${join("", ["x", file("/etc/passwd")])}', data: "eA==" }),
      "name is the expression",
    ],
    [
      "an image trigger holding a file's content",
      (_c, f) =>
        f.stack.addOverride("resource.docker_image.built", {
          name: "app:dev",
          keep_locally: true,
          triggers: { dockerfile: '${file("/root/.docker/config.json")}' },
        }),
      "triggers.dockerfile is the expression",
    ],
    [
      "a data source looked up by a file's content",
      (_c, f) => f.stack.addOverride("data.docker_registry_image.leak", { name: READ }),
      "name is the expression",
    ],
  ];
  it.each(attacks)("refuses %s", (_what, attack, part) => {
    const f = fixture("prod");
    withValues(f);
    attack(container(f), f);
    expect(blockingMessages(f, RULE).join("\n")).toContain(part);
  });

  it("our forms pass: a content-derived secret name and a Dockerfile hash trigger", () => {
    const f = fixture("prod");
    const v = withValues(f);
    container(f);
    f.stack.addOverride("resource.docker_secret.s", {
      name: `\${join("", ["prod-api-database_password-", substr(sha256(${v.password.fqn}.result), 0, 12)])}`,
      data: `\${base64encode(${v.password.fqn}.result)}`,
      lifecycle: { create_before_destroy: true },
    });
    f.stack.addOverride("resource.docker_image.built", {
      name: "app:dev",
      keep_locally: true,
      triggers: { dockerfile: '${filesha256(abspath(join("/", [path.root, "../../..", "examples/app/Dockerfile"])))}' },
    });
    expect(blockingMessages(f, RULE)).toEqual([]);
  });
});

describe("meta-arguments (evaluated where Terraform runs)", () => {
  it.each<[string, Attack, string]>([
    [
      "a postcondition message that prints a file",
      set("lifecycle", { postcondition: [{ condition: "${self.exit_code == 0}", error_message: READ }] }),
      "lifecycle.postcondition.error_message",
    ],
    [
      "a precondition that reads a file",
      set("lifecycle", { precondition: [{ condition: '${length(file("/etc/shadow")) > 0}', error_message: "x" }] }),
      "lifecycle.precondition.condition",
    ],
    ["count from a file", set("count", '${length(file("/etc/passwd"))}'), "count is set"],
    ["a literal count", set("count", 2), "count is set"],
    ["for_each over a file's lines", set("for_each", '${toset(split("\\n", file("/etc/passwd")))}'), "for_each is set"],
    ["depends_on written as an expression", set("depends_on", [READ]), "depends_on is"],
    ["replace_triggered_by with a function", set("lifecycle", { replace_triggered_by: ['file("/etc/passwd")'] }), "replace_triggered_by"],
    ["ignore_changes with an expression", set("lifecycle", { ignore_changes: [READ] }), "ignore_changes"],
    ["prevent_destroy written as an expression", set("lifecycle", { prevent_destroy: "${true}" }), "prevent_destroy"],
    ["an unknown lifecycle key", set("lifecycle", { destroy: false }), "lifecycle.destroy"],
    ["a provider chosen by expression", set("provider", "${docker.x}"), "provider is"],
    ["another provider's alias", set("provider", "null.x"), "provider is"],
  ])("refuses %s", (_what, attack, part) => {
    expect(blockingMessages(attacked(attack), RULE).join("\n")).toContain(part);
  });

  it("our forms pass: an exit-code postcondition, ignore_changes, replace_triggered_by, depends_on, prevent_destroy", () => {
    const f = fixture("prod");
    const c = container(f);
    c.addOverride("lifecycle", {
      postcondition: [
        { condition: "${self.exit_code == 0}", error_message: "prod-db did not exit 0; read its logs with: docker logs prod-db" },
      ],
      ignore_changes: ["upload", "labels"],
      replace_triggered_by: ["docker_image.image"],
      create_before_destroy: false,
    });
    c.addOverride("depends_on", ["docker_network.backend-net", "docker_volume.db-data"]);
    expect(blockingMessages(f, RULE)).toEqual([]);
  });
});

describe("locals, outputs, variables and the registry login", () => {
  it("our forms pass: a URL local, sensitive outputs of passwords and URLs, plain variables, a login from variables", () => {
    const f = fixture("prod");
    const v = withValues(f);
    container(f);
    new TerraformOutput(f.stack, "database_url", { value: v.url.asString, sensitive: true, description: "The app's URL." });
    new TerraformOutput(f.stack, "volume", { value: { name: f.volume.name } });
    const user = new TerraformVariable(f.stack, "registry_username", { type: "string", sensitive: true, default: "ci" });
    f.stack.addOverride("provider.docker.0.registry_auth", [
      { address: "ghcr.io", username: user.stringValue, password: v.token.stringValue },
    ]);
    expect(blockingMessages(f, RULE)).toEqual([]);
  });

  it.each<[string, (f: Fixture) => void, string]>([
    ["a local that reads a file", (f) => f.stack.addOverride("locals.leak", READ), "local.leak is"],
    ["a local nested in an object", (f) => f.stack.addOverride("locals.cfg", { a: [{ b: READ }] }), "local.cfg.a[0].b"],
    [
      "a secret fed from such a local",
      (f) => {
        f.stack.addOverride("locals.key", '${file("/root/.ssh/id_ed25519")}');
        f.stack.addOverride("resource.docker_secret.k", { name: "prod-k", data: "${base64encode(local.key)}" });
      },
      "local.key is",
    ],
    ["an output of a file", (f) => new TerraformOutput(f.stack, "leak", { value: READ, sensitive: true }), "output.leak.value"],
    [
      "an output description that prints a file",
      (f) => f.stack.addOverride("output.leak", { value: "x", description: READ }),
      "output.leak.description",
    ],
    [
      "an output precondition",
      (f) => f.stack.addOverride("output.leak", { value: "x", precondition: [{ condition: "${true}" }] }),
      "sets precondition",
    ],
    [
      "a variable validation",
      (f) => f.stack.addOverride("variable.v", { type: "string", validation: [{ condition: "${true}", error_message: READ }] }),
      "sets validation",
    ],
    [
      "a variable default written as an expression",
      (f) => f.stack.addOverride("variable.v", { type: "string", default: READ }),
      "variable.v.default",
    ],
    [
      "a registry password read from a file, sent to the registry",
      (f) => f.stack.addOverride("provider.docker.0.registry_auth", [{ address: "ghcr.io", username: "ci", password: READ }]),
      "registry_auth.password",
    ],
    [
      "a registry address chosen by expression",
      (f) =>
        f.stack.addOverride("provider.docker.0.registry_auth", [
          { address: "${var.bot_token}", username: "ci", password: "${var.bot_token}" },
        ]),
      "registry_auth.address",
    ],
    [
      "a registry login from an undeclared variable",
      (f) => f.stack.addOverride("provider.docker.0.registry_auth", [{ address: "ghcr.io", username: "ci", password: "${var.nope}" }]),
      "registry_auth.password",
    ],
    ["locals that are not an object", (f) => f.stack.addOverride("locals", [READ]), "locals are not an object"],
  ])("refuses %s", (_what, attack, part) => {
    const f = fixture("prod");
    withValues(f);
    container(f);
    attack(f);
    expect(blockingMessages(f, RULE).join("\n")).toContain(part);
  });
});

describe("binds and builds of the checkout's private parts (no-host-paths)", () => {
  const rel = (...parts: string[]) => `\${abspath(join("/", [path.root${parts.map((p) => `, "${p}"`).join("")}]))}`;
  const bind = (hostPath: string) => set("volumes", [{ host_path: hostPath, container_path: "/mnt", read_only: true }]);
  /** A dev fixture whose stack keeps its state in the checkout, as dev's does (../../../state/dev.tfstate). */
  const devWithLocalState = (attack: Attack) => {
    const f = fixture("dev");
    f.stack.addOverride("terraform.backend", { local: { path: "../../../state/dev.tfstate" } });
    attack(container(f), f);
    return f;
  };

  it.each<[string, string, string]>([
    ["the local state's directory", rel("../../..", "state"), 'reaches "state"'],
    ["the state file itself", rel("../../..", "state/dev.tfstate"), 'reaches "state"'],
    ["a state file by its ending", rel("../../..", "backup/prod.tfstate.backup"), 'reaches "prod.tfstate.backup"'],
    ["the repository's history", rel("../../..", ".git"), 'reaches ".git"'],
    ["another stack's working directory", rel("../../..", "cdktf.out/stacks/prod/.terraform"), 'reaches "cdktf.out"'],
    ["the stack's own directory", rel("..", "dev"), "stays inside cdktf.out"],
    ["a sibling stack", rel("../..", "stacks/prod"), "stays inside cdktf.out"],
  ])("refuses a bind of %s", (_what, hostPath, part) => {
    expect(blockingMessages(devWithLocalState(bind(hostPath)), "no-host-paths").join("\n")).toContain(part);
  });

  it("refuses a build whose context is the state directory", () => {
    const f = devWithLocalState(() => undefined);
    f.stack.addOverride("resource.docker_image.leak", {
      name: "leak:dev",
      keep_locally: true,
      build: { context: rel("../../..", "state"), dockerfile: rel("../../..", "examples/app/Dockerfile") },
    });
    expect(blockingMessages(f, "no-host-paths").join("\n")).toContain('reaches "state"');
  });

  it("a dev source checkout beside this one still passes", () => {
    expect(blockingMessages(devWithLocalState(bind(rel("../../..", "../updateio/api"))), "no-host-paths")).toEqual([]);
  });
});
