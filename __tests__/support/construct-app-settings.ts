/** The API's settings as the app constructs' tests hand them over: one declaration, overridden where a test varies them. */
import type { AppServiceSettings } from "../../constructs/app/app-settings";
import { API_IMAGE } from "./construct-images";

/** The API as prod runs it: pulled by digest, two replicas, production mode, one feature flag on and one off, no debug port. */
export const PROD_API_SETTINGS: AppServiceSettings = {
  image: { kind: "registry", ref: API_IMAGE },
  replicas: 2,
  memoryMb: 512,
  cpuShares: 1024,
  port: 3000,
  env: { NODE_ENV: "production" },
  features: { newOnboarding: true, betaSearch: false },
  debugPorts: [],
};

/** The API as dev runs it: built from source with hot reload, one replica, development mode, the Node inspector's port. */
export const DEV_API_SETTINGS: AppServiceSettings = {
  image: { kind: "build", context: "../updateio/api", dockerfile: "Dockerfile", devCommand: ["npm", "run", "dev"], mountPath: "/app" },
  replicas: 1,
  memoryMb: 768,
  cpuShares: 512,
  port: 3000,
  env: { NODE_ENV: "development" },
  features: {},
  debugPorts: [9229],
};
