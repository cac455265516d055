/**
 * The change classifier on small hand-made before/after pairs. Each describe block is named after the
 * fact about kreuzwerker/docker 3.6.2 (checked by hand against the provider) it encodes.
 */
import { describe, expect, it } from "vitest";
import { CONTAINER_IN_PLACE, diffStacks, hasDataLoss, isGoDuration, settleProblems, type StackDiff } from "../../scripts/review/classify";
import { LABELS } from "../../scripts/review/terraform-json";
import { addresses, baseStack, change, containers, pair, volumes, type Stack } from "./fixtures";

function diff(edit: (after: Stack) => void): StackDiff {
  const { before, after } = pair(edit);
  return diffStacks("t", before, after);
}

describe("no change", () => {
  it("identical stacks give an empty diff", () => {
    const d = diffStacks("t", baseStack(), baseStack());
    expect(addresses(d)).toEqual([]);
    expect(d.downtime).toEqual([]);
    expect(hasDataLoss([d])).toBe(false);
  });
});

describe("kreuzwerker/docker 3.6.2: only restart, max_retry_count, cpu_shares, memory, cpu_set, memory_swap update in place", () => {
  const values: Record<string, unknown> = {
    restart: "always",
    max_retry_count: 3,
    cpu_shares: 1024,
    memory: 512,
    cpu_set: "0-1",
    memory_swap: 512,
  };
  it.each([...CONTAINER_IN_PLACE])("%s alone: in place, nobody goes down", (attribute) => {
    const d = diff((s) => (containers(s).db![attribute] = values[attribute]));
    const c = change(d, "docker_container.db");
    expect(c.kind).toBe("in-place");
    expect(c.action).toBe("update");
    expect(c.consequence).toContain(attribute);
    expect(d.downtime).toEqual([]);
  });

  it("memory and memory_swap together: still in place", () => {
    const d = diff((s) => Object.assign(containers(s).db!, { memory: 1024, memory_swap: 1024 }));
    expect(change(d, "docker_container.db").kind).toBe("in-place");
  });

  it("an in-place attribute plus any other: replaced", () => {
    const d = diff((s) => Object.assign(containers(s).db!, { memory: 1024, user: "2000:2000" }));
    const c = change(d, "docker_container.db");
    expect(c.kind).toBe("container-replaced");
    expect(c.attributes).toEqual(["memory", "user"]);
  });
});

describe("kreuzwerker/docker 3.6.2: most other container attributes force replacement", () => {
  it.each([
    ["env", ["LOG_LEVEL=debug", "PORT=3000"]],
    ["user", "0:0"],
    ["read_only", false],
    ["networks_advanced", []],
    ["ports", [{ internal: 5432, external: 5432, ip: "127.0.0.1", protocol: "tcp" }]],
    ["command", ["db", "--verbose"]],
  ])("%s: container replaced", (attribute, value) => {
    const d = diff((s) => (containers(s).db![attribute] = value));
    const c = change(d, "docker_container.db");
    expect(c.kind).toBe("container-replaced");
    expect(c.attributes).toEqual([attribute]);
  });

  it("names the env variables that changed, never their values", () => {
    const d = diff((s) => (containers(s).db!.env = ["LOG_LEVEL=s3cr3t-value", "PORT=3000"]));
    const c = change(d, "docker_container.db");
    expect(c.consequence).toContain("env (LOG_LEVEL)");
    expect(JSON.stringify(c)).not.toContain("s3cr3t-value");
  });

  it("downtime: a single-replica service replaced", () => {
    const d = diff((s) => (containers(s).db!.user = "0:0"));
    expect(d.downtime.map((x) => x.service)).toEqual(["db"]);
  });

  it("downtime: a service whose every replica is replaced", () => {
    const d = diff((s) => {
      containers(s).api_1!.user = "0:0";
      containers(s).api_2!.user = "0:0";
    });
    expect(d.downtime).toEqual([{ service: "api", replicas: 2, text: "api: all 2 replicas are replaced in the same apply" }]);
  });

  it("no downtime when one replica of two is replaced", () => {
    const d = diff((s) => (containers(s).api_1!.user = "0:0"));
    expect(change(d, "docker_container.api_1").kind).toBe("container-replaced");
    expect(d.downtime).toEqual([]);
  });
});

