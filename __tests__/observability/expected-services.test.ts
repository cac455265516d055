/**
 * renderExpectedServices: the list of a stack's services that node-exporter publishes for
 * ContainerMissing. Every value ends up inside a Prometheus label value, so only plain
 * io.updateio.service values pass; the real node-exporter and Prometheus read the file in
 * metrics-real.integration.test.ts.
 */
import { describe, expect, it } from "vitest";
import { ValidationError } from "../../constructs/contract/index";
import { renderExpectedServices } from "../../constructs/observability/renderers/expected-services";
import { errorOf } from "../support/helpers";

describe("renderExpectedServices", () => {
  it("writes one series per service, sorted and once each, labelled as cAdvisor labels containers", () => {
    expect(renderExpectedServices("prod", ["redis", "api", "api", "edge"])).toBe(
      [
        "# HELP updateio_expected_service A long-running service of the stack: ContainerMissing fires when cAdvisor sees no container of it.",
        "# TYPE updateio_expected_service gauge",
        'updateio_expected_service{container_label_io_updateio_service="api",container_label_io_updateio_environment="prod"} 1',
        'updateio_expected_service{container_label_io_updateio_service="edge",container_label_io_updateio_environment="prod"} 1',
        'updateio_expected_service{container_label_io_updateio_service="redis",container_label_io_updateio_environment="prod"} 1',
        "",
      ].join("\n"),
    );
  });

  it.each([
    ["a quote that would close the label value", 'api"} 1\nevil{x="'],
    ["a backslash", "api\\"],
    ["a newline", "api\nother"],
    ["a Terraform expression", "${var.x}"],
    ["a Terraform directive", "%{if true}x%{endif}"],
    ["capitals", "API"],
    ["a space", "status page"],
    ["nothing", ""],
    ["a leading dash", "-api"],
    ["64 characters", "a".repeat(64)],
  ])("refuses a service with %s, naming it and the fix", (_what, service) => {
    expect(() => renderExpectedServices("prod", ["api", service])).toThrow(ValidationError);
    expect(errorOf(() => renderExpectedServices("prod", ["api", service]))).toContain(
      `services[1] ${JSON.stringify(service)} is not an io.updateio.service value`,
    );
  });

  it("refuses an environment that is not a label value, and an empty list", () => {
    expect(errorOf(() => renderExpectedServices('prod"', ["api"]))).toContain(
      'environment "prod\\"" is not an io.updateio.environment value',
    );
    expect(errorOf(() => renderExpectedServices("prod", []))).toContain("services is empty");
  });
});
