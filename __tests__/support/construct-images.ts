/** Images the construct tests build from, pinned by digest (fake digests: nothing is pulled). */

/** The API outside dev, pulled from the registry. */
export const API_IMAGE = `ghcr.io/updateio/api:1.4.0@sha256:${"a1".repeat(32)}`;

/** The PostgresCluster's server image. */
export const POSTGRES_IMAGE = `postgres:17.6-bookworm@sha256:${"f3".repeat(32)}`;

/** The RedisCache's server image. */
export const REDIS_IMAGE = `redis:7.4.6-alpine@sha256:${"3b".repeat(32)}`;