describe("kreuzwerker/docker 3.6.2: `healthcheck` edits are silently ignored in 3.6.2", () => {
  it("a healthcheck-only edit has no effect and says so", () => {
    const d = diff((s) => ((containers(s).db!.healthcheck as Record<string, unknown>).retries = 5));
    const c = change(d, "docker_container.db");
    expect(c.kind).toBe("healthcheck-ignored");
    expect(c.action).toBe("no-op");
    expect(d.downtime).toEqual([]);
    expect(d.warnings.join("\n")).toContain("healthcheck edit has no effect");
  });

  it("with an in-place attribute: in place, and the healthcheck part noted as ignored", () => {
    const d = diff((s) => {
      (containers(s).db!.healthcheck as Record<string, unknown>).retries = 5;
      containers(s).db!.memory = 512;
    });
    const c = change(d, "docker_container.db");
    expect(c.kind).toBe("in-place");
    expect(c.notes.join(" ")).toContain("healthcheck edit is ignored");
  });

  it("with a label change (the kit's healthcheck-sha): replaced, so it takes effect", () => {
    const d = diff((s) => {
      (containers(s).db!.healthcheck as Record<string, unknown>).retries = 5;
      (containers(s).db!.labels as { label: string; value: string }[]).push({ label: "io.updateio.healthcheck-sha", value: "abc" });
    });
    expect(change(d, "docker_container.db").kind).toBe("container-replaced");
  });
});

describe("kreuzwerker/docker 3.6.2: Healthcheck durations are read back in Go form", () => {
  it.each(["30s", "1m0s", "1m30s", "1h0m0s", "2m0s", "500ms", "0s", "1.5s"])("%s is Go's form", (v) => expect(isGoDuration(v)).toBe(true));
  it.each(["1m", "90s", "60s", "1h", "1h30s", "", "5"])("%s is not", (v) => expect(isGoDuration(v)).toBe(false));

  it("a changed container with a non-Go duration gets a never-settles note", () => {
    const d = diff((s) => {
      containers(s).db!.healthcheck = { test: ["CMD", "true"], interval: "1m", timeout: "5s", retries: 3 };
      containers(s).db!.user = "0:0";
    });
    expect(change(d, "docker_container.db").notes.join(" ")).toContain('interval "1m" is not in Go\'s form');
  });
});

describe("kreuzwerker/docker 3.6.2: `labels` is a list of `{label, value}`, not a map", () => {
  it("the same labels in another order are no change (a set in the provider)", () => {
    const d = diff((s) => (containers(s).db!.labels as unknown[]).reverse());
    expect(addresses(d)).toEqual([]);
  });

  it("a label value change replaces the container and names the label", () => {
    const d = diff((s) => {
      const l = (containers(s).db!.labels as { label: string; value: string }[]).find((x) => x.label === LABELS.component)!;
      l.value = "job";
    });
    const c = change(d, "docker_container.db");
    expect(c.kind).toBe("container-replaced");
    expect(c.consequence).toContain(`labels (${LABELS.component})`);
  });
});

describe("kreuzwerker/docker 3.6.2: `ports` are read back sorted", () => {
  const p = (n: number) => ({ internal: n, external: n, ip: "127.0.0.1", protocol: "tcp" });

  it("a reorder is a change (ports are a list), reported as order only", () => {
    const { before, after } = pair((s) => (containers(s).db!.ports = [p(443), p(80)]));
    containers(before).db!.ports = [p(80), p(443)];
    const c = change(diffStacks("t", before, after), "docker_container.db");
    expect(c.kind).toBe("container-replaced");
    expect(c.consequence).toContain("ports (order only)");
  });

  it("ports not in ascending order: the plan never settles", () => {
    expect(settleProblems({ ports: [p(443), p(80)] })[0]).toContain("never");
    expect(settleProblems({ ports: [p(80), p(443)] })).toEqual([]);
  });
});

