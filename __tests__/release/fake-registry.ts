/**
 * A registry for the digest check's tests: node:http on 127.0.0.1 serving what the check asks of a
 * real one (ghcr.io, Docker Hub): `HEAD /v2/<name>/manifests/<digest>` behind a bearer-token challenge,
 * and a token service that wants Basic credentials. It records every request so a test can prove
 * what was sent (credentials, scopes, Accept headers).
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeRegistryOptions {
  /** repository → digests it holds. */
  readonly manifests: Readonly<Record<string, readonly string[]>>;
  readonly username: string;
  readonly password: string;
  /** "bearer" (token service, like ghcr.io) or "basic" (a plain private registry). */
  readonly scheme?: "bearer" | "basic";
}

export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly authorization?: string;
  readonly accept?: string;
}

export interface FakeRegistry {
  /** host:port, e.g. 127.0.0.1:40123: what image references name. */
  readonly host: string;
  readonly requests: RecordedRequest[];
  close(): Promise<void>;
}

const NEEDED_TYPES = ["application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json"];

export async function startFakeRegistry(options: FakeRegistryOptions): Promise<FakeRegistry> {
  const requests: RecordedRequest[] = [];
  const tokens = new Map<string, string>(); // token → scope it grants
  const basic = `Basic ${Buffer.from(`${options.username}:${options.password}`).toString("base64")}`;
  let host = "";
  const server: Server = createServer((req: IncomingMessage, res) => {
    requests.push({
      method: req.method ?? "",
      url: req.url ?? "",
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
      ...(req.headers.accept ? { accept: req.headers.accept } : {}),
    });
    const url = new URL(req.url ?? "/", `http://${host}`);
    if (url.pathname === "/token") {
      if (req.headers.authorization !== basic) {
        res.writeHead(401, { "content-type": "application/json" }).end('{"errors":[{"code":"UNAUTHORIZED"}]}');
        return;
      }
      const token = `tok-${tokens.size + 1}`;
      tokens.set(token, url.searchParams.get("scope") ?? "");
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ token }));
      return;
    }
    const m = /^\/v2\/(.+)\/manifests\/(sha256:[0-9a-f]{64})$/.exec(url.pathname);
    if (!m || req.method !== "HEAD") {
      res.writeHead(404).end();
      return;
    }
    const [, repository, digest] = m as unknown as [string, string, string];
    const scope = `repository:${repository}:pull`;
    const auth = req.headers.authorization ?? "";
    const allowed =
      options.scheme === "basic" ? auth === basic : auth.startsWith("Bearer ") && tokens.get(auth.slice("Bearer ".length)) === scope;
    if (!allowed) {
      res
        .writeHead(401, {
          "www-authenticate":
            options.scheme === "basic"
              ? 'Basic realm="fake-registry"'
              : `Bearer realm="http://${host}/token",service="fake-registry",scope="${scope}"`,
        })
        .end();
      return;
    }
    // A real registry answers 404 for an index it cannot serve in any accepted type.
    const accept = req.headers.accept ?? "";
    const known = (options.manifests[repository] ?? []).includes(digest);
    if (!known || !NEEDED_TYPES.every((t) => accept.includes(t))) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": NEEDED_TYPES[0]!, "docker-content-digest": digest }).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    host,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
