/**
 * Pinned images. Official upstream images only (docs/architecture.md: no Bitnami). The digests are the
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
  // Off-host backup copy: rclone's official image (Alpine, has sh).
  rclone: "rclone/rclone:1.75.1@sha256:45401ad7410db1d67ffdb58e19059ad20b0d8e0285a60e38bbec55cc1019c7a5",
  // Grafana's backup job: python3's stdlib sqlite3 (online backup API) plus busybox sh, gzip and find;
  // the Grafana image has neither sqlite3 nor python.
  python: "python:3.13.7-alpine3.22@sha256:9ba6d8cbebf0fb6546ae71f2a1c14f6ffd2fdab83af7fa5669734ef30ad48844",
  // Observability. Grafana's, Prometheus' and the Prometheus community's own images; cAdvisor from
  // Google's registry; redis_exporter and the socket proxy are the maintained community images.
  grafana: "grafana/grafana:12.1.1@sha256:a1701c2180249361737a99a01bc770db39381640e4d631825d38ff4535efa47d",
  // 3.5: the last line whose image has a shell and wget for a Docker healthcheck (3.6 is distroless).
  loki: "grafana/loki:3.5.3@sha256:3165cecce301ce5b9b6e3530284b080934a05cd5cafac3d3d82edcb887b45ecd",
  alloy: "grafana/alloy:v1.19.2@sha256:b8ec653c44235fbe910879145dac3597d66b0aaecf60bcbbe82580767771a839",
  promtail: "grafana/promtail:3.5.0@sha256:507dfecd2f0949475d071c124bea1c26fc4f8c1cff0372eee57478d5b1c5fbff",
  prometheus: "prom/prometheus:v3.5.0@sha256:63805ebb8d2b3920190daf1cb14a60871b16fd38bed42b857a3182bc621f4996",
  postgresExporter:
    "quay.io/prometheuscommunity/postgres-exporter:v0.20.1@sha256:ac5ec343104fae0e2d84a27bb8d69b38430a11910c5382cad85d478d2bab713e",
  redisExporter: "oliver006/redis_exporter:v1.84.0@sha256:7ef8e9c26638158fa4e7ad60df8c7e53d1919986753d6c1d2d1876b6ec38d87b",
  cadvisor: "gcr.io/cadvisor/cadvisor:v0.55.1@sha256:3de2bd5203120b866d74a9b283b2ffb8ec382fbf9dc321814700c6ea6f44ec57",
  nodeExporter: "prom/node-exporter:v1.10.2@sha256:3ac34ce007accad95afed72149e0d2b927b7e42fd1c866149b945b84737c62c3",
  dockerSocketProxy: "tecnativa/docker-socket-proxy:v0.5.0@sha256:1f5038b54f06c3e18422902cf00ba21803d1c97805aae032e5e6673d532d3459",
  // Dev's 127.0.0.1 ports (inspector, Postgres): a socat forwarder per port, so the apps stay on internal networks.
  socat: "alpine/socat:1.8.0.3@sha256:beb4a68d9e4fe6b0f21ea774a0fde6c31f580dde6368939ed70100c5385b015e",
  // Optional operator VPN. No official WireGuard image exists; linuxserver's is used for its tools
  // only (wg, wg-quick, iptables-nft): the construct's own entrypoint replaces its s6 init.
  wireguard: "lscr.io/linuxserver/wireguard:1.0.20260223-r0-ls124@sha256:216ca1ce9da7bfe26fb752111d952487804bd18933bbd4794970d424bf8adfe9",
} as const;

/** Dev uses the same versions by tag only (a laptop pulls once; prod needs the digest to really update). */
export function tagOnly(ref: string): string {
  return ref.replace(/@sha256:[0-9a-f]{64}$/, "");
}
