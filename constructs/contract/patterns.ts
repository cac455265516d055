/**
 * Pure tests on names and image references that constructs and the policy pack must agree on:
 * the kit refuses what the policy would flag, with the same test, so neither imports the other.
 */

const SECRET_NAME = /(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_KEY|CREDENTIAL|COOKIE)/i;

/** True when an env var NAME looks like it carries a secret (and is not a `*_FILE` pointer). */
export function isSecretEnvName(name: string): boolean {
  return SECRET_NAME.test(name) && !/_FILE$/i.test(name.trim());
}

const DIGEST = /@sha256:[0-9a-f]{64}$/;
/** True when an image reference is pinned by digest (`name[:tag]@sha256:<64 hex>`). */
export function isPinnedByDigest(image: string): boolean {
  return DIGEST.test(image.trim());
}

/**
 * The repository of an image reference, canonical: no tag or digest, Docker Hub's implicit
 * registry and "library/" removed, lower case ("docker.io/library/Caddy:2@sha256:..." → "caddy").
 */
export function imageRepository(image: string): string {
  let ref = image.trim().toLowerCase();
  const at = ref.indexOf("@");
  if (at !== -1) ref = ref.slice(0, at);
  const lastSlash = ref.lastIndexOf("/");
  const colon = ref.lastIndexOf(":");
  if (colon > lastSlash) ref = ref.slice(0, colon);
  ref = ref.replace(/^(docker\.io|index\.docker\.io|registry-1\.docker\.io)\//, "");
  ref = ref.replace(/^library\//, "");
  return ref;
}

/**
 * Credentials in a URL: any scheme://<userinfo>@, whatever the userinfo holds (a token as the user, a "/" in a
 * password): an "@" after "://" in the same whitespace-free word. A scan, not a regex: a backtracking pattern
 * would take quadratic time on a long value.
 */
export function hasUrlCredentials(value: string): boolean {
  for (const word of value.split(/\s+/)) {
    const scheme = word.indexOf("://");
    if (scheme > 0 && word.indexOf("@", scheme + 3) !== -1) return true;
  }
  return false;
}