describe("kreuzwerker/docker 3.6.2: every `docker_volume` attribute forces replacement and delete removes data", () => {
  it("a data volume whose labels change: replaced = DATA LOSS, and its container goes with it", () => {
    const d = diff((s) => (volumes(s).data!.labels as unknown[]).push({ label: "x", value: "y" }));
    const v = change(d, "docker_volume.data");
    expect(v.kind).toBe("volume-data-loss");
    expect(v.dataLoss).toBe(true);
    expect(v.consequence).toContain("DATA LOSS");
    expect(v.replaces).toEqual(["db"]);
    expect(
      change(d, "docker_container.db")
        .causes.map((c) => c.text)
        .join(),
    ).toContain("mounts volume t-db-data");
    expect(hasDataLoss([d])).toBe(true);
  });

  it("a data volume removed: DATA LOSS", () => {
    const d = diff((s) => {
      delete volumes(s).data;
      containers(s).db!.volumes = [];
    });
    const v = change(d, "docker_volume.data");
    expect(v.action).toBe("remove");
    expect(v.dataLoss).toBe(true);
    expect(d.dataLoss.map((c) => c.address)).toEqual(["docker_volume.data"]);
  });

  it("an ephemeral volume (label io.updateio.ephemeral) replaced: no data loss", () => {
    const d = diff((s) => (volumes(s).secrets!.name = "t-api-secrets-2"));
    const v = change(d, "docker_volume.secrets");
    expect(v.kind).toBe("volume-replaced");
    expect(v.dataLoss).toBe(false);
    expect(hasDataLoss([d])).toBe(false);
  });

  it("a data volume turned ephemeral: judged by what it held before, DATA LOSS", () => {
    const d = diff((s) => {
      volumes(s).data!.labels = [...(volumes(s).data!.labels as unknown[]), { label: LABELS.ephemeral, value: "true" }];
      delete volumes(s).data!.lifecycle;
    });
    expect(change(d, "docker_volume.data").dataLoss).toBe(true);
  });

  it("a renamed construct id keeping the Docker name: still DATA LOSS, with the moved-block hint", () => {
    const d = diff((s) => {
      volumes(s).db_data = volumes(s).data!;
      delete volumes(s).data;
      containers(s).db!.volumes = [{ container_path: "/var/lib/db", read_only: false, volume_name: "${docker_volume.db_data.name}" }];
    });
    const v = change(d, "docker_volume.data");
    expect(v.dataLoss).toBe(true);
    expect(v.notes.join(" ")).toContain("moved");
  });
});

describe("kreuzwerker/docker 3.6.2: prod data volumes need `lifecycle.preventDestroy`", () => {
  it("a protected volume replaced: DATA LOSS, and the plan would stop on prevent_destroy", () => {
    const d = diff((s) => (volumes(s).data!.name = "t-db-data-2"));
    const v = change(d, "docker_volume.data");
    expect(v.dataLoss).toBe(true);
    expect(v.notes.join(" ")).toContain("prevent_destroy is set");
  });

  it("removing prevent_destroy alone changes nothing running, but is flagged", () => {
    const d = diff((s) => delete volumes(s).data!.lifecycle);
    const v = change(d, "docker_volume.data");
    expect(v.kind).toBe("meta-only");
    expect(v.dataLoss).toBe(false);
    expect(d.warnings.join("\n")).toContain("prevent_destroy removed");
  });

  it("an unprotected data volume is data loss too (protection is not what makes it data)", () => {
    const { before, after } = pair((s) => (volumes(s).data!.name = "t-db-data-2"));
    delete volumes(before).data!.lifecycle;
    delete volumes(after).data!.lifecycle;
    expect(change(diffStacks("t", before, after), "docker_volume.data").dataLoss).toBe(true);
  });
});

describe("kreuzwerker/docker 3.6.2: Named volumes survive container replacement", () => {
  it("a container replaced with its data volume: no data loss, the volume is named", () => {
    const d = diff((s) => (containers(s).db!.env = ["LOG_LEVEL=debug"]));
    const c = change(d, "docker_container.db");
    expect(c.kind).toBe("container-replaced");
    expect(c.notes.join(" ")).toContain("named volumes survive the replacement: t-db-data");
    expect(d.dataLoss).toEqual([]);
  });
});

describe("kreuzwerker/docker 3.6.2: `upload` needs a seed; replace_triggered_by replaces the service with it", () => {
  it("a new file in the seed: seed replaced, every replica replaced through replace_triggered_by", () => {
    const d = diff((s) =>
      (containers(s).api_seed!.upload as unknown[]).push({ file: "/run/secrets/token", content: "very-secret-token", executable: false }),
    );
    const seed = change(d, "docker_container.api_seed");
    expect(seed.consequence).toContain("seed replaced");
    expect(seed.consequence).toContain("upload (/run/secrets/token)");
    for (const replica of ["docker_container.api_1", "docker_container.api_2"]) {
      const c = change(d, replica);
      expect(c.kind).toBe("container-replaced");
      expect(c.attributes).toEqual([]);
      expect(c.causes[0]!.text).toContain("replace_triggered_by: its seed t-api-seed is replaced");
    }
    expect(d.downtime.map((x) => x.service)).toEqual(["api"]);
    expect(JSON.stringify(d)).not.toContain("very-secret-token");
  });

  it("an in-place update of the seed still triggers (Terraform: any planned update or replacement)", () => {
    const d = diff((s) => (containers(s).api_seed!.memory = 32));
    expect(change(d, "docker_container.api_seed").kind).toBe("in-place");
    expect(change(d, "docker_container.api_1").kind).toBe("container-replaced");
  });

  it("seeds are not services: a replaced seed alone is no downtime", () => {
    const { before, after } = pair((s) => (containers(s).api_seed!.user = "0:0"));
    for (const s of [before, after])
      for (const r of ["api_1", "api_2"]) delete (containers(s)[r]!.lifecycle as Record<string, unknown>).replace_triggered_by;
    const d = diffStacks("t", before, after);
    expect(change(d, "docker_container.api_seed").action).toBe("replace");
    expect(d.downtime).toEqual([]);
  });
});

