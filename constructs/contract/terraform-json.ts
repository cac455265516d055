/**
 * The synthesized Terraform JSON of one stack (`TerraformStack.toTerraform()`, cdktf.out/stacks/<env>/cdk.tf.json),
 * as the policy pack, the review and the scripts read it: one type, so they agree on its shape.
 * Only what someone reads is typed; every other key is `unknown`.
 */

/** One resource, data source or nested block: snake_case attributes, references as `${type.name.attr}` strings. */
export type TerraformBlock = Record<string, unknown>;

export interface TerraformJson {
  readonly terraform?: {
    readonly backend?: Record<string, Record<string, unknown>>;
    readonly cloud?: { readonly hostname?: string; readonly organization?: string; readonly workspaces?: { readonly name?: string } };
    readonly required_providers?: Record<string, { readonly source?: string; readonly version?: string }>;
    readonly [key: string]: unknown;
  };
  readonly provider?: Record<string, ReadonlyArray<Record<string, unknown>>>;
  readonly variable?: Record<string, { readonly default?: unknown; readonly sensitive?: boolean; readonly description?: string }>;
  readonly locals?: Record<string, unknown>;
  /** Resources by type, then by name (the construct's friendlyUniqueId). */
  readonly resource?: Record<string, Record<string, TerraformBlock>>;
  /** Data sources by type, then by name. */
  readonly data?: Record<string, Record<string, TerraformBlock>>;
  readonly output?: Record<string, { readonly value?: unknown; readonly sensitive?: boolean }>;
  readonly [key: string]: unknown;
}
