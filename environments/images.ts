/**
 * Pinned images. Official upstream images only (DESIGN.md: no Bitnami). The digests are the
 * multi-arch index digests published for these tags; bump tag and digest together, in one PR,
 * and check a new digest with `docker buildx imagetools inspect <image>:<tag>` before merging.
 */
export const PINNED_IMAGES = {
  postgres: "postgres:17.6-bookworm@sha256:f3bd19c606e442c3d7bdfa8002e03fe260a1023351e0ea4598032022b68dd6e3",
  redis: "redis:7.4.6-alpine@sha256:3b73847e72874be07e6657b129a94761662b79bc0f679273757d4218573b2a98",
  rabbitmq: "rabbitmq:4.1.4-management-alpine@sha256:5cbd7145b0306399ad68422c3350b6cbd1bb95704b39f5896480e5b6d4238a04",
  caddy: "caddy:2.10.2-alpine@sha256:4c6e91c6ed0e2fa03efd5b44747b625fec79bc9cd06ac5235a779726618e530d",
  // Not official: PgBouncer publishes no image; edoburu's is the maintained, widely used one (no Bitnami).
  pgbouncer: "edoburu/pgbouncer:v1.23.1-p3@sha256:377dec3c0e4a66a1077ec043e16a26ed5702a6d954011a7983a1457c2e070b1d",
} as const;

/** Dev uses the same versions by tag only (a laptop pulls once; prod needs the digest to really update). */
export function tagOnly(ref: string): string {
  return ref.replace(/@sha256:[0-9a-f]{64}$/, "");
}