describe("random_password replaced: the secret rotates, services restart", () => {
  it("a new length rotates the secret, re-uploads the seed and restarts the service's replicas", () => {
    const d = diff((s) => (s.resource.random_password!.pw!.length = 48));
    const pw = change(d, "random_password.pw");
    expect(pw.kind).toBe("password-replaced");
    expect(pw.replaces).toEqual(["api ×2"]);
    expect(pw.consequence).toContain("services restart: api ×2");
    expect(change(d, "docker_container.api_seed").causes[0]!.text).toContain("secret t/db-password/password rotates");
    expect(d.warnings.join("\n")).toContain("secret rotates");
    expect(pw.notes.join(" ")).toContain("the server keeps what it stored at first start");
  });
});

describe("network replaced: its containers are replaced with it", () => {
  it("internal flipped: network replaced, every attached container replaced", () => {
    const d = diff((s) => (s.resource.docker_network!.app!.internal = false));
    const n = change(d, "docker_network.app");
    expect(n.kind).toBe("network-replaced");
    expect(n.replaces).toEqual(["api ×2", "db"]);
    expect(change(d, "docker_container.db").causes[0]!.text).toContain("attached to network t-app");
    expect(d.downtime.map((x) => x.service)).toEqual(["api", "db"]);
  });
});

describe("kreuzwerker/docker 3.6.2: An image that exists locally with the same name is not pulled again; pin by digest", () => {
  it("a new digest: image changed, pulled, and every container using it replaced", () => {
    const d = diff((s) => (s.resource.docker_image!.img!.name = "ghcr.io/updateio/api:1.0.1@sha256:" + "b".repeat(64)));
    const i = change(d, "docker_image.img");
    expect(i.kind).toBe("image-changed");
    expect(i.consequence).toContain("pull ghcr.io/updateio/api:1.0.1@sha256:bbbb");
    expect(i.replaces).toEqual(["api ×2", "db"]);
    expect(change(d, "docker_container.db").causes[0]!.text).toContain("new image_id");
  });

  it("keep_locally only: updated in place, no container touched", () => {
    const d = diff((s) => (s.resource.docker_image!.img!.keep_locally = false));
    expect(change(d, "docker_image.img").kind).toBe("in-place");
    expect(addresses(d)).toEqual(["docker_image.img"]);
  });
});

describe("meta-arguments, added, removed", () => {
  it("depends_on alone replaces nothing", () => {
    const d = diff((s) => (containers(s).db!.depends_on = ["docker_container.api_seed"]));
    expect(change(d, "docker_container.db").kind).toBe("meta-only");
    expect(d.downtime).toEqual([]);
  });

  it("added and removed containers", () => {
    const d = diff((s) => {
      containers(s).worker = { ...containers(s).db!, name: "t-worker" };
      delete containers(s).api_2;
    });
    expect(change(d, "docker_container.worker").kind).toBe("added");
    expect(change(d, "docker_container.api_2").consequence).toContain("removed");
    expect(d.downtime).toEqual([]);
  });

  it("a one-shot job replaced runs again instead of counting as downtime", () => {
    const { before, after } = pair((s) => (containers(s).db!.user = "0:0"));
    containers(before).db!.restart = "no";
    containers(after).db!.restart = "no";
    const d = diffStacks("t", before, after);
    expect(d.downtime).toEqual([]);
    expect(d.warnings.join("\n")).toContain("t-db (one-shot job) runs again");
  });

  it("a stack that disappears takes its data with it", () => {
    const d = diffStacks("t", baseStack(), undefined);
    expect(d.removed.length).toBeGreaterThan(5);
    expect(d.dataLoss.map((c) => c.address)).toEqual(["docker_volume.data"]);
  });

  it("a new state backend is flagged", () => {
    const before = { ...baseStack(), terraform: { backend: { local: { path: "a" } } } };
    const after = { ...baseStack(), terraform: { backend: { local: { path: "b" } } } };
    expect(diffStacks("t", before, after).warnings.join("\n")).toContain("state backend changes");
  });
});
